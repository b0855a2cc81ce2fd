//! instance-audit end to end (SPEC §6, issue 5): the real binary
//! (`target/debug/instance-audit`) behind the harness's Lambda Runtime API,
//! the real SDK over HTTP, the emulator seeded with a cluster. Every trigger
//! (state change `pending` / `running`, `EC2 Instance Launch Successful`, the
//! scheduled sweep) and every action (`alert`, `stop`, `terminate`,
//! `isolate`, audit mode): the instance's state as EC2 describes it
//! afterwards, and the alerts as the queues subscribed to the topic receive
//! them. Each test has its own emulator and function process.
//!
//! Build the binary first: `cargo build -p instance-audit`.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudwatch::types::Metric;
use aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder;
use aws_sdk_ec2::types::InstanceType;
use scaling_guard_e2e::alerts::Received;
use scaling_guard_e2e::{CLUSTER, Function, NODE_TYPE, OTHER_CLUSTER, events};
use serde_json::{Value, json};
use shared::audit::{PREVIOUS_GROUPS_TAG, QUARANTINE_REASON_TAG, QUARANTINED_TAG, REMEDIATED_TAG};

mod support;

use support::{Bed, CLUSTER_TAG};

/// An instance as `DescribeInstances` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    state: String,
    security_groups: Vec<String>,
    tags: BTreeMap<String, String>,
}

/// What only these tests ask of the bed.
impl Bed {
    /// Starts instance-audit with the fixture's policy (enforce mode,
    /// action `alert`) changed by `settings`.
    async fn audit(&self, settings: &[(&str, &str)]) -> Function {
        self.instance_audit(&self.policy_with(settings)).await
    }

    /// A quarantine security group in the cluster's VPC.
    async fn quarantine_group(&self) -> String {
        self.clients
            .ec2
            .create_security_group()
            .group_name("scaling-guard-quarantine")
            .description("no ingress, no egress")
            .vpc_id(&self.cluster.vpc_id)
            .send()
            .await
            .unwrap()
            .group_id()
            .unwrap()
            .to_owned()
    }

    /// An instance launched by hand into the guarded cluster: its cluster
    /// tag, no group, no launcher tag.
    async fn hand_launched(&self) -> String {
        self.cluster
            .run_node(CLUSTER, NODE_TYPE, None)
            .await
            .unwrap()
    }

    /// An instance launched by hand into the guarded cluster with these
    /// security groups (and nothing else but its cluster tag).
    async fn hand_launched_with(&self, security_groups: &[String]) -> String {
        support::run_one(
            self.by_hand()
                .set_security_group_ids(Some(security_groups.to_vec()))
                .tag_specifications(support::in_cluster()),
        )
        .await
    }

    /// An instance without any cluster tag (`RunInstances`, no tags).
    async fn stray(&self) -> String {
        support::run_one(self.by_hand()).await
    }

    /// A `RunInstances` of a node by hand: the fresh image, the node type,
    /// the first private subnet.
    fn by_hand(&self) -> RunInstancesFluentBuilder {
        self.clients
            .ec2
            .run_instances()
            .image_id(&self.cluster.images.fresh)
            .instance_type(InstanceType::from(NODE_TYPE))
            .subnet_id(&self.cluster.private_subnet_ids[0])
    }

    async fn describe(&self, instance_id: &str) -> Node {
        let instance = self
            .cluster
            .instance(instance_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no instance {instance_id}"));
        Node {
            state: instance
                .state()
                .and_then(|s| s.name())
                .unwrap()
                .as_str()
                .to_owned(),
            security_groups: instance
                .security_groups()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_owned))
                .collect(),
            tags: instance
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                .collect(),
        }
    }

    /// Scales an empty group without the guard's hook to `count` instances
    /// (they go `InService` at once) and returns their ids.
    async fn scale_unhooked(&self, group: &str, count: i32) -> Vec<String> {
        let actions = self.cluster.scale_to(group, count).await.unwrap();
        assert_eq!(actions, [], "a group without hook leaves nothing waiting");
        let state = self.cluster.group_state(group).await.unwrap();
        assert!(
            state.instances.values().all(|s| s == "InService"),
            "{state:?}"
        );
        state.instances.into_keys().collect()
    }
}

