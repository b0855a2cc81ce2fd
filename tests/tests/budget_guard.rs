//! Budgets end to end (SPEC §7, issue 4): strict admission in the real
//! `target/debug/launch-guard` under a surge of launches, and the real
//! `target/debug/budget-guard` on its schedule and on CloudWatch alarms —
//! suspension of `Launch` only, resume with hysteresis, foreign suspensions
//! left alone, metrics, enrollment. Each test has its own emulator.
//!
//! Build the binaries first: `cargo build -p launch-guard -p budget-guard`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{Metric, StateValue};
use scaling_guard_e2e::{
    CLUSTER, EndedAction, FaultRule, HOOK, NODE_TYPE, OTHER_CLUSTER, PendingAction, events,
};
use serde_json::json;

mod support;

use support::{Bed, NODE_MEMORY_MIB, NODE_VCPUS, SUSPENDED_TAG, alert_groups, sorted, strings};

// ---------------------------------------------------------------------------
// 1. Surge admission in launch-guard.

/// Launches fired at once.
const SURGE: i32 = 200;
/// The budget fits this many m6i.large, in every dimension.
const FITS: u64 = 50;
/// How long the last queued event may wait for the one environment.
const SURGE_TIMEOUT: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surge_of_200_launches_admits_exactly_the_budget_and_suspends_scale_out_once() {
    let bed = Bed::new().await;
    let policy = bed.policy(
        Some(FITS * NODE_VCPUS),
        Some(FITS * NODE_MEMORY_MIB),
        Some(FITS),
    );
    // Reserved concurrency 1 in production: one execution environment.
    let guard = Arc::new(bed.launch_guard(&policy).await);
    let group = bed.cluster.groups[0].clone();
    let actions = bed.cluster.scale_to(&group, SURGE).await.unwrap();
    assert_eq!(actions.len(), 200, "200 launches wait in Pending:Wait");
    let surge: BTreeSet<String> = actions.iter().map(|a| a.instance_id.clone()).collect();

    // Every event at once, from as many tasks: the runtime queues them for
    // the one environment, as Lambda does with reserved concurrency 1.
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for action in &actions {
        let guard = Arc::clone(&guard);
        let event = events::lifecycle_event(action).unwrap();
        tasks.spawn(async move { guard.invoke_within(&event, SURGE_TIMEOUT).await });
    }
    let mut summaries = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        summaries.push(joined.unwrap().expect("every launch event is answered"));
    }
    let elapsed = started.elapsed();

    let decided = |decision: &str| {
        summaries
            .iter()
            .filter(|s| s["decision"] == decision)
            .count()
    };
    let (admitted, denied) = (decided("CONTINUE"), decided("ABANDON"));
    eprintln!(
        "surge: {} events into one launch-guard, {admitted} admitted, {denied} denied, {:.1} s ({:.0} ms per event)",
        summaries.len(),
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / f64::from(SURGE),
    );
    assert_eq!(summaries.len(), 200);
    assert_eq!(admitted, 50, "exactly the budget is admitted");
    assert_eq!(denied, 150);
    for summary in summaries.iter().filter(|s| s["decision"] == "ABANDON") {
        let checks: BTreeSet<&str> = summary["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["check"].as_str().unwrap())
            .collect();
        assert_eq!(
            checks,
            BTreeSet::from(["budget.vcpus", "budget.memory", "budget.instances"]),
            "denied for budget only: {summary}"
        );
        assert_eq!(summary["duplicate"], false, "{summary}");
    }

    // Every action of the surge is completed, and no replacement was
    // launched: the first budget denial suspends Launch before its ABANDON.
    let left: Vec<PendingAction> = bed.clients.control.lifecycle_actions(Some(&group)).unwrap();
    assert_eq!(
        left,
        Vec::<PendingAction>::new(),
        "no action left pending, no replacement launched"
    );
    assert_eq!(
        bed.clients.control.lifecycle_actions(None).unwrap(),
        [],
        "nothing is left waiting"
    );

    // Admitted capacity is the budget: 50 nodes in service, nothing else.
    let state = bed.group(&group).await;
    let in_service = state
        .instances
        .values()
        .filter(|s| *s == "InService")
        .count();
    assert_eq!(in_service, 50, "{:?}", state.instances);
    assert_eq!(state.instances.len(), 50, "the denied ones left the group");
    let mut running = 0;
    for id in &surge {
        if bed.cluster.instance_state(id).await.unwrap().as_deref() == Some("running") {
            running += 1;
        }
    }
    assert_eq!(running, 50, "the abandoned instances are terminated");

    // Scale-out is suspended on the cluster's groups — only Launch — with
    // the guard's record; the other cluster's group is untouched.
    for name in &bed.cluster.groups {
        let record = bed.assert_suspended_by_guard(name).await;
        assert_eq!(record["trigger"], "budget_denial", "{record}");
    }
    bed.assert_not_suspended(&bed.cluster.staging_group).await;

    // One suspension alert and one denial alert: no storm of 150.
    support::assert_surge_alerted_once(&bed, "50 of 50 (100.0%)").await;
}

