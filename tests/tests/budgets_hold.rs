//! Budgets and suspensions that hold on a real cluster: admissions recorded
//! on the instance (`scaling-guard:admitted`) keep counting across
//! launch-guard restarts while a second launch hook holds the admitted
//! instances in `Pending:Wait`; a warm pool is vetted free of charge and
//! charged when the group draws on it; a composite alarm holds the resume;
//! audit mode changes nothing. The real `target/debug/launch-guard` and
//! `target/debug/budget-guard` against the emulator; each test has its own.
//!
//! Build the binaries first: `cargo build -p launch-guard -p budget-guard`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_cloudwatch::types::{AlarmType, StateValue};
use scaling_guard_e2e::{
    ACCOUNT, CLUSTER, Function, GroupState, HOOK, PendingAction, REGION, events,
};
use serde_json::{Value, json};
use shared::time::parse_rfc3339;

/// The instance tag launch-guard writes before it continues an admitted launch.
const ADMITTED_TAG: &str = "scaling-guard:admitted";
/// A second launch hook, as a bootstrap controller would put it: it holds
/// every launch in `Pending:Wait` for up to 30 minutes, then continues it.
const BOOTSTRAP_HOOK: &str = "bootstrap";
const BOOTSTRAP_HEARTBEAT_SECONDS: i32 = 1800;
/// The checks of a denial for every budget at once.
const EVERY_BUDGET: [&str; 3] = ["budget.instances", "budget.memory", "budget.vcpus"];

mod support;

use support::{
    Bed, NODE_MEMORY_MIB, NODE_VCPUS, alert_list, decide, of_kind, sorted, strings, violated,
};

/// What only these tests ask of the bed.
impl Bed {
    /// Puts the bootstrap hook on `group` next to the guard's (which the
    /// seeded cluster puts on every group: `ABANDON` after 300 s).
    async fn add_bootstrap_hook(&self, group: &str) {
        self.cluster
            .add_launch_hook(
                group,
                BOOTSTRAP_HOOK,
                BOOTSTRAP_HEARTBEAT_SECONDS,
                "CONTINUE",
            )
            .await
            .unwrap();
        let mut hooks: Vec<String> = self
            .cluster
            .lifecycle_hooks(group)
            .await
            .unwrap()
            .iter()
            .filter_map(|h| h.lifecycle_hook_name().map(str::to_owned))
            .collect();
        hooks.sort();
        assert_eq!(hooks, [BOOTSTRAP_HOOK, HOOK], "{group}: two launch hooks");
    }

    /// The pending actions of `hook` in `group`.
    fn pending_of(&self, group: &str, hook: &str) -> Vec<PendingAction> {
        self.clients
            .control
            .lifecycle_actions(Some(group))
            .unwrap()
            .into_iter()
            .filter(|a| a.hook == hook)
            .collect()
    }

