use std::time::Duration;

use pretty_assertions::assert_eq;
use rstest::rstest;
use serde_json::{Value, json};
use shared::alerts::AlertKind;
use shared::checks::CheckName;
use shared::checks::membership::VETTED_TAG;
use shared::decision::{Decision, Finding, LifecycleResult};
use shared::facts::{GroupFacts, HttpTokens, ImageFacts, InstanceFacts, SubnetFacts};
use shared::fakes::FakeAws;
use shared::fixtures::{
    CLUSTER_SETTINGS, CLUSTER_TAG, GROUP, HOOK, IMAGE, NODE_SETTINGS, NOW_RFC3339, days_ago, now,
    policy_of,
};
use shared::policy::{Mode, Policy};

use super::*;

const LAUNCH: &str = include_str!("../../../../events/launch-lifecycle-action.json");
const WARM_POOL: &str = include_str!("../../../../events/launch-from-warm-pool.json");
const INTO_WARM_POOL: &str = include_str!("../../../../events/launch-into-warm-pool.json");
const TEST_NOTIFICATION: &str = include_str!("../../../../events/test-notification.json");
const SQS_BATCH: &str = include_str!("../../../../events/launch-sqs-batch.json");

/// The instance and token of `events/launch-lifecycle-action.json`.
const INSTANCE: &str = "i-0a1b2c3d4e5f60718";
const TOKEN: &str = "87654321-4321-4321-4321-210987654321";
/// Another subnet of the account, not allowed by [`NODE_SETTINGS`].
const OTHER_SUBNET: &str = "subnet-0aaa0002";

fn policy(extra: &[(&str, &str)]) -> Policy {
    policy_of(&[&CLUSTER_SETTINGS, &NODE_SETTINGS], extra)
}

/// The fixtures' compliant instance, as `id`.
fn compliant_instance(id: &str) -> InstanceFacts {
    InstanceFacts {
        instance_id: id.into(),
        ..shared::fixtures::compliant_instance()
    }
}

/// The fixtures' cluster with a compliant pending instance in its group and
/// an open lifecycle action for it, as in `events/launch-lifecycle-action.json`.
fn aws() -> FakeAws {
    let aws = FakeAws::compliant_cluster();
    aws.add_instance(compliant_instance(INSTANCE));
    aws.add_subnet(SubnetFacts {
        subnet_id: OTHER_SUBNET.into(),
        ..SubnetFacts::default()
    });
    aws.open_action(TOKEN);
    aws
}

/// The response to `event` of a new environment.
async fn respond(policy: &Policy, aws: &FakeAws, event: &str) -> Result<Response, HandlerError> {
    let guard = LaunchGuard::new(policy, aws).with_clock(now);
    guard
        .handle(serde_json::from_str(event).unwrap(), lambda_deadline())
        .await
}

/// The summary of one notification `event`.
async fn run(policy: &Policy, aws: &FakeAws, event: &str) -> Result<Summary, HandlerError> {
    respond(policy, aws, event).await.map(summary_of)
}

/// The answer to an SQS batch `event`.
async fn run_batch(
    policy: &Policy,
    aws: &FakeAws,
    event: &str,
) -> Result<SqsBatchResponse, HandlerError> {
    respond(policy, aws, event).await.map(batch_of_response)
}

fn summary_of(response: Response) -> Summary {
    match response {
        Response::Decision(summary) => summary,
        Response::Batch(batch) => panic!("a batch's answer, not a summary: {batch:?}"),
    }
}

fn batch_of_response(response: Response) -> SqsBatchResponse {
    match response {
        Response::Batch(batch) => batch,
        Response::Decision(summary) => panic!("a summary, not a batch's answer: {summary:?}"),
    }
}

/// A batch's answer returning the messages `ids` to the queue.
fn returned_messages(ids: &[&str]) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = ids
        .iter()
        .map(|id| item_failure((*id).to_owned()))
        .collect();
    response
}

/// The checks of `findings`, in order.
fn checks_of(findings: &[Finding]) -> Vec<&str> {
    findings
        .iter()
        .map(|f| f.violation.check.as_str())
        .collect()
}

/// The deadline of an invocation of the template's launch-guard (30 s).
fn lambda_deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

fn results(aws: &FakeAws) -> Vec<LifecycleResult> {
    aws.completed()
        .into_iter()
        .map(|(_, result)| result)
        .collect()
}

fn kinds(aws: &FakeAws) -> Vec<AlertKind> {
    aws.published()
        .into_iter()
        .map(|alert| alert.kind)
        .collect()
}

#[tokio::test]
async fn a_compliant_launch_continues_without_an_alert() {
    let (policy, aws) = (policy(&[]), aws());
    let summary = run(&policy, &aws, LAUNCH).await.unwrap();
    assert_eq!(
        summary,
        Summary {
            decision: Decision::Continue,
            instance_id: Some(INSTANCE.to_owned()),
            group: Some(GROUP.to_owned()),
            violations: vec![],
            exempted: vec![],
            mode: Mode::Enforce,
            reason: None,
            duplicate: false,
        }
    );
    // As the invocation answers it.
    assert_eq!(
        serde_json::to_value(&summary).unwrap(),
        json!({
            "decision": "CONTINUE", "instance_id": INSTANCE, "group": "prod-general",
            "violations": [], "mode": "enforce", "duplicate": false
        })
    );
    let completed = aws.completed();
    assert_eq!(completed.len(), 1);
    let (action, result) = &completed[0];
    assert_eq!(
        (action.token.as_str(), action.hook.as_str(), *result),
        (TOKEN, HOOK, LifecycleResult::Continue)
    );
    assert_eq!(kinds(&aws), vec![]);
}

type Breaker = fn(&mut InstanceFacts);

