//! EC2 managed instances (EKS Auto Mode) end to end (issue 23, scenario 1):
//! with the account's managed-resource visibility `hidden`, `DescribeInstances`
//! leaves an Auto Mode node pool out unless asked with
//! `IncludeManagedResources=true` (the emulator's extension 13). The pool
//! still runs and is still billed, so budget-guard counts all of it, and
//! instance-audit reports its findings at severity info and never stops,
//! terminates or isolates one of its nodes: EKS owns them.
//!
//! Build the binaries first: `cargo build -p budget-guard -p instance-audit`.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{
    InstanceType, LaunchTemplateSpecification, ManagedResourceDefaultVisibility, ResourceType, Tag,
    TagSpecification,
};
use scaling_guard_e2e::{Function, events};
use serde_json::{Value, json};

mod support;

use support::{Bed, CLUSTER_TAG, NODE_MEMORY_MIB, NODE_VCPUS, run_one};

/// The service that runs EKS Auto Mode's nodes.
const EKS: &str = "eks.amazonaws.com";
/// The non-compliant nodes' type, as `DescribeInstanceTypes` reports it.
const XLARGE: &str = "m6i.xlarge";
const XLARGE_VCPUS: u64 = 4;
const XLARGE_MEMORY_MIB: u64 = 16_384;
/// What the audit finds on a node launched with IMDSv1 and no instance
/// profile; never `membership.unmanaged`.
const FOUND: [&str; 2] = ["imds.v2", "instance_profile.allowed"];
/// The EC2 calls a remediation makes (`stop`, `terminate`, `isolate`).
const REMEDIATIONS: [&str; 4] = [
    "StopInstances",
    "TerminateInstances",
    "ModifyInstanceAttribute",
    "ModifyNetworkInterfaceAttribute",
];

/// An Auto Mode node pool of the guarded cluster.
struct AutoModePool {
    /// From the compliant launch template: m6i.large.
    compliant: Vec<String>,
    /// IMDSv1 allowed, no instance profile: m6i.xlarge.
    non_compliant: Vec<String>,
}

impl AutoModePool {
    fn all(&self) -> Vec<String> {
        self.compliant
            .iter()
            .chain(&self.non_compliant)
            .cloned()
            .collect()
    }
}

/// The tags EKS Auto Mode puts on its nodes, with the guarded cluster's tag.
fn auto_mode_tags() -> TagSpecification {
    let tag = |key: &str, value: &str| Tag::builder().key(key).value(value).build();
    TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .tags(tag(CLUSTER_TAG, "owned"))
        .tags(tag("eks:eks-cluster-name", "prod"))
        .tags(tag("karpenter.sh/nodepool", "general-purpose"))
        .build()
}

/// What only these tests ask of the bed.
impl Bed {
    /// Two compliant and two non-compliant Auto Mode nodes, managed by
    /// EKS, with the account's managed-resource visibility `hidden`.
    async fn hidden_auto_mode_pool(&self) -> AutoModePool {
        let ec2 = &self.clients.ec2;
        let subnet = &self.cluster.private_subnet_ids[0];
        let template = LaunchTemplateSpecification::builder()
            .launch_template_name(&self.cluster.templates.compliant)
            .build();
        let mut pool = AutoModePool {
            compliant: Vec::new(),
            non_compliant: Vec::new(),
        };
        // One at a time: moto gives only the first instance of a launch the profile.
        for _ in 0..2 {
            let node = ec2
                .run_instances()
                .launch_template(template.clone())
                .subnet_id(subnet)
                .tag_specifications(auto_mode_tags());
            pool.compliant.push(run_one(node).await);
            let node = ec2
                .run_instances()
                .image_id(&self.cluster.images.fresh)
                .instance_type(InstanceType::from(XLARGE))
                .subnet_id(subnet)
                .set_security_group_ids(Some(self.cluster.node_security_group_ids.clone()))
                .tag_specifications(auto_mode_tags());
            pool.non_compliant.push(run_one(node).await);
        }
        self.clients.control.mark_managed(&pool.all(), EKS).unwrap();
        ec2.modify_managed_resource_visibility()
            .default_visibility(ManagedResourceDefaultVisibility::Hidden)
            .send()
            .await
            .unwrap();
        pool
    }

