//! Karpenter-style launches end to end (issue 23, scenarios 3 and 4): nodes
//! of an `instant` `CreateFleet` with Karpenter's tags, outside any group and
//! any hook. instance-audit (the real binary, enforce mode, `terminate`)
//! hears their state changes and remediates exactly the non-compliant ones;
//! budget-guard counts every one of them in the cluster's usage.
//!
//! Build the binaries first: `cargo build -p instance-audit -p budget-guard`.

use std::collections::BTreeSet;

use scaling_guard_e2e::{NODEPOOL_TAG, events};
use serde_json::json;
use shared::audit::POOL_HELD_TAG;

mod support;

use support::{Bed, NODE_MEMORY_MIB, NODE_VCPUS};

/// The fleet of the scenario: 180 compliant nodes of NodePool `default`,
/// 10 with IMDSv1 and 10 on an unapproved image (their EC2NodeClass's
/// `metadataOptions` and `amiSelectorTerms` gone wrong).
struct Fleet {
    compliant: Vec<String>,
    non_compliant: Vec<String>,
}

impl Fleet {
    async fn launch(bed: &Bed) -> Self {
        let (cluster, templates) = (&bed.cluster, &bed.cluster.templates);
        let compliant = cluster
            .karpenter_fleet("default", &templates.compliant, 180)
            .await
            .unwrap();
        let mut non_compliant = cluster
            .karpenter_fleet("default", &templates.imdsv1, 10)
            .await
            .unwrap();
        non_compliant.extend(
            cluster
                .karpenter_fleet("default", &templates.unapproved_image, 10)
                .await
                .unwrap(),
        );
        assert_eq!((compliant.len(), non_compliant.len()), (180, 20));
        Self {
            compliant,
            non_compliant,
        }
    }

    fn all(&self) -> Vec<String> {
        [&self.compliant[..], &self.non_compliant[..]].concat()
    }
}

/// The `pending` state changes of `ids`, as the audit queue delivers them:
/// SQS batches of 10.
fn pending_batches(ids: &[String]) -> Vec<serde_json::Value> {
    ids.chunks(10)
        .map(|chunk| {
            let bodies: Vec<String> = chunk
                .iter()
                .map(|id| events::state_change(id, "pending").unwrap().to_string())
                .collect();
            events::sqs_batch(&bodies).unwrap()
        })
        .collect()
}

/// The instances the emulator's journal shows a call of `operation` on.
fn touched(bed: &Bed, operation: &str) -> BTreeSet<String> {
    bed.clients
        .control
        .requests(Some(operation))
        .unwrap()
        .into_iter()
        .flat_map(|r| r.targets)
        .filter(|target| target.starts_with("i-"))
        .collect()
}

#[tokio::test]
async fn a_karpenter_fleet_of_200_gets_exactly_its_20_non_compliant_nodes_remediated() {
    // Given: 200 nodes from CreateFleet with Karpenter's tags, 20 of them
    // non-compliant; instance-audit terminating in enforce mode, with
    // Karpenter's NodePool tag an allowed launcher and room for 20 in the
    // hour and in the pool
    let bed = Bed::new().await;
    let fleet = Fleet::launch(&bed).await;
    let audit = bed
        .instance_audit(&bed.policy_with(&[
            ("GUARD_AUDIT_ACTION", "terminate"),
            ("GUARD_ALLOWED_LAUNCHER_TAGS", NODEPOOL_TAG),
            ("GUARD_MAX_REMEDIATIONS_PER_HOUR", "50"),
            ("GUARD_MAX_REMEDIATIONS_PER_POOL", "25"),
        ]))
        .await;
    bed.clients.control.clear_requests().unwrap();

    // When: the state change of every node reaches the audit
    for batch in pending_batches(&fleet.all()) {
        let answer = audit.invoke(&batch).await.unwrap();
        assert_eq!(answer, json!({"batchItemFailures": []}), "{answer}");
    }

    // Then: exactly the 20 are terminated, and no call changed a compliant one
    let bad: BTreeSet<String> = fleet.non_compliant.iter().cloned().collect();
    assert_eq!(touched(&bed, "TerminateInstances"), bad);
    for operation in [
        "CreateTags",
        "StopInstances",
        "ModifyInstanceAttribute",
        "ModifyNetworkInterfaceAttribute",
    ] {
        let changed = touched(&bed, operation);
        assert!(changed.is_subset(&bad), "{operation}: {changed:?}");
    }
    for id in &fleet.compliant {
        let state = bed.cluster.instance_state(id).await.unwrap();
        assert_eq!(state.as_deref(), Some("running"), "{id}");
    }
}

