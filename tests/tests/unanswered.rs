//! Silence is alarmed (issue 21, scenario 9), end to end: a launch held in
//! `Pending:Wait` on the guard's hook (the harness's lifecycle actions on top
//! of moto) that launch-guard never answers, as with a disabled launch rule,
//! is alerted once, critical, by the real `target/debug/budget-guard` on its
//! schedule, and the instance records it. On a group that left the cluster
//! (it lost its cluster tag but still carries the guard's hook, so
//! launch-guard ignores its launches) budget-guard finds the waiting launch
//! in its scan of the region's groups and alerts it once, without tagging it
//! (it may tag only cluster instances).
//!
//! Build the binary first: `cargo build -p budget-guard`.

use std::time::Duration;

use aws_sdk_autoscaling::types::Tag;
use scaling_guard_e2e::alerts::Received;
use scaling_guard_e2e::{HOOK, events};

mod support;

use support::{Bed, CLUSTER_TAG};

/// The shortest heartbeat Auto Scaling accepts: half of it is 15 s.
const HEARTBEAT: i32 = 30;

#[tokio::test]
async fn a_launch_nobody_answers_for_half_the_heartbeat_is_alerted_once_critical() {
    let bed = Bed::new().await;
    let (group, instance) = one_unanswered_launch(&bed).await;

    let guard = bed.budget_guard(&bed.policy(None, None, None)).await;
    let schedule = events::budget_schedule().unwrap();
    // Within half the heartbeat: nothing to say.
    guard.invoke(&schedule).await.unwrap();
    assert!(
        bed.alerts()
            .await
            .iter()
            .all(|a| a.attribute("kind") != Some("hook_unanswered")),
        "not yet"
    );

    // Past half the heartbeat, still unanswered.
    tokio::time::sleep(Duration::from_secs(16)).await;
    guard.invoke(&schedule).await.unwrap();
    let alert = the_critical_alert(&bed, &group, &instance).await;
    assert!(
        alert.message["details"]["unanswered"][0]["waited_seconds"]
            .as_u64()
            .unwrap()
            > 15,
        "{}",
        alert.message
    );
    assert!(
        bed.tag_of(&instance, "scaling-guard:unanswered")
            .await
            .is_some()
    );

    // Once: the next run, and a new execution environment, stay silent.
    guard.invoke(&schedule).await.unwrap();
    drop(guard);
    let replaced = bed.budget_guard(&bed.policy(None, None, None)).await;
    replaced.invoke(&schedule).await.unwrap();
    assert_silent(&bed, "alerted once").await;
}

#[tokio::test]
async fn a_launch_on_a_group_that_left_the_cluster_is_alerted_once_critical() {
    // Given a hooked group whose launch waits, and then loses its cluster tag.
    let bed = Bed::new().await;
    let (group, instance) = one_unanswered_launch(&bed).await;
    bed.clients
        .autoscaling
        .delete_tags()
        .tags(
            Tag::builder()
                .resource_id(&group)
                .resource_type("auto-scaling-group")
                .key(CLUSTER_TAG)
                .build(),
        )
        .send()
        .await
        .unwrap();

    // When a fresh budget-guard runs past half the heartbeat (its first run
    // scans the region's groups).
    tokio::time::sleep(Duration::from_secs(16)).await;
    assert_eq!(
        bed.lifecycle_state(&instance).await.as_deref(),
        Some("Pending:Wait")
    );
    let guard = bed.budget_guard(&bed.policy(None, None, None)).await;
    let schedule = events::budget_schedule().unwrap();
    guard.invoke(&schedule).await.unwrap();

    // Then one critical alert says the group is no longer a member.
    let alert = the_critical_alert(&bed, &group, &instance).await;
    assert_eq!(alert.message["details"]["cluster_member"], false);
    assert!(
        alert.message["advice"]
            .as_str()
            .unwrap()
            .contains("no longer a member"),
        "{}",
        alert.message
    );
    assert!(
        bed.tag_of(&instance, "scaling-guard:unanswered")
            .await
            .is_none()
    );

    // And the next run of the same environment stays silent.
    guard.invoke(&schedule).await.unwrap();
    assert_silent(&bed, "alerted once").await;
}

/// The first cluster group with the guard's hook (the shortest heartbeat)
/// and one launch waiting on it, which nobody answers (no launch-guard runs).
async fn one_unanswered_launch(bed: &Bed) -> (String, String) {
    let group = bed.cluster.groups[0].clone();
    bed.cluster
        .add_launch_hook(&group, HOOK, HEARTBEAT, "ABANDON")
        .await
        .unwrap();
    let desired = bed.group(&group).await.desired_capacity;
    let actions = bed.cluster.scale_to(&group, desired + 1).await.unwrap();
    let [action] = actions.as_slice() else {
        panic!("one launch waits: {actions:?}");
    };
    let instance = action.instance_id.clone();
    assert_eq!(
        bed.lifecycle_state(&instance).await.as_deref(),
        Some("Pending:Wait")
    );
    (group, instance)
}

/// The one `hook_unanswered` alert published since the last look: critical,
/// about `instance` of `group` and the guard's hook.
async fn the_critical_alert(bed: &Bed, group: &str, instance: &str) -> Received {
    let mut unanswered: Vec<_> = bed
        .paged()
        .await
        .into_iter()
        .filter(|a| a.attribute("kind") == Some("hook_unanswered"))
        .collect();
    assert_eq!(unanswered.len(), 1, "{unanswered:?}");
    let alert = unanswered.remove(0);
    assert_eq!(alert.attribute("severity"), Some("critical"));
    assert_eq!(alert.message["instance_id"], instance);
    assert_eq!(alert.message["group"], group);
    assert_eq!(alert.message["details"]["hook"], HOOK);
    alert
}

async fn assert_silent(bed: &Bed, why: &str) {
    assert!(
        bed.paged()
            .await
            .iter()
            .all(|a| a.attribute("kind") != Some("hook_unanswered")),
        "{why}"
    );
}
