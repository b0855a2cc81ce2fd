//! Launches delivered through an SQS queue (issue 20, scenario 5): the hooks
//! budget-guard enrolls notify the policy's queue with its role, and a guard
//! hook that notifies elsewhere (or nowhere) is put again, since its launches
//! would otherwise wait for the heartbeat and end by the default result.

use pretty_assertions::assert_eq;
use rstest::rstest;
use serde_json::json;
use shared::alerts::AlertKind;
use shared::facts::{GroupFacts, HookFacts};
use shared::fakes::FakeAws;
use shared::policy::Policy;
use shared::ports::ClusterGroupsRead;

use super::{
    CLUSTER_TAG, NONE, SCHEDULE, answer, hook, kinds, run_schedule, schedule_of, set_running,
};
use crate::fixtures::{now, policy};
use crate::handler::BudgetGuard;

const QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:scaling-guard-launches";
const ROLE: &str = "arn:aws:iam::123456789012:role/scaling-guard-hook-notification";
const OTHER_QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:old-launches";
const OTHER_ROLE: &str = "arn:aws:iam::123456789012:role/old-hook-notification";

/// The fixture's policy, its launches delivered through `QUEUE`.
fn sqs_policy() -> Policy {
    policy(&[
        ("GUARD_HOOK_NOTIFICATION_TARGET_ARN", QUEUE),
        ("GUARD_HOOK_NOTIFICATION_ROLE_ARN", ROLE),
    ])
}

/// The guard's hook, notifying `target` with `role`.
fn hook_to(target: Option<&str>, role: Option<&str>) -> HookFacts {
    HookFacts {
        notification_target_arn: target.map(str::to_owned),
        role_arn: role.map(str::to_owned),
        ..hook()
    }
}

/// Groups prod-a (the guard's hook notifying `QUEUE` with `ROLE`), prod-b
/// (with `prod_b`) and staging-a (another cluster's); one running instance.
fn sqs_cluster(prod_b: HookFacts) -> FakeAws {
    let aws = super::account();
    for (name, tag, hook) in [
        ("prod-a", CLUSTER_TAG, hook_to(Some(QUEUE), Some(ROLE))),
        ("prod-b", CLUSTER_TAG, prod_b),
        ("staging-a", "kubernetes.io/cluster/staging", hook()),
    ] {
        aws.add_group(GroupFacts {
            name: name.into(),
            max_size: 20,
            desired_capacity: 4,
            tags: [(tag.to_owned(), "owned".to_owned())].into(),
            ..GroupFacts::default()
        });
        aws.add_hook(name, hook);
    }
    set_running(&aws, 1);
    aws
}

/// Where the guard's hook on `group` notifies, and with which role.
async fn delivery(aws: &FakeAws, group: &str) -> (Option<String>, Option<String>) {
    let hook = guard_hook(aws, group).await;
    (hook.notification_target_arn, hook.role_arn)
}

fn to_queue() -> (Option<String>, Option<String>) {
    (Some(QUEUE.to_owned()), Some(ROLE.to_owned()))
}

async fn guard_hook(aws: &FakeAws, group: &str) -> HookFacts {
    let hooks = aws.lifecycle_hooks(group).await.unwrap();
    let mine: Vec<&HookFacts> = hooks.iter().filter(|h| h.name == hook().name).collect();
    assert_eq!(mine.len(), 1, "one guard hook on {group}: {hooks:?}");
    mine[0].clone()
}

