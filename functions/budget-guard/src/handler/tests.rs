use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use shared::alerts::AlertKind;
use shared::facts::{GroupFacts, GroupInstance, HookFacts, InstanceFacts, InstanceTypeSpec};
use shared::fakes::FakeAws;
use shared::policy::Policy;
use shared::ports::ClusterGroupsRead;
use shared::suspension::{SUSPENDED_TAG, SuspensionRecord};

use super::*;
use crate::fixtures::{home, now, policy};
use shared::fixtures::{CLUSTER_TAG, HOOK, NOW_RFC3339};

mod alarm_trust;
mod back_to_enforce;
mod digest_hold;
mod exception_expiry;
mod hook_delivery;
mod launch_breaker;
mod off_switch;
mod renamed_hooks;
mod resume_demand;
mod shared_key;
mod unanswered;
mod unanswered_non_member;

const SCHEDULE: &str = include_str!("../../../../events/budget-schedule.json");
const ALARM: &str = include_str!("../../../../events/budget-alarm-alarm.json");
const OK: &str = include_str!("../../../../events/budget-alarm-ok.json");
const SNS_ALARM: &str = include_str!("../../../../events/budget-alarm-sns.json");
const VCPU_ALARM: &str = "scaling-guard-VcpuPercentOfBudget";
/// A surge alarm on the guard's vCPU metric (the samples' budget alarm,
/// renamed with the surge prefix).
const SURGE_ALARM: &str = "scaling-guard-surge-vcpus";

/// When launch-guard answered a launch that still waits on another hook:
/// nine minutes ago, as the tag records it.
fn nine_minutes_ago() -> String {
    shared::time::format_rfc3339(now() - std::time::Duration::from_secs(540))
}

/// `event` (a sample of the vCPU budget alarm) from the surge alarm.
fn surge(event: &str) -> String {
    event.replace(VCPU_ALARM, SURGE_ALARM)
}

/// The guard's hook, abandoning by default as enrollment puts it in enforce
/// mode with the default fail mode (tests/back_to_enforce.rs: a continuing
/// one is put back; tests/off_switch.rs: audit mode makes it continue).
fn hook() -> HookFacts {
    HookFacts {
        name: HOOK.into(),
        transition: "autoscaling:EC2_INSTANCE_LAUNCHING".into(),
        default_result: Some("ABANDON".into()),
        ..HookFacts::default()
    }
}

/// An account that knows the m6i.large type (2 vCPUs, 8 GiB) and nothing else.
fn account() -> FakeAws {
    let aws = FakeAws::new();
    aws.add_instance_type(
        "m6i.large",
        InstanceTypeSpec {
            default_vcpus: 2,
            memory_mib: 8192,
        },
    );
    aws
}

/// Groups prod-a and prod-b (cluster prod, hooked) and staging-a (another
/// cluster): [`FakeAws::two_clusters`]; `running` m6i.large instances in
/// prod-a.
fn cluster(running: usize) -> FakeAws {
    let aws = FakeAws::two_clusters();
    set_running(&aws, running);
    aws
}

fn set_running(aws: &FakeAws, running: usize) {
    for n in 0..20 {
        let state = if n < running { "running" } else { "terminated" };
        aws.add_instance(InstanceFacts {
            instance_id: format!("i-{n:04}"),
            instance_type: "m6i.large".into(),
            state: state.into(),
            tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
            ..InstanceFacts::default()
        });
    }
}

async fn run(policy: &Policy, aws: &FakeAws, event: &str) -> Result<Value, HandlerError> {
    invoke(&BudgetGuard::new(policy, aws).with_clock(now), event).await
}

/// The guard's answer to `event`, as the runtime sends it.
async fn invoke(guard: &BudgetGuard<'_, FakeAws>, event: &str) -> Result<Value, HandlerError> {
    let response = guard
        .handle(serde_json::from_str(event).unwrap(), home())
        .await?;
    Ok(serde_json::to_value(response).unwrap())
}

/// The guard's answer to `event`, typed, before the runtime serialises it.
async fn answer(guard: &BudgetGuard<'_, FakeAws>, event: &str) -> Result<Response, HandlerError> {
    guard
        .handle(serde_json::from_str(event).unwrap(), home())
        .await
}

