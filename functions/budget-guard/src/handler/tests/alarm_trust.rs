//! Alarms are checked before they are believed (issue 20, scenario 4): an
//! alarm acts only when it lives in this stack's account and region and is
//! one of the guard's budget alarms or named with the surge prefix; a budget
//! alarm suspends only when the guard's own measurement agrees, a surge alarm
//! only when `DescribeAlarms` shows it in `ALARM`.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use shared::fakes::FakeAws;
use shared::policy::Policy;
use shared::suspension::SuspensionRecord;

use super::{
    ALARM, NONE, SCHEDULE, SNS_ALARM, VCPU_ALARM, answer, cluster, kinds, launch_suspended,
    resumed_by, set_running, suspended_by,
};
use crate::fixtures::{now, policy};
use crate::handler::BudgetGuard;
use crate::response::{AlarmAction, AlarmSummary, IgnoreReason, Ignored, Response, Summary};
use crate::trust::Home;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";
const SURGE: &str = "scaling-guard-surge-requests";

/// The test cluster's policy, trusting the vCPU and instance budget alarms
/// and the surge prefix, as the template sets them.
fn trusting() -> Policy {
    policy(&[
        (
            "GUARD_BUDGET_ALARM_NAMES",
            "scaling-guard-VcpuPercentOfBudget,scaling-guard-InstancesPercentOfBudget",
        ),
        ("GUARD_SURGE_ALARM_PREFIX", "scaling-guard-surge-"),
    ])
}

/// The Lambda action of alarm `name` entering `state`, the alarm living in
/// `account` and `region` (`events/budget-alarm-alarm.json`, renamed).
fn action(name: &str, account: &str, region: &str, state: &str) -> String {
    let mut event: Value = serde_json::from_str(ALARM).unwrap();
    event["alarmArn"] = json!(format!(
        "arn:aws:cloudwatch:{region}:{account}:alarm:{name}"
    ));
    event["accountId"] = json!(account);
    event["region"] = json!(region);
    event["alarmData"]["alarmName"] = json!(name);
    event["alarmData"]["state"]["value"] = json!(state);
    event.to_string()
}