#[rstest]
#[case::image_not_allowed(|i: &mut InstanceFacts| i.image_id = "ami-0ccc0099".into(), "image.allowed")]
#[case::subnet_not_allowed(|i: &mut InstanceFacts| i.subnet_id = Some(OTHER_SUBNET.into()), "subnet.allowed")]
#[case::public_ip(|i: &mut InstanceFacts| i.public_ip = Some("203.0.113.9".into()), "subnet.public")]
#[case::foreign_security_group(|i: &mut InstanceFacts| i.security_group_ids.push("sg-0fff0666".into()), "security_groups.allowed")]
#[case::instance_type(|i: &mut InstanceFacts| i.instance_type = "p5.48xlarge".into(), "instance_type.allowed")]
#[case::imdsv1(|i: &mut InstanceFacts| i.http_tokens = Some(HttpTokens::Optional), "imds.v2")]
#[case::other_environments_profile(|i: &mut InstanceFacts| i.instance_profile_arn = Some("arn:aws:iam::123456789012:instance-profile/staging-node".into()), "instance_profile.allowed")]
#[tokio::test]
async fn each_violation_abandons_the_launch_and_names_its_check(
    #[case] breaker: Breaker,
    #[case] check: &str,
) {
    let (policy, aws) = (policy(&[]), aws());
    let mut instance = compliant_instance(INSTANCE);
    breaker(&mut instance);
    if instance.image_id == "ami-0ccc0099" {
        aws.add_image(ImageFacts {
            image_id: "ami-0ccc0099".into(),
            name: Some("ubuntu-custom".into()),
            creation_date: Some(days_ago(1)),
            ..ImageFacts::default()
        });
    }
    aws.add_instance(instance);

    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(summary.decision, Decision::Abandon);
    let checks = checks_of(&summary.violations);
    assert_eq!(checks, vec![check]);
    assert_eq!(results(&aws), vec![LifecycleResult::Abandon]);
    let alerts = aws.published();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::LaunchDenied);
    assert_eq!(
        alerts[0].subject(),
        format!("[scaling-guard] prod: launch of {INSTANCE} denied ({check})")
    );
    assert_eq!(alerts[0].account.as_deref(), Some("123456789012"));
    assert_eq!(alerts[0].region.as_deref(), Some("eu-west-1"));
}

#[tokio::test]
async fn an_old_image_is_denied_by_age() {
    let (policy, aws) = (policy(&[]), aws());
    aws.add_image(ImageFacts {
        image_id: IMAGE.into(),
        name: Some("amazon-eks-node-al2023-x86_64-standard-1.29-v20250101".into()),
        owner_alias: Some("amazon".into()),
        creation_date: Some(days_ago(200)),
        deprecation_time: Some(days_ago(10)),
        ..ImageFacts::default()
    });
    let summary = run(&policy, &aws, LAUNCH).await.unwrap();
    assert_eq!(summary.decision, Decision::Abandon);
    assert_eq!(summary.violations[0].violation.check, CheckName::ImageAge);
    assert_eq!(
        summary.violations[1].violation.check,
        CheckName::ImageDeprecated
    );
}

#[rstest]
#[case::audit_mode(&[("GUARD_MODE", "audit")], Mode::Audit)]
#[case::audit_only_check(&[("GUARD_AUDIT_ONLY_CHECKS", "imds.v2")], Mode::Enforce)]
#[tokio::test]
async fn reported_only_violations_continue_with_an_alert(
    #[case] extra: &[(&str, &str)],
    #[case] mode: Mode,
) {
    let (policy, aws) = (policy(extra), aws());
    let mut instance = compliant_instance(INSTANCE);
    instance.http_tokens = Some(HttpTokens::Optional);
    aws.add_instance(instance);

    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(summary.decision, Decision::Continue);
    assert_eq!(summary.mode, mode);
    assert_eq!(summary.violations[0].violation.check, CheckName::ImdsV2);
    assert!(!summary.violations[0].blocking);
    assert_eq!(results(&aws), vec![LifecycleResult::Continue]);
    assert_eq!(kinds(&aws), vec![AlertKind::LaunchViolationReported]);
}

#[rstest]
#[case::abandon_by_default(&[], LifecycleResult::Abandon)]
#[case::continue_when_configured(&[("GUARD_FAIL_MODE", "continue")], LifecycleResult::Continue)]
#[tokio::test]
async fn when_describe_instances_fails_the_fail_mode_decides(
    #[case] extra: &[(&str, &str)],
    #[case] expected: LifecycleResult,
) {
    let (policy, aws) = (policy(extra), aws());
    aws.fail("DescribeInstances");

    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(results(&aws), vec![expected]);
    assert_eq!(
        summary.reason.as_deref(),
        Some("the instance: `DescribeInstances` failed: injected failure")
    );
    let alerts = aws.published();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::GuardError);
    assert_eq!(alerts[0].severity.as_str(), "critical");
}

#[tokio::test(start_paused = true)]
async fn a_missing_instance_is_decided_by_the_fail_mode() {
    // The cluster without the launched instance.
    let (policy, aws) = (policy(&[]), FakeAws::compliant_cluster());
    aws.open_action(TOKEN);

    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(summary.decision, Decision::Abandon);
    assert_eq!(
        summary.reason,
        Some(format!("the instance: instance `{INSTANCE}` was not found"))
    );
    assert_eq!(results(&aws), vec![LifecycleResult::Abandon]);
}

#[tokio::test]
async fn when_the_image_lookup_fails_the_fail_mode_decides() {
    let (policy, aws) = (policy(&[]), aws());
    aws.fail("DescribeImages");
    let summary = run(&policy, &aws, LAUNCH).await.unwrap();
    assert_eq!(summary.decision, Decision::Abandon);
    assert_eq!(
        summary.reason.as_deref(),
        Some("the image: `DescribeImages` failed: injected failure")
    );
}

