use std::sync::Mutex;
use std::time::Duration;

use pretty_assertions::assert_eq;
use rstest::rstest;
use serde_json::{Value, json};
use shared::facts::GroupFacts;
use shared::fakes::{FakeAws, launch_hook, suspended_by_guard};
use shared::fixtures::{CLUSTER_TAG, HOOK, now};
use shared::ports::ClusterGroupsRead;
use shared::suspension::SUSPENDED_TAG;

use super::*;
use crate::respond::SendError;
use shared::deadline::Deadline;

mod exception_records;
mod identity;
mod launch_breaker;
mod off_switch;
mod removal;
mod rename;
mod shared_key;

const CREATE: &str = include_str!("../../../../events/stack-create.json");
const UPDATE: &str = include_str!("../../../../events/stack-update.json");
const DELETE: &str = include_str!("../../../../events/stack-delete.json");

/// The function's timeout in template.yaml (`StackGuardFunction`).
pub(super) const FUNCTION_TIMEOUT: Duration = Duration::from_secs(600);

/// The deadline of an invocation that starts now.
fn deadline() -> Deadline {
    Deadline::after(FUNCTION_TIMEOUT)
}

/// The response port of the tests: keeps what would have been sent.
#[derive(Debug, Default)]
struct Captured {
    sent: Mutex<Vec<(String, Response)>>,
    refuse: bool,
}

impl Captured {
    fn sent(&self) -> Vec<(String, Response)> {
        self.sent.lock().unwrap().clone()
    }
}

impl ResponseSend for Captured {
    async fn send(&self, url: &str, response: &Response) -> Result<(), SendError> {
        if self.refuse {
            return Err(SendError {
                url: url.to_owned(),
                message: "HTTP 403 Forbidden".to_owned(),
            });
        }
        self.sent
            .lock()
            .unwrap()
            .push((url.to_owned(), response.clone()));
        Ok(())
    }
}

/// The sample event, with `changes` made to its `Policy`
/// (`Value::Null` removes a setting).
fn event(text: &str, changes: &[(&str, Value)]) -> Input {
    let mut event: Value = serde_json::from_str(text).unwrap();
    let policy = event["ResourceProperties"]["Policy"]
        .as_object_mut()
        .unwrap();
    for (key, value) in changes {
        match value {
            Value::Null => policy.remove(*key),
            value => policy.insert((*key).to_owned(), value.clone()),
        };
    }
    serde_json::from_value(event).unwrap()
}

/// Handles `input` over `aws`; returns the one response sent, checking that
/// it went to the event's URL and is also the invocation's result.
async fn answer(aws: &FakeAws, input: Input) -> Response {
    let Input::Request(request) = &input else {
        panic!("not a request")
    };
    let url = request.response_url.clone();
    let responder = Captured::default();
    let result = StackGuard::new(aws, &responder)
        .handle_at(input, now(), deadline())
        .await
        .unwrap();
    let sent = responder.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, url);
    assert_eq!(sent[0].1, result);
    result
}

#[tokio::test]
async fn a_create_with_a_valid_policy_succeeds_with_the_clusters_id() {
    let aws = FakeAws::new();

    let response = answer(&aws, event(CREATE, &[])).await;

    assert_eq!(response.status, Status::Success);
    assert_eq!(response.physical_resource_id, "scaling-guard-prod");
    assert_eq!(response.reason, "the policy of cluster `prod` is valid");
    assert_eq!(response.logical_resource_id, "Guard");
    assert_eq!(response.request_id, "9f1c6c55-3f4e-4a55-9d55-2f8b0a1f7c11");
    assert_eq!(response.data["Cluster"], "prod");
    assert_eq!(response.data["ClusterTagKey"], CLUSTER_TAG);
    assert_eq!(response.data["HookName"], HOOK);
    assert!(aws.mutations().is_empty(), "{:?}", aws.mutations());
    assert_eq!(aws.calls("DescribeAutoScalingGroups"), 0);
}

#[rstest]
#[case::resume_not_below_suspend(
    &[("GUARD_SUSPEND_AT_PERCENT", json!("90")), ("GUARD_RESUME_BELOW_PERCENT", json!("90"))],
    "invalid policy (1 problem): `GUARD_RESUME_BELOW_PERCENT` (`90`) must be below `GUARD_SUSPEND_AT_PERCENT` (`90`)"
)]
#[case::no_cluster_and_an_unknown_setting(
    &[("GUARD_CLUSTER", Value::Null), ("GUARD_MAX_VCPU", json!("8"))],
    "invalid policy (2 problems): unknown setting `GUARD_MAX_VCPU`; `GUARD_CLUSTER` is required"
)]
#[case::a_key_that_is_no_setting(
    &[("Cluster", json!("prod"))],
    "invalid policy (1 problem): `Policy` key `Cluster` is not a `GUARD_*` setting"
)]
#[tokio::test]
async fn a_create_with_an_invalid_policy_fails_listing_every_problem(
    #[case] changes: &[(&str, Value)],
    #[case] reason: &str,
) {
    let aws = FakeAws::new();

    let response = answer(&aws, event(CREATE, changes)).await;

    assert_eq!(response.status, Status::Failed);
    assert_eq!(response.reason, reason);
    assert_eq!(response.physical_resource_id, "scaling-guard-invalid-Guard");
    assert!(response.data.is_empty());
}