    /// Instance id → the value of its admission tag, if any, for `ids`.
    async fn admission_tags(&self, ids: &BTreeSet<String>) -> BTreeMap<String, Option<String>> {
        let output = self
            .clients
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids.iter().cloned().collect()))
            .send()
            .await
            .unwrap();
        let tags: BTreeMap<String, Option<String>> = output
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| {
                let tag = i
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some(ADMITTED_TAG))
                    .and_then(|t| t.value())
                    .map(str::to_owned);
                Some((i.instance_id()?.to_owned(), tag))
            })
            .collect();
        assert_eq!(
            tags.keys().cloned().collect::<BTreeSet<_>>(),
            *ids,
            "DescribeInstances answers every instance"
        );
        tags
    }

    /// Asserts that every one of `ids` carries the admission tag, an RFC 3339
    /// time during this test.
    async fn assert_admission_recorded(&self, ids: &BTreeSet<String>) {
        let now = SystemTime::now() + Duration::from_secs(2);
        // The tag has whole seconds.
        let since = self.started - Duration::from_secs(2);
        for (id, tag) in self.admission_tags(ids).await {
            let value = tag.unwrap_or_else(|| panic!("admitted {id} carries {ADMITTED_TAG}"));
            let time = parse_rfc3339(&value)
                .unwrap_or_else(|| panic!("{id}: {ADMITTED_TAG} = `{value}` is RFC 3339"));
            assert!(
                since <= time && time <= now,
                "{id}: admitted at {value}, during the test"
            );
        }
    }

    async fn assert_not_tagged_admitted(&self, ids: &BTreeSet<String>) {
        for (id, tag) in self.admission_tags(ids).await {
            assert_eq!(tag, None, "{id} was not admitted: no {ADMITTED_TAG}");
        }
    }

    /// The state of an alarm, metric or composite.
    async fn alarm_state(&self, name: &str) -> String {
        let output = self
            .clients
            .cloudwatch
            .describe_alarms()
            .alarm_names(name)
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .send()
            .await
            .unwrap();
        let metric = output
            .metric_alarms()
            .iter()
            .filter(|a| a.alarm_name() == Some(name))
            .filter_map(|a| a.state_value());
        let composite = output
            .composite_alarms()
            .iter()
            .filter(|a| a.alarm_name() == Some(name))
            .filter_map(|a| a.state_value());
        metric
            .chain(composite)
            .next()
            .unwrap_or_else(|| panic!("alarm {name} exists: {output:?}"))
            .as_str()
            .to_owned()
    }

    /// Asserts that every group of the cluster carries the guard's
    /// suspension after a budget denial, and the other cluster's does not.
    async fn assert_cluster_suspended_for_budget(&self) {
        for name in &self.cluster.groups {
            let record = self.assert_suspended_by_guard(name).await;
            assert_eq!(record["trigger"], "budget_denial", "{name}: {record}");
        }
        self.assert_not_suspended(&self.cluster.staging_group).await;
    }
}