#[tokio::test]
async fn audit_mode_never_blocks_even_without_facts() {
    let (policy, aws) = (policy(&[("GUARD_MODE", "audit")]), aws());
    aws.fail("DescribeInstances");
    run(&policy, &aws, LAUNCH).await.unwrap();
    assert_eq!(results(&aws), vec![LifecycleResult::Continue]);
}

#[tokio::test]
async fn a_duplicate_event_succeeds_quietly_without_a_second_alert() {
    let (policy, aws) = (policy(&[]), aws());
    let mut instance = compliant_instance(INSTANCE);
    instance.instance_type = "p5.48xlarge".into();
    aws.add_instance(instance);

    let first = run(&policy, &aws, LAUNCH).await.unwrap();
    let second = run(&policy, &aws, LAUNCH).await.unwrap();

    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert_eq!(aws.calls("CompleteLifecycleAction"), 2);
    assert_eq!(results(&aws), vec![LifecycleResult::Abandon]);
    assert_eq!(kinds(&aws), vec![AlertKind::LaunchDenied]);
}

#[tokio::test]
async fn the_warm_pool_variant_is_vetted_like_any_launch() {
    let (policy, aws) = (policy(&[]), aws());
    aws.add_instance(compliant_instance("i-0f9e8d7c6b5a40312"));
    aws.open_action("11112222-3333-4444-5555-666677778888");
    let summary = run(&policy, &aws, WARM_POOL).await.unwrap();
    assert_eq!(summary.decision, Decision::Continue);
    assert_eq!(results(&aws), vec![LifecycleResult::Continue]);
}

fn launch_with(change: impl FnOnce(&mut Value)) -> String {
    let mut event: Value = serde_json::from_str(LAUNCH).unwrap();
    change(&mut event);
    event.to_string()
}

#[rstest]
#[case::test_notification(TEST_NOTIFICATION.to_owned(), "test notification")]
#[case::other_hook(launch_with(|e| e["detail"]["LifecycleHookName"] = json!("someone-elses-hook")), "hook `someone-elses-hook` is not the guard's hook `scaling-guard-prod`")]
#[case::other_transition(launch_with(|e| e["detail"]["LifecycleTransition"] = json!("autoscaling:EC2_INSTANCE_TERMINATING")), "transition `autoscaling:EC2_INSTANCE_TERMINATING` is not a launch")]
#[case::other_cluster(launch_with(|e| e["detail"]["AutoScalingGroupName"] = json!("staging-general")), "group `staging-general` is not a member of cluster `prod`")]
#[case::unknown_group(launch_with(|e| e["detail"]["AutoScalingGroupName"] = json!("deleted-group")), "group `deleted-group` does not exist")]
#[tokio::test]
async fn what_is_not_ours_is_ignored_with_no_aws_mutation(
    #[case] event: String,
    #[case] reason: &str,
) {
    let (policy, aws) = (policy(&[]), aws());
    aws.add_group(GroupFacts {
        name: "staging-general".into(),
        tags: [(
            "kubernetes.io/cluster/staging".to_owned(),
            "owned".to_owned(),
        )]
        .into(),
        ..GroupFacts::default()
    });

    let summary = run(&policy, &aws, &event).await.unwrap();

    assert_eq!(summary.decision, Decision::Ignored);
    assert_eq!(summary.reason.as_deref(), Some(reason));
    assert_eq!(
        aws.mutations(),
        Default::default(),
        "no completion, no alert"
    );
}

#[tokio::test]
async fn when_group_ownership_cannot_be_read_the_event_fails_for_a_retry() {
    let (policy, aws) = (policy(&[]), aws());
    aws.fail("DescribeAutoScalingGroups");
    let err = run(&policy, &aws, LAUNCH).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot tell whether group `prod-general` belongs to the cluster: `DescribeAutoScalingGroups` failed: injected failure"
    );
    assert_eq!(aws.mutations(), Default::default());
}

#[tokio::test]
async fn a_failed_completion_fails_the_invocation_and_alerts() {
    let (policy, aws) = (policy(&[]), aws());
    aws.fail("CompleteLifecycleAction");
    let err = run(&policy, &aws, LAUNCH).await.unwrap_err();
    assert!(matches!(err, HandlerError::Completion { .. }), "{err}");
    assert_eq!(kinds(&aws), vec![AlertKind::GuardError]);
}

#[tokio::test]
async fn a_failed_alert_does_not_undo_the_decision() {
    let (policy, aws) = (policy(&[]), aws());
    let mut instance = compliant_instance(INSTANCE);
    instance.instance_type = "p5.48xlarge".into();
    aws.add_instance(instance);
    aws.fail("Publish");
    let summary = run(&policy, &aws, LAUNCH).await.unwrap();
    assert_eq!(summary.decision, Decision::Abandon);
    assert_eq!(results(&aws), vec![LifecycleResult::Abandon]);
}

#[rstest]
#[case::not_json("{\"detail-type\": ")]
#[case::unknown_shape("{\"hello\": \"world\"}")]
#[case::missing_token(
    "{\"detail-type\":\"EC2 Instance-launch Lifecycle Action\",\"source\":\"aws.autoscaling\",\"detail\":{\"AutoScalingGroupName\":\"prod-general\"}}"
)]
#[tokio::test]
async fn a_malformed_event_gets_a_clear_error_and_changes_nothing(#[case] event: &str) {
    let (policy, aws) = (policy(&[]), aws());
    let payload = serde_json::from_str(event).unwrap_or(Value::String(event.to_owned()));
    let guard = LaunchGuard::new(&policy, &aws);
    let err = guard
        .handle(payload.into(), lambda_deadline())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("event is not a lifecycle notification")
            || err
                .to_string()
                .starts_with("lifecycle notification is missing"),
        "{err}"
    );
    assert_eq!(aws.mutations(), Default::default());
}