#[tokio::test]
async fn a_nodepool_relaunch_loop_is_held_at_its_limit_across_environments_with_one_alert() {
    // Given: the fleet, and instance-audit terminating with the default
    // NodePool limit (10 an hour) and room in the cluster's cap
    let bed = Bed::new().await;
    let fleet = Fleet::launch(&bed).await;
    let policy = bed.policy_with(&[
        ("GUARD_AUDIT_ACTION", "terminate"),
        ("GUARD_MAX_REMEDIATIONS_PER_HOUR", "50"),
    ]);
    // Two execution environments: only the records on the instances are shared.
    let audits = [
        bed.instance_audit(&policy).await,
        bed.instance_audit(&policy).await,
    ];
    bed.alerts().await;

    // When: the bad nodes' state changes alternate between the environments
    for (n, batch) in pending_batches(&fleet.non_compliant).iter().enumerate() {
        audits[n % 2].invoke(batch).await.unwrap();
    }

    // Then: 10 terminated, 10 held (recorded, running), one critical alert
    // that names the pool and the EC2NodeClass fields to fix
    let terminated = touched(&bed, "TerminateInstances");
    assert_eq!(terminated.len(), 10, "{terminated:?}");
    let mut held = 0;
    for id in &fleet.non_compliant {
        if bed.tag_of(id, POOL_HELD_TAG).await.is_some() {
            held += 1;
            assert!(!terminated.contains(id));
        }
    }
    assert_eq!(held, 10);
    let alerts = bed.alerts().await;
    let looped = support::of_kind(&alerts, "launcher_loop");
    assert_eq!(looped.len(), 1, "{alerts:#?}");
    let alert = looped[0];
    assert_eq!(alert.attribute("severity"), Some("critical"));
    assert_eq!(alert.message["details"]["nodepool"], "default");
    assert!(
        alert
            .subject
            .as_deref()
            .unwrap()
            .contains("NodePool default")
    );
    let advice = alert.message["advice"].as_str().unwrap();
    assert!(advice.contains("EC2NodeClass `default`"), "{advice}");
}

#[tokio::test]
async fn karpenter_nodes_count_in_the_clusters_usage() {
    // Given: the fleet (outside any group, no hook) and budgets it fits in
    let bed = Bed::new().await;
    let fleet = Fleet::launch(&bed).await;
    let guard = bed
        .budget_guard(&bed.policy(Some(1_000), Some(4_000_000), Some(1_000)))
        .await;

    // When
    let summary = guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();

    // Then: the usage is the sum over the fleet's instances
    let mut sum = (0, 0, 0);
    for id in fleet.all() {
        let instance = bed.cluster.instance(&id).await.unwrap().unwrap();
        assert_eq!(instance.instance_type().unwrap().as_str(), "m6i.large");
        assert!(
            instance
                .tags()
                .iter()
                .any(|t| t.key() == Some(NODEPOOL_TAG))
        );
        sum = (sum.0 + NODE_VCPUS, sum.1 + NODE_MEMORY_MIB, sum.2 + 1);
    }
    assert_eq!(
        summary["usage"],
        json!({"vcpus": sum.0, "memory_mib": sum.1, "instances": sum.2}),
        "{summary}"
    );
}
