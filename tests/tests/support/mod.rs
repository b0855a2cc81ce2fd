//! The end-to-end tests' one bed, for every file in `tests/`: an emulator
//! with the seeded cluster and the SDK clients, launch-guard started with it
//! when a file wants one, the functions each test starts with its policy,
//! and the reads and assertions several files make. What only one file asks
//! of the bed stays in that file, in an `impl Bed` of its own.

// Each test file uses part of it.
#![allow(dead_code)]

pub mod custom_resource;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};
use aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder;
use aws_sdk_ec2::types::{ArchitectureValues, ResourceType, Tag, TagSpecification};
use aws_smithy_types::date_time::{DateTime, Format};
use scaling_guard_e2e::alerts::{self, Received};
use scaling_guard_e2e::{
    CLUSTER, Clients, Cluster, Emulator, Function, GroupState, ImageDates, PendingAction,
    RequestRecord, events,
};
use serde_json::Value;

/// The guard's suspension tag (SPEC §7).
pub const SUSPENDED_TAG: &str = "scaling-guard:suspended";
/// The cluster tag of the guarded cluster's nodes.
pub const CLUSTER_TAG: &str = "kubernetes.io/cluster/prod";
/// m6i.large, as `DescribeInstanceTypes` reports it.
pub const NODE_VCPUS: u64 = 2;
pub const NODE_MEMORY_MIB: u64 = 8192;

/// One test's world: the emulator, clients and the seeded cluster, and
/// launch-guard when the bed was made with it ([`Bed::guarded`],
/// [`Bed::with_guard`]). Other functions are started by each test with its
/// policy (and dropped before the bed).
pub struct Bed {
    pub cluster: Cluster,
    pub clients: Clients,
    /// When the test began.
    pub started: SystemTime,
    guard: Option<Function>,
    // Dropped last: the clients and the functions talk to it.
    emulator: Emulator,
}

impl Bed {
    /// The seeded cluster, no function running.
    pub async fn new() -> Self {
        let started = SystemTime::now();
        let emulator = Emulator::start().expect("emulator");
        let clients = Clients::new(&emulator).await;
        let cluster = Cluster::seed(&clients).await.expect("seeded cluster");
        Bed {
            cluster,
            clients,
            started,
            guard: None,
            emulator,
        }
    }

    /// The seeded cluster guarded by launch-guard ([`Bed::guard`]) with the
    /// fixture's policy.
    pub async fn guarded() -> Self {
        Self::with_guard(|_| {}).await
    }

    /// The seeded cluster guarded by launch-guard ([`Bed::guard`]) with the
    /// fixture's policy, changed by `edit`.
    pub async fn with_guard(edit: impl FnOnce(&mut BTreeMap<String, String>)) -> Self {
        let mut bed = Self::new().await;
        let mut policy = bed.cluster.policy_env();
        edit(&mut policy);
        bed.guard = Some(bed.launch_guard(&policy).await);
        bed
    }

    /// The launch-guard the bed was made with.
    pub fn guard(&self) -> &Function {
        self.guard
            .as_ref()
            .expect("a bed made with launch-guard (`Bed::guarded`, `Bed::with_guard`)")
    }

    /// The emulator's endpoint, for a function or the CLI.
    pub fn endpoint(&self) -> String {
        self.emulator.endpoint()
    }

