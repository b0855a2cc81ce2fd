//! EKS managed node groups (issue 23, scenario 5): a new node group's first
//! instances launch before budget-guard's enrollment puts the guard's hook
//! on it. Nothing vetted them, and nothing ever will: once the hook is on,
//! the state-change path and the sweep must still audit every one of them as
//! unvetted (remediated per the policy), not leave them "undecided" for
//! launch-guard, which never sees their launch. A launch the hook does hold
//! stays launch-guard's.
//!
//! Build the binaries first: `cargo build -p instance-audit -p budget-guard`.

use scaling_guard_e2e::{CLUSTER, Function, events};
use serde_json::{Value, json};

mod support;

use support::Bed;

/// The node group EKS would create: `<cluster>-fresh`, tagged as EKS tags a
/// managed node group's Auto Scaling group (`eks:cluster-name`,
/// `eks:nodegroup-name`, the cluster tag), without the guard's hook.
async fn new_managed_node_group(bed: &Bed) -> String {
    let group = bed
        .cluster
        .add_node_group(CLUSTER, "fresh", false)
        .await
        .unwrap();
    let tags = bed.group(&group).await.tags;
    for key in [
        "eks:cluster-name",
        "eks:nodegroup-name",
        "kubernetes.io/cluster/prod",
    ] {
        assert!(tags.contains_key(key), "{key} on {group}: {tags:?}");
    }
    assert_eq!(bed.cluster.lifecycle_hooks(&group).await.unwrap(), []);
    group
}

/// Scales the group out by `count` while it has no hook: they go
/// `InService` at once. Returns their ids.
async fn launch_before_the_hook(bed: &Bed, group: &str, count: i32) -> Vec<String> {
    let desired = bed.group(group).await.desired_capacity;
    let before = bed.group(group).await.instances;
    let waiting = bed.cluster.scale_to(group, desired + count).await.unwrap();
    assert_eq!(waiting, [], "no hook yet: nothing waits");
    let after = bed.group(group).await.instances;
    let launched: Vec<String> = after
        .iter()
        .filter(|(id, _)| !before.contains_key(*id))
        .map(|(id, state)| {
            assert_eq!(state, "InService", "{id}");
            id.clone()
        })
        .collect();
    assert_eq!(launched.len(), usize::try_from(count).unwrap());
    launched
}

async fn deliver(function: &Function, event: &Value) -> Value {
    function.invoke(event).await.expect("the function answers")
}

async fn state_change(audit: &Function, instance_id: &str, state: &str) -> Value {
    deliver(audit, &events::state_change(instance_id, state).unwrap()).await
}

async fn ec2_state(bed: &Bed, instance_id: &str) -> String {
    bed.cluster
        .instance_state(instance_id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no instance {instance_id}"))
}

#[tokio::test]
async fn a_new_node_groups_instances_launched_before_enrollment_are_all_caught_as_unvetted() {
    // Given a new managed node group whose first instances launch before the
    // guard's hook is on it: four on an image past the age limit, two
    // compliant.
    let bed = Bed::new().await;
    let group = new_managed_node_group(&bed).await;
    let templates = &bed.cluster.templates;
    bed.cluster
        .use_template(&group, &templates.old_image)
        .await
        .unwrap();
    let old = launch_before_the_hook(&bed, &group, 4).await;
    bed.cluster
        .use_template(&group, &templates.compliant)
        .await
        .unwrap();
    let compliant = launch_before_the_hook(&bed, &group, 2).await;

    // When budget-guard's schedule enrolls the group (the hook goes on) ...
    let budget = bed.budget_guard(&bed.policy_with(&[])).await;
    let run = deliver(&budget, &events::budget_schedule().unwrap()).await;
    assert_eq!(run["enrolled"], json!([group]), "{run}");
    assert_eq!(bed.cluster.lifecycle_hooks(&group).await.unwrap().len(), 1);
    // ... and a launch after it waits for launch-guard (on the old image:
    // launch-guard's to deny, not the audit's to remediate).
    bed.cluster
        .use_template(&group, &templates.old_image)
        .await
        .unwrap();
    let desired = bed.group(&group).await.desired_capacity;
    let held = bed.cluster.scale_to(&group, desired + 1).await.unwrap();
    assert_eq!(held.len(), 1, "the hook holds the next launch: {held:?}");
    let held = held[0].instance_id.clone();
    bed.archived().await;

    // Then the state-change events that arrive now audit the pre-hook
    // instances as unvetted: remediated or compliant, never deferred.
    let audit = bed
        .instance_audit(&bed.policy_with(&[("GUARD_AUDIT_ACTION", "terminate")]))
        .await;
    for id in &old[..2] {
        let summary = state_change(&audit, id, "running").await;
        assert_eq!(summary["outcome"], "remediated", "{summary}");
        assert_eq!(summary["action"], "terminate", "{summary}");
        assert_eq!(summary["group"], json!(group), "{summary}");
    }
    let summary = state_change(&audit, &compliant[0], "pending").await;
    assert_eq!(summary["outcome"], "compliant", "{summary}");
    // The held launch is launch-guard's: left to it.
    let summary = state_change(&audit, &held, "pending").await;
    assert_eq!(summary["outcome"], "deferred", "{summary}");

    // And the sweep catches the rest: every pre-hook instance on the old
    // image is remediated (two now, two by the events), none deferred; the
    // held launch is not touched.
    let sweep = deliver(&audit, &events::audit_sweep().unwrap()).await;
    let remediated: Vec<&str> = sweep["remediated"]
        .as_array()
        .unwrap_or_else(|| panic!("{sweep}"))
        .iter()
        .map(|r| r["instance_id"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = old[2..].iter().map(String::as_str).collect();
    expected.sort_unstable();
    let mut remediated = remediated;
    remediated.sort_unstable();
    assert_eq!(remediated, expected, "{sweep}");
    assert_eq!(sweep["failed"], json!([]), "{sweep}");
    // What the group launched to replace the terminated ones waits on the
    // hook now: launch-guard's, like the held launch, never the sweep's.
    let waiting: Vec<String> = bed
        .group(&group)
        .await
        .instances
        .into_iter()
        .filter(|(_, state)| state == "Pending:Wait")
        .map(|(id, _)| id)
        .collect();
    for id in &waiting {
        assert!(!remediated.contains(&id.as_str()), "{id} waits: {sweep}");
    }
    for id in &old {
        let state = ec2_state(&bed, id).await;
        assert!(
            ["shutting-down", "terminated"].contains(&state.as_str()),
            "{id} is {state}: 100 % of the pre-hook non-compliant instances are caught"
        );
    }
    for id in compliant.iter().chain([&held]) {
        let state = ec2_state(&bed, id).await;
        assert!(
            ["pending", "running"].contains(&state.as_str()),
            "{id} is {state}"
        );
    }
    assert!(
        bed.pending(&held).is_some(),
        "the held launch still waits for launch-guard"
    );
}
