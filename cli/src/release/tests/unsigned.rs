//! `release` without the record key: the secret is deleted with the stack,
//! so a release from a laptop cannot verify any record, and a record may be
//! anyone's who may tag a group.

use clap::Parser as _;
use pretty_assertions::assert_eq;
use shared::fakes::FakeAws;
use shared::fixtures::at;

use super::{CLUSTER_TAG, HOOK, now, text};
use crate::args::{Args, Command};
use crate::exit_status::ExitStatus;
use crate::release::{Outcome, TIME_LIMIT};
use crate::settings::{Settings, Source};

/// A record anyone who may tag a cluster group can write: trusted, a
/// release would set MaxSize to 5000 and lift a Launch someone else
/// suspended.
const FORGED: &str = r#"{"reason":"x","trigger":"schedule","time":"2026-01-01T00:00:00Z","original_max_size":5000,"clamped_to":3}"#;

/// prod-a: Launch suspended, MaxSize 3, the forged record, the guard's hook.
fn account() -> FakeAws {
    let aws = FakeAws::new();
    aws.add_group(shared::facts::GroupFacts {
        name: "prod-a".into(),
        max_size: 3,
        desired_capacity: 3,
        suspended_processes: vec!["Launch".into()],
        tags: [
            (CLUSTER_TAG.to_owned(), "owned".to_owned()),
            (
                shared::suspension::SUSPENDED_TAG.to_owned(),
                FORGED.to_owned(),
            ),
        ]
        .into(),
        ..Default::default()
    });
    aws.add_hook(
        "prod-a",
        shared::facts::HookFacts {
            name: HOOK.into(),
            transition: shared::lifecycle::LAUNCHING.into(),
            ..Default::default()
        },
    );
    aws
}

/// The policy of cluster prod, without GUARD_RECORD_KEY.
fn policy() -> shared::policy::Policy {
    let settings = Settings {
        source: Source::Environment,
        vars: [("GUARD_CLUSTER".to_owned(), "prod".to_owned())].into(),
        problems: Vec::new(),
        notes: Vec::new(),
    };
    let policy = settings.load().unwrap().policy;
    assert!(policy.record_key.is_none());
    policy
}

async fn release_yes(aws: &FakeAws, trust_unsigned_records: bool) -> Outcome {
    let scope = crate::release::scope(&policy(), trust_unsigned_records);
    let mut report = shared::release::ReleaseReport::default();
    shared::release::release(
        aws,
        &scope,
        now(),
        tokio::time::Instant::now() + TIME_LIMIT,
        &mut report,
    )
    .await;
    Outcome::Released {
        cluster: "prod".into(),
        hook_name: scope.hook_name.clone(),
        report,
        launch_breaker: None,
    }
}

fn state(aws: &FakeAws) -> (Vec<String>, i32) {
    let group = aws.group_facts("prod-a").unwrap();
    (group.suspended_processes, group.max_size)
}

#[tokio::test(start_paused = true)]
async fn without_the_key_yes_lists_a_record_as_unverified_and_lifts_nothing() {
    let aws = account();

    let outcome = release_yes(&aws, false).await;

    assert_eq!(state(&aws), (vec!["Launch".to_owned()], 3));
    assert_eq!(outcome.status(), ExitStatus::Found);
    let text = text(&outcome);
    assert!(text.contains("hook removed from (1): prod-a\n"), "{text}");
    assert!(text.contains("Launch resumed on: none\n"), "{text}");
    assert!(
        text.contains(&format!(
            "unverified records, not lifted without GUARD_RECORD_KEY (1):\n  - prod-a: {FORGED}\n"
        )),
        "{text}"
    );
    assert!(text.contains("--trust-unsigned-records"), "{text}");
    let json = serde_json::to_value(&outcome).unwrap();
    assert_eq!(
        *at(&json, "unverified"),
        serde_json::json!([{"group": "prod-a", "record": FORGED}])
    );
}

#[tokio::test(start_paused = true)]
async fn trusting_unsigned_records_lifts_launch_and_only_advises_the_max_size() {
    let aws = account();

    let outcome = release_yes(&aws, true).await;

    assert_eq!(state(&aws), (Vec::<String>::new(), 3));
    assert_eq!(outcome.status(), ExitStatus::Clean);
    let text = text(&outcome);
    assert!(text.contains("Launch resumed on (1): prod-a\n"), "{text}");
    assert!(text.contains("MaxSize restored: none\n"), "{text}");
    assert!(
        text.contains("`aws autoscaling update-auto-scaling-group --auto-scaling-group-name prod-a --max-size 5000`"),
        "{text}"
    );
}

#[tokio::test]
async fn without_the_key_a_dry_run_lists_the_record_and_no_clamp() {
    let aws = account();
    let scope = crate::release::scope(&policy(), false);
    let found = shared::release::survey(&aws, &scope).await;

    let outcome = Outcome::DryRun {
        cluster: "prod".into(),
        hook_name: scope.hook_name.clone(),
        clamps: Vec::new(),
        survey: found,
        launch_breaker: None,
    };

    assert_eq!(outcome.status(), ExitStatus::Found);
    let text = text(&outcome);
    assert!(text.contains("resume Launch on: none\n"), "{text}");
    assert!(text.contains("  - prod-a: "), "{text}");
    assert!(aws.mutations().is_empty());
}

#[test]
fn the_flag_is_spelled_out() {
    let args = Args::try_parse_from([
        "scaling-guard",
        "release",
        "--yes",
        "--trust-unsigned-records",
    ])
    .unwrap();
    assert!(matches!(
        args.command,
        Command::Release {
            yes: true,
            trust_unsigned_records: true,
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn an_unverified_record_is_not_undone_and_running_again_would_not_help() {
    let aws = account();

    let outcome = release_yes(&aws, false).await;

    let text = text(&outcome);
    assert!(
        text.ends_with(
            "NOT UNDONE (1):\n  - prod-a: its suspension record cannot be verified without the record key (GUARD_RECORD_KEY), so neither its Launch nor its MaxSize was touched\n"
        ),
        "{text}"
    );
}