#[tokio::test]
async fn an_update_to_an_invalid_policy_fails_and_keeps_the_resources_id() {
    let aws = FakeAws::new();

    let response = answer(&aws, event(UPDATE, &[("GUARD_MAX_VCPUS", json!("0"))])).await;

    assert_eq!(response.status, Status::Failed);
    assert!(
        response
            .reason
            .starts_with("invalid policy (1 problem): `GUARD_MAX_VCPUS`"),
        "{}",
        response.reason
    );
    assert_eq!(response.physical_resource_id, "scaling-guard-prod");
}

#[tokio::test]
async fn an_update_with_a_valid_policy_succeeds_with_the_same_id() {
    let response = answer(&FakeAws::new(), event(UPDATE, &[])).await;

    assert_eq!(response.status, Status::Success);
    assert_eq!(response.physical_resource_id, "scaling-guard-prod");
}

#[tokio::test]
async fn an_update_whose_exceptions_name_an_unknown_or_cluster_wide_check_fails_with_both() {
    let exceptions = json!("imds.hops@prod-*,budget.vcpus@prod-*");
    let response = answer(
        &FakeAws::new(),
        event(UPDATE, &[("GUARD_CHECK_EXCEPTIONS", exceptions)]),
    )
    .await;

    assert_eq!(response.status, Status::Failed);
    assert!(
        response.reason.starts_with("invalid policy (2 problems): "),
        "{}",
        response.reason
    );
    assert!(
        response.reason.contains("unknown check `imds.hops`"),
        "{}",
        response.reason
    );
    assert!(
        response
            .reason
            .contains("`budget.vcpus` applies to the whole cluster"),
        "{}",
        response.reason
    );
}

fn group(name: &str, tag: &str) -> GroupFacts {
    GroupFacts {
        name: name.into(),
        min_size: 0,
        max_size: 20,
        desired_capacity: 4,
        tags: [(tag.to_owned(), "owned".to_owned())].into(),
        ..GroupFacts::default()
    }
}

/// prod-a: hooked, suspended and clamped by the guard; prod-b: hooked;
/// prod-c: `Launch` suspended by someone else, another team's hook;
/// staging-a: another cluster, hooked and suspended by its own guard.
fn cluster() -> FakeAws {
    let aws = FakeAws::two_clusters();
    for guarded in ["prod-a", "staging-a"] {
        aws.update_group(guarded, |g| *g = suspended_by_guard(g.clone()));
    }
    aws.add_hook("prod-b", launch_hook("node-bootstrap"));
    let mut foreign = group("prod-c", CLUSTER_TAG);
    foreign.suspended_processes = vec!["Launch".into(), "AZRebalance".into()];
    aws.add_group(foreign);
    aws.add_hook("prod-c", launch_hook("node-bootstrap"));
    aws
}

async fn hook_names(aws: &FakeAws, group: &str) -> Vec<String> {
    let hooks = aws.lifecycle_hooks(group).await.unwrap();
    hooks.into_iter().map(|h| h.name).collect()
}