/// The SNS notification of alarm `name` entering `ALARM`, the alarm living
/// in `account` and `region`, scoped to `group` if any
/// (`events/budget-alarm-sns.json`, rewritten).
fn notification(name: &str, account: &str, region: &str, group: Option<&str>) -> String {
    let mut event: Value = serde_json::from_str(SNS_ALARM).unwrap();
    let mut message: Value =
        serde_json::from_str(event["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    message["AlarmName"] = json!(name);
    message["AWSAccountId"] = json!(account);
    message["AlarmArn"] = json!(format!(
        "arn:aws:cloudwatch:{region}:{account}:alarm:{name}"
    ));
    message["Trigger"]["Dimensions"] = match group {
        Some(group) => json!([{"name": "AutoScalingGroupName", "value": group}]),
        None => json!([]),
    };
    event["Records"][0]["Sns"]["Message"] = json!(message.to_string());
    event.to_string()
}

/// The one summary of the guard's answer to `event`.
async fn run(policy: &Policy, aws: &FakeAws, event: &str) -> Summary {
    match answer(&BudgetGuard::new(policy, aws).with_clock(now), event)
        .await
        .unwrap()
    {
        Response::One(summary) => *summary,
        Response::Batch(runs) => panic!("a batch of {} runs", runs.len()),
    }
}

/// The alarm run a summary is; panics on a scheduled run.
fn alarm(summary: &Summary) -> &AlarmSummary {
    match summary {
        Summary::Alarm(alarm) => alarm,
        other => panic!("not an alarm: {other}"),
    }
}

/// Why an alarm was ignored; panics when it was not.
fn ignored(summary: &Summary) -> &Ignored {
    match &alarm(summary).action {
        AlarmAction::Ignored(ignored) => ignored,
        _ => panic!("not ignored: {summary}"),
    }
}

/// Asserts an alarm was ignored for `reason` and nothing changed.
fn assert_ignored(summary: &Summary, aws: &FakeAws, reason: IgnoreReason) {
    assert_eq!(ignored(summary).reason, reason, "{summary}");
    assert_eq!(aws.group_changes(), Vec::<String>::new());
    assert_eq!(kinds(aws), vec![], "no alert");
}

#[tokio::test]
async fn an_alarm_of_another_account_is_ignored_even_in_alarm() {
    // Given a surge alarm of that name in ALARM, seen from this account
    let (policy, aws) = (trusting(), cluster(2));
    aws.set_alarm(SURGE, true);

    // When the notification says the alarm lives in another account
    let event = notification(SURGE, "999999999999", REGION, Some("prod-b"));
    let summary = run(&policy, &aws, &event).await;

    // Then it is ignored, without a single AWS call
    assert_ignored(&summary, &aws, IgnoreReason::ForeignAccount);
    assert_eq!(
        aws.calls("DescribeAlarms") + aws.calls("DescribeInstances"),
        0
    );
}

#[tokio::test]
async fn an_alarm_of_another_region_is_ignored_even_at_the_threshold() {
    // Usage is at the threshold: the guard's own budget alarm would suspend.
    let (policy, aws) = (trusting(), cluster(10));
    let event = action(VCPU_ALARM, ACCOUNT, "us-east-1", "ALARM");

    let summary = run(&policy, &aws, &event).await;

    assert_ignored(&summary, &aws, IgnoreReason::ForeignRegion);
    assert!(!launch_suspended(&aws, "prod-a"));
}

#[tokio::test]
async fn an_unrelated_alarm_on_a_shared_topic_never_suspends_the_cluster() {
    // Given an RDS alarm in ALARM, published to a topic budget-guard hears
    let (policy, aws) = (trusting(), cluster(2));
    aws.set_alarm("rds-cpu-high", true);

    let summary = run(
        &policy,
        &aws,
        &notification("rds-cpu-high", ACCOUNT, REGION, None),
    )
    .await;

    assert_ignored(&summary, &aws, IgnoreReason::UnknownAlarm);
    assert!(
        ignored(&summary).detail.contains("`rds-cpu-high`")
            && ignored(&summary).detail.contains("`scaling-guard-surge-`"),
        "{summary}"
    );
    assert_eq!(
        aws.calls("DescribeAlarms") + aws.calls("DescribeInstances"),
        0
    );
}

#[tokio::test]
async fn an_alarm_whose_name_only_resembles_a_budget_alarm_is_ignored() {
    // Another stack's budget alarm, in the same account and region.
    let (policy, aws) = (trusting(), cluster(10));
    let event = action("staging-VcpuPercentOfBudget", ACCOUNT, REGION, "ALARM");

    let summary = run(&policy, &aws, &event).await;

    assert_ignored(&summary, &aws, IgnoreReason::UnknownAlarm);
}

#[tokio::test]
async fn a_budget_alarm_the_guards_own_measurement_does_not_confirm_suspends_nothing() {
    // Given usage at 20 % of both budgets, and the vCPU budget alarm in ALARM
    // (someone put a forged 150 % data point on the guard's metric)
    let (policy, aws) = (trusting(), cluster(2));
    aws.set_alarm(VCPU_ALARM, true);

    // When its action reaches budget-guard
    let summary = run(&policy, &aws, ALARM).await;

    // Then the fresh measurement decides: nothing is suspended
    assert_ignored(&summary, &aws, IgnoreReason::BudgetNotReached);
    assert!(
        ignored(&summary).detail.contains("vcpus 4 of 20 (20.0%)")
            && ignored(&summary).detail.contains("100%"),
        "{summary}"
    );
    assert_eq!(aws.calls("DescribeInstances"), 1, "a fresh measurement");
}

#[tokio::test]
async fn a_budget_alarm_confirmed_by_the_measurement_at_the_threshold_suspends() {
    // 20 of 20 vCPUs, 10 of 10 instances.
    let (policy, aws) = (trusting(), cluster(10));

    let summary = run(&policy, &aws, ALARM).await;

    assert_eq!(
        suspended_by(alarm(&summary)),
        ["prod-a", "prod-b"],
        "{summary}"
    );
    assert!(!launch_suspended(&aws, "staging-a"));
    let record = SuspensionRecord::of(&aws.group_facts("prod-a").unwrap(), None).unwrap();
    assert_eq!(record.trigger, "alarm");
    assert!(record.reason.contains(VCPU_ALARM), "{}", record.reason);
}

#[tokio::test]
async fn a_budget_alarm_kept_in_alarm_by_forged_data_never_holds_the_resume() {
    // Given a suspension by the confirmed vCPU budget alarm
    let (policy, aws) = (trusting(), cluster(10));
    aws.set_alarm(VCPU_ALARM, true);
    run(&policy, &aws, ALARM).await;
    assert!(launch_suspended(&aws, "prod-a"));

    // When usage falls far below the resume threshold, the groups want no
    // more nodes, but forged data points keep the budget alarm in ALARM
    set_running(&aws, 1);
    for group in ["prod-a", "prod-b"] {
        aws.update_group(group, |g| g.desired_capacity = 0);
    }
    let summary = run(&policy, &aws, SCHEDULE).await;

    // Then the guard's own measurement lifts the suspension
    let Summary::Schedule(schedule) = &summary else {
        panic!("not a scheduled run: {summary}")
    };
    assert_eq!(schedule.resumed, ["prod-a", "prod-b"], "{summary}");
    assert!(!launch_suspended(&aws, "prod-a"));
}

#[tokio::test]
async fn a_surge_alarm_that_describe_alarms_shows_ok_suspends_nothing() {
    // Given a surge notification for prod-b, but the alarm is OK in CloudWatch
    let (policy, aws) = (trusting(), cluster(2));
    let event = notification(SURGE, ACCOUNT, REGION, Some("prod-b"));

    let summary = run(&policy, &aws, &event).await;

    assert_ignored(&summary, &aws, IgnoreReason::NotInAlarm);
    assert_eq!(aws.calls("DescribeAlarms"), 1);
}

#[tokio::test]
async fn a_surge_alarm_confirmed_in_alarm_suspends_its_group() {
    let (policy, aws) = (trusting(), cluster(2));
    aws.set_alarm(SURGE, true);
    let event = notification(SURGE, ACCOUNT, REGION, Some("prod-b"));

    let summary = run(&policy, &aws, &event).await;

    assert_eq!(suspended_by(alarm(&summary)), ["prod-b"], "{summary}");
    assert!(!launch_suspended(&aws, "prod-a"));
    let record = SuspensionRecord::of(&aws.group_facts("prod-b").unwrap(), None).unwrap();
    assert_eq!(
        record.alarms,
        shared::suspension::RecordedAlarms::named([SURGE.to_owned()]),
        "the resume waits for it"
    );
    assert_eq!(aws.calls("DescribeAlarms"), 1);
}

#[tokio::test]
async fn an_ok_of_an_alarm_that_is_not_this_stacks_changes_nothing() {
    // Given prod-b suspended by a confirmed surge alarm, now OK again
    let (policy, aws) = (trusting(), cluster(2));
    aws.set_alarm(SURGE, true);
    run(
        &policy,
        &aws,
        &notification(SURGE, ACCOUNT, REGION, Some("prod-b")),
    )
    .await;
    aws.set_alarm(SURGE, false);
    aws.update_group("prod-b", |g| g.desired_capacity = 0);
    let calls = aws.calls("DescribeInstances");

    // When an unrelated alarm's OK arrives
    let summary = run(
        &policy,
        &aws,
        &action("rds-cpu-high", ACCOUNT, REGION, "OK"),
    )
    .await;

    // Then it is ignored: the schedule lifts the suspension, not this OK
    assert_eq!(
        ignored(&summary).reason,
        IgnoreReason::UnknownAlarm,
        "{summary}"
    );
    assert!(launch_suspended(&aws, "prod-b"));
    assert_eq!(aws.calls("DescribeInstances"), calls, "no measurement");
}

#[tokio::test]
async fn an_ok_of_a_budget_alarm_does_not_lift_a_suspension_while_its_surge_alarm_fires() {
    // Given prod-b suspended by a surge alarm still in ALARM
    let (policy, aws) = (trusting(), cluster(2));
    aws.set_alarm(SURGE, true);
    run(
        &policy,
        &aws,
        &notification(SURGE, ACCOUNT, REGION, Some("prod-b")),
    )
    .await;
    aws.update_group("prod-b", |g| g.desired_capacity = 0);

    // When the budget alarm's OK arrives, usage being low
    let summary = run(&policy, &aws, &action(VCPU_ALARM, ACCOUNT, REGION, "OK")).await;

    // Then the resume is held by the surge alarm
    assert_eq!(resumed_by(alarm(&summary)), NONE, "{summary}");
    assert!(launch_suspended(&aws, "prod-b"));
}

#[tokio::test]
async fn no_alarm_is_believed_when_the_function_does_not_know_where_it_runs() {
    // Given usage at the threshold and a confirmed surge alarm
    let (policy, aws) = (trusting(), cluster(10));
    aws.set_alarm(SURGE, true);
    let guard = BudgetGuard::new(&policy, &aws).with_clock(now);

    // When the invocation's context carries no function ARN
    let mut summaries = Vec::new();
    for event in [ALARM.to_owned(), notification(SURGE, ACCOUNT, REGION, None)] {
        let response = guard
            .handle(serde_json::from_str(&event).unwrap(), Home::of_function(""))
            .await
            .unwrap();
        let Response::One(summary) = response else {
            panic!("one event, one summary")
        };
        summaries.push(*summary);
    }

    // Then both alarms are ignored
    for summary in &summaries {
        assert_ignored(summary, &aws, IgnoreReason::UnknownHome);
    }
}

#[tokio::test]
async fn an_sns_alarm_that_does_not_say_where_it_lives_is_ignored() {
    let (policy, aws) = (trusting(), cluster(10));
    aws.set_alarm(SURGE, true);
    let mut event: Value =
        serde_json::from_str(&notification(SURGE, ACCOUNT, REGION, None)).unwrap();
    let mut message: Value =
        serde_json::from_str(event["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    message.as_object_mut().unwrap().remove("AlarmArn");
    event["Records"][0]["Sns"]["Message"] = json!(message.to_string());

    let summary = run(&policy, &aws, &event.to_string()).await;

    assert_ignored(&summary, &aws, IgnoreReason::UnknownSource);
}