/// The big scale-up of issue 13 (part 3): launches fired at once through the
/// SQS path.
const SCALE_UP: usize = 1000;
/// Its budget, in m6i.large, in every dimension.
const SCALE_UP_FITS: u64 = 400;
/// Every AWS call the function makes is slowed by this much at the emulator.
const SLOWER_MS: u64 = 50;

/// A scale-up of 1,000 launches, delivered the way the SQS path delivers
/// them (batches of 10, one at a time into the one environment), with every
/// AWS call 50 ms slower: every launch is completed by the guard, none by
/// its hook's heartbeat timeout (300 s, enforced by the emulator, DefaultResult
/// ABANDON), and exactly the budget is admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_up_of_1000_through_sqs_with_every_call_50_ms_slower_completes_inside_one_heartbeat_with_the_budget_exact()
 {
    let bed = Bed::new().await;
    let policy = bed.policy(
        Some(SCALE_UP_FITS * NODE_VCPUS),
        Some(SCALE_UP_FITS * NODE_MEMORY_MIB),
        Some(SCALE_UP_FITS),
    );
    let guard = Arc::new(bed.launch_guard(&policy).await);
    let group = bed.cluster.groups[0].clone();
    let actions = bed
        .cluster
        .scale_to(&group, i32::try_from(SCALE_UP).unwrap())
        .await
        .unwrap();
    assert_eq!(
        actions.len(),
        SCALE_UP,
        "1,000 launches wait in Pending:Wait"
    );
    let control = &bed.clients.control;
    control.enforce_heartbeat_timeouts(true).unwrap();
    control
        .set_faults(&[FaultRule::latency("*", SLOWER_MS, SLOWER_MS)], 13)
        .unwrap();

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for batch in actions.chunks(10) {
        let guard = Arc::clone(&guard);
        let bodies: Vec<String> = batch.iter().map(events::hook_message).collect();
        let event = events::sqs_batch(&bodies).unwrap();
        tasks.spawn(async move { guard.invoke_within(&event, Duration::from_secs(600)).await });
    }
    while let Some(joined) = tasks.join_next().await {
        let response = joined.unwrap().expect("every batch is answered");
        assert_eq!(response, json!({ "batchItemFailures": [] }));
    }
    let elapsed = started.elapsed();
    let slowed = control.clear_faults().unwrap();
    control.enforce_heartbeat_timeouts(false).unwrap();

    let ended = control.ended_actions(Some(&group)).unwrap();
    eprintln!(
        "scale-up: {SCALE_UP} launches in {} SQS batches, {:.1} s ({:.1} launches/s), {} calls slowed",
        SCALE_UP / 10,
        elapsed.as_secs_f64(),
        SCALE_UP as f64 / elapsed.as_secs_f64(),
        slowed.injected,
    );
    assert_eq!(ended.len(), SCALE_UP, "every launch ended");
    let by_timeout: Vec<&EndedAction> = ended
        .iter()
        .filter(|a| a.by != "CompleteLifecycleAction")
        .collect();
    assert!(
        by_timeout.is_empty(),
        "ended by the heartbeat, not the guard: {by_timeout:?}"
    );
    let results = |result: &str| {
        ended
            .iter()
            .filter(|a| a.result.as_deref() == Some(result))
            .count()
    };
    assert_eq!(results("CONTINUE"), 400, "exactly the budget is admitted");
    assert_eq!(results("ABANDON"), 600);
    assert_eq!(
        control.lifecycle_actions(None).unwrap(),
        [],
        "nothing is left waiting"
    );
    let state = bed.group(&group).await;
    assert_eq!(state.instances.len(), 400, "{:?}", state.instances);
    assert!(state.instances.values().all(|s| s == "InService"));
    bed.assert_suspended_by_guard(&group).await;
}

// ---------------------------------------------------------------------------
// 2. Alarm ALARM / OK through budget-guard.

