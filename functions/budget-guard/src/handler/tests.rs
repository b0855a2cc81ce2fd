use std::time::{Duration, SystemTime};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use shared::alerts::AlertKind;
use shared::facts::{GroupFacts, GroupInstance, HookFacts, InstanceFacts, InstanceTypeSpec};
use shared::fakes::FakeAws;
use shared::policy::Policy;
use shared::suspension::{SUSPENDED_TAG, SuspensionRecord};

use super::*;

const SCHEDULE: &str = include_str!("../../../../events/budget-schedule.json");
const ALARM: &str = include_str!("../../../../events/budget-alarm-alarm.json");
const OK: &str = include_str!("../../../../events/budget-alarm-ok.json");
const SNS_ALARM: &str = include_str!("../../../../events/budget-alarm-sns.json");
const TAG: &str = "kubernetes.io/cluster/prod";
const VCPU_ALARM: &str = "scaling-guard-VcpuPercentOfBudget";

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_687_200)
}

fn policy(extra: &[(&str, &str)]) -> Policy {
    let base = [
        ("GUARD_CLUSTER", "prod"),
        (
            "GUARD_ALERT_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:123456789012:alerts",
        ),
        ("GUARD_MAX_INSTANCES", "10"),
        ("GUARD_MAX_VCPUS", "20"),
    ];
    let mut vars: Vec<(String, String)> = extra
        .iter()
        .chain(base.iter())
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    vars.dedup_by(|later, earlier| later.0 == earlier.0);
    Policy::from_vars(vars).unwrap()
}

fn hook() -> HookFacts {
    HookFacts {
        name: "scaling-guard-launch".into(),
        transition: "autoscaling:EC2_INSTANCE_LAUNCHING".into(),
        ..HookFacts::default()
    }
}

/// Groups prod-a and prod-b (cluster prod, hooked) and staging-a (another
/// cluster); `running` m6i.large instances in prod-a.
fn cluster(running: usize) -> FakeAws {
    let aws = FakeAws::new();
    aws.add_instance_type(
        "m6i.large",
        InstanceTypeSpec {
            default_vcpus: 2,
            memory_mib: 8192,
        },
    );
    for (name, tag) in [
        ("prod-a", TAG),
        ("prod-b", TAG),
        ("staging-a", "kubernetes.io/cluster/staging"),
    ] {
        aws.add_group(GroupFacts {
            name: name.into(),
            min_size: 0,
            max_size: 20,
            desired_capacity: 4,
            tags: [(tag.to_owned(), "owned".to_owned())].into(),
            ..GroupFacts::default()
        });
        aws.add_hook(name, hook());
    }
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
            tags: [(TAG.to_owned(), "owned".to_owned())].into(),
            ..InstanceFacts::default()
        });
    }
}

async fn run(policy: &Policy, aws: &FakeAws, event: &str) -> Result<Value, HandlerError> {
    BudgetGuard::new(policy, aws, aws, aws, aws)
        .with_clock(now)
        .handle(serde_json::from_str(event).unwrap())
        .await
}

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
    let summary = run(&policy, &aws, SCHEDULE).await.unwrap();
    assert_eq!(summary["usage"]["instances"], 3);
}

