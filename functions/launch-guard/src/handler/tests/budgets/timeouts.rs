//! Issue 21 §5: a timeout keeps what is known. When the image, subnet or
//! volume reads run out of time, the instance's own violations and a budget
//! denial already computed still decide; the fail mode decides only when
//! nothing known denies. And a launch the fail mode lets in is counted like
//! any other admission. Delays, not errors: paused tokio time.

use std::time::Duration;

use pretty_assertions::assert_eq;
use shared::assess::{Assessment, Context, Launch};
use shared::lifecycle::LifecycleAction;

use super::*;

/// Longer than the whole invocation (30 s).
const TOO_SLOW: Duration = Duration::from_secs(40);

const LATE_IMAGE: &str =
    "the image: `DescribeImages` failed: not established before the invocation's deadline";

#[tokio::test(start_paused = true)]
async fn a_slow_image_read_still_abandons_a_public_node_in_enforce_mode() {
    // Fail mode continue would let the launch in; its public address is a
    // fact of the instance itself, read before the image ran out of time.
    let (policy, aws) = (policy(&[("GUARD_FAIL_MODE", "continue")]), aws());
    let mut instance = compliant_instance(INSTANCE);
    instance.public_ip = Some("203.0.113.7".into());
    aws.add_instance(instance);
    aws.slow_down("DescribeImages", TOO_SLOW);

    let (response, took) = decided_within(&policy, &aws, LAUNCH).await;
    let summary = summary_of(response);

    assert_eq!(results(&aws), vec![LifecycleResult::Abandon]);
    assert!(took < Duration::from_secs(30), "completed after {took:?}");
    assert_eq!(
        checks_of(&summary.violations),
        vec!["subnet.public"],
        "{summary:?}"
    );
    assert_eq!(
        summary.reason.as_deref(),
        Some(LATE_IMAGE),
        "what could not run is said"
    );
    assert_eq!(kinds(&aws), vec![AlertKind::LaunchDenied]);
    assert_eq!(aws.published()[0].details["unknown"], json!(LATE_IMAGE));
}

#[tokio::test(start_paused = true)]
async fn a_slow_image_read_still_denies_and_suspends_for_a_known_budget_denial() {
    let policy = policy(&[("GUARD_MAX_VCPUS", "4"), ("GUARD_FAIL_MODE", "continue")]);
    let aws = cluster(2, 1);
    aws.slow_down("DescribeImages", TOO_SLOW);

    let summary = run(&policy, &aws, &launch_of(0)).await.unwrap();

    assert_eq!(summary.decision, Decision::Abandon, "{summary:?}");
    assert_eq!(
        checks_of(&summary.violations),
        vec!["budget.vcpus"],
        "{summary:?}"
    );
    assert!(
        aws.group_changes()
            .contains(&"SuspendProcesses prod-general".to_owned()),
        "{:?}",
        aws.group_changes()
    );
}

/// Adds `i-new{n}` to prod-general, waiting in `Pending:Wait` with an open
/// action: launched after the snapshot was read.
fn launched_later(aws: &FakeAws, n: usize) {
    let id = format!("i-new{n:04}");
    aws.add_instance(member(&id, "pending"));
    aws.open_action(&format!("token-{id}"));
    aws.update_group(GROUP, |g| {
        g.instances.push(GroupInstance {
            instance_id: id.clone(),
            lifecycle_state: "Pending:Wait".into(),
        });
        g.desired_capacity += 1;
    });
}

/// The instances the budget counts for launch `n`, as the guard's next
/// decision would measure them (its snapshot, its ledger).
async fn counted_for(
    policy: &Policy,
    aws: &FakeAws,
    guard: &LaunchGuard<'_, FakeAws>,
    n: usize,
) -> u64 {
    let event: Value = serde_json::from_str(&launch_of(n)).unwrap();
    let action: LifecycleAction = serde_json::from_value(event["detail"].clone()).unwrap();
    let admitted = guard.admissions.recent();
    let launch = Launch {
        action: &action,
        now: now(),
        until: tokio::time::Instant::now() + Duration::from_secs(10),
        admitted: Some(&admitted),
    };
    let context = Context {
        snapshot: Some(guard.admissions.snapshot()),
        ..Context::default()
    };
    let assessed = shared::assess::assess_with(policy, aws, &guard.guarded, launch, context)
        .await
        .unwrap();
    let Assessment::Decided(decided) = assessed else {
        panic!("launch {n} is the guard's to decide");
    };
    decided.admission.unwrap().usage.instances
}

#[tokio::test(start_paused = true)]
async fn a_launch_let_in_by_the_fail_mode_after_a_slow_read_counts_in_the_snapshot() {
    // Given a snapshot of 5 running nodes and one admitted launch,
    let policy = policy(&[
        ("GUARD_MAX_INSTANCES", "100"),
        ("GUARD_FAIL_MODE", "continue"),
    ]);
    let aws = cluster(5, 1);
    let guard = LaunchGuard::new(&policy, &aws).with_clock(now);
    decide_all(&guard, 0..1).await;
    // when a launch the snapshot does not list is let in by the fail mode
    // (its image read runs out of time),
    launched_later(&aws, 1);
    aws.slow_down("DescribeImages", TOO_SLOW);
    decide_all(&guard, 1..2).await;
    assert_eq!(launched(&aws, LifecycleResult::Continue), 2);
    aws.slow_down("DescribeImages", Duration::ZERO);
    launched_later(&aws, 2);

    // then the next decision counts it: 5 running + 2 admitted.
    assert_eq!(counted_for(&policy, &aws, &guard, 2).await, 7);
}

#[tokio::test(start_paused = true)]
async fn a_launch_let_in_by_the_fail_mode_without_its_instance_still_counts_next() {
    let policy = policy(&[
        ("GUARD_MAX_INSTANCES", "100"),
        ("GUARD_FAIL_MODE", "continue"),
    ]);
    let aws = cluster(5, 1);
    let guard = LaunchGuard::new(&policy, &aws).with_clock(now);
    decide_all(&guard, 0..1).await;
    // EC2 does not answer for the new instance by id: it is let in unread.
    launched_later(&aws, 1);
    aws.hide_instance("i-new0001", 100);
    decide_all(&guard, 1..2).await;
    assert_eq!(launched(&aws, LifecycleResult::Continue), 2);
    launched_later(&aws, 2);

    assert_eq!(counted_for(&policy, &aws, &guard, 2).await, 7);
}