/// The scheduled run's summary of `event` under `policy`.
async fn run_schedule(policy: &Policy, aws: &FakeAws, event: &str) -> ScheduleSummary {
    schedule_of(
        answer(&BudgetGuard::new(policy, aws).with_clock(now), event)
            .await
            .unwrap(),
    )
}

/// The alarm run's summary of `event` under `policy`.
async fn run_alarm(policy: &Policy, aws: &FakeAws, event: &str) -> AlarmSummary {
    alarm_of(
        answer(&BudgetGuard::new(policy, aws).with_clock(now), event)
            .await
            .unwrap(),
    )
}

/// The one summary of a response, a scheduled run's; panics otherwise.
fn schedule_of(response: Response) -> ScheduleSummary {
    match response {
        Response::One(summary) => match *summary {
            Summary::Schedule(schedule) => schedule,
            other => panic!("not a scheduled run: {other}"),
        },
        Response::Batch(runs) => panic!("a batch of {} runs", runs.len()),
    }
}

/// The one summary of a response, an alarm's; panics otherwise.
fn alarm_of(response: Response) -> AlarmSummary {
    match response {
        Response::One(summary) => match *summary {
            Summary::Alarm(alarm) => alarm,
            other => panic!("not an alarm: {other}"),
        },
        Response::Batch(runs) => panic!("a batch of {} runs", runs.len()),
    }
}

/// The groups an alarm suspended; panics when it did not suspend.
fn suspended_by(alarm: &AlarmSummary) -> &[String] {
    match &alarm.action {
        AlarmAction::Suspend { suspended, .. } => suspended,
        other => panic!("not a suspension: {other:?}"),
    }
}

/// The groups an alarm resumed; panics when it did not resume.
fn resumed_by(alarm: &AlarmSummary) -> &[String] {
    match &alarm.action {
        AlarmAction::Resume { resumed, .. } => resumed,
        other => panic!("not a resume: {other:?}"),
    }
}

/// No groups: what an empty list in a summary compares with.
const NONE: [&str; 0] = [];

fn kinds(aws: &FakeAws) -> Vec<AlertKind> {
    aws.published().into_iter().map(|a| a.kind).collect()
}

fn launch_suspended(aws: &FakeAws, group: &str) -> bool {
    aws.group_facts(group)
        .unwrap()
        .suspended_processes
        .contains(&"Launch".to_owned())
}

#[tokio::test]
async fn the_schedule_publishes_every_metric_in_one_call() {
    let (policy, aws) = (policy(&[("GUARD_MAX_MEMORY_MIB", "81920")]), cluster(4));
    run(&policy, &aws, SCHEDULE).await.unwrap();
    let metrics = aws.metrics();
    assert_eq!(metrics.len(), 1, "one PutMetricData");
    let (cluster, data) = &metrics[0];
    assert_eq!(cluster, "prod");
    let named: Vec<(&str, f64)> = data.iter().map(|m| (m.name, m.value)).collect();
    assert_eq!(
        named,
        vec![
            ("ClusterVcpus", 8.0),
            ("ClusterMemoryMiB", 32768.0),
            ("ClusterInstances", 4.0),
            ("VcpuPercentOfBudget", 40.0),
            ("MemoryPercentOfBudget", 40.0),
            ("InstancesPercentOfBudget", 40.0),
            ("SuspendedGroups", 0.0),
        ]
    );
}

#[tokio::test]
async fn instances_waiting_for_the_launch_guard_are_not_counted() {
    let (policy, aws) = (policy(&[]), cluster(4));
    aws.update_group("prod-a", |g| {
        g.instances = vec![GroupInstance {
            instance_id: "i-0000".into(),
            lifecycle_state: "Pending:Wait".into(),
        }];
    });
    let summary = run_schedule(&policy, &aws, SCHEDULE).await;
    assert_eq!(summary.usage.instances, 3);
}