#[tokio::test]
async fn a_delete_removes_the_guards_hooks_and_lifts_only_its_own_suspensions() {
    // Given
    let aws = cluster();
    let staging_before = aws.group_facts("staging-a").unwrap();

    // When
    let response = answer(&aws, event(DELETE, &[])).await;

    // Then: the hooks are gone from the cluster's groups, others' hooks stay
    assert_eq!(response.status, Status::Success);
    assert_eq!(response.physical_resource_id, "scaling-guard-prod");
    assert!(hook_names(&aws, "prod-a").await.is_empty());
    assert_eq!(hook_names(&aws, "prod-b").await, vec!["node-bootstrap"]);
    assert_eq!(hook_names(&aws, "prod-c").await, vec!["node-bootstrap"]);
    // the guard's suspension is lifted and MaxSize restored
    let prod_a = aws.group_facts("prod-a").unwrap();
    assert!(prod_a.suspended_processes.is_empty());
    assert_eq!(prod_a.max_size, 20);
    assert!(!prod_a.tags.contains_key(SUSPENDED_TAG));
    // someone else's suspension stays, another cluster is untouched
    assert_eq!(
        aws.group_facts("prod-c").unwrap().suspended_processes,
        vec!["Launch", "AZRebalance"]
    );
    assert_eq!(aws.group_facts("staging-a").unwrap(), staging_before);
    assert_eq!(hook_names(&aws, "staging-a").await, vec![HOOK]);
    assert!(
        aws.group_changes()
            .iter()
            .all(|c| !c.ends_with("staging-a")),
        "{:?}",
        aws.group_changes()
    );
    // and the answer says so
    let expected: BTreeMap<String, String> = [
        ("Cluster", "prod"),
        ("HooksRemoved", "prod-a, prod-b"),
        ("Resumed", "prod-a"),
        ("MaxSizeRestored", "prod-a=20"),
        ("ExceptionRecordsRemoved", ""),
        ("LeftSuspendedByOthers", "prod-c"),
        ("NotUndone", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(response.data, expected);
    assert_eq!(
        response.reason,
        "cluster `prod`: hook removed from 2 group(s), 1 suspension(s) lifted, 1 suspended by others left"
    );
}

#[tokio::test(start_paused = true)]
async fn a_delete_with_aws_failing_fails_listing_what_was_not_undone() {
    // Given: Auto Scaling refuses every hook deletion and every resume
    let aws = cluster();
    aws.fail("DeleteLifecycleHook");
    aws.fail("ResumeProcesses");

    // When
    let response = answer(&aws, event(DELETE, &[])).await;

    // Then
    assert_eq!(response.status, Status::Failed);
    assert_eq!(response.data["HooksRemoved"], "");
    assert_eq!(response.data["Resumed"], "");
    assert_eq!(
        response.data["NotUndone"],
        "the hook `scaling-guard-prod` of prod-a may remain: `DeleteLifecycleHook` failed: injected failure; \
         the hook `scaling-guard-prod` of prod-b may remain: `DeleteLifecycleHook` failed: injected failure; \
         the suspension of prod-a may remain (tag `scaling-guard:suspended`): `ResumeProcesses` failed: injected failure"
    );
    assert!(
        response
            .reason
            .contains("; NOT UNDONE (3), retry the delete: the hook"),
        "{}",
        response.reason
    );
    assert_eq!(hook_names(&aws, "prod-a").await, vec![HOOK]);
}

#[tokio::test(start_paused = true)]
async fn a_delete_that_cannot_list_the_groups_fails_saying_so() {
    let aws = cluster();
    aws.fail("DescribeAutoScalingGroups");

    let response = answer(&aws, event(DELETE, &[])).await;

    assert_eq!(response.status, Status::Failed);
    assert_eq!(
        response.data["NotUndone"],
        "the groups could not be listed: `DescribeAutoScalingGroups` failed: injected failure"
    );
    assert!(aws.mutations().is_empty(), "{:?}", aws.mutations());
}

#[tokio::test]
async fn a_delete_with_nothing_to_do_succeeds() {
    let aws = FakeAws::new();
    aws.add_group(group("prod-a", CLUSTER_TAG));

    let response = answer(&aws, event(DELETE, &[])).await;

    assert_eq!(response.status, Status::Success);
    assert_eq!(
        response.reason,
        "cluster `prod`: hook removed from 0 group(s), 0 suspension(s) lifted, 0 suspended by others left"
    );
    assert!(aws.mutations().is_empty(), "{:?}", aws.mutations());
}

#[tokio::test]
async fn a_delete_with_an_invalid_policy_succeeds_doing_nothing() {
    // Given: the rollback of a create that failed on its policy
    let aws = cluster();

    let response = answer(&aws, event(DELETE, &[("GUARD_CLUSTER", Value::Null)])).await;

    assert_eq!(response.status, Status::Success);
    assert_eq!(
        response.reason,
        "nothing to undo: the guard never ran with this policy (invalid policy (1 problem): `GUARD_CLUSTER` is required)"
    );
    assert_eq!(aws.calls("DescribeAutoScalingGroups"), 0);
    assert!(aws.mutations().is_empty());
}

#[tokio::test]
async fn a_malformed_event_is_refused_with_a_clear_error_and_no_answer() {
    let responder = Captured::default();
    let input: Input = serde_json::from_value(json!({"RequestType": "Create"})).unwrap();

    let err = StackGuard::new(&FakeAws::new(), &responder)
        .handle_at(input, now(), deadline())
        .await
        .unwrap_err();

    assert_eq!(err.error_type(), "MalformedEvent");
    assert!(
        err.to_string()
            .starts_with("event is not a CloudFormation custom resource request: "),
        "{err}"
    );
    assert!(responder.sent().is_empty());
}

#[tokio::test]
async fn an_answer_that_cannot_be_delivered_fails_the_invocation() {
    let responder = Captured {
        refuse: true,
        ..Captured::default()
    };

    let err = StackGuard::new(&FakeAws::new(), &responder)
        .handle_at(event(CREATE, &[]), now(), deadline())
        .await
        .unwrap_err();

    assert_eq!(err.error_type(), "ResponseNotSent");
}
