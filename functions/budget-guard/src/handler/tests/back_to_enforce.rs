//! Back to enforce after audit mode: the audit hand-over left the guard's
//! hooks continuing by default; with enrollment on and fail mode `abandon`,
//! budget-guard's next run puts them back to `ABANDON`, every other setting
//! kept, so that a silent launch-guard lets no launch in.

use pretty_assertions::assert_eq;
use serde_json::json;
use shared::alerts::AlertKind;
use shared::facts::{GroupFacts, HookFacts};
use shared::fakes::FakeAws;
use shared::ports::ClusterGroupsRead;

use super::{CLUSTER_TAG, SCHEDULE, account, alerts_of, hook, run};
use crate::fixtures::policy;
use shared::fixtures::HOOK;

/// The guard's hook as the audit hand-over leaves it: `CONTINUE`, with the
/// heartbeat, target, role and metadata enrollment put.
fn handed_over(cluster: &str) -> HookFacts {
    HookFacts {
        default_result: Some("CONTINUE".into()),
        heartbeat_timeout: Some(300),
        notification_target_arn: Some("arn:aws:sqs:eu-west-1:123456789012:launches".into()),
        role_arn: Some("arn:aws:iam::123456789012:role/hook".into()),
        notification_metadata: Some(format!(r#"{{"cluster":"{cluster}","by":"scaling-guard"}}"#)),
        ..hook()
    }
}

/// Groups prod-a and prod-b of cluster prod, without hooks yet.
fn cluster() -> FakeAws {
    let aws = account();
    for name in ["prod-a", "prod-b"] {
        aws.add_group(GroupFacts {
            name: name.into(),
            max_size: 20,
            tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
            ..GroupFacts::default()
        });
    }
    aws
}

async fn guard_hook(aws: &FakeAws, group: &str) -> HookFacts {
    let hooks = aws.lifecycle_hooks(group).await.unwrap();
    hooks.into_iter().find(|h| h.name == HOOK).unwrap()
}

#[tokio::test]
async fn back_in_enforce_the_guards_continuing_hook_abandons_again() {
    // Given: enforce, enrollment on, fail mode abandon; prod-a carries the
    // guard's hook as the hand-over left it, prod-b a hook of the same name
    // that staging's guard enrolled
    let policy = policy(&[
        ("GUARD_MODE", "enforce"),
        ("GUARD_ENROLL_GROUPS", "true"),
        ("GUARD_FAIL_MODE", "abandon"),
    ]);
    let aws = cluster();
    aws.add_hook("prod-a", handed_over("prod"));
    aws.add_hook("prod-b", handed_over("staging"));

    // When
    run(&policy, &aws, SCHEDULE).await.unwrap();

    // Then: prod-a's hook abandons again, its other settings kept; prod-b's
    // is staging's guard's
    assert_eq!(
        guard_hook(&aws, "prod-a").await,
        HookFacts {
            default_result: Some("ABANDON".into()),
            ..handed_over("prod")
        }
    );
    assert_eq!(guard_hook(&aws, "prod-b").await, handed_over("staging"));
    assert_eq!(aws.group_changes(), vec!["PutLifecycleHook prod-a"]);
    let alerts = alerts_of(&aws, AlertKind::GroupEnrolled);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].details["restored"], json!(["prod-a"]));

    // When: the next run
    run(&policy, &aws, SCHEDULE).await.unwrap();

    // Then: nothing more is put, nor alerted
    assert_eq!(aws.group_changes(), vec!["PutLifecycleHook prod-a"]);
    assert_eq!(alerts_of(&aws, AlertKind::GroupEnrolled).len(), 1);
}