/// A surge alarm on the guard's vCPU metric: the samples' budget alarm,
/// named with the policy's surge prefix.
const SURGE_ALARM: &str = "scaling-guard-surge-vcpus";

#[tokio::test]
async fn an_alarm_suspends_launch_on_the_clusters_groups_and_its_ok_resumes_them() {
    let bed = Bed::new().await;
    let guard = bed.budget_guard(&bed.policy(Some(100), None, None)).await;
    bed.cluster
        .launch_in_service(&bed.cluster.groups[0], 2)
        .await
        .unwrap();
    // A surge alarm (named with the surge prefix) on the vCPU metric: usage
    // is low, so only a surge alarm, confirmed in ALARM, suspends.
    let alarm_event = events::renamed_alarm(events::budget_alarm().unwrap(), SURGE_ALARM).unwrap();
    let name = events::alarm_name(&alarm_event).unwrap();
    bed.alarm(&name, StateValue::Alarm).await;

    let summary = guard.invoke(&alarm_event).await.unwrap();

    let received = support::assert_cluster_suspended_by_alarm(&bed, &summary, &name).await;
    assert_eq!(received.attribute("severity"), Some("critical"));
    assert_eq!(alert_groups(&received), sorted(&bed.cluster.groups));
    assert_eq!(
        received.message["details"]["usage_vcpus"],
        "4 of 100 (4.0%)"
    );

    // The same alarm again: nothing changes, nothing is alerted twice.
    guard.invoke(&alarm_event).await.unwrap();
    // Usage is low, but the alarm that triggered the suspension still fires:
    // the schedule holds it.
    let scheduled = guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();
    assert_eq!(scheduled["resumed"], json!([]), "{scheduled}");
    for group in &bed.cluster.groups {
        bed.assert_suspended_by_guard(group).await;
    }
    assert_eq!(bed.alerts().await, [], "no second alert");

    // The alarm returns to OK.
    bed.set_alarm(&name, StateValue::Ok).await;
    let summary = guard
        .invoke(&events::renamed_alarm(events::budget_alarm_ok().unwrap(), SURGE_ALARM).unwrap())
        .await
        .unwrap();

    assert_eq!(summary["action"], "resume", "{summary}");
    assert_eq!(
        strings(&summary["resumed"]),
        sorted(&bed.cluster.groups),
        "{summary}"
    );
    for group in &bed.cluster.groups {
        bed.assert_not_suspended(group).await;
    }
    bed.assert_not_suspended(&bed.cluster.staging_group).await;
    let received = bed.alerts().await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].attribute("kind"), Some("scale_out_resumed"));
    assert_eq!(alert_groups(&received[0]), sorted(&bed.cluster.groups));
}

#[tokio::test]
async fn an_alarm_through_sns_suspends_only_the_group_it_names() {
    let bed = Bed::new().await;
    let guard = bed.budget_guard(&bed.policy(Some(100), None, None)).await;
    // The sample names `prod-general` in its AutoScalingGroupName dimension;
    // CloudWatch confirms its alarm in ALARM.
    let event = events::budget_alarm_sns().unwrap();
    assert_eq!(bed.cluster.groups[0], "prod-general");
    bed.alarm("scaling-guard-surge-requests", StateValue::Alarm)
        .await;

    let summary = guard.invoke(&event).await.unwrap();

    assert_eq!(summary["suspended"], json!(["prod-general"]), "{summary}");
    let record = bed.assert_suspended_by_guard("prod-general").await;
    assert_eq!(record["alarms"], json!(["scaling-guard-surge-requests"]));
    for group in bed.cluster.groups.iter().skip(1) {
        bed.assert_not_suspended(group).await;
    }
    bed.assert_not_suspended(&bed.cluster.staging_group).await;
    let received = bed.alerts().await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(alert_groups(&received[0]), ["prod-general"]);
}