    /// The SDK configuration of the bed's clients, for a client it lacks.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        scaling_guard_e2e::sdk_config(&self.emulator).await
    }

    /// The fixture's policy (enforce mode) with `settings` set.
    pub fn policy_with(&self, settings: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut policy = self.cluster.policy_env();
        for (key, value) in settings {
            policy.insert((*key).to_owned(), (*value).to_owned());
        }
        policy
    }

    /// The fixture's policy with budgets; `None` leaves a dimension unbudgeted.
    pub fn policy(
        &self,
        vcpus: Option<u64>,
        memory_mib: Option<u64>,
        instances: Option<u64>,
    ) -> BTreeMap<String, String> {
        let mut policy = self.cluster.policy_env();
        for (key, value) in [
            ("GUARD_MAX_VCPUS", vcpus),
            ("GUARD_MAX_MEMORY_MIB", memory_mib),
            ("GUARD_MAX_INSTANCES", instances),
        ] {
            policy.insert(
                key.to_owned(),
                value.map(|v| v.to_string()).unwrap_or_default(),
            );
        }
        policy
    }

    /// A fresh launch-guard process: an execution environment with an empty
    /// ledger, as after a deployment, a crash or idle recycling.
    pub async fn launch_guard(&self, policy: &BTreeMap<String, String>) -> Function {
        Function::launch_guard(&self.endpoint(), policy)
            .await
            .expect("launch-guard starts")
    }

    pub async fn budget_guard(&self, policy: &BTreeMap<String, String>) -> Function {
        Function::budget_guard(&self.endpoint(), policy)
            .await
            .expect("budget-guard starts")
    }

    pub async fn instance_audit(&self, policy: &BTreeMap<String, String>) -> Function {
        Function::instance_audit(&self.endpoint(), policy)
            .await
            .expect("instance-audit starts")
    }

    /// What launch-guard writes on a launch it checked and let in (enforce
    /// mode): instances of a guarded group without it are not vetted.
    pub async fn vet(&self, instance_ids: &[String]) {
        self.clients
            .ec2
            .create_tags()
            .set_resources(Some(instance_ids.to_vec()))
            .tags(
                Tag::builder()
                    .key(shared::checks::membership::VETTED_TAG)
                    .value("2026-01-01T00:00:00Z")
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    /// Registers an x86_64 image named `name` (root device `/dev/xvda`),
    /// created `age_days` before `now` (whole seconds, set through the
    /// emulator), and returns its id.
    pub async fn register_dated_image(&self, name: &str, now: SystemTime, age_days: u64) -> String {
        let id = self
            .clients
            .ec2
            .register_image()
            .name(name)
            .description(name)
            .architecture(ArchitectureValues::X8664)
            .root_device_name("/dev/xvda")
            .send()
            .await
            .unwrap()
            .image_id()
            .unwrap()
            .to_owned();
        let created = now
            .checked_sub(Duration::from_secs(age_days * 86_400))
            .unwrap();
        let created = DateTime::from_secs(DateTime::from(created).secs())
            .fmt(Format::DateTime)
            .unwrap();
        self.clients
            .control
            .set_image_dates(
                &id,
                &ImageDates {
                    creation_date: Some(created),
                    deprecation_time: None,
                },
            )
            .unwrap();
        id
    }

    pub async fn group(&self, name: &str) -> GroupState {
        self.cluster.group_state(name).await.unwrap()
    }

    /// The instance's lifecycle state in its group, if it is in one.
    pub async fn lifecycle_state(&self, instance_id: &str) -> Option<String> {
        self.cluster.lifecycle_state(instance_id).await.unwrap()
    }

    /// The value of the tag `key` on the instance, if it carries it.
    pub async fn tag_of(&self, instance_id: &str, key: &str) -> Option<String> {
        self.cluster.instance_tag(instance_id, key).await.unwrap()
    }

    /// The lifecycle action waiting for the instance, if any.
    pub fn pending(&self, instance_id: &str) -> Option<PendingAction> {
        self.clients
            .control
            .lifecycle_action_of(instance_id)
            .unwrap()
    }

    /// Alerts delivered to the queue that filters on severity warning/critical.
    pub async fn paged(&self) -> Vec<Received> {
        alerts::drain(&self.clients.sqs, &self.cluster.paging_queue_url)
            .await
            .unwrap()
    }

    /// Alerts delivered to the unfiltered queue since the last drain.
    pub async fn archived(&self) -> Vec<Received> {
        alerts::drain(&self.clients.sqs, &self.cluster.archive_queue_url)
            .await
            .unwrap()
    }

    /// Every alert delivered since the last call: [`Bed::archived`].
    pub async fn alerts(&self) -> Vec<Received> {
        self.archived().await
    }

    /// Asserts that neither queue received anything since the last drain.
    pub async fn assert_no_alert(&self, why: &str) {
        assert_eq!(self.paged().await, [], "nothing paged: {why}");
        assert_eq!(self.archived().await, [], "nothing archived: {why}");
    }

    /// Creates a metric alarm named `name` on the guard's vCPU metric and
    /// puts it in `state`.
    pub async fn alarm(&self, name: &str, state: StateValue) {
        self.clients
            .cloudwatch
            .put_metric_alarm()
            .alarm_name(name)
            .namespace("ScalingGuard")
            .metric_name("VcpuPercentOfBudget")
            .dimensions(Dimension::builder().name("Cluster").value(CLUSTER).build())
            .statistic(Statistic::Maximum)
            .period(60)
            .evaluation_periods(1)
            .threshold(100.0)
            .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
            .send()
            .await
            .unwrap();
        self.set_alarm(name, state).await;
    }

    pub async fn set_alarm(&self, name: &str, state: StateValue) {
        self.clients
            .cloudwatch
            .set_alarm_state()
            .alarm_name(name)
            .state_value(state)
            .state_reason("set by the end-to-end test")
            .send()
            .await
            .unwrap();
    }

    /// Asserts the guard's suspension: `Launch` and nothing else, with its
    /// record; returns the record.
    pub async fn assert_suspended_by_guard(&self, name: &str) -> Value {
        let group = self.group(name).await;
        assert_eq!(
            group.suspended_processes,
            ["Launch"],
            "only Launch is suspended on {name}"
        );
        let record = group
            .tags
            .get(SUSPENDED_TAG)
            .unwrap_or_else(|| panic!("{name} carries the guard's tag: {:?}", group.tags));
        let record: Value = serde_json::from_str(record).expect("the tag holds json");
        for field in ["reason", "trigger", "time"] {
            assert!(record[field].is_string(), "{field} in {record}");
        }
        record
    }

    pub async fn assert_not_suspended(&self, name: &str) {
        let group = self.group(name).await;
        assert!(
            group.suspended_processes.is_empty(),
            "{name}: {:?}",
            group.suspended_processes
        );
        assert!(
            !group.tags.contains_key(SUSPENDED_TAG),
            "{name} has no suspension tag: {:?}",
            group.tags
        );
    }
}

/// The alerts of one kind.
/// The emulator's journal of requests, counted per operation.
pub fn per_operation(requests: &[RequestRecord]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in requests {
        let operation = request.operation.clone().unwrap_or_default();
        *counts.entry(operation).or_default() += 1;
    }
    counts
}

pub fn of_kind<'a>(alerts: &'a [Received], kind: &str) -> Vec<&'a Received> {
    alerts
        .iter()
        .filter(|a| a.attribute("kind") == Some(kind))
        .collect()
}