/// The instance ids of the summaries with `decision`.
fn decided(summaries: &[Value], decision: &str) -> BTreeSet<String> {
    summaries
        .iter()
        .filter(|s| s["decision"] == decision)
        .map(|s| s["instance_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Instance ids of actions.
fn ids(actions: &[PendingAction]) -> BTreeSet<String> {
    actions.iter().map(|a| a.instance_id.clone()).collect()
}

/// Asserts that every `ABANDON` among `summaries` was for `checks` alone.
fn assert_denied_for(summaries: &[Value], checks: &[&str]) {
    for summary in summaries.iter().filter(|s| s["decision"] == "ABANDON") {
        assert_eq!(
            violated(summary),
            checks,
            "denied for budget only: {summary}"
        );
        assert_eq!(summary["duplicate"], false, "{summary}");
    }
}

// ---------------------------------------------------------------------------
// 1. Admissions survive the environment that made them.

/// Nodes already running in the cluster before the launches.
const RUNNING: u64 = 2;
/// What the budget leaves room for.
const ROOM: u64 = 10;
/// Launches decided by successive launch-guard processes: the second still
/// admits and the third crosses the budget (their ledgers are empty; only the
/// tags tell them what the others admitted); the fourth only denies.
const RESTART_WAVES: [usize; 4] = [4, 4, 4, 8];

#[tokio::test]
async fn admissions_hold_across_launch_guard_restarts_while_a_second_hook_holds_them() {
    // Given two nodes in service, a budget with room for ten more, and a
    // group whose launches wait for the guard's hook and a bootstrap hook.
    let bed = Bed::new().await;
    let [general, system, ..] = bed.cluster.groups.as_slice() else {
        panic!("three prod groups");
    };
    let in_service = bed
        .cluster
        .launch_in_service(system, i32::try_from(RUNNING).unwrap())
        .await
        .unwrap();
    bed.add_bootstrap_hook(general).await;
    let policy = bed.policy(None, None, Some(RUNNING + ROOM));
    let launched = bed.cluster.scale_to(general, 20).await.unwrap();
    let actions: Vec<PendingAction> = launched
        .iter()
        .filter(|a| a.hook == HOOK)
        .cloned()
        .collect();
    assert_eq!(actions.len(), 20, "20 launches wait for the guard");
    assert_eq!(
        ids(&bed.pending_of(general, BOOTSTRAP_HOOK)),
        ids(&actions),
        "and for the bootstrap hook"
    );

    // When the launches are decided one after the other by four launch-guard
    // processes, each killed before the next starts.
    let mut summaries = Vec::new();
    let mut rest = actions.as_slice();
    for (wave, size) in RESTART_WAVES.into_iter().enumerate() {
        let guard = bed.launch_guard(&policy).await;
        let (now, later) = rest.split_at(size);
        for action in now {
            let summary = decide(&guard, action).await;
            eprintln!(
                "process {wave}: {} {}",
                action.instance_id, summary["decision"]
            );
            summaries.push(summary);
        }
        drop(guard);
        rest = later;
    }

    // Then exactly the room is admitted: the first ten, in order.
    let decisions: Vec<&str> = summaries
        .iter()
        .map(|s| s["decision"].as_str().unwrap())
        .collect();
    let mut expected = vec!["CONTINUE"; 10];
    expected.extend(["ABANDON"; 10]);
    assert_eq!(decisions, expected, "{summaries:#?}");
    assert_denied_for(&summaries, &["budget.instances"]);
    let admitted = decided(&summaries, "CONTINUE");
    let denied = decided(&summaries, "ABANDON");
    assert_eq!(admitted.len(), 10);
    assert_eq!(denied.len(), 10);

    // The guard completed every action of its own; the bootstrap hook still
    // holds the admitted instances in Pending:Wait (the denied ones left the
    // group with their actions), and no replacement was launched.
    assert_eq!(bed.pending_of(general, HOOK), [], "no guard action left");
    assert_eq!(ids(&bed.pending_of(general, BOOTSTRAP_HOOK)), admitted);
    let state = bed.group(general).await;
    assert_eq!(
        state.instances,
        admitted
            .iter()
            .map(|id| (id.clone(), "Pending:Wait".to_owned()))
            .collect::<BTreeMap<_, _>>(),
        "the admitted ones wait for the bootstrap hook, nothing else is in the group"
    );
    for id in &denied {
        let ec2 = bed.cluster.instance_state(id).await.unwrap();
        assert!(
            matches!(ec2.as_deref(), Some("terminated" | "shutting-down")),
            "{id} was abandoned and terminated, not {ec2:?}"
        );
    }

    // Every admission is recorded on its instance; the denials are not.
    bed.assert_admission_recorded(&admitted).await;
    bed.assert_not_tagged_admitted(&denied).await;
    bed.assert_cluster_suspended_for_budget().await;

    // And budget-guard counts the admitted instances still waiting.
    let budget_guard = bed.budget_guard(&policy).await;
    let summary = budget_guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();
    let expected_instances = RUNNING + ROOM;
    assert_eq!(
        summary["usage"]["instances"],
        expected_instances,
        "{} in service + {} admitted: {summary}",
        in_service.len(),
        admitted.len()
    );
    let values = bed
        .clients
        .metric_values(CLUSTER, &["ClusterInstances"])
        .await
        .unwrap();
    assert_eq!(
        values["ClusterInstances"],
        [12.0],
        "ClusterInstances counts the admitted ones: {values:?}"
    );
}

// ---------------------------------------------------------------------------
// 2. A surge across restarts.

/// Launches fired in all.
const SURGE: i32 = 200;
/// The budget fits this many m6i.large, in every dimension.
const FITS: u64 = 50;
/// Waves of launch events, each fired at once into its own launch-guard
/// process: the first is admitted whole, the second crosses the budget
/// (its process knows the first wave only from the tags), the third is denied.
const SURGE_WAVES: [usize; 3] = [30, 30, 140];
/// How long the last queued event of a wave may wait for its environment.
const SURGE_TIMEOUT: Duration = Duration::from_secs(600);

/// Fires every action's event at once into `guard` and returns the answers.
async fn fire(guard: &Arc<Function>, actions: &[PendingAction]) -> Vec<Value> {
    let mut tasks = tokio::task::JoinSet::new();
    for action in actions {
        let guard = Arc::clone(guard);
        let event = events::lifecycle_event(action).unwrap();
        tasks.spawn(async move { guard.invoke_within(&event, SURGE_TIMEOUT).await });
    }
    let mut summaries = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        summaries.push(joined.unwrap().expect("every launch event is answered"));
    }
    summaries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surge_of_200_with_two_launch_guard_restarts_and_a_second_hook_admits_exactly_the_budget()
{
    // Given a budget for 50 nodes and a group whose launches also wait for a
    // bootstrap hook, which keeps the admitted ones in Pending:Wait.
    let bed = Bed::new().await;
    let group = bed.cluster.groups[0].clone();
    bed.add_bootstrap_hook(&group).await;
    let policy = bed.policy(
        Some(FITS * NODE_VCPUS),
        Some(FITS * NODE_MEMORY_MIB),
        Some(FITS),
    );
    let launched = bed.cluster.scale_to(&group, SURGE).await.unwrap();
    let actions: Vec<PendingAction> = launched
        .iter()
        .filter(|a| a.hook == HOOK)
        .cloned()
        .collect();
    assert_eq!(actions.len(), 200, "200 launches wait for the guard");
    assert_eq!(ids(&bed.pending_of(&group, BOOTSTRAP_HOOK)), ids(&actions));
    let surge = ids(&actions);

    // When the launches are fired in three waves, the launch-guard process
    // replaced between waves.
    let started = Instant::now();
    let mut summaries = Vec::new();
    let mut rest = actions.as_slice();
    let mut per_wave = Vec::new();
    let (mut wave_denials, mut trouble) = (Vec::new(), Vec::new());
    for size in SURGE_WAVES {
        let guard = Arc::new(bed.launch_guard(&policy).await);
        let (now, later) = rest.split_at(size);
        let answers = fire(&guard, now).await;
        // The process's warnings and errors, for the report (it is killed next).
        trouble.extend(
            guard
                .log_records()
                .into_iter()
                .filter(|r| matches!(r["level"].as_str(), Some("WARN" | "ERROR"))),
        );
        drop(Arc::into_inner(guard).expect("no invocation is left running"));
        per_wave.push((
            decided(&answers, "CONTINUE").len(),
            decided(&answers, "ABANDON").len(),
        ));
        wave_denials.push(
            answers
                .iter()
                .filter(|s| s["decision"] == "ABANDON")
                .cloned()
                .collect::<Vec<_>>(),
        );
        summaries.extend(answers);
        rest = later;
    }
    let elapsed = started.elapsed();
    eprintln!(
        "surge: {} events in waves {SURGE_WAVES:?} into three launch-guard processes, (admitted, denied) per wave {per_wave:?}, {:.1} s ({:.0} ms per event)",
        summaries.len(),
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / f64::from(SURGE),
    );

    // Then exactly the budget is admitted, whatever the process.
    assert_eq!(summaries.len(), 200);
    assert_eq!(
        per_wave,
        [(30, 0), (20, 10), (0, 140)],
        "admitted, denied per wave; the first two waves' denials: {:#?}; warnings and errors logged: {trouble:#?}",
        &wave_denials[..2],
    );
    let admitted = decided(&summaries, "CONTINUE");
    let denied = decided(&summaries, "ABANDON");
    assert_eq!(admitted.len(), 50, "exactly the budget is admitted");
    assert_eq!(denied.len(), 150);
    assert_denied_for(&summaries, &EVERY_BUDGET);

    // Every guard action is completed, no replacement was launched, and the
    // only actions left anywhere are the bootstrap hook's on the admitted.
    assert_eq!(bed.pending_of(&group, HOOK), [], "no guard action left");
    let left = bed.clients.control.lifecycle_actions(None).unwrap();
    assert!(
        left.iter().all(|a| a.hook == BOOTSTRAP_HOOK),
        "nothing else waits: {left:?}"
    );
    assert_eq!(
        ids(&left),
        admitted,
        "the bootstrap hook holds the admitted"
    );
    let state = bed.group(&group).await;
    assert_eq!(
        state.instances.keys().cloned().collect::<BTreeSet<_>>(),
        admitted,
        "the denied ones left the group, none replaced them"
    );
    assert!(
        state.instances.values().all(|s| s == "Pending:Wait"),
        "{:?}",
        state.instances
    );
    let mut running = 0;
    for id in &surge {
        if bed.cluster.instance_state(id).await.unwrap().as_deref() == Some("running") {
            running += 1;
        }
    }
    assert_eq!(running, 50, "the abandoned instances are terminated");

    // The admitted ones carry the tag; the denied ones do not.
    bed.assert_admission_recorded(&admitted).await;
    bed.assert_not_tagged_admitted(&denied).await;
    bed.assert_cluster_suspended_for_budget().await;

    // One suspension alert and one denial alert, across three processes.
    support::assert_surge_alerted_once(&bed, "50 of 50 (100.0%)").await;
}

// ---------------------------------------------------------------------------
// 3. Warm pools.

#[tokio::test]
async fn a_node_entering_the_warm_pool_is_vetted_without_charge_and_charged_when_it_enters_service()
{
    // Given a cluster at its instance budget (3 nodes of 3) and a group with
    // a running warm pool.
    let bed = Bed::new().await;
    let [general, system, ..] = bed.cluster.groups.as_slice() else {
        panic!("three prod groups");
    };
    bed.cluster.launch_in_service(system, 3).await.unwrap();
    bed.cluster.put_warm_pool(general, "Running").await.unwrap();
    let guard = bed.launch_guard(&bed.policy(None, None, Some(3))).await;

    // When a node launches into the warm pool.
    let launched = bed.clients.control.warm_pool_launch(general, 1).unwrap();
    let [pooled] = launched.as_slice() else {
        panic!("one pool instance: {launched:?}");
    };
    let pooled = pooled.clone();
    let only = BTreeSet::from([pooled.clone()]);
    let [into_pool] = bed.pending_of(general, HOOK).try_into().unwrap();
    assert_eq!(into_pool.instance_id, pooled);
    assert_eq!(
        (into_pool.origin.as_str(), into_pool.destination.as_str()),
        ("EC2", "WarmPool")
    );
    let event = events::lifecycle_event(&into_pool).unwrap();
    assert_eq!(event["detail"]["Origin"], "EC2", "{event}");
    assert_eq!(event["detail"]["Destination"], "WarmPool", "{event}");
    assert_eq!(
        bed.cluster.warm_pool(general).await.unwrap(),
        BTreeMap::from([(pooled.clone(), "Warmed:Pending:Wait".to_owned())])
    );
    let summary = guard.invoke(&event).await.expect("launch-guard answers");

    // Then it is vetted and let in free of charge: no budget denial, no
    // suspension, no admission recorded.
    assert_eq!(summary["decision"], "CONTINUE", "{summary}");
    assert_eq!(summary["violations"], json!([]), "{summary}");
    assert_eq!(
        bed.cluster.warm_pool(general).await.unwrap(),
        BTreeMap::from([(pooled.clone(), "Warmed:Running".to_owned())])
    );
    assert_eq!(bed.pending_of(general, HOOK), []);
    for group in &bed.cluster.groups {
        bed.assert_not_suspended(group).await;
    }
    bed.assert_not_tagged_admitted(&only).await;
    assert_eq!(bed.alerts().await, [], "nothing to alert");

    // And budget-guard does not count it either. (Its budget has room for
    // one more, so that its run at 3 leaves the pool free to be drawn on;
    // counting the pool instance would make it 4 of 4 and suspend.)
    let budget_guard = bed.budget_guard(&bed.policy(None, None, Some(4))).await;
    let scheduled = budget_guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();
    assert_eq!(scheduled["usage"]["instances"], 3, "{scheduled}");
    assert_eq!(scheduled["suspended"], json!([]), "{scheduled}");
    let values = bed
        .clients
        .metric_values(CLUSTER, &["ClusterInstances"])
        .await
        .unwrap();
    assert_eq!(values["ClusterInstances"], [3.0], "{values:?}");
    for group in &bed.cluster.groups {
        bed.assert_not_suspended(group).await;
    }
    drop(budget_guard);

    // When the group draws the node from the pool into service.
    bed.clients
        .control
        .warm_pool_enter(general, &pooled)
        .unwrap();
    let [entering] = bed.pending_of(general, HOOK).try_into().unwrap();
    assert_eq!(entering.instance_id, pooled);
    assert_ne!(entering.token, into_pool.token, "a new action");
    assert_eq!(
        (entering.origin.as_str(), entering.destination.as_str()),
        ("WarmPool", "AutoScalingGroup")
    );
    assert_eq!(
        bed.cluster
            .lifecycle_state(&pooled)
            .await
            .unwrap()
            .as_deref(),
        Some("Pending:Wait")
    );
    let event = events::lifecycle_event(&entering).unwrap();
    assert_eq!(event["detail"]["Origin"], "WarmPool", "{event}");
    let summary = guard.invoke(&event).await.expect("launch-guard answers");

    // Then it is charged: 4 of 3 is over the budget, the launch is abandoned
    // and Launch is suspended on the cluster's groups with the guard's record.
    assert_eq!(summary["decision"], "ABANDON", "{summary}");
    assert_eq!(violated(&summary), ["budget.instances"], "{summary}");
    bed.assert_cluster_suspended_for_budget().await;
    let ec2 = bed.cluster.instance_state(&pooled).await.unwrap();
    assert!(
        matches!(ec2.as_deref(), Some("terminated" | "shutting-down")),
        "abandoned and terminated, not {ec2:?}"
    );
    assert_eq!(
        bed.clients.control.lifecycle_actions(None).unwrap(),
        [],
        "nothing waits, no replacement was launched"
    );
    assert_eq!(bed.group(general).await.instances, BTreeMap::new());
    bed.assert_not_tagged_admitted(&only).await;
    let received = bed.alerts().await;
    assert_eq!(
        of_kind(&received, "scale_out_suspended").len(),
        1,
        "{received:?}"
    );
    assert_eq!(of_kind(&received, "launch_denied").len(), 1, "{received:?}");
}

// ---------------------------------------------------------------------------
// 4. Composite alarms.

/// The Lambda action event of a composite alarm entering `ALARM`
/// (`events/budget-alarm-alarm.json`, renamed, with a composite's
/// configuration: its rule instead of metrics).
fn composite_alarm_event(name: &str, rule: &str, child: &str) -> Value {
    let mut event = events::budget_alarm().unwrap();
    event["alarmArn"] = json!(format!(
        "arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
    ));
    let data = &mut event["alarmData"];
    data["alarmName"] = json!(name);
    data["state"]["reason"] = json!(format!(
        "arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{child} transitioned to ALARM"
    ));
    data["state"]["reasonData"] = json!(
        json!({
            "triggeringAlarms": [{
                "arn": format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{child}"),
                "state": {"value": "ALARM", "timestamp": "2026-11-26T10:01:00.000+0000"},
            }]
        })
        .to_string()
    );
    data["configuration"] = json!({
        "alarmRule": rule,
        "description": "A surge: requests and the vCPU budget together",
    });
    event
}

#[tokio::test]
async fn a_composite_surge_alarm_in_alarm_holds_the_resume() {
    // Given low usage and a composite alarm over a metric alarm, both in ALARM.
    let bed = Bed::new().await;
    let budget_guard = bed.budget_guard(&bed.policy(Some(100), None, None)).await;
    bed.cluster
        .launch_in_service(&bed.cluster.groups[0], 2)
        .await
        .unwrap();
    let child = "scaling-guard-surge-requests";
    // Both named with the policy's surge prefix.
    let composite = "scaling-guard-surge-any";
    let rule = format!("ALARM(\"{child}\")");
    bed.alarm(child, StateValue::Alarm).await;
    bed.cluster
        .put_composite_alarm(composite, &rule)
        .await
        .unwrap();
    assert_eq!(bed.alarm_state(composite).await, "ALARM");

    // When the composite alarm's action reaches budget-guard.
    let summary = budget_guard
        .invoke(&composite_alarm_event(composite, &rule, child))
        .await
        .unwrap();

    // Then Launch is suspended on the cluster's groups, the record naming it.
    support::assert_cluster_suspended_by_alarm(&bed, &summary, composite).await;

    // When the schedule runs with usage far below the resume threshold, no OK
    // having arrived: the composite alarm still fires, so the resume is held.
    let schedule = events::budget_schedule().unwrap();
    let scheduled = budget_guard.invoke(&schedule).await.unwrap();

    assert_eq!(scheduled["usage"]["vcpus"], 4, "{scheduled}");
    assert_eq!(scheduled["resumed"], json!([]), "{scheduled}");
    assert_eq!(
        scheduled["held"].as_array().map(Vec::len),
        Some(3),
        "{scheduled}"
    );
    for group in &bed.cluster.groups {
        bed.assert_suspended_by_guard(group).await;
    }
    assert_eq!(bed.alerts().await, [], "held quietly");

    // When the metric alarm returns to OK, the composite follows.
    bed.cluster.set_alarm_state(child, "OK").await.unwrap();
    assert_eq!(bed.alarm_state(composite).await, "OK");
    let scheduled = budget_guard.invoke(&schedule).await.unwrap();

    // Then the schedule resumes the groups.
    assert_eq!(
        strings(&scheduled["resumed"]),
        sorted(&bed.cluster.groups),
        "{scheduled}"
    );
    for group in &bed.cluster.groups {
        bed.assert_not_suspended(group).await;
    }
    let received = bed.alerts().await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].attribute("kind"), Some("scale_out_resumed"));
    assert_eq!(
        alert_list(&received[0], "groups"),
        sorted(&bed.cluster.groups)
    );
}

// ---------------------------------------------------------------------------
// 5. Audit mode.

#[tokio::test]
async fn audit_mode_budget_guard_changes_nothing_and_alerts_once() {
    // Given audit mode, clamping on, and a cluster at the suspend threshold
    // (2 instances of 2).
    let bed = Bed::new().await;
    bed.cluster
        .launch_in_service(&bed.cluster.groups[0], 2)
        .await
        .unwrap();
    let mut policy = bed.policy(None, None, Some(2));
    policy.insert("GUARD_MODE".into(), "audit".into());
    policy.insert("GUARD_CLAMP_MAX_SIZE".into(), "true".into());
    // The guard's hooks as an audit-mode deployment enrolls them: CONTINUE.
    // (The seeded ones abandon, as an enforcing guard's do; those the first
    // audit run hands over: tests/off_switch.rs.)
    for group in &bed.cluster.groups {
        bed.clients
            .autoscaling
            .put_lifecycle_hook()
            .auto_scaling_group_name(group)
            .lifecycle_hook_name(HOOK)
            .lifecycle_transition("autoscaling:EC2_INSTANCE_LAUNCHING")
            .default_result("CONTINUE")
            .heartbeat_timeout(300)
            .send()
            .await
            .unwrap();
    }
    let before: Vec<GroupState> = {
        let mut states = Vec::new();
        for group in &bed.cluster.groups {
            states.push(bed.group(group).await);
        }
        states
    };
    let budget_guard = bed.budget_guard(&policy).await;
    let schedule = events::budget_schedule().unwrap();

    // When the schedule runs twice.
    let first = budget_guard.invoke(&schedule).await.unwrap();
    let second = budget_guard.invoke(&schedule).await.unwrap();

    // Then no group changed: nothing suspended, tagged or clamped.
    for summary in [&first, &second] {
        assert_eq!(summary["usage"]["instances"], 2, "{summary}");
        assert_eq!(summary["suspended"], json!([]), "{summary}");
        assert_eq!(summary["suspended_groups"], 0, "{summary}");
    }
    assert_eq!(
        strings(&first["would_suspend"]),
        sorted(&bed.cluster.groups),
        "{first}"
    );
    for (group, was) in bed.cluster.groups.iter().zip(&before) {
        bed.assert_not_suspended(group).await;
        assert_eq!(bed.group(group).await, *was, "{group} is unchanged");
    }
    bed.assert_not_suspended(&bed.cluster.staging_group).await;
    let values = bed
        .clients
        .metric_values(CLUSTER, &["SuspendedGroups"])
        .await
        .unwrap();
    // Two runs publish two zeros, in one or two one-minute buckets depending
    // on when the minute turns.
    let suspended = &values["SuspendedGroups"];
    assert!(
        !suspended.is_empty() && suspended.iter().all(|value| *value == 0.0),
        "{values:?}"
    );

    // And one alert says what would have been done, once for the condition.
    let received = bed.alerts().await;
    let would = of_kind(&received, "scale_out_suspended");
    assert_eq!(would.len(), 1, "{received:?}");
    assert_eq!(
        would[0].message["decision"], "would_suspend",
        "{}",
        would[0].message
    );
    assert_eq!(
        alert_list(would[0], "would_suspend"),
        sorted(&bed.cluster.groups),
        "{}",
        would[0].message
    );
    assert_eq!(received.len(), 1, "nothing else: {received:?}");
}

// ---------------------------------------------------------------------------
// 6. The MaxSize clamp takes only what the guard owns.

#[tokio::test]
async fn a_clamp_never_scales_in_and_a_max_size_raised_meanwhile_is_kept() {
    // Given four nodes in service in one group, at an instance budget of four,
    // with ClampMaxSize.
    let bed = Bed::new().await;
    let general = bed.cluster.groups[0].clone();
    let nodes = bed.cluster.launch_in_service(&general, 4).await.unwrap();
    let before: BTreeMap<String, i32> = {
        let mut sizes = BTreeMap::new();
        for name in &bed.cluster.groups {
            sizes.insert(name.clone(), bed.group(name).await.max_size);
        }
        sizes
    };
    let mut policy = bed.policy(None, None, Some(4));
    policy.insert("GUARD_CLAMP_MAX_SIZE".to_owned(), "true".to_owned());

    // When the schedule suspends and clamps the cluster's groups,
    let guard = bed.budget_guard(&policy).await;
    guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();
    drop(guard);

    // then the clamp stops at what the group has: no node is terminated.
    let clamped = bed.group(&general).await;
    assert_eq!(clamped.max_size, 4, "clamped to its four nodes");
    assert_eq!(
        clamped.instances.keys().cloned().collect::<BTreeSet<_>>(),
        nodes.iter().cloned().collect::<BTreeSet<_>>(),
        "no node scaled in"
    );
    assert!(clamped.instances.values().all(|s| s == "InService"));
    let record: Value = serde_json::from_str(&clamped.tags[support::SUSPENDED_TAG]).unwrap();
    assert_eq!(record["clamped_to"], 4, "{record}");
    assert_eq!(record["original_max_size"], before[&general], "{record}");

    // When an operator raises MaxSize during the suspension, and a later run
    // (with a budget raised too) resumes,
    bed.cluster.set_max_size(&general, 40).await.unwrap();
    bed.alerts().await;
    policy.insert("GUARD_MAX_INSTANCES".to_owned(), "100".to_owned());
    let guard = bed.budget_guard(&policy).await;
    let summary = guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();

    // then the operator's MaxSize stays, the guard's clamps are undone.
    assert_eq!(strings(&summary["resumed"]), sorted(&bed.cluster.groups));
    assert_eq!(bed.group(&general).await.max_size, 40);
    for name in bed.cluster.groups.iter().filter(|g| **g != general) {
        assert_eq!(bed.group(name).await.max_size, before[name], "{name}");
    }
    let received = bed.alerts().await;
    let resumed = of_kind(&received, "scale_out_resumed");
    assert_eq!(resumed.len(), 1, "{received:?}");
    let notes = alert_list(resumed[0], "notes");
    assert_eq!(notes.len(), 1, "{}", resumed[0].message);
    assert!(
        notes[0].starts_with(&format!("MaxSize of {general} was changed to 40")),
        "{notes:?}"
    );
}
