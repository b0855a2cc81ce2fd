//! The read-only callers accept [`ReadOnlyAws`], a bundle with no write
//! trait: that this file compiles is the proof that the assessment, the
//! node facts gatherer, the audit's reads and the measurement cannot change
//! anything. Each also reads the same through it as through the whole
//! bundle, so the proof is about the callers, not about a wrapper that
//! reads something else.

use std::collections::BTreeSet;
use std::time::Duration;

use pretty_assertions::assert_eq;
use tokio::time::Instant;

use crate::assess::{self, Launch};
use crate::audit::gather;
use crate::budget::measure::{self, GuardedGroups};
use crate::fakes::{FakeAws, ReadOnlyAws};
use crate::fixtures::{GROUP, INSTANCE_ID, compliant_instance, every_check_policy, now};
use crate::lifecycle::{LAUNCHING, LifecycleAction};
use crate::node_facts::{gather_cluster_node_facts, gather_node_facts};
use crate::policy::Policy;
use crate::ports::ReadPorts;

/// Every check on and a budget; the fixtures' cluster with its compliant
/// node a member.
fn scene() -> (Policy, FakeAws) {
    let policy = every_check_policy(&[("GUARD_MAX_INSTANCES", "5")]);
    let aws = FakeAws::compliant_cluster();
    aws.add_member(compliant_instance());
    (policy, aws)
}

#[tokio::test]
async fn the_assessment_takes_read_ports_only() {
    let (policy, aws) = scene();
    let action = LifecycleAction {
        token: "token-1".into(),
        group: GROUP.into(),
        hook: policy.hook_name.clone(),
        instance_id: INSTANCE_ID.into(),
        transition: LAUNCHING.into(),
        notification_metadata: None,
        origin: None,
        destination: None,
    };
    let admitted = BTreeSet::new();
    let launch = Launch {
        action: &action,
        now: now(),
        until: Instant::now() + Duration::from_secs(60),
        admitted: Some(&admitted),
    };
    let read_only = assessed(&policy, &ReadOnlyAws(&aws), launch).await;

    assert!(read_only.contains("Decided"), "{read_only}");
    assert_eq!(read_only, assessed(&policy, &aws, launch).await);
}

/// The assessment of `launch` through `aws`, as its debug text.
async fn assessed(policy: &Policy, aws: &impl ReadPorts, launch: Launch<'_>) -> String {
    let guarded = GuardedGroups::new(&policy.hook_name);
    let assessed = assess::assess(policy, aws, &guarded, launch).await;
    format!("{assessed:?}")
}

#[tokio::test]
async fn the_node_facts_gatherer_takes_read_ports_only() {
    let (policy, aws) = scene();
    let (read_only, whole) = (ReadOnlyAws(&aws), &aws);

    let facts = gather_node_facts(
        &policy,
        read_only.instances(),
        read_only.images(),
        compliant_instance(),
        None,
    )
    .await
    .all_read()
    .unwrap();
    let listed = [compliant_instance()];
    let of_many =
        gather_cluster_node_facts(&policy, &listed, read_only.instances(), read_only.images())
            .await
            .of(&listed[0])
            .unwrap();

    let through_whole = gather_node_facts(&policy, whole, whole, compliant_instance(), None)
        .await
        .all_read()
        .unwrap();
    assert_eq!(facts, through_whole);
    assert_eq!(of_many, through_whole);
}

#[tokio::test]
async fn the_audit_s_reads_and_the_measurement_take_read_ports_only() {
    let (policy, aws) = scene();
    let read_only = ReadOnlyAws(&aws);
    let guarded = GuardedGroups::of(&policy);

    let audited: Vec<_> = gather::read_audit(
        &policy,
        read_only.instances(),
        read_only.images(),
        read_only.groups(),
        now(),
    )
    .await
    .unwrap()
    .audits()
    .collect();
    let measured = measure::measure(
        &policy.cluster_tag,
        read_only.instances(),
        read_only.groups(),
        &guarded,
        &BTreeSet::new(),
        None,
    )
    .await
    .unwrap();

    let whole: Vec<_> = gather::read_audit(&policy, &aws, &aws, &aws, now())
        .await
        .unwrap()
        .audits()
        .collect();
    assert_eq!(audited.len(), 1);
    assert_eq!(audited, whole);
    assert_eq!(measured.usage.instances, 1);
}