/// The `details.<key>` of an alert, sorted.
pub fn alert_list(alert: &Received, key: &str) -> Vec<String> {
    strings(&alert.message["details"][key])
}

/// The `details.groups` of an alert, sorted.
pub fn alert_groups(alert: &Received) -> Vec<String> {
    alert_list(alert, "groups")
}

pub fn sorted(names: &[String]) -> Vec<String> {
    let mut names = names.to_vec();
    names.sort();
    names
}

/// Strings of a JSON array, sorted.
pub fn strings(value: &Value) -> Vec<String> {
    let mut items: Vec<String> = value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    items.sort();
    items
}

/// After a surge that reached the budget: exactly one suspension alert
/// (critical, naming every cluster group, at `usage_instances`) and one
/// denial alert — denials on a suspended group are quiet, however many.
pub async fn assert_surge_alerted_once(bed: &Bed, usage_instances: &str) {
    let received = bed.alerts().await;
    let suspended = of_kind(&received, "scale_out_suspended");
    assert_eq!(suspended.len(), 1, "{received:?}");
    assert_eq!(suspended[0].attribute("severity"), Some("critical"));
    assert_eq!(alert_groups(suspended[0]), sorted(&bed.cluster.groups));
    assert_eq!(
        suspended[0].message["details"]["usage_instances"], usage_instances,
        "{}",
        suspended[0].message
    );
    assert_eq!(
        of_kind(&received, "launch_denied").len(),
        1,
        "denials on a suspended group are quiet: {received:?}"
    );
    assert_eq!(received.len(), 2, "{received:?}");
}

/// After an alarm in ALARM: the run suspended every cluster group, each
/// record naming `alarm`, the other cluster untouched, and one
/// `scale_out_suspended` alert was sent, which is returned.
pub async fn assert_cluster_suspended_by_alarm(
    bed: &Bed,
    summary: &Value,
    alarm: &str,
) -> Received {
    assert_eq!(summary["action"], "suspend", "{summary}");
    assert_eq!(
        strings(&summary["suspended"]),
        sorted(&bed.cluster.groups),
        "{summary}"
    );
    for group in &bed.cluster.groups {
        let record = bed.assert_suspended_by_guard(group).await;
        assert_eq!(record["trigger"], "alarm", "{record}");
        assert_eq!(record["alarms"], serde_json::json!([alarm]), "{record}");
    }
    bed.assert_not_suspended(&bed.cluster.staging_group).await;
    let received = bed.alerts().await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].attribute("kind"), Some("scale_out_suspended"));
    received
        .into_iter()
        .next()
        .unwrap_or_else(|| unreachable!())
}

/// The checks a summary lists, sorted.
pub fn violated(summary: &Value) -> Vec<String> {
    let mut checks: Vec<String> = summary["violations"]
        .as_array()
        .unwrap_or_else(|| panic!("violations in {summary}"))
        .iter()
        .map(|v| v["check"].as_str().unwrap().to_owned())
        .collect();
    checks.sort();
    checks
}

/// Delivers the EventBridge event of `action` to `guard` (launch-guard).
pub async fn decide(guard: &Function, action: &PendingAction) -> Value {
    let event = events::lifecycle_event(action).unwrap();
    guard.invoke(&event).await.expect("launch-guard answers")
}

/// The tag that makes an instance launched by hand a node of the guarded
/// cluster, for `RunInstances`.
pub fn in_cluster() -> TagSpecification {
    TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .tags(Tag::builder().key(CLUSTER_TAG).value("owned").build())
        .build()
}

/// Runs one instance as `run` describes it and returns its id.
pub async fn run_one(run: RunInstancesFluentBuilder) -> String {
    run.min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap()
        .instances()[0]
        .instance_id()
        .unwrap()
        .to_owned()
}
