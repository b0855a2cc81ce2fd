//! Removal finishes, or says so (issue 21, scenario 8): a delete at 500
//! groups under throttling leaves no guard hook, suspension or clamp; the
//! hook is found on every group, tagged or not; what cannot be undone fails
//! the delete with the leftovers, so that the stack shows `DELETE_FAILED`
//! and the operator can retry.

use std::time::Duration;

use pretty_assertions::assert_eq;
use shared::fakes::FakeAws;
use shared::ports::ClusterGroupsRead;
use shared::suspension::SUSPENDED_TAG;

use super::{
    CLUSTER_TAG, DELETE, HOOK, answer, cluster, event, group, hook_names, launch_hook,
    suspended_by_guard,
};
use crate::response::Status;

#[tokio::test(start_paused = true)]
async fn a_delete_at_500_groups_under_throttling_leaves_no_hook_suspension_or_clamp() {
    // Given: 500 cluster groups, hooked, every fifth suspended and clamped;
    // Auto Scaling throttles a third of the reads and a quarter of the changes
    let aws = FakeAws::new();
    for i in 0..500 {
        let name = format!("prod-{i:03}");
        let g = group(&name, CLUSTER_TAG);
        aws.add_group(if i % 5 == 0 { suspended_by_guard(g) } else { g });
        aws.add_hook(&name, launch_hook(HOOK));
    }
    aws.throttle("DescribeAutoScalingGroups", 2);
    aws.throttle("DescribeLifecycleHooks", 3);
    for change in [
        "DeleteLifecycleHook",
        "ResumeProcesses",
        "UpdateAutoScalingGroup",
        "DeleteTags",
    ] {
        aws.throttle(change, 4);
    }

    // When
    let response = answer(&aws, event(DELETE, &[])).await;

    // Then
    assert_eq!(response.data["NotUndone"], "");
    assert_eq!(response.status, Status::Success, "{}", response.reason);
    aws.throttle("DescribeAutoScalingGroups", 0);
    aws.throttle("DescribeLifecycleHooks", 0);
    let groups = aws.all_groups().await.unwrap();
    assert_eq!(groups.len(), 500);
    let hooks_left = {
        let mut n = 0;
        for g in &groups {
            n += hook_names(&aws, &g.name).await.len();
        }
        n
    };
    let suspensions_left = groups
        .iter()
        .filter(|g| !g.suspended_processes.is_empty())
        .count();
    let records_left = groups
        .iter()
        .filter(|g| g.tags.contains_key(SUSPENDED_TAG))
        .count();
    let clamps_left = groups.iter().filter(|g| g.max_size != 20).count();
    assert_eq!(
        (hooks_left, suspensions_left, records_left, clamps_left),
        (0, 0, 0, 0)
    );
}

#[tokio::test]
async fn a_delete_removes_the_hook_from_a_group_that_lost_the_cluster_tag() {
    // Given: someone removed the cluster tag from a hooked group
    let aws = cluster();
    aws.add_group(group("lost-d", "team"));
    aws.add_hook("lost-d", launch_hook(HOOK));

    // When
    let response = answer(&aws, event(DELETE, &[])).await;

    // Then
    assert_eq!(response.status, Status::Success, "{}", response.reason);
    assert!(hook_names(&aws, "lost-d").await.is_empty());
    assert_eq!(response.data["HooksRemoved"], "lost-d, prod-a, prod-b");
}

#[tokio::test(start_paused = true)]
async fn a_delete_that_cannot_undo_everything_fails_with_the_leftovers() {
    // Given: Auto Scaling refuses every hook deletion
    let aws = cluster();
    aws.fail("DeleteLifecycleHook");

    // When
    let response = answer(&aws, event(DELETE, &[])).await;

    // Then: DELETE_FAILED, naming each leftover; the rest is undone
    assert_eq!(response.status, Status::Failed);
    assert_eq!(response.physical_resource_id, "scaling-guard-prod");
    for leftover in [
        "the hook `scaling-guard-prod` of prod-a may remain: `DeleteLifecycleHook` failed: injected failure",
        "the hook `scaling-guard-prod` of prod-b may remain: `DeleteLifecycleHook` failed: injected failure",
    ] {
        assert!(
            response.data["NotUndone"].contains(leftover),
            "{}",
            response.data["NotUndone"]
        );
        assert!(response.reason.contains(leftover), "{}", response.reason);
    }
    assert_eq!(response.data["Resumed"], "prod-a");
    assert_eq!(hook_names(&aws, "prod-a").await, vec![HOOK]);
}

#[tokio::test(start_paused = true)]
async fn a_delete_that_hangs_fails_before_the_function_times_out() {
    // Given: every hook lookup takes ten minutes (a hanging AWS)
    let aws = cluster();
    aws.slow_down("DescribeLifecycleHooks", Duration::from_secs(600));
    let started = tokio::time::Instant::now();

    // When
    let response = answer(&aws, event(DELETE, &[])).await;

    // Then: an answer in time, FAILED, that says it stopped
    assert!(
        started.elapsed() < Duration::from_secs(600),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(response.status, Status::Failed);
    assert!(
        response.data["NotUndone"].contains("stopped at its time limit"),
        "{}",
        response.data["NotUndone"]
    );
}