/// Issue 20, scenario 4: an alarm is believed only when it is this stack's
/// and the guard's, and then only once confirmed.
#[tokio::test]
async fn an_unrelated_a_forged_and_a_stale_alarm_suspend_nothing() {
    // Given 2 nodes, 4 of 100 vCPUs.
    let bed = Bed::new().await;
    let guard = bed.budget_guard(&bed.policy(Some(100), None, None)).await;
    bed.cluster
        .launch_in_service(&bed.cluster.groups[0], 2)
        .await
        .unwrap();

    // When the vCPU budget alarm is in ALARM (a forged data point on the
    // guard's metric put it there),
    let budget_event = events::budget_alarm().unwrap();
    let budget_alarm = events::alarm_name(&budget_event).unwrap();
    bed.alarm(&budget_alarm, StateValue::Alarm).await;
    let forged = guard.invoke(&budget_event).await.unwrap();
    // an RDS alarm in ALARM reaches budget-guard through a shared topic,
    bed.alarm("rds-cpu-high", StateValue::Alarm).await;
    let unrelated = guard
        .invoke(&events::sns_alarm("rds-cpu-high").unwrap())
        .await
        .unwrap();
    // and a surge alarm's ALARM notification arrives when CloudWatch has it OK,
    bed.alarm("scaling-guard-surge-requests", StateValue::Ok)
        .await;
    let stale = guard
        .invoke(&events::budget_alarm_sns().unwrap())
        .await
        .unwrap();

    // Then each is ignored, saying why, and nothing is suspended or alerted.
    for (summary, reason) in [
        (&forged, "budget_not_reached"),
        (&unrelated, "unknown_alarm"),
        (&stale, "not_in_alarm"),
    ] {
        assert_eq!(summary["action"], "ignored", "{summary}");
        assert_eq!(summary["reason"], reason, "{summary}");
    }
    assert!(
        forged["detail"]
            .as_str()
            .is_some_and(|d| d.contains("vcpus 4 of 100 (4.0%)")),
        "{forged}"
    );
    for group in &bed.cluster.groups {
        bed.assert_not_suspended(group).await;
    }
    bed.assert_not_suspended(&bed.cluster.staging_group).await;
    bed.assert_no_alert("no alarm was believed").await;
}

// ---------------------------------------------------------------------------
// 3. The schedule's metrics.

const METRICS: [&str; 7] = [
    "ClusterVcpus",
    "ClusterMemoryMiB",
    "ClusterInstances",
    "VcpuPercentOfBudget",
    "MemoryPercentOfBudget",
    "InstancesPercentOfBudget",
    "SuspendedGroups",
];

#[tokio::test]
async fn the_schedule_publishes_every_usage_metric_of_the_cluster() {
    let bed = Bed::new().await;
    let [general, system, ..] = bed.cluster.groups.as_slice() else {
        panic!("three prod groups");
    };
    // Counted: three m6i.large in service, and a node outside any group
    // whose CpuOptions give it 1 vCPU of its type's 4 (m6i.xlarge, 16 GiB).
    bed.cluster.launch_in_service(general, 3).await.unwrap();
    let outside = bed
        .cluster
        .run_node(CLUSTER, "m6i.xlarge", Some((1, 1)))
        .await
        .unwrap();
    // Not counted: a launch still waiting for the guard, the other
    // cluster's nodes, a terminated node.
    let waiting = bed.cluster.scale_to(system, 1).await.unwrap();
    assert_eq!(waiting.len(), 1);
    bed.cluster
        .launch_in_service(&bed.cluster.staging_group, 2)
        .await
        .unwrap();
    let gone = bed
        .cluster
        .run_node(CLUSTER, NODE_TYPE, None)
        .await
        .unwrap();
    bed.clients
        .ec2
        .terminate_instances()
        .instance_ids(&gone)
        .send()
        .await
        .unwrap();
    assert_eq!(
        bed.cluster
            .instance_state(&outside)
            .await
            .unwrap()
            .as_deref(),
        Some("running")
    );
    // 7 vCPUs, 40960 MiB, 4 instances: 25 %, 50 %, 80 % of these budgets.
    let guard = bed
        .budget_guard(&bed.policy(Some(28), Some(81_920), Some(5)))
        .await;

    let summary = guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();

    assert_eq!(summary["trigger"], "schedule", "{summary}");
    assert_eq!(
        summary["usage"],
        json!({"vcpus": 7, "memory_mib": 40_960, "instances": 4}),
        "{summary}"
    );
    let listed = bed.clients.listed_metrics(CLUSTER).await.unwrap();
    let names: BTreeSet<&str> = listed
        .metrics()
        .iter()
        .filter_map(Metric::metric_name)
        .collect();
    assert_eq!(names, BTreeSet::from(METRICS), "{listed:?}");

    let values = bed.clients.metric_values(CLUSTER, &METRICS).await.unwrap();
    let expected = [7.0, 40_960.0, 4.0, 25.0, 50.0, 80.0, 0.0];
    for (name, want) in METRICS.iter().zip(expected) {
        assert_eq!(values[*name], vec![want], "{name}: {values:?}");
    }
    assert_eq!(
        bed.alerts().await,
        [],
        "below every threshold: no suspension"
    );
    // The waiting launch was neither counted nor touched.
    assert_eq!(
        bed.clients
            .control
            .lifecycle_action_of(&waiting[0].instance_id)
            .unwrap(),
        Some(waiting[0].clone())
    );
}

