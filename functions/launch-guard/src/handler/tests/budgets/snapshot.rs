//! The cluster snapshot (issue 13): a burst of budget decisions reads the
//! cluster once, every admission counts at once, and near a budget the
//! decision is taken on a fresh read.

use std::time::Duration;

use pretty_assertions::assert_eq;
use shared::assess::Snapshot;

use super::*;

#[tokio::test]
async fn a_burst_far_from_the_budget_reads_the_cluster_once_and_each_launch_by_id() {
    let policy = policy(&[("GUARD_MAX_INSTANCES", "100")]);
    let aws = cluster(5, 10);
    let guard = LaunchGuard::new(&policy, &aws).with_clock(now);

    decide_all(&guard, 0..10).await;

    assert_eq!(launched(&aws, LifecycleResult::Continue), 10);
    // One cluster read (instances ∥ groups); then each launch's instance,
    // found in the snapshot, costs nothing: 10 decisions, 2 reads in all.
    assert_eq!(
        (
            aws.calls("DescribeAutoScalingGroups"),
            aws.calls("DescribeInstances")
        ),
        (1, 1)
    );
}

#[tokio::test]
async fn without_a_snapshot_every_budget_decision_reads_the_cluster() {
    let policy = policy(&[("GUARD_MAX_INSTANCES", "100")]);
    let aws = cluster(5, 10);
    let guard = LaunchGuard::new(&policy, &aws)
        .with_clock(now)
        .with_snapshot(Snapshot::new(Duration::ZERO));

    decide_all(&guard, 0..10).await;

    assert_eq!(launched(&aws, LifecycleResult::Continue), 10);
    assert_eq!(
        (
            aws.calls("DescribeAutoScalingGroups"),
            aws.calls("DescribeInstances")
        ),
        (10, 10)
    );
}

#[tokio::test]
async fn admissions_on_the_snapshot_count_at_once_and_near_the_budget_a_fresh_read_decides() {
    // 20 instances allowed, 1 running; 25 launches wait.
    let policy = policy(&[("GUARD_MAX_INSTANCES", "20")]);
    let aws = cluster(1, 25);
    let guard = LaunchGuard::new(&policy, &aws).with_clock(now);
    decide_all(&guard, 0..1).await;

    // Two instances join outside any group after the snapshot was read:
    // within the margin (10% of 20).
    for id in ["i-byhand0001", "i-byhand0002"] {
        aws.add_instance(member(id, "running"));
    }
    decide_all(&guard, 1..25).await;

    // 1 running + 2 by hand + 17 admitted = 20: exactly the budget.
    assert_eq!(launched(&aws, LifecycleResult::Continue), 17);
    assert_eq!(launched(&aws, LifecycleResult::Abandon), 8);
    // The first read, 16 admissions on the snapshot (up to 18 of 20 by its
    // count), then each of the last 8 decisions on a fresh read; the first
    // denial's suspension reads prod-general before its record is written
    // and after (the later ones' fresh reads show it suspended).
    assert_eq!(aws.calls("DescribeAutoScalingGroups"), 9 + 2);
}