#[tokio::test]
async fn an_sns_envelope_is_not_taken_for_an_sqs_batch() {
    let (policy, aws) = (policy(&[]), aws());
    let hook_message: Value = serde_json::from_str(SQS_BATCH).unwrap();
    let envelope = json!({"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:eu-west-1:123456789012:launches:0b9c",
        "Sns": {"Type": "Notification", "MessageId": "m-1", "Message": hook_message["Records"][0]["body"]}
    }]});
    let guard = LaunchGuard::new(&policy, &aws);

    let err = guard
        .handle(envelope.into(), lambda_deadline())
        .await
        .unwrap_err();

    assert!(
        err.to_string()
            .starts_with("event is not a lifecycle notification"),
        "{err}"
    );
    assert!(err.to_string().contains("SNS"), "{err}");
    assert_eq!(aws.mutations(), Default::default());
}

#[tokio::test]
async fn an_sqs_batch_decides_each_message_and_reports_only_the_bad_one() {
    let (policy, aws) = (policy(&[]), aws());
    aws.add_instance(compliant_instance("i-0b2c3d4e5f6071829"));
    aws.open_action("99990000-aaaa-bbbb-cccc-ddddeeeeffff");
    let mut batch: Value = serde_json::from_str(SQS_BATCH).unwrap();
    let mut bad = batch["Records"][0].clone();
    bad["messageId"] = json!("bad-message");
    bad["body"] = json!("{\"LifecycleActionToken\": 42");
    batch["Records"].as_array_mut().unwrap().insert(1, bad);

    let response = run_batch(&policy, &aws, &batch.to_string()).await.unwrap();

    assert_eq!(response, returned_messages(&["bad-message"]));
    let instances: Vec<String> = aws
        .completed()
        .into_iter()
        .map(|(a, _)| a.instance_id)
        .collect();
    assert_eq!(
        instances,
        vec![INSTANCE.to_owned(), "i-0b2c3d4e5f6071829".to_owned()]
    );
}

#[tokio::test]
async fn an_sqs_message_whose_completion_fails_is_returned_for_redelivery() {
    let (policy, aws) = (policy(&[]), aws());
    aws.fail("CompleteLifecycleAction");
    let response = run_batch(&policy, &aws, SQS_BATCH).await.unwrap();
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        vec![
            "0c5f1a9e-6b3d-4e2a-9f8c-7d6e5b4a3c20",
            "0c5f1a9e-6b3d-4e2a-9f8c-7d6e5b4a3c21"
        ]
    );
}

#[tokio::test]
async fn image_and_subnet_are_read_once_per_launch() {
    let (policy, aws) = (policy(&[]), aws());
    run(&policy, &aws, LAUNCH).await.unwrap();
    assert_eq!(
        (
            aws.calls("DescribeInstances"),
            aws.calls("DescribeImages"),
            aws.calls("DescribeSubnets")
        ),
        (1, 1, 1)
    );
}

// ---------------------------------------------------------------------------
// Under faults (issue 9): the deadline, partial facts, EC2's eventual
// consistency, a completion that keeps failing, the decision's record.

/// When the fake's clock (paused tokio time) says the action was completed,
/// relative to the start.
async fn decided_within(policy: &Policy, aws: &FakeAws, event: &str) -> (Response, Duration) {
    let started = tokio::time::Instant::now();
    let response = respond(policy, aws, event).await.unwrap();
    (response, started.elapsed())
}

#[tokio::test(start_paused = true)]
async fn a_slow_aws_is_cut_at_the_deadline_and_the_fail_mode_completes_in_time() {
    // Every read takes longer than the whole invocation has.
    let (policy, aws) = (policy(&[]), aws());
    aws.slow_down("DescribeInstances", Duration::from_secs(40));

    let (response, took) = decided_within(&policy, &aws, LAUNCH).await;
    let summary = summary_of(response);

    assert_eq!(results(&aws), vec![LifecycleResult::Abandon]);
    assert!(took < Duration::from_secs(30), "completed after {took:?}");
    assert_eq!(
        summary.reason.as_deref(),
        Some("the instance: not established before the invocation's deadline")
    );
}

#[tokio::test(start_paused = true)]
async fn an_instance_ec2_does_not_know_yet_is_asked_for_again() {
    let (policy, aws) = (policy(&[]), aws());
    aws.hide_instance(INSTANCE, 2);

    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(summary.decision, Decision::Continue, "{summary:?}");
    assert_eq!(aws.calls("DescribeInstances"), 3);
}

