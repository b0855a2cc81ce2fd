//! Audit mode is the off switch (issue 21, scenario 6): a guard switched
//! from enforce to audit lifts, within one schedule run, every suspension
//! and clamp it made, stops its hooks from abandoning, and says so in one
//! alert; after that, audit mode changes nothing.

use pretty_assertions::assert_eq;
use shared::alerts::AlertKind;
use shared::facts::{GroupFacts, HookFacts};
use shared::fakes::FakeAws;
use shared::ports::ClusterGroupsRead;
use shared::suspension::SUSPENDED_TAG;

use super::{
    CLUSTER_TAG, SCHEDULE, account, alerts_of, hook, invoke, kinds, launch_suspended, set_running,
};
use crate::fixtures::{now, policy};
use crate::handler::BudgetGuard;

/// The guard's hook as an enforcing, failing-closed guard put it.
fn abandoning_hook() -> HookFacts {
    HookFacts {
        default_result: Some("ABANDON".into()),
        heartbeat_timeout: Some(600),
        notification_metadata: Some(r#"{"cluster":"prod","by":"scaling-guard"}"#.into()),
        ..hook()
    }
}

/// The guard's hook as an audit-mode guard enrolled it.
fn continuing_hook() -> HookFacts {
    HookFacts {
        default_result: Some("CONTINUE".into()),
        ..abandoning_hook()
    }
}

/// Groups prod-a, prod-b (MaxSize 20, 4 desired), prod-c (MaxSize 7, its
/// `Launch` suspended by someone else) and staging-a (another cluster), each
/// with `hook`; `running` instances.
fn cluster_with(hook: fn() -> HookFacts, running: usize) -> FakeAws {
    let aws = account();
    for (name, tag, max_size, suspended) in [
        ("prod-a", CLUSTER_TAG, 20, false),
        ("prod-b", CLUSTER_TAG, 20, false),
        ("prod-c", CLUSTER_TAG, 7, true),
        ("staging-a", "kubernetes.io/cluster/staging", 20, false),
    ] {
        aws.add_group(GroupFacts {
            name: name.into(),
            max_size,
            desired_capacity: 4,
            suspended_processes: suspended.then(|| "Launch".to_owned()).into_iter().collect(),
            tags: [(tag.to_owned(), "owned".to_owned())].into(),
            ..GroupFacts::default()
        });
        aws.add_hook(name, hook());
    }
    set_running(&aws, running);
    aws
}

/// The cluster at its budget (10 instances) after an enforcing run: prod-a
/// and prod-b suspended by the guard with MaxSize clamped from 20 to 4, the
/// guard's hooks abandoning; prod-c's `Launch` suspended by someone else;
/// staging-a (another cluster) with an abandoning hook of the same name.
async fn enforced_cluster() -> FakeAws {
    let aws = cluster_with(abandoning_hook, 10);
    let enforce = policy(&[("GUARD_CLAMP_MAX_SIZE", "true")]);
    invoke(&BudgetGuard::new(&enforce, &aws).with_clock(now), SCHEDULE)
        .await
        .unwrap();
    for group in ["prod-a", "prod-b"] {
        let facts = aws.group_facts(group).unwrap();
        assert!(launch_suspended(&aws, group), "{group} suspended");
        assert_eq!(facts.max_size, 4, "{group} clamped");
    }
    aws
}

async fn default_result(aws: &FakeAws, group: &str) -> Option<String> {
    let hooks = aws.lifecycle_hooks(group).await.unwrap();
    assert_eq!(hooks.len(), 1, "{group}: {hooks:?}");
    hooks[0].default_result.clone()
}

#[tokio::test]
async fn one_audit_run_lifts_the_guards_suspensions_and_clamps_and_its_hooks_continue() {
    // Given a cluster the enforcing guard suspended and clamped.
    let aws = enforced_cluster().await;
    let before = aws.published().len();

    // When the guard, switched to audit, runs once (usage still at budget).
    let audit = policy(&[("GUARD_MODE", "audit"), ("GUARD_CLAMP_MAX_SIZE", "true")]);
    invoke(&BudgetGuard::new(&audit, &aws).with_clock(now), SCHEDULE)
        .await
        .unwrap();

    // Then its suspensions and clamps are gone, its hooks continue.
    for group in ["prod-a", "prod-b"] {
        let facts = aws.group_facts(group).unwrap();
        assert!(!launch_suspended(&aws, group), "{group} resumed");
        assert_eq!(facts.max_size, 20, "{group} MaxSize restored");
        assert!(!facts.tags.contains_key(SUSPENDED_TAG), "{group} record");
        assert_eq!(
            default_result(&aws, group).await.as_deref(),
            Some("CONTINUE")
        );
    }
    let hooks = aws.lifecycle_hooks("prod-a").await.unwrap();
    assert_eq!(
        hooks[0],
        HookFacts {
            default_result: Some("CONTINUE".into()),
            ..abandoning_hook()
        },
        "the hook keeps every other setting"
    );
    // And only they: another's suspension, another cluster's hook stay.
    assert!(
        launch_suspended(&aws, "prod-c"),
        "prod-c is not the guard's"
    );
    assert_eq!(aws.group_facts("prod-c").unwrap().max_size, 7);
    assert_eq!(
        default_result(&aws, "staging-a").await.as_deref(),
        Some("ABANDON")
    );
    // And one alert says what was undone.
    let published = &aws.published()[before..];
    let handovers: Vec<_> = published
        .iter()
        .filter(|a| a.kind.as_str() == "audit_handover")
        .collect();
    assert_eq!(handovers.len(), 1, "{:?}", kinds(&aws));
    let alert = handovers[0];
    assert_eq!(
        alert.details["resumed"],
        serde_json::json!(["prod-a", "prod-b"])
    );
    assert_eq!(
        alert.details["max_size_restored"],
        serde_json::json!(["prod-a=20", "prod-b=20"])
    );
    assert_eq!(
        alert.details["hooks_continue"],
        serde_json::json!(["prod-a", "prod-b", "prod-c"]),
        "prod-c's suspension is not the guard's, its hook is"
    );
    assert!(
        alert.subject().contains("audit mode"),
        "{}",
        alert.subject()
    );
    assert!(
        alerts_of(&aws, AlertKind::ScaleOutResumed)
            .iter()
            .all(|a| a.decision != "would_resume"),
        "the hand-over is not a would-be resume: {:?}",
        kinds(&aws)
    );
}

#[tokio::test]
async fn after_the_hand_over_audit_mode_changes_nothing_and_alerts_nothing() {
    // Given a guard switched to audit that already handed over.
    let aws = enforced_cluster().await;
    let audit = policy(&[("GUARD_MODE", "audit")]);
    let guard = BudgetGuard::new(&audit, &aws).with_clock(now);
    invoke(&guard, SCHEDULE).await.unwrap();
    assert!(!launch_suspended(&aws, "prod-a"), "handed over");
    // (Usage below the suspend threshold: audit mode has nothing to report.)
    set_running(&aws, 2);
    let (changes, published) = (aws.group_changes().len(), aws.published().len());

    // When it runs again, in the same environment and in a new one.
    invoke(&guard, SCHEDULE).await.unwrap();
    invoke(&BudgetGuard::new(&audit, &aws).with_clock(now), SCHEDULE)
        .await
        .unwrap();

    // Then nothing changed and nothing was alerted.
    assert_eq!(aws.group_changes()[changes..], [] as [String; 0]);
    assert_eq!(
        aws.published()[published..]
            .iter()
            .map(|a| a.kind)
            .collect::<Vec<_>>(),
        []
    );
    assert!(launch_suspended(&aws, "prod-c"));
}

#[tokio::test]
async fn a_launch_suspended_by_others_is_never_lifted_in_audit_mode() {
    // Given only a suspension by someone else, and hooks that continue.
    let aws = cluster_with(continuing_hook, 1);
    let audit = policy(&[("GUARD_MODE", "audit")]);

    // When the audit guard runs.
    invoke(&BudgetGuard::new(&audit, &aws).with_clock(now), SCHEDULE)
        .await
        .unwrap();

    // Then the suspension and its MaxSize stay, and nothing is alerted.
    assert!(launch_suspended(&aws, "prod-c"));
    assert_eq!(aws.group_facts("prod-c").unwrap().max_size, 7);
    assert_eq!(aws.group_changes(), Vec::<String>::new());
    assert_eq!(kinds(&aws), Vec::<AlertKind>::new());
}

#[tokio::test]
async fn a_max_size_changed_by_someone_else_during_the_suspension_is_kept() {
    // Given the enforcing guard's clamp to 4, which an operator then set to 9.
    let aws = enforced_cluster().await;
    aws.update_group("prod-a", |g| g.max_size = 9);

    // When the guard, switched to audit, runs once.
    let audit = policy(&[("GUARD_MODE", "audit")]);
    invoke(&BudgetGuard::new(&audit, &aws).with_clock(now), SCHEDULE)
        .await
        .unwrap();

    // Then Launch is lifted, the operator's MaxSize kept, and the alert says so.
    assert!(!launch_suspended(&aws, "prod-a"));
    assert_eq!(aws.group_facts("prod-a").unwrap().max_size, 9);
    assert_eq!(aws.group_facts("prod-b").unwrap().max_size, 20);
    let alert = aws
        .published()
        .into_iter()
        .find(|a| a.kind.as_str() == "audit_handover")
        .expect("the hand-over alert");
    assert_eq!(
        alert.details["max_size_restored"],
        serde_json::json!(["prod-b=20"])
    );
    assert!(
        alert.advice.contains("MaxSize of prod-a"),
        "{}",
        alert.advice
    );
}

#[tokio::test]
async fn a_record_the_guard_cannot_verify_is_not_lifted_nor_retried_nor_alerted() {
    // Given a guard with its record key, and a record on prod-a that anyone
    // who may tag could have written (unsigned) over someone's suspension.
    let aws = cluster_with(continuing_hook, 1);
    aws.update_group("prod-a", |g| {
        g.suspended_processes = vec!["Launch".into()];
        g.tags.insert(
            SUSPENDED_TAG.into(),
            r#"{"reason":"forged","trigger":"schedule","time":"2026-01-01T00:00:00Z","original_max_size":5000,"clamped_to":20}"#.into(),
        );
    });
    let audit = policy(&[
        ("GUARD_MODE", "audit"),
        ("GUARD_RECORD_KEY", "a-secret-of-the-stack-0123456789abcdef"),
    ]);
    let guard = BudgetGuard::new(&audit, &aws).with_clock(now);

    // When the audit guard runs twice.
    let first = invoke(&guard, SCHEDULE).await.unwrap();
    invoke(&guard, SCHEDULE).await.unwrap();

    // Then the suspension stays, nothing is left to retry, nothing alerted.
    assert!(launch_suspended(&aws, "prod-a"));
    assert_eq!(aws.group_facts("prod-a").unwrap().max_size, 20);
    assert_eq!(aws.group_changes(), Vec::<String>::new());
    assert_eq!(kinds(&aws), Vec::<AlertKind>::new());
    assert_eq!(first.get("handed_over"), None, "{first}");
}

#[tokio::test]
async fn a_hook_of_the_guards_name_that_another_clusters_guard_enrolled_is_left_alone() {
    // Given prod-b's hook of the guard's name, enrolled by staging's guard.
    let aws = cluster_with(continuing_hook, 1);
    let foreign = HookFacts {
        default_result: Some("ABANDON".into()),
        notification_metadata: Some(r#"{"cluster":"staging","by":"scaling-guard"}"#.into()),
        ..hook()
    };
    let audit = policy(&[("GUARD_MODE", "audit")]);
    // (It replaces prod-b's own hook: one hook of a name per group.)
    shared::ports::ScaleOutControl::put_hook(&aws, "prod-b", &foreign)
        .await
        .unwrap();
    let before = aws.group_changes().len();

    // When the audit guard runs.
    invoke(&BudgetGuard::new(&audit, &aws).with_clock(now), SCHEDULE)
        .await
        .unwrap();

    // Then it is not the guard's to change.
    assert_eq!(
        default_result(&aws, "prod-b").await.as_deref(),
        Some("ABANDON")
    );
    assert_eq!(aws.group_changes()[before..], [] as [String; 0]);
    assert_eq!(kinds(&aws), Vec::<AlertKind>::new());
}