#[tokio::test]
async fn an_enrolled_hook_notifies_the_policys_queue_with_its_role() {
    // Given a new cluster group without the guard's hook, in SQS mode
    let (policy, aws) = (sqs_policy(), sqs_cluster(hook_to(Some(QUEUE), Some(ROLE))));
    aws.add_group(GroupFacts {
        name: "prod-new".into(),
        max_size: 5,
        tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
        ..GroupFacts::default()
    });

    // When the schedule runs
    let summary = run_schedule(&policy, &aws, SCHEDULE).await;

    // Then the hook it put notifies the queue, with the role Auto Scaling assumes
    assert_eq!(summary.enrolled, ["prod-new"]);
    assert_eq!(summary.repaired, NONE);
    let put = guard_hook(&aws, "prod-new").await;
    assert_eq!(put.notification_target_arn.as_deref(), Some(QUEUE));
    assert_eq!(put.role_arn.as_deref(), Some(ROLE));
    assert_eq!(put.transition, "autoscaling:EC2_INSTANCE_LAUNCHING");
    assert_eq!(put.default_result.as_deref(), Some("ABANDON"));
    assert_eq!(put.heartbeat_timeout, Some(600));
    let metadata: serde_json::Value =
        serde_json::from_str(put.notification_metadata.as_deref().unwrap()).unwrap();
    assert_eq!(
        metadata,
        json!({ "cluster": "prod", "by": "scaling-guard" })
    );
    assert_eq!(aws.group_changes(), vec!["PutLifecycleHook prod-new"]);
    assert_eq!(kinds(&aws), vec![AlertKind::GroupEnrolled]);
}

#[rstest]
#[case::no_target(None, None)]
#[case::another_queue(Some(OTHER_QUEUE), Some(ROLE))]
#[case::another_role(Some(QUEUE), Some(OTHER_ROLE))]
#[tokio::test]
async fn a_guard_hook_that_does_not_notify_the_queue_is_put_again_and_alerted(
    #[case] target: Option<&str>,
    #[case] role: Option<&str>,
) {
    // Given prod-b's guard hook notifies elsewhere (or nowhere)
    let (policy, aws) = (sqs_policy(), sqs_cluster(hook_to(target, role)));
    let guard = BudgetGuard::new(&policy, &aws).with_clock(now);

    // When the schedule runs, twice
    let first = schedule_of(answer(&guard, SCHEDULE).await.unwrap());
    let second = schedule_of(answer(&guard, SCHEDULE).await.unwrap());

    // Then the hook is put again, once, notifying the queue with the role
    assert_eq!(first.repaired, ["prod-b"]);
    assert_eq!(first.enrolled, NONE);
    assert_eq!(second.repaired, NONE);
    assert_eq!(delivery(&aws, "prod-b").await, to_queue());
    assert_eq!(aws.group_changes(), vec!["PutLifecycleHook prod-b"]);
    let alerts = aws.published();
    assert_eq!(kinds(&aws), vec![AlertKind::GroupEnrolled]);
    assert_eq!(alerts[0].details["groups"], json!(["prod-b"]));
    assert_eq!(alerts[0].details["repaired"], json!(["prod-b"]));
}

#[tokio::test]
async fn a_guard_hook_that_notifies_the_queue_is_left_alone() {
    let (policy, aws) = (sqs_policy(), sqs_cluster(hook_to(Some(QUEUE), Some(ROLE))));

    let summary = run_schedule(&policy, &aws, SCHEDULE).await;

    assert_eq!(summary.enrolled, NONE);
    assert_eq!(summary.repaired, NONE);
    assert_eq!(aws.group_changes(), Vec::<String>::new());
    assert_eq!(kinds(&aws), vec![]);
}

#[tokio::test]
async fn without_sqs_delivery_the_target_of_a_guard_hook_is_left_alone() {
    // EventBridge hears every hook's lifecycle actions, whatever its target.
    let (policy, aws) = (
        policy(&[]),
        sqs_cluster(hook_to(Some(OTHER_QUEUE), Some(OTHER_ROLE))),
    );

    let summary = run_schedule(&policy, &aws, SCHEDULE).await;

    assert_eq!(summary.repaired, NONE);
    assert_eq!(aws.group_changes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_hook_that_cannot_be_put_again_is_neither_reported_repaired_nor_alerted() {
    let (policy, aws) = (sqs_policy(), sqs_cluster(hook_to(None, None)));
    aws.fail("PutLifecycleHook");

    let summary = run_schedule(&policy, &aws, SCHEDULE).await;

    assert_eq!(summary.repaired, NONE);
    assert_eq!(kinds(&aws), vec![]);
    assert_eq!(guard_hook(&aws, "prod-b").await, hook_to(None, None));
}