    /// The cluster's instances as a `DescribeInstances` without
    /// `IncludeManagedResources` lists them, and their states as one with it
    /// describes them (`None`: it does not list the instance).
    async fn listed(&self, include_managed: bool) -> Vec<(String, Option<String>)> {
        let output = self
            .clients
            .ec2
            .describe_instances()
            .include_managed_resources(include_managed)
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag-key")
                    .values(CLUSTER_TAG)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        output
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                let state = i
                    .state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_owned());
                (i.instance_id().unwrap_or_default().to_owned(), state)
            })
            .collect()
    }
}

async fn deliver(function: &Function, event: &Value) -> Value {
    function
        .invoke(event)
        .await
        .expect("instance-audit answers")
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

#[tokio::test]
async fn a_hidden_auto_mode_pool_counts_in_full_in_the_budget_usage() {
    // Given: an Auto Mode pool that a plain DescribeInstances does not list.
    let bed = Bed::new().await;
    let pool = bed.hidden_auto_mode_pool().await;
    assert_eq!(
        bed.listed(false).await,
        [],
        "hidden by the account's setting"
    );
    assert_eq!(bed.listed(true).await.len(), pool.all().len());
    let guard = bed
        .budget_guard(&bed.policy(Some(1_000), Some(10_000_000), Some(1_000)))
        .await;

    // When: budget-guard measures the cluster on its schedule.
    let summary = guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();

    // Then: every node of the pool is in the usage, 100 %.
    let (compliant, non_compliant) = (2, 2);
    let expected = json!({
        "vcpus": compliant * NODE_VCPUS + non_compliant * XLARGE_VCPUS,
        "memory_mib": compliant * NODE_MEMORY_MIB + non_compliant * XLARGE_MEMORY_MIB,
        "instances": compliant + non_compliant,
    });
    assert_eq!(summary["trigger"], "schedule", "{summary}");
    assert_eq!(summary["usage"], expected, "{summary}");
}

#[tokio::test]
async fn instance_audit_reports_a_hidden_auto_mode_pool_at_info_and_remediates_none_of_it() {
    // Given: the pool, and instance-audit in enforce mode with `terminate`,
    // no launcher allowed (so nothing but the managed class keeps the
    // nodes from being `membership.unmanaged`).
    let bed = Bed::new().await;
    let pool = bed.hidden_auto_mode_pool().await;
    let audit = bed
        .instance_audit(&bed.policy_with(&[
            ("GUARD_AUDIT_ACTION", "terminate"),
            ("GUARD_ALLOWED_LAUNCHER_TAGS", ""),
        ]))
        .await;
    bed.clients.control.clear_requests().unwrap();

    // When: each node's state changes arrive, then the sweep runs.
    for id in &pool.compliant {
        for state in ["pending", "running"] {
            let summary = deliver(&audit, &events::state_change(id, state).unwrap()).await;
            assert_eq!(summary["outcome"], "compliant", "{summary}");
        }
    }
    for id in &pool.non_compliant {
        let pending = deliver(&audit, &events::state_change(id, "pending").unwrap()).await;
        assert_eq!(
            pending["outcome"], "deferred",
            "reported once running: {pending}"
        );
        assert_eq!(checks(&pending["violations"]), FOUND, "{pending}");
        let running = deliver(&audit, &events::state_change(id, "running").unwrap()).await;
        assert_eq!(running["outcome"], "reported", "{running}");
        assert_eq!(running["action"], Value::Null, "{running}");
        assert!(
            running["violations"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["blocking"] == false),
            "never blocking: {running}"
        );
    }
    let swept = deliver(&audit, &events::audit_sweep().unwrap()).await;

    // Then: the sweep saw the whole pool, non-compliant nodes included.
    assert_eq!(swept["instances"], 4, "{swept}");
    assert_eq!(swept["non_compliant"], 2, "{swept}");
    assert_eq!(swept["managed_non_compliant"], 2, "{swept}");
    assert_eq!(swept["remediated"], json!([]), "{swept}");
    assert_eq!(swept["failed"], json!([]), "{swept}");
    assert_eq!(swept["deferred"], 0, "{swept}");
    assert_eq!(swept["capped"], 0, "{swept}");

    // Nothing remediated, nothing recorded on a node: no remediating call.
    let requests = bed.clients.control.requests(None).unwrap();
    let remediations: Vec<_> = requests
        .iter()
        .filter(|r| REMEDIATIONS.contains(&r.operation.as_deref().unwrap_or_default()))
        .collect();
    assert_eq!(remediations, Vec::<&_>::new(), "no remediation call");
    let pool_ids = pool.all();
    let tagged: Vec<_> = requests
        .iter()
        .filter(|r| r.operation.as_deref() == Some("CreateTags"))
        .filter(|r| r.targets.iter().any(|t| pool_ids.contains(t)))
        .collect();
    assert_eq!(tagged, Vec::<&_>::new(), "no remediation record on a node");
    let mut states = bed.listed(true).await;
    states.sort();
    let mut running: Vec<(String, Option<String>)> = pool_ids
        .iter()
        .map(|id| (id.clone(), Some("running".to_owned())))
        .collect();
    running.sort();
    assert_eq!(states, running, "every node still runs");

    // Reported at info: nothing pages; one alert per non-compliant node and
    // an information-only sweep summary are archived.
    assert_eq!(bed.paged().await, [], "managed nodes page no one");
    let archived = bed.archived().await;
    let kinds: Vec<(&str, &str)> = archived
        .iter()
        .map(|a| {
            (
                a.attribute("kind").unwrap_or_default(),
                a.attribute("severity").unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("instance_non_compliant", "info"),
            ("instance_non_compliant", "info"),
            ("sweep_summary", "info"),
        ],
        "{archived:#?}"
    );
    for alert in &archived[..2] {
        assert_eq!(checks(&alert.message["violations"]), FOUND, "{alert:#?}");
        assert_eq!(
            alert.message["details"]["membership"],
            format!("managed instance of `{EKS}` (EC2 managed instance)")
        );
        let advice = alert.message["advice"].as_str().unwrap_or_default();
        for says in [
            "EKS Auto Mode",
            "NodeClass",
            "NodePool",
            "never stops, terminates or isolates",
        ] {
            assert!(advice.contains(says), "says `{says}`: {advice}");
        }
    }
}

/// Runs `scaling-guard` against the bed's emulator with the policy in
/// `env` and nothing inherited; returns its exit code and stdout.
fn cli(
    bed: &Bed,
    env: &std::collections::BTreeMap<String, String>,
    args: &[&str],
) -> (i32, String) {
    let output = scaling_guard_e2e::operator_cli(Some(bed.endpoint().as_str()))
        .unwrap()
        .envs(env)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the cli runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    (
        output
            .status
            .code()
            .unwrap_or_else(|| panic!("killed: {stderr}")),
        stdout,
    )
}

#[tokio::test]
async fn the_cli_audit_lists_a_hidden_auto_mode_pool_as_managed_and_counts_it() {
    let bed = Bed::new().await;
    let pool = bed.hidden_auto_mode_pool().await;
    let policy = bed.policy_with(&[
        ("GUARD_MAX_VCPUS", "64"),
        ("GUARD_MAX_INSTANCES", "10"),
        ("GUARD_AUDIT_ACTION", "terminate"),
        ("GUARD_ALLOWED_LAUNCHER_TAGS", ""),
    ]);

    let (code, stdout) = cli(&bed, &policy, &["audit", "--json"]);

    assert_eq!(code, 1, "findings: {stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let rows = report["instances"].as_array().unwrap();
    let listed: BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r["instance_id"].as_str())
        .collect();
    let pool_ids = pool.all();
    assert_eq!(
        listed,
        pool_ids.iter().map(String::as_str).collect(),
        "{report}"
    );
    for row in rows {
        assert_eq!(row["membership"], "managed", "{row}");
    }
    for id in &pool.non_compliant {
        let row = rows
            .iter()
            .find(|r| r["instance_id"] == id.as_str())
            .unwrap();
        assert_eq!(checks(&row["violations"]), FOUND, "{row}");
        assert!(
            row["violations"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["blocking"] == false),
            "{row}"
        );
    }
    let used = |name: &str| {
        report["budget"]["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .map(|d| d["used"].clone())
    };
    assert_eq!(
        used("vcpus"),
        Some(json!(2 * NODE_VCPUS + 2 * XLARGE_VCPUS)),
        "{report}"
    );
    assert_eq!(used("instances"), Some(json!(4)), "{report}");
    assert_eq!(
        bed.listed(true).await.len(),
        4,
        "read-only: every node still there"
    );
}