/// Delivers `event` to the function and returns its summary.
async fn deliver(function: &Function, event: &Value) -> Value {
    function
        .invoke(event)
        .await
        .expect("instance-audit answers")
}

async fn pending(function: &Function, instance_id: &str) -> Value {
    deliver(
        function,
        &events::state_change(instance_id, "pending").unwrap(),
    )
    .await
}

async fn running(function: &Function, instance_id: &str) -> Value {
    deliver(
        function,
        &events::state_change(instance_id, "running").unwrap(),
    )
    .await
}

/// The checks of a summary's or an alert's `violations`, each once, sorted.
fn checks(violations: &Value) -> Vec<String> {
    violations
        .as_array()
        .unwrap_or_else(|| panic!("no violations list: {violations}"))
        .iter()
        .map(|v| v["check"].as_str().unwrap().to_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// What the audit finds on a hand-launched node (`Cluster::run_node`): no
/// group, no instance profile, IMDSv1 allowed. (No security group either:
/// moto gives an instance launched into a subnet without security groups
/// none, where AWS gives it the VPC's default group.)
const HAND_LAUNCHED_CHECKS: [&str; 3] = [
    "imds.v2",
    "instance_profile.allowed",
    "membership.unmanaged",
];

/// Asserts one alert about the unmanaged `instance_id`, of `kind` and
/// `severity`, for `expected` checks; returns it.
fn assert_instance_alert(
    received: &[Received],
    kind: &str,
    severity: &str,
    instance_id: &str,
    expected: &[&str],
) -> Received {
    assert_eq!(received.len(), 1, "one alert: {received:#?}");
    let alert = received[0].clone();
    assert_eq!(alert.attribute("kind"), Some(kind), "{alert:#?}");
    assert_eq!(alert.attribute("severity"), Some(severity), "{alert:#?}");
    assert_eq!(alert.field("kind"), Some(&json!(kind)));
    assert_eq!(alert.field("severity"), Some(&json!(severity)));
    assert_eq!(alert.field("cluster"), Some(&json!(CLUSTER)));
    assert_eq!(alert.field("instance_id"), Some(&json!(instance_id)));
    assert_eq!(alert.message["details"]["membership"], "unmanaged");
    assert_eq!(checks(&alert.message["violations"]), expected, "{alert:#?}");
    alert
}

// ---------------------------------------------------------------------------
// State change: `pending` and `running`, each action.

#[tokio::test]
async fn a_hand_launched_node_is_isolated_at_pending_once_and_paged() {
    let bed = Bed::new().await;
    let quarantine = bed.quarantine_group().await;
    // Launched with the node group and an "ssh from anywhere" group.
    let groups = [
        bed.cluster.node_security_group_ids[0].clone(),
        bed.cluster.foreign_security_group_id.clone(),
    ];
    let id = bed.hand_launched_with(&groups).await;
    let before = bed.describe(&id).await;
    assert_eq!(before.security_groups, groups);
    let audit = bed
        .audit(&[
            ("GUARD_AUDIT_ACTION", "isolate"),
            ("GUARD_QUARANTINE_SECURITY_GROUP_ID", &quarantine),
        ])
        .await;

    let summary = pending(&audit, &id).await;

    assert_eq!(summary["trigger"], "state_change", "{summary}");
    assert_eq!(summary["outcome"], "remediated", "{summary}");
    assert_eq!(summary["action"], "isolate", "{summary}");
    assert_eq!(summary["instance_id"], json!(id));
    assert_eq!(summary["group"], Value::Null);
    let found = [
        "imds.v2",
        "instance_profile.allowed",
        "membership.unmanaged",
        "security_groups.allowed",
    ];
    assert_eq!(checks(&summary["violations"]), found, "{summary}");

    let after = bed.describe(&id).await;
    assert_eq!(after.state, "running", "isolated, not stopped");
    assert_eq!(after.security_groups, [quarantine.as_str()]);
    assert_eq!(after.tags[CLUSTER_TAG], "owned");
    assert!(
        after.tags[REMEDIATED_TAG].ends_with('Z'),
        "the record the hourly cap counts: {:?}",
        after.tags
    );
    assert!(
        after.tags[QUARANTINED_TAG].ends_with('Z'),
        "when, RFC 3339: {:?}",
        after.tags
    );
    let reasons: BTreeSet<&str> = after.tags[QUARANTINE_REASON_TAG].split(' ').collect();
    assert_eq!(reasons, BTreeSet::from(found), "why: {:?}", after.tags);
    assert_eq!(
        after.tags[PREVIOUS_GROUPS_TAG],
        before.security_groups.join(" "),
        "what to restore"
    );

    let paged = bed.paged().await;
    let alert = assert_instance_alert(&paged, "instance_remediated", "critical", &id, &found);
    assert_eq!(alert.field("decision"), Some(&json!("isolate")));
    assert_eq!(alert.field("mode"), Some(&json!("enforce")));
    assert_eq!(alert.message["details"]["trigger"], "state_change");
    assert_eq!(
        alert.message["details"]["quarantine_security_group"],
        json!(quarantine)
    );
    assert_eq!(
        alert.message["details"]["previous_security_groups"],
        json!(before.security_groups)
    );
    assert_eq!(alert.field("account"), Some(&json!("123456789012")));
    assert_eq!(alert.field("region"), Some(&json!("eu-west-1")));
    let archived = bed.archived().await;
    assert_eq!(archived.len(), 1, "{archived:#?}");
    assert_eq!(archived[0].message, alert.message);

    // The same event again (EventBridge delivers at least once), then the
    // instance's `running`: done already, nothing changes, nothing is sent.
    let again = pending(&audit, &id).await;
    assert_eq!(again["outcome"], "already_remediated", "{again}");
    assert_eq!(again["action"], "isolate", "{again}");
    let later = running(&audit, &id).await;
    assert_eq!(later["outcome"], "already_remediated", "{later}");
    assert_eq!(
        bed.describe(&id).await,
        after,
        "the second delivery changes nothing"
    );
    bed.assert_no_alert("the remediation was alerted once")
        .await;
}

#[tokio::test]
async fn terminate_ends_a_hand_launched_node_at_pending() {
    let bed = Bed::new().await;
    let id = bed.hand_launched().await;
    let audit = bed.audit(&[("GUARD_AUDIT_ACTION", "terminate")]).await;

    let summary = pending(&audit, &id).await;

    assert_eq!(summary["outcome"], "remediated", "{summary}");
    assert_eq!(summary["action"], "terminate", "{summary}");
    let state = bed.describe(&id).await.state;
    assert!(
        matches!(state.as_str(), "shutting-down" | "terminated"),
        "terminated, not {state}"
    );
    let alert = assert_instance_alert(
        &bed.paged().await,
        "instance_remediated",
        "critical",
        &id,
        &HAND_LAUNCHED_CHECKS,
    );
    assert_eq!(alert.field("decision"), Some(&json!("terminate")));
    assert_eq!(bed.archived().await.len(), 1);

    // Its `running` arrives late: nothing to do.
    let later = running(&audit, &id).await;
    assert_eq!(later["outcome"], "ignored", "{later}");
    bed.assert_no_alert("terminated once").await;
}

#[tokio::test]
async fn stop_stops_a_hand_launched_node_when_it_runs() {
    let bed = Bed::new().await;
    let id = bed.hand_launched().await;
    let audit = bed.audit(&[("GUARD_AUDIT_ACTION", "stop")]).await;

    let summary = running(&audit, &id).await;

    assert_eq!(summary["outcome"], "remediated", "{summary}");
    assert_eq!(summary["action"], "stop", "{summary}");
    let state = bed.describe(&id).await.state;
    assert!(
        matches!(state.as_str(), "stopping" | "stopped"),
        "stopped, not {state}"
    );
    let alert = assert_instance_alert(
        &bed.paged().await,
        "instance_remediated",
        "critical",
        &id,
        &HAND_LAUNCHED_CHECKS,
    );
    assert_eq!(alert.field("decision"), Some(&json!("stop")));
    assert!(
        alert
            .field("advice")
            .unwrap()
            .as_str()
            .unwrap()
            .contains("stopped"),
        "{alert:#?}"
    );
    assert_eq!(bed.archived().await.len(), 1);

    let again = running(&audit, &id).await;
    assert_eq!(
        again["outcome"], "ignored",
        "a stopped node is not audited: {again}"
    );
    assert_eq!(bed.describe(&id).await.state, state);
    bed.assert_no_alert("stopped once").await;
}

#[tokio::test]
async fn action_alert_changes_nothing_and_warns_once_the_node_runs() {
    let bed = Bed::new().await;
    let id = bed.hand_launched().await;
    let before = bed.describe(&id).await;
    let audit = bed.audit(&[("GUARD_AUDIT_ACTION", "alert")]).await;

    let early = pending(&audit, &id).await;
    assert_eq!(early["outcome"], "deferred", "reported at running: {early}");
    bed.assert_no_alert("nothing is reported at pending").await;

    let summary = running(&audit, &id).await;

    assert_eq!(summary["outcome"], "reported", "{summary}");
    assert_eq!(summary["action"], Value::Null, "{summary}");
    assert_eq!(bed.describe(&id).await, before, "nothing changed");
    let alert = assert_instance_alert(
        &bed.paged().await,
        "instance_non_compliant",
        "warning",
        &id,
        &HAND_LAUNCHED_CHECKS,
    );
    assert_eq!(alert.field("decision"), Some(&json!("alert")));
    assert!(
        alert
            .field("advice")
            .unwrap()
            .as_str()
            .unwrap()
            .contains("GUARD_AUDIT_ACTION is `alert`"),
        "{alert:#?}"
    );
    assert_eq!(bed.archived().await.len(), 1);
}

#[tokio::test]
async fn audit_mode_never_isolates_and_only_warns() {
    let bed = Bed::new().await;
    let quarantine = bed.quarantine_group().await;
    let id = bed.hand_launched().await;
    let before = bed.describe(&id).await;
    let audit = bed
        .audit(&[
            ("GUARD_MODE", "audit"),
            ("GUARD_AUDIT_ACTION", "isolate"),
            ("GUARD_QUARANTINE_SECURITY_GROUP_ID", &quarantine),
        ])
        .await;

    let early = pending(&audit, &id).await;
    assert_eq!(early["outcome"], "deferred", "{early}");
    assert_eq!(early["mode"], "audit", "{early}");
    let summary = running(&audit, &id).await;

    assert_eq!(summary["outcome"], "reported", "{summary}");
    let after = bed.describe(&id).await;
    assert_eq!(after, before, "nothing changed");
    assert!(!after.tags.contains_key(QUARANTINED_TAG));
    let alert = assert_instance_alert(
        &bed.paged().await,
        "instance_non_compliant",
        "warning",
        &id,
        &HAND_LAUNCHED_CHECKS,
    );
    assert_eq!(alert.field("mode"), Some(&json!("audit")));
    assert!(
        alert
            .field("advice")
            .unwrap()
            .as_str()
            .unwrap()
            .contains("GUARD_MODE=audit"),
        "{alert:#?}"
    );
    assert_eq!(bed.archived().await.len(), 1);
}

#[tokio::test]
async fn instances_of_another_cluster_or_of_none_are_never_touched_nor_alerted() {
    let bed = Bed::new().await;
    let staging = bed
        .cluster
        .run_node(OTHER_CLUSTER, NODE_TYPE, None)
        .await
        .unwrap();
    let stray = bed.stray().await;
    let before = [bed.describe(&staging).await, bed.describe(&stray).await];
    // The most destructive policy: whatever it touched would be gone.
    let audit = bed.audit(&[("GUARD_AUDIT_ACTION", "terminate")]).await;

    for id in [&staging, &stray] {
        for summary in [pending(&audit, id).await, running(&audit, id).await] {
            assert_eq!(summary["outcome"], "ignored", "{summary}");
            assert_eq!(
                summary["reason"],
                json!(format!("instance `{id}` is not a member of cluster `prod`")),
            );
        }
    }

    let after = [bed.describe(&staging).await, bed.describe(&stray).await];
    assert_eq!(after, before, "untouched");
    bed.assert_no_alert("not the cluster's").await;

    // Nor does the sweep count them.
    let swept = deliver(&audit, &events::audit_sweep().unwrap()).await;
    assert_eq!(swept["instances"], 0, "{swept}");
    assert_eq!(bed.paged().await, [], "an empty sweep does not page");
    let archived = bed.archived().await;
    assert_eq!(archived.len(), 1, "{archived:#?}");
    assert_eq!(archived[0].attribute("kind"), Some("sweep_summary"));
    assert_eq!(archived[0].attribute("severity"), Some("info"));
    let after = [bed.describe(&staging).await, bed.describe(&stray).await];
    assert_eq!(after, before, "untouched by the sweep");
}

// ---------------------------------------------------------------------------
// EC2 Instance Launch Successful.

#[tokio::test]
async fn a_launch_by_a_group_without_the_hook_is_reported_and_a_guarded_one_is_vetted() {
    let bed = Bed::new().await;
    let legacy = bed
        .cluster
        .add_node_group(CLUSTER, "legacy", false)
        .await
        .unwrap();
    let unguarded = bed.scale_unhooked(&legacy, 1).await.remove(0);
    let guarded_group = bed.cluster.groups[0].clone();
    let guarded = bed
        .cluster
        .launch_in_service(&guarded_group, 1)
        .await
        .unwrap()
        .remove(0);
    bed.vet(std::slice::from_ref(&guarded)).await;
    let before = [bed.describe(&unguarded).await, bed.describe(&guarded).await];
    let audit = bed.audit(&[]).await;

    // EC2's `pending` comes first: the group's launch is reported later.
    let early = pending(&audit, &unguarded).await;
    assert_eq!(early["outcome"], "deferred", "{early}");
    bed.assert_no_alert("the launch is reported once, by the group's event")
        .await;

    let summary = deliver(
        &audit,
        &events::launch_successful(&unguarded, &legacy).unwrap(),
    )
    .await;

    assert_eq!(summary["trigger"], "launch_successful", "{summary}");
    assert_eq!(summary["outcome"], "reported", "{summary}");
    assert_eq!(summary["group"], json!(legacy));
    assert_eq!(
        checks(&summary["violations"]),
        ["membership.unguarded_group"]
    );
    let archived = bed.archived().await;
    assert_eq!(archived.len(), 1, "{archived:#?}");
    let alert = &archived[0];
    assert_eq!(alert.attribute("kind"), Some("instance_non_compliant"));
    assert_eq!(alert.attribute("severity"), Some("warning"));
    assert_eq!(alert.field("instance_id"), Some(&json!(unguarded)));
    assert_eq!(alert.field("group"), Some(&json!(legacy)));
    assert_eq!(
        checks(&alert.message["violations"]),
        ["membership.unguarded_group"]
    );
    assert!(
        alert
            .field("advice")
            .unwrap()
            .as_str()
            .unwrap()
            .contains("add the hook"),
        "{alert:#?}"
    );
    assert_eq!(bed.paged().await.len(), 1, "a warning also pages");

    // A guarded group's compliant instance that launch-guard recorded.
    for summary in [
        pending(&audit, &guarded).await,
        deliver(
            &audit,
            &events::launch_successful(&guarded, &guarded_group).unwrap(),
        )
        .await,
    ] {
        assert_eq!(summary["outcome"], "vetted", "{summary}");
        assert_eq!(summary["group"], json!(guarded_group), "{summary}");
    }
    bed.assert_no_alert("a vetted instance is left to launch-guard")
        .await;
    let after = [bed.describe(&unguarded).await, bed.describe(&guarded).await];
    assert_eq!(after, before, "action `alert`: nothing changed");
}

// ---------------------------------------------------------------------------
// The scheduled sweep.

#[tokio::test]
async fn the_sweep_sends_one_summary_isolates_the_unvetted_and_publishes_the_metric() {
    let bed = Bed::new().await;
    let quarantine = bed.quarantine_group().await;
    let [general, system] = [bed.cluster.groups[0].clone(), bed.cluster.groups[1].clone()];
    // Two compliant nodes of a guarded group.
    let compliant = bed.cluster.launch_in_service(&general, 2).await.unwrap();
    bed.vet(&compliant).await;
    // A guarded group's node whose image is too old: drift, reported only.
    bed.cluster
        .use_template(&system, &bed.cluster.templates.old_image)
        .await
        .unwrap();
    let drifted = bed
        .cluster
        .launch_in_service(&system, 1)
        .await
        .unwrap()
        .remove(0);
    bed.vet(std::slice::from_ref(&drifted)).await;
    // A node launched by hand, and one of a group without the hook.
    let unmanaged = bed.hand_launched().await;
    let legacy = bed
        .cluster
        .add_node_group(CLUSTER, "legacy", false)
        .await
        .unwrap();
    let unguarded = bed.scale_unhooked(&legacy, 1).await.remove(0);
    // Not the cluster's.
    let staging = bed
        .cluster
        .run_node(OTHER_CLUSTER, NODE_TYPE, None)
        .await
        .unwrap();
    let untouched: Vec<String> = compliant
        .iter()
        .chain([&drifted, &staging])
        .cloned()
        .collect();
    let mut before = BTreeMap::new();
    for id in &untouched {
        before.insert(id.clone(), bed.describe(id).await);
    }
    let audit = bed
        .audit(&[
            ("GUARD_AUDIT_ACTION", "isolate"),
            ("GUARD_QUARANTINE_SECURITY_GROUP_ID", &quarantine),
        ])
        .await;

    let summary = deliver(&audit, &events::audit_sweep().unwrap()).await;

    let mut remediated = vec![
        format!("{unguarded} isolate"),
        format!("{unmanaged} isolate"),
    ];
    remediated.sort();
    let mut counts = json!({
        "image.age": 1,
        "membership.unguarded_group": 1,
    });
    for check in HAND_LAUNCHED_CHECKS {
        counts[check] = json!(1);
    }
    assert_eq!(summary["trigger"], "sweep", "{summary}");
    assert_eq!(summary["instances"], 5, "{summary}");
    assert_eq!(summary["non_compliant"], 3, "{summary}");
    assert_eq!(summary["counts"], counts, "{summary}");
    assert_eq!(summary["already_remediated"], 0, "{summary}");
    assert_eq!(summary["deferred"], 0, "{summary}");
    assert_eq!(summary["failed"], json!([]), "{summary}");

    let archived = bed.archived().await;
    assert_eq!(
        archived.len(),
        1,
        "one summary, no alert per instance: {archived:#?}"
    );
    let alert = &archived[0];
    assert_eq!(alert.attribute("kind"), Some("sweep_summary"));
    assert_eq!(alert.attribute("severity"), Some("warning"));
    assert_eq!(
        alert.field("headline"),
        Some(&json!(
            "sweep: 3 of 5 instances non-compliant, 2 remediated"
        ))
    );
    let details = &alert.message["details"];
    assert_eq!(details["instances"], 5, "{details}");
    assert_eq!(details["non_compliant"], 3, "{details}");
    assert_eq!(details["counts"], counts, "{details}");
    assert_eq!(details["remediated"], json!(remediated), "{details}");
    assert_eq!(details["remediation_failed"], json!([]), "{details}");
    let worst: Vec<&str> = details["worst"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(worst.len(), 3, "{worst:?}");
    assert!(
        worst[0].starts_with(&unmanaged),
        "most findings first: {worst:?}"
    );
    assert!(
        worst.contains(&format!("{drifted} ({system}): image.age").as_str()),
        "{worst:?}"
    );
    assert_eq!(
        bed.paged().await.len(),
        1,
        "the summary pages: non-compliant instances"
    );

    // Unvetted nodes isolated; the drifted node reported, never remediated;
    // the compliant and the other cluster's nodes untouched.
    for id in [&unmanaged, &unguarded] {
        assert_eq!(
            bed.describe(id).await.security_groups,
            [quarantine.as_str()],
            "{id}"
        );
    }
    for id in &untouched {
        assert_eq!(&bed.describe(id).await, &before[id], "{id}");
    }

    // The metric, read back from CloudWatch.
    let listed = bed.clients.listed_metrics(CLUSTER).await.unwrap();
    let names: BTreeSet<&str> = listed
        .metrics()
        .iter()
        .filter_map(Metric::metric_name)
        .collect();
    assert!(names.contains("NonCompliantInstances"), "{names:?}");
    let values = bed
        .clients
        .metric_values(CLUSTER, &["NonCompliantInstances", "RemediatedInstances"])
        .await
        .unwrap();
    assert_eq!(values["NonCompliantInstances"], [3.0], "{values:?}");
    assert_eq!(values["RemediatedInstances"], [2.0], "{values:?}");

    // The next sweep finds them isolated: no second remediation.
    let next = deliver(&audit, &events::audit_sweep().unwrap()).await;
    assert_eq!(next["remediated"], json!([]), "{next}");
    assert_eq!(next["already_remediated"], 2, "{next}");
    assert_eq!(next["non_compliant"], 3, "{next}");
    let archived = bed.archived().await;
    assert_eq!(archived.len(), 1, "{archived:#?}");
    assert_eq!(archived[0].attribute("kind"), Some("sweep_summary"));
}

// ---------------------------------------------------------------------------
// The instance-event queue (issue 20, scenario 3): every stack of the account
// hears every EC2 state change; the queue's batches keep another cluster's
// burst from draining the account's EC2 request budget.

/// An SQS batch of the instance-event queue: the EventBridge events as the
/// rule puts them on it, one a message.
fn queued(events: &[Value]) -> Value {
    let bodies: Vec<String> = events.iter().map(Value::to_string).collect();
    events::sqs_batch(&bodies).unwrap()
}

#[tokio::test]
async fn another_clusters_burst_through_the_queue_costs_one_describe_instances_a_batch() {
    // Given: 50 nodes of staging, launched at once, and prod's instance-audit
    // with the most destructive policy
    let bed = Bed::new().await;
    let staging = bed
        .cluster
        .run_foreign_nodes(OTHER_CLUSTER, 50)
        .await
        .unwrap();
    let audit = bed.audit(&[("GUARD_AUDIT_ACTION", "terminate")]).await;
    let burst: Vec<Value> = ["pending", "running"]
        .iter()
        .flat_map(|state| {
            staging
                .iter()
                .map(|id| events::state_change(id, state).unwrap())
        })
        .collect();
    assert_eq!(burst.len(), 100);

    // When: the queue delivers their 100 state changes as one batch
    bed.clients.control.clear_requests().unwrap();
    let answer = deliver(&audit, &queued(&burst)).await;

    // Then: every message done with one DescribeInstances and nothing else
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
    let journal = bed.clients.control.requests(None).unwrap();
    assert_eq!(
        support::per_operation(&journal),
        BTreeMap::from([("DescribeInstances".to_owned(), 1)]),
        "{journal:#?}"
    );
    bed.assert_no_alert("not the cluster's").await;
}

#[tokio::test]
async fn a_queued_batch_remediates_its_own_node_and_returns_what_it_cannot_read() {
    // Given: 20 nodes of staging, a node launched by hand into prod, and
    // prod's instance-audit terminating
    let bed = Bed::new().await;
    let staging = bed
        .cluster
        .run_foreign_nodes(OTHER_CLUSTER, 20)
        .await
        .unwrap();
    let own = bed.hand_launched().await;
    let audit = bed.audit(&[("GUARD_AUDIT_ACTION", "terminate")]).await;
    let mut changes: Vec<Value> = staging
        .iter()
        .map(|id| events::state_change(id, "pending").unwrap())
        .collect();
    changes.insert(7, events::state_change(&own, "pending").unwrap());
    changes.push(json!({ "hello": "world" }));
    let batch = queued(&changes);

    // When
    bed.clients.control.clear_requests().unwrap();
    let answer = deliver(&audit, &batch).await;
    let journal = support::per_operation(&bed.clients.control.requests(None).unwrap());

    // Then: the message that is no event returns to the queue; prod's node
    // is terminated at pending, staging's are untouched
    assert_eq!(
        answer,
        json!({ "batchItemFailures": [{ "itemIdentifier": events::message_id(21) }] })
    );
    assert_eq!(journal.get("TerminateInstances"), Some(&1), "{journal:?}");
    // The batch's read, and the count of the hour's remediations.
    assert_eq!(journal.get("DescribeInstances"), Some(&2), "{journal:?}");
    let state = bed.describe(&own).await.state;
    assert!(
        matches!(state.as_str(), "shutting-down" | "terminated"),
        "terminated, not {state}"
    );
    assert_instance_alert(
        &bed.paged().await,
        "instance_remediated",
        "critical",
        &own,
        &HAND_LAUNCHED_CHECKS,
    );
    for id in &staging {
        assert_eq!(bed.describe(id).await.state, "running", "{id}");
    }
}
