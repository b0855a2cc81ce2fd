use std::time::Duration;

use pretty_assertions::assert_eq;
use shared::facts::{GroupFacts, HookFacts};
use shared::fakes::FakeAws;
use shared::fixtures::{CLUSTER_TAG, HOOK, now};
use shared::lifecycle::LAUNCHING;
use shared::release::{Scope, release, survey};
use shared::suspension::{SUSPENDED_TAG, SuspensionRecord};

use super::*;
use crate::settings::Source;

/// prod-a: hooked, suspended and clamped from 20 to 4 by the guard an hour
/// ago; lost-b: the cluster tag removed, still hooked.
fn account() -> FakeAws {
    let aws = FakeAws::new();
    let mut record = SuspensionRecord::new(
        "surge".into(),
        "alarm",
        now() - Duration::from_secs(3600),
        Vec::new(),
    );
    record.original_max_size = Some(20);
    record.clamped_to = Some(4);
    let mut prod_a = GroupFacts {
        name: "prod-a".into(),
        max_size: 4,
        desired_capacity: 4,
        suspended_processes: vec!["Launch".into()],
        tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
        ..GroupFacts::default()
    };
    prod_a.tags.insert(
        SUSPENDED_TAG.to_owned(),
        record.to_tag_value("prod-a", None),
    );
    aws.add_group(prod_a);
    aws.add_group(GroupFacts {
        name: "lost-b".into(),
        max_size: 20,
        ..GroupFacts::default()
    });
    let hook = HookFacts {
        name: HOOK.into(),
        transition: LAUNCHING.into(),
        default_result: Some("ABANDON".into()),
        ..HookFacts::default()
    };
    aws.add_hook("prod-a", hook.clone());
    aws.add_hook("lost-b", hook);
    aws
}

fn scope() -> Scope {
    let mut settings = Settings {
        source: Source::Environment,
        vars: [("GUARD_CLUSTER".to_owned(), "staging".to_owned())].into(),
        problems: Vec::new(),
        notes: Vec::new(),
    };
    // The flag wins over the policy's setting.
    apply(
        &mut settings,
        &Identity {
            cluster: Some("prod".into()),
            ..Identity::default()
        },
    );
    Scope::of(&settings.load().unwrap().policy)
}

fn text(outcome: &Outcome) -> String {
    let mut out = Vec::new();
    write_text(outcome, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn a_dry_run_lists_what_it_would_undo_and_changes_nothing() {
    let aws = account();
    let scope = scope();

    let found = survey(&aws, &scope).await;
    let outcome = Outcome::DryRun {
        cluster: "prod".into(),
        hook_name: scope.hook_name.clone(),
        clamps: found.clamps(None),
        survey: found,
        launch_breaker: None,
    };

    assert!(aws.mutations().is_empty(), "{:?}", aws.mutations());
    assert_eq!(outcome.status(), ExitStatus::Found);
    assert_eq!(
        text(&outcome),
        "DRY RUN: nothing was changed. `scaling-guard release --yes` would undo, for cluster `prod` (hook `scaling-guard-prod`):\n\
         remove the hook from (2): lost-b, prod-a\n\
         resume Launch on (1): prod-a\n\
         restore MaxSize (1): prod-a=20\n\
         leave suspended by others: none\n"
    );
}

#[tokio::test(start_paused = true)]
async fn yes_releases_everything_and_says_nothing_is_left() {
    let aws = account();
    let scope = scope();
    let mut report = ReleaseReport::default();

    release(
        &aws,
        &scope,
        now(),
        tokio::time::Instant::now() + TIME_LIMIT,
        &mut report,
    )
    .await;
    let outcome = Outcome::Released {
        cluster: "prod".into(),
        hook_name: scope.hook_name.clone(),
        report,
        launch_breaker: None,
    };

    assert_eq!(outcome.status(), ExitStatus::Clean);
    assert!(
        text(&outcome).ends_with("nothing of the guard is left\n"),
        "{}",
        text(&outcome)
    );
    let prod_a = aws.group_facts("prod-a").unwrap();
    assert_eq!((prod_a.max_size, prod_a.suspended_processes.len()), (20, 0));
    // and a second dry run finds nothing
    assert!(survey(&aws, &scope).await.is_clean());
}

mod breaker;
mod unsigned;