// ---------------------------------------------------------------------------
// 4. Resume with hysteresis.

#[tokio::test]
async fn the_schedule_suspends_at_the_threshold_and_resumes_only_below_the_resume_threshold() {
    let bed = Bed::new().await;
    let general = bed.cluster.groups[0].clone();
    // MaxSize 20, so that the clamp has something to lower and restore.
    bed.clients
        .autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(&general)
        .max_size(20)
        .send()
        .await
        .unwrap();
    let nodes = bed.cluster.launch_in_service(&general, 10).await.unwrap();
    // 10 instances allowed; suspend at 100 %, resume below 90 %; clamp.
    let mut policy = bed.policy(None, None, Some(10));
    policy.insert("GUARD_CLAMP_MAX_SIZE".into(), "true".into());
    let guard = bed.budget_guard(&policy).await;
    let schedule = events::budget_schedule().unwrap();

    // 10 of 10: at the suspend threshold.
    let summary = guard.invoke(&schedule).await.unwrap();

    assert_eq!(strings(&summary["suspended"]), sorted(&bed.cluster.groups));
    assert_eq!(summary["suspended_groups"], 3, "{summary}");
    for group in &bed.cluster.groups {
        let record = bed.assert_suspended_by_guard(group).await;
        assert_eq!(record["trigger"], "schedule", "{record}");
    }
    bed.assert_not_suspended(&bed.cluster.staging_group).await;
    let general_state = bed.group(&general).await;
    assert_eq!(
        general_state.max_size, 10,
        "clamped to the desired capacity"
    );
    let record = bed.assert_suspended_by_guard(&general).await;
    assert_eq!(record["original_max_size"], 20, "{record}");
    let received = bed.alerts().await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].attribute("kind"), Some("scale_out_suspended"));
    assert_eq!(
        received[0].message["details"]["usage_instances"],
        "10 of 10 (100.0%)"
    );

    // 9 of 10: below the suspend threshold but not below the resume one.
    bed.cluster.terminate_in_group(&nodes[0]).await.unwrap();
    let summary = guard.invoke(&schedule).await.unwrap();

    assert_eq!(summary["usage"]["instances"], 9, "{summary}");
    assert_eq!(summary["resumed"], json!([]), "{summary}");
    assert_eq!(
        summary["held"].as_array().map(Vec::len),
        Some(3),
        "{summary}"
    );
    for group in &bed.cluster.groups {
        bed.assert_suspended_by_guard(group).await;
    }
    assert_eq!(bed.alerts().await, [], "held quietly");

    // 8 of 10: below the resume threshold.
    bed.cluster.terminate_in_group(&nodes[1]).await.unwrap();
    let summary = guard.invoke(&schedule).await.unwrap();

    assert_eq!(strings(&summary["resumed"]), sorted(&bed.cluster.groups));
    assert_eq!(summary["suspended_groups"], 0, "{summary}");
    for group in &bed.cluster.groups {
        bed.assert_not_suspended(group).await;
    }
    let general_state = bed.group(&general).await;
    assert_eq!(general_state.max_size, 20, "MaxSize restored");
    assert_eq!(general_state.desired_capacity, 8);
    for group in bed.cluster.groups.iter().skip(1) {
        assert_eq!(bed.group(group).await.max_size, 10, "{group}: restored");
    }
    let received = bed.alerts().await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].attribute("kind"), Some("scale_out_resumed"));
    assert_eq!(alert_groups(&received[0]), sorted(&bed.cluster.groups));

    // Resumed stays resumed: no second alert.
    guard.invoke(&schedule).await.unwrap();
    assert_eq!(bed.alerts().await, []);
}

// ---------------------------------------------------------------------------
// 5. A suspension made by someone else.