#[tokio::test]
async fn usage_at_the_threshold_suspends_only_launch_on_cluster_groups_once() {
    let (policy, aws) = (policy(&[]), cluster(10));

    let first = run_schedule(&policy, &aws, SCHEDULE).await;
    let second = run_schedule(&policy, &aws, SCHEDULE).await;

    assert_eq!(first.suspended, ["prod-a", "prod-b"]);
    assert_eq!(second.suspended, NONE);
    assert!(launch_suspended(&aws, "prod-a") && launch_suspended(&aws, "prod-b"));
    assert_eq!(
        aws.group_facts("prod-a").unwrap().suspended_processes,
        vec!["Launch".to_owned()]
    );
    assert!(
        !launch_suspended(&aws, "staging-a"),
        "another cluster's group is never touched"
    );
    assert_eq!(kinds(&aws), vec![AlertKind::ScaleOutSuspended]);
    let alert = &aws.published()[0];
    assert_eq!(
        alert.subject(),
        "[scaling-guard] prod: scale-out suspended on 2 group(s): vcpus 100%, instances 100% of budget"
    );
    assert_eq!(alert.details["usage_vcpus"], json!("20 of 20 (100.0%)"));
    assert!(
        alert.email().contains("usage_instances: 10 of 10 (100.0%)"),
        "{}",
        alert.email()
    );
    let record = SuspensionRecord::of(&aws.group_facts("prod-a").unwrap(), None).unwrap();
    assert_eq!(record.trigger, "schedule");
    assert_eq!(
        aws.metrics()[1].1.last().unwrap().value,
        2.0,
        "SuspendedGroups"
    );
}

#[tokio::test]
async fn resume_waits_below_the_resume_threshold_then_restores_everything() {
    let (policy, aws) = (policy(&[("GUARD_CLAMP_MAX_SIZE", "true")]), cluster(10));
    run(&policy, &aws, SCHEDULE).await.unwrap();
    assert_eq!(
        aws.group_facts("prod-a").unwrap().max_size,
        4,
        "clamped to its size"
    );

    // 95 %: below the suspend threshold, not below the resume threshold.
    set_running(&aws, 19 / 2);
    let held = run_schedule(&policy, &aws, SCHEDULE).await;
    assert_eq!(held.resumed, NONE);
    assert!(launch_suspended(&aws, "prod-a"));

    set_running(&aws, 8);
    // The fixture's groups list no instances: with desired 4 each, resuming
    // would launch 8 more. The surge is over: the autoscaler wants none.
    for group in ["prod-a", "prod-b"] {
        aws.update_group(group, |g| g.desired_capacity = 0);
    }
    let resumed = run_schedule(&policy, &aws, SCHEDULE).await;
    assert_eq!(resumed.resumed, ["prod-a", "prod-b"]);
    let group = aws.group_facts("prod-a").unwrap();
    assert_eq!(
        (
            group.max_size,
            group.suspended_processes.len(),
            group.tags.contains_key(SUSPENDED_TAG)
        ),
        (20, 0, false)
    );
    assert_eq!(
        kinds(&aws),
        vec![AlertKind::ScaleOutSuspended, AlertKind::ScaleOutResumed]
    );
}

#[tokio::test]
async fn a_launch_suspension_by_someone_else_is_never_resumed() {
    let (policy, aws) = (policy(&[]), cluster(1));
    aws.update_group("prod-b", |g| g.suspended_processes = vec!["Launch".into()]);
    run(&policy, &aws, SCHEDULE).await.unwrap();
    run(&policy, &aws, OK).await.unwrap();
    assert!(launch_suspended(&aws, "prod-b"));
    assert_eq!(aws.group_changes(), Vec::<String>::new());
}

#[tokio::test]
async fn an_alarm_suspends_every_cluster_group_and_ok_resumes_when_usage_allows() {
    let (policy, aws) = (policy(&[]), cluster(2));
    aws.set_alarm(SURGE_ALARM, true);

    let suspended = run_alarm(&policy, &aws, &surge(ALARM)).await;
    assert_eq!(suspended_by(&suspended), ["prod-a", "prod-b"]);
    assert!(!launch_suspended(&aws, "staging-a"));
    // The schedule does not resume while the triggering alarm fires.
    run(&policy, &aws, SCHEDULE).await.unwrap();
    assert!(launch_suspended(&aws, "prod-a"));

    aws.set_alarm(SURGE_ALARM, false);
    // The fixture's groups list no instances: with desired 4 each, resuming
    // would launch 8 more. The surge is over: the autoscaler wants none.
    for group in ["prod-a", "prod-b"] {
        aws.update_group(group, |g| g.desired_capacity = 0);
    }
    let resumed = run_alarm(&policy, &aws, &surge(OK)).await;
    assert_eq!(resumed_by(&resumed), ["prod-a", "prod-b"]);
    assert_eq!(
        kinds(&aws),
        vec![AlertKind::ScaleOutSuspended, AlertKind::ScaleOutResumed]
    );
}