#[tokio::test(start_paused = true)]
async fn an_instance_that_stays_unknown_is_missing_after_a_bounded_wait() {
    let (policy, aws) = (policy(&[]), aws());
    aws.hide_instance(INSTANCE, 100);

    let (response, took) = decided_within(&policy, &aws, LAUNCH).await;
    let summary = summary_of(response);

    assert_eq!(summary.decision, Decision::Abandon);
    assert_eq!(aws.calls("DescribeInstances"), 4);
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[rstest]
#[case::image_unread("DescribeImages")]
#[case::subnet_unread("DescribeSubnets")]
#[tokio::test]
async fn a_known_violation_blocks_although_part_of_the_facts_is_unknown(
    #[case] failing: &'static str,
) {
    // Fail mode continue would let an unchecked launch in; this one has a
    // public address, a fact of the instance itself.
    let (policy, aws) = (policy(&[("GUARD_FAIL_MODE", "continue")]), aws());
    let mut instance = compliant_instance(INSTANCE);
    instance.public_ip = Some("203.0.113.7".into());
    aws.add_instance(instance);
    aws.fail(failing);

    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(results(&aws), vec![LifecycleResult::Abandon]);
    let checks = checks_of(&summary.violations);
    assert_eq!(checks, vec!["subnet.public"], "{summary:?}");
    let alerts = aws.published();
    assert_eq!(kinds(&aws), vec![AlertKind::LaunchDenied]);
    let unknown = alerts[0].details["unknown"].as_str().unwrap();
    assert!(unknown.contains(failing), "{unknown}");
}

#[tokio::test]
async fn with_nothing_known_blocking_the_fail_mode_decides_and_says_what_was_unknown() {
    let (policy, aws) = (policy(&[("GUARD_FAIL_MODE", "continue")]), aws());
    aws.fail("DescribeImages");

    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(results(&aws), vec![LifecycleResult::Continue]);
    assert_eq!(
        summary.reason.as_deref(),
        Some("the image: `DescribeImages` failed: injected failure")
    );
    let alerts = aws.published();
    assert_eq!(kinds(&aws), vec![AlertKind::GuardError]);
    assert_eq!(
        alerts[0].headline,
        format!("launch of {INSTANCE} let in by the fail mode")
    );
    assert_eq!(
        alerts[0].details["unknown"],
        json!("the image: `DescribeImages` failed: injected failure")
    );
    // Let in unchecked: not marked as vetted, so instance-audit checks it.
    let tags = aws.instance_facts(INSTANCE).unwrap().tags;
    assert!(!tags.contains_key(VETTED_TAG), "{tags:?}");
}

#[tokio::test]
async fn a_launch_let_in_after_its_checks_is_marked_vetted() {
    let (policy, aws) = (policy(&[]), aws());

    run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(results(&aws), vec![LifecycleResult::Continue]);
    let tags = aws.instance_facts(INSTANCE).unwrap().tags;
    assert_eq!(tags.get(VETTED_TAG).map(String::as_str), Some(NOW_RFC3339));
}

#[tokio::test]
async fn audit_mode_marks_nothing() {
    let (policy, aws) = (policy(&[("GUARD_MODE", "audit")]), aws());
    run(&policy, &aws, LAUNCH).await.unwrap();
    assert_eq!(aws.calls("CreateTags"), 0);
}

#[tokio::test]
async fn without_budgets_a_failed_vetting_mark_does_not_change_the_decision() {
    let (policy, aws) = (policy(&[]), aws());
    aws.fail("CreateTags");
    let summary = run(&policy, &aws, LAUNCH).await.unwrap();
    assert_eq!(summary.decision, Decision::Continue);
    assert_eq!(kinds(&aws), Vec::<AlertKind>::new());
}

#[tokio::test]
async fn a_completion_that_keeps_failing_is_alerted_once_across_environments() {
    let (policy, aws) = (policy(&[]), aws());
    aws.fail("CompleteLifecycleAction");

    // The first invocation, its retry in the same environment, and one in a
    // new environment (the first was replaced).
    let guard = LaunchGuard::new(&policy, &aws).with_clock(now);
    for _ in 0..2 {
        let event = serde_json::from_str(LAUNCH).unwrap();
        assert!(guard.handle(event, lambda_deadline()).await.is_err());
    }
    let err = run(&policy, &aws, LAUNCH).await.unwrap_err();

    assert!(matches!(err, HandlerError::Completion { .. }), "{err}");
    assert_eq!(kinds(&aws), vec![AlertKind::GuardError]);
    let tags = aws.instance_facts(INSTANCE).unwrap().tags;
    assert_eq!(
        tags.get(COMPLETION_FAILED_TAG).map(String::as_str),
        Some(TOKEN)
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_returns_what_it_cannot_finish_before_the_deadline_unprocessed() {
    let (policy, aws) = (policy(&[]), aws());
    aws.add_instance(compliant_instance("i-0b2c3d4e5f6071829"));
    aws.open_action("99990000-aaaa-bbbb-cccc-ddddeeeeffff");
    aws.add_instance(compliant_instance("i-0c3d4e5f607182930"));
    aws.open_action("77770000-aaaa-bbbb-cccc-ddddeeeeffff");
    // The third message: a launch too, instead of the test notification.
    let mut batch: Value = serde_json::from_str(SQS_BATCH).unwrap();
    let body = batch["Records"][1]["body"]
        .as_str()
        .unwrap()
        .replace("i-0b2c3d4e5f6071829", "i-0c3d4e5f607182930")
        .replace("99990000-aaaa", "77770000-aaaa");
    batch["Records"][2]["body"] = json!(body);
    // Each decision reads its group for 8 s: the second starts with 22 s
    // left, the third would start with 14 s, less than a decision needs.
    aws.slow_down("DescribeAutoScalingGroups", Duration::from_secs(8));
    let (response, took) = decided_within(&policy, &aws, &batch.to_string()).await;

    assert_eq!(
        batch_of_response(response),
        returned_messages(&["0c5f1a9e-6b3d-4e2a-9f8c-7d6e5b4a3c22"])
    );
    assert_eq!(aws.completed().len(), 2);
    assert!(took < Duration::from_secs(30), "{took:?}");
}

mod budgets {
    use pretty_assertions::assert_eq;
    use shared::facts::GroupInstance;
    use shared::suspension::SUSPENDED_TAG;

    use super::*;

    fn member(id: &str, state: &str) -> InstanceFacts {
        let mut instance = compliant_instance(id);
        instance.state = state.into();
        instance.tags.insert(CLUSTER_TAG.into(), "owned".into());
        instance
    }

    /// `waiting` instances of group prod-general sit in Pending:Wait, each
    /// with an open action; `running` cluster instances are in service.
    fn cluster(running: usize, waiting: usize) -> FakeAws {
        // The fixtures' cluster knows m6i.large: 2 vCPUs, 8 GiB.
        let aws = aws();
        let mut group_instances = Vec::new();
        for n in 0..running {
            let id = format!("i-run{n:04}");
            aws.add_instance(member(&id, "running"));
            group_instances.push(GroupInstance {
                instance_id: id,
                lifecycle_state: "InService".into(),
            });
        }
        for n in 0..waiting {
            let id = format!("i-new{n:04}");
            aws.add_instance(member(&id, "pending"));
            aws.open_action(&format!("token-{id}"));
            group_instances.push(GroupInstance {
                instance_id: id,
                lifecycle_state: "Pending:Wait".into(),
            });
        }
        aws.update_group(GROUP, |g| {
            g.instances = group_instances;
            g.max_size = 500;
            g.desired_capacity = i32::try_from(running + waiting).unwrap();
        });
        aws
    }

    fn launch_of(n: usize) -> String {
        let id = format!("i-new{n:04}");
        launch_with(|e| {
            e["detail"]["EC2InstanceId"] = json!(id);
            e["detail"]["LifecycleActionToken"] = json!(format!("token-{id}"));
        })
    }

    /// Decides `launches` one event at a time, in order.
    async fn decide_all(guard: &LaunchGuard<'_, FakeAws>, launches: std::ops::Range<usize>) {
        for n in launches {
            guard
                .handle(
                    serde_json::from_str(&launch_of(n)).unwrap(),
                    lambda_deadline(),
                )
                .await
                .unwrap();
        }
    }

    fn launched(aws: &FakeAws, result: LifecycleResult) -> usize {
        results(aws).into_iter().filter(|r| *r == result).count()
    }

    #[tokio::test]
    async fn an_admitted_launch_counts_at_once_although_aws_still_shows_it_waiting() {
        let policy = policy(&[("GUARD_MAX_INSTANCES", "3")]);
        let aws = cluster(1, 3);
        let guard = LaunchGuard::new(&policy, &aws).with_clock(now);

        decide_all(&guard, 0..3).await;

        // 1 running + 2 admitted = 3; the third launch would make 4.
        assert_eq!(
            results(&aws),
            vec![
                LifecycleResult::Continue,
                LifecycleResult::Continue,
                LifecycleResult::Abandon
            ]
        );
        let denied = aws
            .published()
            .into_iter()
            .find(|a| a.kind == AlertKind::LaunchDenied)
            .unwrap();
        assert_eq!(
            denied.violations[0].violation.check.as_str(),
            "budget.instances"
        );
        assert_eq!(denied.details["usage_instances"], json!("3 of 3 (100.0%)"));
    }

    #[tokio::test]
    async fn a_denied_launch_over_the_vcpu_budget_suspends_only_launch_on_every_cluster_group() {
        let policy = policy(&[("GUARD_MAX_VCPUS", "4")]);
        let aws = cluster(2, 1);
        aws.add_group(GroupFacts {
            name: "prod-gpu".into(),
            max_size: 3,
            tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
            ..GroupFacts::default()
        });

        let summary = run(&policy, &aws, &launch_of(0)).await.unwrap();

        assert_eq!(summary.decision, Decision::Abandon);
        assert_eq!(
            summary.violations[0].violation.check,
            CheckName::BudgetVcpus
        );
        assert_eq!(
            aws.group_changes(),
            vec![
                "CreateOrUpdateTags prod-general",
                "SuspendProcesses prod-general",
                "CreateOrUpdateTags prod-gpu",
                "SuspendProcesses prod-gpu"
            ]
        );
        for group in ["prod-general", "prod-gpu"] {
            let facts = aws.group_facts(group).unwrap();
            assert_eq!(facts.suspended_processes, vec!["Launch".to_owned()]);
            assert!(facts.tags[SUSPENDED_TAG].contains("\"trigger\":\"budget_denial\""));
        }
        assert_eq!(
            kinds(&aws),
            vec![AlertKind::LaunchDenied, AlertKind::ScaleOutSuspended]
        );
        let suspended = &aws.published()[1];
        assert_eq!(
            suspended.subject(),
            "[scaling-guard] prod: scale-out suspended on 2 group(s): budget reached"
        );
        assert_eq!(suspended.details["usage_vcpus"], json!("4 of 4 (100.0%)"));
        assert!(
            suspended.email().contains("usage_vcpus:   4 of 4 (100.0%)"),
            "{}",
            suspended.email()
        );
    }

    #[tokio::test]
    async fn budget_denials_on_an_already_suspended_group_are_not_alerted_again() {
        let policy = policy(&[("GUARD_MAX_INSTANCES", "1")]);
        let aws = cluster(1, 3);
        let guard = LaunchGuard::new(&policy, &aws).with_clock(now);
        decide_all(&guard, 0..3).await;
        assert_eq!(launched(&aws, LifecycleResult::Abandon), 3);
        assert_eq!(
            kinds(&aws),
            vec![AlertKind::LaunchDenied, AlertKind::ScaleOutSuspended]
        );
        assert_eq!(aws.calls("SuspendProcesses"), 1);
    }

    #[tokio::test]
    async fn two_hundred_concurrent_launches_never_admit_more_than_the_budget() {
        let policy = policy(&[("GUARD_MAX_INSTANCES", "50"), ("GUARD_MAX_VCPUS", "1000")]);
        let aws = cluster(0, 200);
        let guard = LaunchGuard::new(&policy, &aws).with_clock(now);

        let events: Vec<Value> = (0..200)
            .map(|n| serde_json::from_str(&launch_of(n)).unwrap())
            .collect();
        let outcomes = futures::future::join_all(
            events
                .into_iter()
                .map(|e| guard.handle(e.into(), lambda_deadline())),
        )
        .await;

        assert!(outcomes.iter().all(Result::is_ok));
        assert_eq!(
            aws.completed().len(),
            200,
            "every lifecycle action completed"
        );
        assert_eq!(launched(&aws, LifecycleResult::Continue), 50);
        assert_eq!(launched(&aws, LifecycleResult::Abandon), 150);
        assert_eq!(aws.calls("SuspendProcesses"), 1);
        let suspensions = kinds(&aws)
            .into_iter()
            .filter(|k| *k == AlertKind::ScaleOutSuspended)
            .count();
        assert_eq!(suspensions, 1);
    }

    #[tokio::test]
    async fn concurrent_launches_hold_the_budget_while_ec2_shows_the_admission_tags_late() {
        // EC2 does not show the admission tags yet: only this environment's
        // own record of what it admitted keeps the count.
        let policy = policy(&[("GUARD_MAX_INSTANCES", "20"), ("GUARD_MAX_VCPUS", "1000")]);
        let aws = cluster(0, 60);
        aws.show_tags_late();
        let guard = LaunchGuard::new(&policy, &aws).with_clock(now);

        let outcomes = futures::future::join_all((0..60).map(|n| {
            let event = serde_json::from_str(&launch_of(n)).unwrap();
            guard.handle(event, lambda_deadline())
        }))
        .await;

        assert!(outcomes.iter().all(Result::is_ok));
        assert_eq!(launched(&aws, LifecycleResult::Continue), 20);
        assert_eq!(launched(&aws, LifecycleResult::Abandon), 40);
    }

    #[tokio::test]
    async fn a_group_suspended_by_someone_else_is_not_taken_over() {
        let policy = policy(&[("GUARD_MAX_INSTANCES", "1")]);
        let aws = cluster(1, 1);
        aws.update_group(GROUP, |g| g.suspended_processes = vec!["Launch".into()]);
        run(&policy, &aws, &launch_of(0)).await.unwrap();
        assert_eq!(results(&aws), vec![LifecycleResult::Abandon]);
        assert_eq!(aws.group_changes(), Vec::<String>::new());
        assert!(
            !aws.group_facts(GROUP)
                .unwrap()
                .tags
                .contains_key(SUSPENDED_TAG)
        );
    }

    #[tokio::test]
    async fn an_unknown_instance_type_decides_by_fail_mode() {
        let policy = policy(&[("GUARD_MAX_VCPUS", "100")]);
        let aws = cluster(0, 1);
        let mut odd = member("i-new0000", "pending");
        odd.instance_type = "m6i.9xhuge".into();
        aws.add_instance(odd);
        let summary = run(&policy, &aws, &launch_of(0)).await.unwrap();
        assert_eq!(summary.decision, Decision::Abandon);
        assert_eq!(
            summary.reason.as_deref(),
            Some(
                "the budget: instance type `m6i.9xhuge` is unknown, so its capacity cannot be counted"
            )
        );
    }

    #[tokio::test]
    async fn without_budgets_the_cluster_is_not_read() {
        let (policy, aws) = (super::policy(&[]), cluster(3, 1));
        run(&policy, &aws, &launch_of(0)).await.unwrap();
        assert_eq!(aws.calls("DescribeInstanceTypes"), 0);
        assert_eq!(
            aws.calls("DescribeAutoScalingGroups"),
            1,
            "only the membership check"
        );
    }

    const ADMITTED_TAG: &str = "scaling-guard:admitted";

    #[tokio::test]
    async fn admissions_still_count_after_the_environment_is_replaced() {
        // Given MaxInstances 3, one running node and four launches waiting
        // (a second hook holds admitted ones in Pending:Wait).
        let policy = policy(&[("GUARD_MAX_INSTANCES", "3")]);
        let aws = cluster(1, 4);

        // When one environment admits two launches and is then replaced,
        {
            let first = LaunchGuard::new(&policy, &aws).with_clock(now);
            decide_all(&first, 0..2).await;
        }
        let second = LaunchGuard::new(&policy, &aws).with_clock(now);
        decide_all(&second, 2..4).await;

        // then the new environment still counts them: 1 + 2 = 3, both later denied.
        assert_eq!(
            results(&aws),
            vec![
                LifecycleResult::Continue,
                LifecycleResult::Continue,
                LifecycleResult::Abandon,
                LifecycleResult::Abandon
            ]
        );
        for n in 0..2 {
            let tags = aws.instance_facts(&format!("i-new{n:04}")).unwrap().tags;
            assert!(tags.contains_key(ADMITTED_TAG), "{tags:?}");
        }
        let denied = aws.instance_facts("i-new0002").unwrap().tags;
        assert!(!denied.contains_key(ADMITTED_TAG));
    }

    #[tokio::test]
    async fn the_admission_is_recorded_on_the_instance_before_the_continue() {
        let policy = policy(&[("GUARD_MAX_INSTANCES", "3")]);
        let aws = cluster(0, 1);
        let gate = aws.pause_before("CompleteLifecycleAction");
        let guard = LaunchGuard::new(&policy, &aws).with_clock(now);
        let decide = guard.handle(
            serde_json::from_str(&launch_of(0)).unwrap(),
            lambda_deadline(),
        );
        let look = async {
            gate.reached().await;
            let tags = aws.instance_facts("i-new0000").unwrap().tags;
            gate.release();
            tags
        };
        let (summary, tags) = futures::join!(decide, look);
        summary.unwrap();
        assert!(tags.contains_key(ADMITTED_TAG), "{tags:?}");
    }

    /// prod-general is at its instance budget (2 running of 2).
    fn full_cluster_with_warm_instance(id: &str, token: &str) -> FakeAws {
        let aws = cluster(2, 0);
        aws.add_instance(member(id, "pending"));
        aws.open_action(token);
        aws
    }

    #[tokio::test]
    async fn entering_the_warm_pool_is_vetted_but_charges_no_budget_and_never_suspends() {
        let policy = policy(&[("GUARD_MAX_INSTANCES", "2")]);
        let aws = full_cluster_with_warm_instance(
            "i-0f9e8d7c6b5a40312",
            "99990000-aaaa-4bbb-8ccc-ddddeeeeffff",
        );
        let summary = run(&policy, &aws, INTO_WARM_POOL).await.unwrap();
        assert_eq!(summary.decision, Decision::Continue, "{summary:?}");
        assert_eq!(aws.group_changes(), Vec::<String>::new());
        let tags = aws.instance_facts("i-0f9e8d7c6b5a40312").unwrap().tags;
        assert!(!tags.contains_key(ADMITTED_TAG), "not charged yet");
    }

    #[tokio::test]
    async fn a_misconfigured_node_never_waits_warm() {
        let policy = policy(&[("GUARD_MAX_INSTANCES", "2")]);
        let aws = full_cluster_with_warm_instance(
            "i-0f9e8d7c6b5a40312",
            "99990000-aaaa-4bbb-8ccc-ddddeeeeffff",
        );
        let mut bad = member("i-0f9e8d7c6b5a40312", "pending");
        bad.instance_type = "m6i.large".into();
        bad.http_tokens = Some(HttpTokens::Optional);
        aws.add_instance(bad);
        let summary = run(&policy, &aws, INTO_WARM_POOL).await.unwrap();
        assert_eq!(summary.decision, Decision::Abandon);
        assert_eq!(summary.violations[0].violation.check, CheckName::ImdsV2);
        assert_eq!(aws.group_changes(), Vec::<String>::new(), "no suspension");
    }

    #[tokio::test]
    async fn leaving_the_warm_pool_into_service_is_charged_and_denied_over_budget() {
        let policy = policy(&[("GUARD_MAX_INSTANCES", "2")]);
        let aws = full_cluster_with_warm_instance(
            "i-0f9e8d7c6b5a40312",
            "11112222-3333-4444-5555-666677778888",
        );
        let summary = run(&policy, &aws, WARM_POOL).await.unwrap();
        assert_eq!(summary.decision, Decision::Abandon);
        assert_eq!(
            summary.violations[0].violation.check,
            CheckName::BudgetInstances
        );
        assert_eq!(aws.calls("SuspendProcesses"), 1);
    }

    #[tokio::test]
    async fn the_suspension_alert_says_unhealthy_nodes_are_not_replaced() {
        let policy = policy(&[("GUARD_MAX_VCPUS", "4")]);
        let aws = cluster(2, 1);
        run(&policy, &aws, &launch_of(0)).await.unwrap();
        let suspended = aws
            .published()
            .into_iter()
            .find(|a| a.kind == AlertKind::ScaleOutSuspended)
            .unwrap();
        let email = suspended.email();
        assert!(email.contains("not replaced"), "{email}");
        assert!(!email.contains("replacements go on"), "{email}");
    }

    #[tokio::test]
    async fn a_known_violation_blocks_although_the_budget_is_unknown() {
        // Fail mode continue; the budget cannot be measured (an unknown type),
        // but the node has a public address.
        let policy = policy(&[("GUARD_MAX_VCPUS", "100"), ("GUARD_FAIL_MODE", "continue")]);
        let aws = cluster(0, 1);
        let mut odd = member("i-new0000", "pending");
        odd.instance_type = "m6i.9xhuge".into();
        odd.public_ip = Some("203.0.113.7".into());
        aws.add_instance(odd);

        let summary = run(&policy, &aws, &launch_of(0)).await.unwrap();

        assert_eq!(summary.decision, Decision::Abandon, "{summary:?}");
        assert_eq!(
            summary.violations[0].violation.check,
            CheckName::SubnetPublic
        );
        let alerts = aws.published();
        assert_eq!(kinds(&aws), vec![AlertKind::LaunchDenied]);
        assert_eq!(
            alerts[0].details["unknown"],
            json!(
                "the budget: instance type `m6i.9xhuge` is unknown, so its capacity cannot be counted"
            )
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_budget_denial_completes_in_time_however_many_groups_a_slow_aws_suspends() {
        // Six cluster groups; every suspension call takes the SDK's full 5 s.
        let policy = policy(&[("GUARD_MAX_INSTANCES", "1")]);
        let aws = cluster(1, 1);
        for n in 0..5 {
            aws.add_group(GroupFacts {
                name: format!("prod-pool{n}"),
                max_size: 3,
                tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
                ..GroupFacts::default()
            });
        }
        for operation in ["CreateOrUpdateTags", "SuspendProcesses"] {
            aws.slow_down(operation, Duration::from_secs(5));
        }
        let gate = aws.pause_before("CompleteLifecycleAction");
        let guard = LaunchGuard::new(&policy, &aws).with_clock(now);
        let started = tokio::time::Instant::now();
        let decide = guard.handle(
            serde_json::from_str(&launch_of(0)).unwrap(),
            lambda_deadline(),
        );
        let at_completion = async {
            gate.reached().await;
            let changes = aws.group_changes();
            let took = started.elapsed();
            gate.release();
            (changes, took)
        };

        let (summary, (changes, took)) = futures::join!(decide, at_completion);

        // The ABANDON came in time, after the launch's own group was suspended
        // and before any other group was touched.
        summary.unwrap();
        assert_eq!(results(&aws), vec![LifecycleResult::Abandon]);
        assert!(took < Duration::from_secs(24), "completed after {took:?}");
        assert_eq!(
            changes,
            vec![
                "CreateOrUpdateTags prod-general",
                "SuspendProcesses prod-general"
            ]
        );
        // Then every other group, all at once, before the deadline.
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
        for n in 0..5 {
            let facts = aws.group_facts(&format!("prod-pool{n}")).unwrap();
            assert_eq!(
                facts.suspended_processes,
                vec!["Launch".to_owned()],
                "prod-pool{n}"
            );
        }
    }

    mod batch;
    mod record;
    mod snapshot;
    mod timeouts;
}

mod decision_events;
mod exception_expiry;
mod managed_node_group;
mod second_round;
mod security_hub;
