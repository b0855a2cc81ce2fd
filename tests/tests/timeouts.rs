//! A timeout keeps what is known (issue 21 §5), end to end: the real
//! `target/debug/launch-guard` against the emulator, whose `DescribeImages`
//! is slowed past the invocation's deadline (`scripts/emulator/faults.py`).
//! The instance's own facts, read in time, still decide.
//!
//! Build the binary first: `cargo build -p launch-guard`.

use std::time::Duration;

use scaling_guard_e2e::{FaultRule, events};

mod support;

use support::{Bed, violated};

/// The invocation's deadline: facts are gathered until 14 s before it (the
/// function's reserve), so 4 s; the SDK would give up on a slow call only
/// after 5 s, so the deadline, not an SDK error, ends the image read.
const DEADLINE: Duration = Duration::from_secs(18);
/// Far past the time the facts get.
const SLOW_MS: u64 = 10_000;

#[tokio::test]
async fn a_slow_describe_images_still_abandons_a_node_in_a_public_subnet() {
    // Given a guard whose fail mode would let an unchecked launch in,
    let bed = Bed::with_guard(|policy| {
        policy.insert("GUARD_FAIL_MODE".to_owned(), "continue".to_owned());
    })
    .await;
    let group = bed.cluster.groups[0].clone();
    let public = [bed.cluster.public_subnet_id.clone()];
    bed.cluster.use_subnets(&group, &public).await.unwrap();
    let action = bed
        .cluster
        .launch_with(&group, &bed.cluster.templates.compliant)
        .await
        .unwrap();
    // and an image read that outlasts the facts' time,
    bed.clients
        .control
        .set_faults(
            &[FaultRule::latency("DescribeImages", SLOW_MS, SLOW_MS).service("ec2")],
            1,
        )
        .unwrap();

    // when the launch is decided,
    let event = events::lifecycle_event(&action).unwrap();
    let summary = bed
        .guard()
        .invoke_with_deadline(&event, DEADLINE)
        .await
        .expect("launch-guard answers");
    let faults = bed.clients.control.clear_faults().unwrap();

    // then its public subnet and address, known, abandon it, and the
    // answer says what could not be read.
    assert!(faults.rules[0].injected > 0, "the image read was slowed");
    assert_eq!(summary["decision"], "ABANDON", "{summary}");
    assert!(
        violated(&summary).contains(&"subnet.public".to_owned()),
        "{summary}"
    );
    let reason = summary["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("the image") && reason.contains("deadline"),
        "{summary}"
    );
    assert_eq!(bed.pending(&action.instance_id), None, "completed in time");
}

#[tokio::test]
async fn a_slow_describe_images_still_denies_a_launch_over_budget_and_suspends() {
    // Given one node already in the cluster, a budget of one, and a fail
    // mode that would let an unchecked launch in,
    let bed = Bed::with_guard(|policy| {
        policy.insert("GUARD_FAIL_MODE".to_owned(), "continue".to_owned());
        policy.insert("GUARD_MAX_INSTANCES".to_owned(), "1".to_owned());
    })
    .await;
    bed.cluster.run_nodes(1).await.unwrap();
    let group = bed.cluster.groups[0].clone();
    let action = bed
        .cluster
        .launch_with(&group, &bed.cluster.templates.compliant)
        .await
        .unwrap();
    bed.clients
        .control
        .set_faults(
            &[FaultRule::latency("DescribeImages", SLOW_MS, SLOW_MS).service("ec2")],
            1,
        )
        .unwrap();

    // when the launch is decided while its image read outlasts the facts' time,
    let event = events::lifecycle_event(&action).unwrap();
    let summary = bed
        .guard()
        .invoke_with_deadline(&event, DEADLINE)
        .await
        .expect("launch-guard answers");
    bed.clients.control.clear_faults().unwrap();

    // then the budget denial, known, abandons it and suspends scale-out.
    assert_eq!(summary["decision"], "ABANDON", "{summary}");
    assert_eq!(violated(&summary), ["budget.instances"], "{summary}");
    assert!(
        summary["reason"]
            .as_str()
            .is_some_and(|r| r.contains("the image")),
        "{summary}"
    );
    assert_eq!(
        bed.group(&group).await.suspended_processes,
        ["Launch"],
        "the denial suspends the launch's group"
    );
}