#[tokio::test]
async fn usage_at_the_threshold_suspends_only_launch_on_cluster_groups_once() {
    let (policy, aws) = (policy(&[]), cluster(10));

    let first = run(&policy, &aws, SCHEDULE).await.unwrap();
    let second = run(&policy, &aws, SCHEDULE).await.unwrap();

    assert_eq!(first["suspended"], json!(["prod-a", "prod-b"]));
    assert_eq!(second["suspended"], json!([]));
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
    let record = SuspensionRecord::of(&aws.group_facts("prod-a").unwrap()).unwrap();
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
    let held = run(&policy, &aws, SCHEDULE).await.unwrap();
    assert_eq!(held["resumed"], json!([]));
    assert!(launch_suspended(&aws, "prod-a"));

    set_running(&aws, 8);
    let resumed = run(&policy, &aws, SCHEDULE).await.unwrap();
    assert_eq!(resumed["resumed"], json!(["prod-a", "prod-b"]));
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
    aws.set_alarm(VCPU_ALARM, true);

    let suspended = run(&policy, &aws, ALARM).await.unwrap();
    assert_eq!(suspended["suspended"], json!(["prod-a", "prod-b"]));
    assert!(!launch_suspended(&aws, "staging-a"));
    // The schedule does not resume while the triggering alarm fires.
    run(&policy, &aws, SCHEDULE).await.unwrap();
    assert!(launch_suspended(&aws, "prod-a"));

    aws.set_alarm(VCPU_ALARM, false);
    let resumed = run(&policy, &aws, OK).await.unwrap();
    assert_eq!(resumed["resumed"], json!(["prod-a", "prod-b"]));
    assert_eq!(
        kinds(&aws),
        vec![AlertKind::ScaleOutSuspended, AlertKind::ScaleOutResumed]
    );
}

#[tokio::test]
async fn an_alarm_with_a_group_dimension_suspends_only_that_group() {
    let (policy, aws) = (policy(&[]), cluster(2));
    let summary = run(&policy, &aws, SNS_ALARM).await.unwrap();
    assert_eq!(
        summary["suspended"],
        json!([]),
        "prod-general is not a group of this fixture"
    );

    let mut event: Value = serde_json::from_str(SNS_ALARM).unwrap();
    let mut message: Value =
        serde_json::from_str(event["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    message["Trigger"]["Dimensions"][0]["value"] = json!("prod-b");
    event["Records"][0]["Sns"]["Message"] = json!(message.to_string());
    let summary = run(&policy, &aws, &event.to_string()).await.unwrap();
    assert_eq!(summary["suspended"], json!(["prod-b"]));
    assert!(!launch_suspended(&aws, "prod-a"));
}

#[tokio::test]
async fn an_alarm_on_an_already_suspended_group_joins_its_record() {
    let (policy, aws) = (policy(&[]), cluster(10));
    run(&policy, &aws, SCHEDULE).await.unwrap();
    aws.set_alarm(VCPU_ALARM, true);
    let summary = run(&policy, &aws, ALARM).await.unwrap();
    assert_eq!(summary["alarm_added_to"], json!(["prod-a", "prod-b"]));
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
    let summary = run(&policy, &aws, &event).await.unwrap();
    assert_eq!(summary["action"], "none");
    assert_eq!(aws.mutations(), Default::default());
}

#[tokio::test]
async fn a_cluster_group_without_the_hook_is_enrolled_once() {
    let (policy, aws) = (policy(&[]), cluster(1));
    aws.add_group(GroupFacts {
        name: "prod-new".into(),
        max_size: 5,
        tags: [(TAG.to_owned(), "owned".to_owned())].into(),
        ..GroupFacts::default()
    });
    let guard = BudgetGuard::new(&policy, &aws, &aws, &aws, &aws).with_clock(now);

    let first = guard
        .handle(serde_json::from_str(SCHEDULE).unwrap())
        .await
        .unwrap();
    let second = guard
        .handle(serde_json::from_str(SCHEDULE).unwrap())
        .await
        .unwrap();

    assert_eq!(first["enrolled"], json!(["prod-new"]));
    assert_eq!(second["enrolled"], json!([]));
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
        tags: [(TAG.to_owned(), "owned".to_owned())].into(),
        ..GroupFacts::default()
    });
    run(&policy, &aws, SCHEDULE).await.unwrap();
    assert_eq!(aws.group_changes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_failing_measurement_fails_the_run_and_alerts_once() {
    let (policy, aws) = (policy(&[]), cluster(1));
    aws.fail("DescribeInstances");
    let guard = BudgetGuard::new(&policy, &aws, &aws, &aws, &aws).with_clock(now);
    for _ in 0..2 {
        let err = guard
            .handle(serde_json::from_str(SCHEDULE).unwrap())
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