#[tokio::test]
async fn an_alarm_with_a_group_dimension_suspends_only_that_group() {
    let (policy, aws) = (policy(&[]), cluster(2));
    aws.set_alarm("scaling-guard-surge-requests", true);
    let summary = run_alarm(&policy, &aws, SNS_ALARM).await;
    assert_eq!(
        suspended_by(&summary),
        NONE,
        "prod-general is not a group of this fixture"
    );

    let mut event: Value = serde_json::from_str(SNS_ALARM).unwrap();
    let mut message: Value =
        serde_json::from_str(event["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    message["Trigger"]["Dimensions"][0]["value"] = json!("prod-b");
    event["Records"][0]["Sns"]["Message"] = json!(message.to_string());
    let summary = run_alarm(&policy, &aws, &event.to_string()).await;
    assert_eq!(suspended_by(&summary), ["prod-b"]);
    assert!(!launch_suspended(&aws, "prod-a"));
}

#[tokio::test]
async fn an_alarm_on_an_already_suspended_group_joins_its_record() {
    let (policy, aws) = (policy(&[]), cluster(10));
    run(&policy, &aws, SCHEDULE).await.unwrap();
    aws.set_alarm(SURGE_ALARM, true);
    let summary = run_alarm(&policy, &aws, &surge(ALARM)).await;
    let AlarmAction::Suspend { alarm_added_to, .. } = &summary.action else {
        panic!("not a suspension: {summary:?}")
    };
    assert_eq!(alarm_added_to, &["prod-a", "prod-b"]);
    // Usage falls, but the alarm still fires: held.
    set_running(&aws, 1);
    run(&policy, &aws, SCHEDULE).await.unwrap();
    assert!(launch_suspended(&aws, "prod-a"));
    assert_eq!(kinds(&aws), vec![AlertKind::ScaleOutSuspended]);
}

#[tokio::test]
async fn insufficient_data_changes_nothing() {
    let (policy, aws) = (policy(&[]), cluster(10));
    let event = ALARM.replace("\"value\": \"ALARM\"", "\"value\": \"INSUFFICIENT_DATA\"");
    let summary = run_alarm(&policy, &aws, &event).await;
    assert_eq!(summary.action, AlarmAction::None);
    assert_eq!(aws.mutations(), Default::default());
}

#[tokio::test]
async fn a_cluster_group_without_the_hook_is_enrolled_once() {
    let (policy, aws) = (policy(&[]), cluster(1));
    aws.add_group(GroupFacts {
        name: "prod-new".into(),
        max_size: 5,
        tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
        ..GroupFacts::default()
    });
    let guard = BudgetGuard::new(&policy, &aws).with_clock(now);

    let first = schedule_of(answer(&guard, SCHEDULE).await.unwrap());
    let second = schedule_of(answer(&guard, SCHEDULE).await.unwrap());

    assert_eq!(first.enrolled, ["prod-new"]);
    assert_eq!(second.enrolled, NONE);
    assert_eq!(
        aws.calls("DescribeLifecycleHooks"),
        3,
        "each group once, then cached"
    );
    assert_eq!(aws.group_changes(), vec!["PutLifecycleHook prod-new"]);
    assert_eq!(kinds(&aws), vec![AlertKind::GroupEnrolled]);
}

#[tokio::test]
async fn enrollment_can_be_turned_off() {
    let (policy, aws) = (policy(&[("GUARD_ENROLL_GROUPS", "false")]), cluster(1));
    aws.add_group(GroupFacts {
        name: "prod-new".into(),
        tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
        ..GroupFacts::default()
    });
    run(&policy, &aws, SCHEDULE).await.unwrap();
    assert_eq!(aws.group_changes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_failing_measurement_fails_the_run_and_alerts_once() {
    let (policy, aws) = (policy(&[]), cluster(1));
    aws.fail("DescribeInstances");
    let guard = BudgetGuard::new(&policy, &aws).with_clock(now);
    for _ in 0..2 {
        let err = guard
            .handle(serde_json::from_str(SCHEDULE).unwrap(), home())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`DescribeInstances` failed: injected failure"
        );
    }
    assert_eq!(kinds(&aws), vec![AlertKind::GuardError]);
    assert_eq!(aws.group_changes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_malformed_event_gets_a_clear_error() {
    let (policy, aws) = (policy(&[]), cluster(1));
    let err = run(&policy, &aws, "{\"detail-type\": \"Something Else\"}")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("event is not a schedule or an alarm"),
        "{err}"
    );
    assert_eq!(aws.mutations(), Default::default());
}

// ---------------------------------------------------------------------------
// Scenarios of "budgets and suspensions that hold on a real cluster"
// ---------------------------------------------------------------------------

const ADMITTED_TAG: &str = "scaling-guard:admitted";
const GROUP_NAME_TAG: &str = "aws:autoscaling:groupName";

fn alerts_of(aws: &FakeAws, kind: AlertKind) -> Vec<shared::alerts::Alert> {
    aws.published()
        .into_iter()
        .filter(|a| a.kind == kind)
        .collect()
}

/// The tag a suspension by the guard leaves on a group, as an earlier run wrote it.
fn guard_record(extra: Value) -> String {
    let mut record = json!({
        "reason": "vcpus 100% of budget",
        "trigger": "schedule",
        "time": NOW_RFC3339,
    });
    if let (Some(record), Some(extra)) = (record.as_object_mut(), extra.as_object()) {
        record.extend(extra.clone());
    }
    record.to_string()
}

fn suspend_by_guard(aws: &FakeAws, group: &str, record: String) {
    aws.update_group(group, |g| {
        g.suspended_processes = vec!["Launch".into()];
        g.tags.insert(SUSPENDED_TAG.into(), record);
    });
}

fn metric(aws: &FakeAws, name: &str) -> f64 {
    let (_, data) = aws.metrics().pop().unwrap();
    data.iter().find(|m| m.name == name).unwrap().value
}

#[tokio::test]
async fn audit_mode_suspends_nothing_and_alerts_what_it_would_do_once() {
    // Given audit mode and a cluster at 100 % of its budgets.
    let (policy, aws) = (policy(&[("GUARD_MODE", "audit")]), cluster(10));
    let guard = BudgetGuard::new(&policy, &aws).with_clock(now);

    // When the schedule runs three times.
    let mut summaries = Vec::new();
    for _ in 0..3 {
        summaries.push(schedule_of(answer(&guard, SCHEDULE).await.unwrap()));
    }

    // Then nothing changed but the hooks enforce mode left abandoning (the
    // off switch makes them continue, once), and one alert says what would
    // have been done.
    assert_eq!(
        aws.group_changes(),
        vec!["PutLifecycleHook prod-a", "PutLifecycleHook prod-b"]
    );
    assert_eq!(summaries[0].would_suspend, ["prod-a", "prod-b"]);
    assert_eq!(summaries[0].suspended, NONE);
    let alerts = alerts_of(&aws, AlertKind::ScaleOutSuspended);
    assert_eq!(alerts.len(), 1, "once per condition: {:?}", kinds(&aws));
    assert_eq!(alerts[0].decision, "would_suspend");
    assert_eq!(
        alerts[0].details["would_suspend"],
        json!(["prod-a", "prod-b"])
    );
    assert!(
        alerts[0].subject().contains("would suspend"),
        "{}",
        alerts[0].subject()
    );
    assert_eq!(metric(&aws, "SuspendedGroups"), 0.0);
}

// A guard suspension found in audit mode is lifted at once: the off switch,
// tests/off_switch.rs.

#[tokio::test]
async fn an_alarm_in_audit_mode_suspends_nothing() {
    // At the threshold: the measurement confirms the budget alarm.
    let (policy, aws) = (policy(&[("GUARD_MODE", "audit")]), cluster(10));
    let summary = run_alarm(&policy, &aws, ALARM).await;
    let AlarmAction::Suspend { would_suspend, .. } = &summary.action else {
        panic!("not a suspension: {summary:?}")
    };
    assert_eq!(would_suspend, &["prod-a", "prod-b"]);
    assert_eq!(aws.group_changes(), Vec::<String>::new());
    assert_eq!(
        alerts_of(&aws, AlertKind::ScaleOutSuspended)[0].decision,
        "would_suspend"
    );
}

#[tokio::test]
async fn budget_checks_listed_as_audit_only_suspend_nothing_in_enforce_mode() {
    let policy = policy(&[("GUARD_AUDIT_ONLY_CHECKS", "budget.vcpus,budget.instances")]);
    let aws = cluster(10);
    let summary = run_schedule(&policy, &aws, SCHEDULE).await;
    assert_eq!(summary.would_suspend, ["prod-a", "prod-b"]);
    assert_eq!(aws.group_changes(), Vec::<String>::new());
}

#[tokio::test]
async fn one_enforced_budget_over_its_threshold_still_suspends() {
    // vcpus is audit-only, but the instance budget is enforced and reached.
    let policy = policy(&[("GUARD_AUDIT_ONLY_CHECKS", "budget.vcpus")]);
    let aws = cluster(10);
    let summary = run_schedule(&policy, &aws, SCHEDULE).await;
    assert_eq!(summary.suspended, ["prod-a", "prod-b"]);
}

#[tokio::test]
async fn enrollment_in_audit_mode_puts_a_hook_that_continues() {
    let (policy, aws) = (policy(&[("GUARD_MODE", "audit")]), cluster(1));
    aws.add_group(GroupFacts {
        name: "prod-new".into(),
        tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
        ..GroupFacts::default()
    });
    run(&policy, &aws, SCHEDULE).await.unwrap();
    let hooks = aws.lifecycle_hooks("prod-new").await.unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].default_result.as_deref(), Some("CONTINUE"));
}

#[tokio::test]
async fn admitted_instances_still_waiting_on_another_hook_are_counted() {
    // Given 2 running instances and 3 admitted by the launch guard that still
    // wait in Pending:Wait on a bootstrap hook, and 1 not yet decided.
    let (policy, aws) = (policy(&[]), cluster(2));
    let mut listed = Vec::new();
    for n in 0..4 {
        let id = format!("i-wait{n}");
        let mut tags: std::collections::BTreeMap<String, String> = [
            (CLUSTER_TAG.to_owned(), "owned".to_owned()),
            (GROUP_NAME_TAG.to_owned(), "prod-a".to_owned()),
        ]
        .into();
        if n < 3 {
            tags.insert(ADMITTED_TAG.into(), NOW_RFC3339.into());
        }
        aws.add_instance(InstanceFacts {
            instance_id: id.clone(),
            instance_type: "m6i.large".into(),
            state: "running".into(),
            tags,
            ..InstanceFacts::default()
        });
        listed.push(GroupInstance {
            instance_id: id,
            lifecycle_state: "Pending:Wait".into(),
        });
    }
    aws.update_group("prod-a", |g| g.instances = listed);

    let summary = run_schedule(&policy, &aws, SCHEDULE).await;

    assert_eq!(summary.usage.instances, 5);
    assert_eq!(metric(&aws, "ClusterInstances"), 5.0);
}

#[tokio::test]
async fn a_running_warm_pool_instance_is_not_counted() {
    // In a running warm pool the instance is `running` in EC2 and carries the
    // group's tags, but its group does not list it among its instances.
    let (policy, aws) = (policy(&[]), cluster(2));
    aws.add_instance(InstanceFacts {
        instance_id: "i-warm".into(),
        instance_type: "m6i.large".into(),
        state: "running".into(),
        tags: [
            (CLUSTER_TAG.to_owned(), "owned".to_owned()),
            (GROUP_NAME_TAG.to_owned(), "prod-a".to_owned()),
        ]
        .into(),
        ..InstanceFacts::default()
    });
    let summary = run_schedule(&policy, &aws, SCHEDULE).await;
    assert_eq!(summary.usage.instances, 2);
}

/// Scenario of the resume loop: 7 m6i.2xlarge (8 vCPUs) in prod-a = 56 of 64
/// vCPUs (87.5 %); prod-a is suspended by the guard after a denial and its
/// desired capacity is 2 above its instances.
fn loop_cluster() -> FakeAws {
    let aws = cluster(0);
    aws.add_instance_type(
        "m6i.2xlarge",
        InstanceTypeSpec {
            default_vcpus: 8,
            memory_mib: 32768,
        },
    );
    let mut listed = Vec::new();
    for n in 0..7 {
        let id = format!("i-big{n}");
        aws.add_instance(InstanceFacts {
            instance_id: id.clone(),
            instance_type: "m6i.2xlarge".into(),
            state: "running".into(),
            tags: [
                (CLUSTER_TAG.to_owned(), "owned".to_owned()),
                (GROUP_NAME_TAG.to_owned(), "prod-a".to_owned()),
            ]
            .into(),
            ..InstanceFacts::default()
        });
        listed.push(GroupInstance {
            instance_id: id,
            lifecycle_state: "InService".into(),
        });
    }
    aws.update_group("prod-a", |g| {
        g.instances = listed;
        g.desired_capacity = 9;
    });
    aws.update_group("prod-b", |g| g.desired_capacity = 0);
    suspend_by_guard(
        &aws,
        "prod-a",
        guard_record(json!({"trigger": "budget_denial"})),
    );
    aws
}

#[tokio::test]
async fn a_group_is_not_resumed_while_what_it_would_launch_does_not_fit() {
    let policy = policy(&[("GUARD_MAX_VCPUS", "64"), ("GUARD_MAX_INSTANCES", "100")]);
    let aws = loop_cluster();
    let guard = BudgetGuard::new(&policy, &aws).with_clock(now);

    // Fifteen scheduled runs, one a minute: 56 + 2 × 8 = 72 vCPUs would be
    // 112 %, so prod-a stays suspended, quietly, with the reason in the summary.
    let mut last = None;
    for _ in 0..15 {
        last = Some(schedule_of(answer(&guard, SCHEDULE).await.unwrap()));
    }
    assert_eq!(aws.calls("ResumeProcesses"), 0);
    assert!(launch_suspended(&aws, "prod-a"));
    let held = format!("{:?}", last.unwrap().held);
    assert!(
        held.contains("prod-a") && held.contains("2 instance"),
        "{held}"
    );
    assert_eq!(kinds(&aws), Vec::<AlertKind>::new(), "no state changed");

    // Three nodes leave: 32 + 16 = 48 vCPUs (75 %) fits, so it resumes once.
    aws.update_group("prod-a", |g| {
        g.instances.truncate(4);
        g.desired_capacity = 6;
    });
    for n in 4..7 {
        let mut gone = aws.instance_facts(&format!("i-big{n}")).unwrap();
        gone.state = "terminated".into();
        aws.add_instance(gone);
    }
    let resumed = schedule_of(answer(&guard, SCHEDULE).await.unwrap());
    assert_eq!(resumed.resumed, ["prod-a"]);
    assert_eq!(kinds(&aws), vec![AlertKind::ScaleOutResumed]);
}

#[tokio::test]
async fn groups_resume_one_after_another_only_while_their_demand_fits_together() {
    // Usage 4 of 20 vCPUs; prod-a and prod-b each want 4 more m6i.large
    // (8 vCPUs each): 4 + 8 = 12 (60 %) fits, 4 + 8 + 8 = 20 (100 %) does not.
    let (policy, aws) = (policy(&[("GUARD_MAX_INSTANCES", "100")]), cluster(0));
    for group in ["prod-a", "prod-b"] {
        let mut listed = Vec::new();
        for n in 0..1 {
            let id = format!("i-{group}-{n}");
            aws.add_instance(InstanceFacts {
                instance_id: id.clone(),
                instance_type: "m6i.large".into(),
                state: "running".into(),
                tags: [
                    (CLUSTER_TAG.to_owned(), "owned".to_owned()),
                    (GROUP_NAME_TAG.to_owned(), group.to_owned()),
                ]
                .into(),
                ..InstanceFacts::default()
            });
            listed.push(GroupInstance {
                instance_id: id,
                lifecycle_state: "InService".into(),
            });
        }
        aws.update_group(group, |g| {
            g.instances = listed;
            g.desired_capacity = 5;
        });
        suspend_by_guard(&aws, group, guard_record(json!({})));
    }
    let summary = run_schedule(&policy, &aws, SCHEDULE).await;
    assert_eq!(summary.resumed, ["prod-a"]);
    assert!(launch_suspended(&aws, "prod-b"));
}

#[tokio::test]
async fn a_max_size_changed_by_someone_else_during_the_suspension_is_kept() {
    // The guard clamped prod-a from 20 to 4; an operator then raised it to 40.
    let (policy, aws) = (policy(&[("GUARD_CLAMP_MAX_SIZE", "true")]), cluster(1));
    suspend_by_guard(
        &aws,
        "prod-a",
        guard_record(json!({"original_max_size": 20, "clamped_to": 4})),
    );
    aws.update_group("prod-a", |g| {
        g.max_size = 40;
        g.desired_capacity = 0;
    });
    let summary = run_schedule(&policy, &aws, SCHEDULE).await;
    assert_eq!(summary.resumed, ["prod-a"]);
    let group = aws.group_facts("prod-a").unwrap();
    assert_eq!(group.max_size, 40, "the operator's value stays");
    assert!(!group.tags.contains_key(SUSPENDED_TAG));
    assert_eq!(aws.calls("UpdateAutoScalingGroup"), 0);
    let resumed = &alerts_of(&aws, AlertKind::ScaleOutResumed)[0];
    assert!(
        resumed
            .email()
            .contains("MaxSize of prod-a was changed to 40"),
        "{}",
        resumed.email()
    );
}

#[tokio::test]
async fn a_max_size_still_as_the_guard_set_it_is_restored() {
    let (policy, aws) = (policy(&[("GUARD_CLAMP_MAX_SIZE", "true")]), cluster(1));
    suspend_by_guard(
        &aws,
        "prod-a",
        guard_record(json!({"original_max_size": 20, "clamped_to": 4})),
    );
    aws.update_group("prod-a", |g| {
        g.max_size = 4;
        g.desired_capacity = 0;
    });
    run(&policy, &aws, SCHEDULE).await.unwrap();
    assert_eq!(aws.group_facts("prod-a").unwrap().max_size, 20);
}

/// prod-a runs 4 instances (desired 4, max 20); usage is at the threshold.
fn clamp_cluster() -> FakeAws {
    let aws = cluster(10);
    let listed = (0..4)
        .map(|n| GroupInstance {
            instance_id: format!("i-{n:04}"),
            lifecycle_state: "InService".into(),
        })
        .collect();
    aws.update_group("prod-a", |g| g.instances = listed);
    aws
}

fn raise_desired_with_new_instances(aws: &FakeAws, desired: i32) {
    aws.update_group("prod-a", |g| {
        g.desired_capacity = desired;
        let have = g.instances.len();
        for n in have..usize::try_from(desired).unwrap() {
            g.instances.push(GroupInstance {
                instance_id: format!("i-{n:04}"),
                lifecycle_state: "InService".into(),
            });
        }
    });
}

#[tokio::test]
async fn a_clamp_never_terminates_what_the_autoscaler_launched_meanwhile() {
    let (policy, aws) = (policy(&[("GUARD_CLAMP_MAX_SIZE", "true")]), clamp_cluster());
    let guard = BudgetGuard::new(&policy, &aws).with_clock(now);
    // Given the schedule has read prod-a at desired 4 and is about to suspend it,
    let gate = aws.pause_before("SuspendProcesses");
    let run = guard.handle(serde_json::from_str(SCHEDULE).unwrap(), home());
    // when the cluster autoscaler raises desired to 6 and two nodes launch,
    let autoscaler = async {
        gate.reached().await;
        raise_desired_with_new_instances(&aws, 6);
        gate.release();
    };
    let (summary, ()) = futures::join!(run, autoscaler);
    summary.unwrap();

    // then the clamp terminates nothing and leaves room for all six.
    assert_eq!(aws.instance_changes(), Vec::<String>::new());
    let group = aws.group_facts("prod-a").unwrap();
    assert_eq!((group.max_size, group.instances.len()), (6, 6));
}

#[tokio::test]
async fn a_clamp_after_the_suspension_never_scales_in() {
    let (policy, aws) = (policy(&[("GUARD_CLAMP_MAX_SIZE", "true")]), clamp_cluster());
    let guard = BudgetGuard::new(&policy, &aws).with_clock(now);
    // Launch is suspended already when the autoscaler raises desired to 8: no
    // instance can launch any more, so the clamp only undoes the wish.
    let gate = aws.pause_before("UpdateAutoScalingGroup");
    let run = guard.handle(serde_json::from_str(SCHEDULE).unwrap(), home());
    let autoscaler = async {
        gate.reached().await;
        aws.update_group("prod-a", |g| g.desired_capacity = 8);
        gate.release();
    };
    let (summary, ()) = futures::join!(run, autoscaler);
    summary.unwrap();
    assert_eq!(aws.instance_changes(), Vec::<String>::new());
    assert_eq!(aws.group_facts("prod-a").unwrap().instances.len(), 4);
}

#[tokio::test]
async fn suspension_alerts_say_that_unhealthy_nodes_are_not_replaced() {
    let (policy, aws) = (policy(&[]), cluster(10));
    run(&policy, &aws, SCHEDULE).await.unwrap();
    let email = aws.published()[0].email();
    assert!(email.contains("not replaced"), "{email}");
    assert!(!email.contains("replacements"), "{email}");
}
