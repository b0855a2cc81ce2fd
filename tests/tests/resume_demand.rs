//! The resume's demand for a group whose launch template changed since its
//! last instance (issue 21 §4), end to end: the real
//! `target/debug/budget-guard` against the emulator, which launches nothing
//! while `Launch` is suspended and fills the group at once when it resumes.
//! 30 schedule ticks after a surge, the surge's other load draining: one
//! suspend/resume cycle, no resume → own launches → re-suspend.
//!
//! The weighted shape is not run here: moto 5.2.5 reports neither an
//! instance's `WeightedCapacity` nor a group's `DesiredCapacityType` (it uses
//! the first override's weight only to count what it launches); the handler
//! tests (`budget-guard`'s `handler/tests/resume_demand.rs`) run it.
//!
//! Build the binary first: `cargo build -p budget-guard`.

use aws_sdk_ec2::types::Filter;
use scaling_guard_e2e::{CLUSTER, events};
use serde_json::Value;

mod support;

use support::{Bed, CLUSTER_TAG};

const TICKS: usize = 30;
/// 400 vCPUs: the surge's 200 m6i.large nodes and the group's 2 take it to 404.
const VCPUS: u64 = 400;
const SURGE_NODES: usize = 200;
/// The surge drains by this many nodes (16 vCPUs) a minute.
const DRAIN_PER_TICK: usize = 8;

/// The cluster's running nodes outside any group, by id.
async fn surge_nodes(bed: &Bed) -> Vec<String> {
    let pages = bed
        .clients
        .ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name("tag-key")
                .values(CLUSTER_TAG)
                .build(),
        )
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("running")
                .build(),
        )
        .send()
        .await
        .unwrap();
    pages
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter(|i| {
            !i.tags()
                .iter()
                .any(|t| t.key() == Some("aws:autoscaling:groupName"))
        })
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_group_whose_template_changed_resumes_once_priced_with_what_it_launches_now() {
    // Given an unhooked group running 2 m6i.large nodes, whose template now
    // launches p5.48xlarge (192 vCPUs),
    let bed = Bed::new().await;
    let group = bed
        .cluster
        .add_node_group(CLUSTER, "shape", false)
        .await
        .unwrap();
    bed.cluster.set_desired(&group, 2).await.unwrap();
    bed.cluster
        .use_template(&group, &bed.cluster.templates.denied_type)
        .await
        .unwrap();
    // a surge of 200 more nodes, and a guard that leaves hooks alone,
    bed.cluster.run_nodes(SURGE_NODES).await.unwrap();
    let mut policy = bed.policy(Some(VCPUS), None, None);
    policy.insert("GUARD_ENROLL_GROUPS".to_owned(), "false".to_owned());
    let guard = bed.budget_guard(&policy).await;
    let schedule = events::budget_schedule().unwrap();

    // when the schedule runs 30 times, the group wanting one more node while
    // suspended and the surge draining,
    let mut launch_suspended = Vec::new();
    let mut answers: Vec<Value> = Vec::new();
    for tick in 0..TICKS {
        let answer = guard.invoke(&schedule).await.unwrap();
        answers.push(answer);
        if tick == 0 {
            bed.cluster.set_desired(&group, 3).await.unwrap();
        }
        let state = bed.cluster.group_state(&group).await.unwrap();
        launch_suspended.push(state.suspended_processes.contains(&"Launch".to_owned()));
        let drained: Vec<String> = surge_nodes(&bed)
            .await
            .into_iter()
            .take(DRAIN_PER_TICK)
            .collect();
        if !drained.is_empty() {
            bed.clients
                .ec2
                .terminate_instances()
                .set_instance_ids(Some(drained))
                .send()
                .await
                .unwrap();
        }
    }

    // then it was suspended once and resumed once, after which its own
    // launch did not take the cluster back over the budget.
    assert!(launch_suspended[0], "the surge suspends it: {}", answers[0]);
    let changes = launch_suspended.windows(2).filter(|w| w[0] != w[1]).count();
    let trace: Vec<String> = answers
        .iter()
        .map(|a| format!("{} held={}", a["usage"]["vcpus"], a["held"]))
        .collect();
    assert_eq!(changes, 1, "one resume, never re-suspended: {trace:#?}");
    assert!(!launch_suspended[TICKS - 1], "{trace:#?}");
    let state = bed.cluster.group_state(&group).await.unwrap();
    assert_eq!(state.instances.len(), 3, "{state:?}");
}