#[tokio::test]
async fn launch_suspended_by_someone_else_is_never_resumed_nor_claimed() {
    let bed = Bed::new().await;
    let [general, system, batch] = bed.cluster.groups.as_slice() else {
        panic!("three prod groups");
    };
    bed.cluster
        .suspend_processes(batch, &["Launch", "AZRebalance"])
        .await
        .unwrap();
    let foreign = vec!["AZRebalance".to_owned(), "Launch".to_owned()];
    let guard = bed.budget_guard(&bed.policy(Some(100), None, None)).await;
    let schedule = events::budget_schedule().unwrap();
    let assert_foreign_intact = || async {
        let state = bed.group(batch).await;
        assert_eq!(state.suspended_processes, foreign);
        assert!(!state.tags.contains_key(SUSPENDED_TAG), "{:?}", state.tags);
    };

    // Usage is low: the schedule resumes nothing it did not suspend.
    let summary = guard.invoke(&schedule).await.unwrap();
    assert_eq!(summary["resumed"], json!([]), "{summary}");
    assert_foreign_intact().await;

    // An alarm suspends the other groups, not this one's record.
    let alarm_event = events::renamed_alarm(events::budget_alarm().unwrap(), SURGE_ALARM).unwrap();
    let name = events::alarm_name(&alarm_event).unwrap();
    bed.alarm(&name, StateValue::Alarm).await;
    let summary = guard.invoke(&alarm_event).await.unwrap();
    assert_eq!(
        strings(&summary["suspended"]),
        sorted(&[general.clone(), system.clone()])
    );
    assert_foreign_intact().await;
    let received = bed.alerts().await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(
        alert_groups(&received[0]),
        sorted(&[general.clone(), system.clone()])
    );

    // OK resumes the guard's suspensions only.
    bed.set_alarm(&name, StateValue::Ok).await;
    let summary = guard
        .invoke(&events::renamed_alarm(events::budget_alarm_ok().unwrap(), SURGE_ALARM).unwrap())
        .await
        .unwrap();
    assert_eq!(
        strings(&summary["resumed"]),
        sorted(&[general.clone(), system.clone()])
    );
    bed.assert_not_suspended(general).await;
    bed.assert_not_suspended(system).await;
    assert_foreign_intact().await;
    guard.invoke(&schedule).await.unwrap();
    assert_foreign_intact().await;
    let received = bed.alerts().await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(
        alert_groups(&received[0]),
        sorted(&[general.clone(), system.clone()])
    );
}

// ---------------------------------------------------------------------------
// 6. Enrollment of a new group.

#[tokio::test]
async fn the_schedule_puts_the_launch_hook_on_a_new_cluster_group_only() {
    let bed = Bed::new().await;
    let gpu = bed
        .cluster
        .add_node_group(CLUSTER, "gpu", false)
        .await
        .unwrap();
    let staging_gpu = bed
        .cluster
        .add_node_group(OTHER_CLUSTER, "gpu", false)
        .await
        .unwrap();
    assert_eq!(bed.cluster.lifecycle_hooks(&gpu).await.unwrap(), []);
    let guard = bed.budget_guard(&bed.policy(Some(100), None, None)).await;

    let summary = guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();

    assert_eq!(summary["enrolled"], json!([gpu]), "{summary}");
    let hooks = bed.cluster.lifecycle_hooks(&gpu).await.unwrap();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let hook = &hooks[0];
    assert_eq!(hook.lifecycle_hook_name(), Some(HOOK));
    assert_eq!(
        hook.lifecycle_transition(),
        Some("autoscaling:EC2_INSTANCE_LAUNCHING")
    );
    assert_eq!(hook.default_result(), Some("ABANDON"));
    assert!(hook.heartbeat_timeout().is_some_and(|t| t > 0), "{hook:?}");
    assert_eq!(
        bed.cluster.lifecycle_hooks(&staging_gpu).await.unwrap(),
        [],
        "the other cluster's group is not the guard's"
    );
    for group in &bed.cluster.groups {
        assert_eq!(
            bed.cluster.lifecycle_hooks(group).await.unwrap().len(),
            1,
            "{group} keeps its one hook"
        );
    }
    let received = bed.alerts().await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].attribute("kind"), Some("group_enrolled"));
    assert_eq!(received[0].attribute("severity"), Some("info"));
    assert_eq!(alert_groups(&received[0]), [gpu.as_str()]);

    // The hook works: the group's next launch waits for the guard.
    let waiting = bed.cluster.scale_to(&gpu, 1).await.unwrap();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0].hook, HOOK);

    // The next run finds it enrolled: no second hook, no second alert.
    let summary = guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();
    assert_eq!(summary["enrolled"], json!([]), "{summary}");
    assert_eq!(bed.cluster.lifecycle_hooks(&gpu).await.unwrap().len(), 1);
    assert_eq!(bed.alerts().await, []);
}
