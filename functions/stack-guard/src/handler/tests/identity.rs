//! An update that changes the guard's identity — `HookName`, `ClusterName`,
//! `ClusterTagKey`, `ClusterTagValue` — cleans up the old identity while the
//! old permissions still allow it (issue 21, scenario 7): the old hooks go
//! from every group the new identity does not guard, the old suspensions and
//! clamps are lifted there, and a cleanup that cannot finish fails the
//! update, so that CloudFormation rolls it back.

use pretty_assertions::assert_eq;
use serde_json::json;
use shared::fakes::FakeAws;
use shared::suspension::SUSPENDED_TAG;

use super::rename::update;
use super::{CLUSTER_TAG, HOOK, answer, group, hook_names, launch_hook, suspended_by_guard};
use crate::response::Status;

const EKS_KEY: &str = "eks:cluster-name";

/// A group tagged `key` = `value`.
fn tagged(name: &str, key: &str, value: &str) -> shared::facts::GroupFacts {
    let mut g = group(name, key);
    g.tags.insert(key.to_owned(), value.to_owned());
    g
}

/// Whether the guard left nothing on `group`: no suspension, no record, the
/// MaxSize its clamp took restored.
fn released(aws: &FakeAws, group: &str) -> bool {
    let g = aws.group_facts(group).unwrap();
    g.suspended_processes.is_empty() && !g.tags.contains_key(SUSPENDED_TAG) && g.max_size == 20
}

/// Whether `group` still carries the guard's suspension and clamp.
fn still_suspended(aws: &FakeAws, group: &str) -> bool {
    let g = aws.group_facts(group).unwrap();
    g.suspended_processes == vec!["Launch"] && g.tags.contains_key(SUSPENDED_TAG) && g.max_size == 4
}

#[tokio::test]
async fn a_new_hook_name_moves_the_hook_and_removes_the_old_one_from_groups_that_left_the_cluster()
{
    // Given: the old hook on a cluster group, and on a group whose cluster
    // tag was removed
    let aws = FakeAws::new();
    aws.add_group(suspended_by_guard(group("prod-a", CLUSTER_TAG)));
    aws.add_hook("prod-a", launch_hook("scaling-guard-blue"));
    aws.add_group(group("lost-b", "team"));
    aws.add_hook("lost-b", launch_hook("scaling-guard-blue"));

    // When
    let response = answer(
        &aws,
        update(&[("GUARD_HOOK_NAME", json!("scaling-guard-blue"))], &[]),
    )
    .await;

    // Then: the cluster's group keeps the guard (new hook, same suspension)
    assert_eq!(response.status, Status::Success, "{}", response.reason);
    assert_eq!(hook_names(&aws, "prod-a").await, vec![HOOK]);
    assert!(still_suspended(&aws, "prod-a"));
    // and nothing answers the old hook anywhere
    assert!(hook_names(&aws, "lost-b").await.is_empty());
}

#[tokio::test]
async fn a_new_cluster_name_releases_the_old_clusters_groups() {
    // Given: the guard of `prod-old` hooked, suspended and clamped its group
    let aws = FakeAws::new();
    aws.add_group(suspended_by_guard(group(
        "old-a",
        "kubernetes.io/cluster/prod-old",
    )));
    aws.add_hook("old-a", launch_hook("scaling-guard-prod-old"));
    aws.add_group(group("prod-a", CLUSTER_TAG));

    // When: the stack now guards `prod`
    let response = answer(&aws, update(&[("GUARD_CLUSTER", json!("prod-old"))], &[])).await;

    // Then
    assert_eq!(response.status, Status::Success, "{}", response.reason);
    assert!(hook_names(&aws, "old-a").await.is_empty());
    assert!(released(&aws, "old-a"));
    assert!(
        aws.group_changes().iter().all(|c| !c.ends_with("prod-a")),
        "{:?}",
        aws.group_changes()
    );
}

#[tokio::test]
async fn a_new_cluster_tag_key_releases_the_groups_only_the_old_key_marked() {
    // Given: the old guard knew its groups by `eks:cluster-name` = `prod`;
    // both-a carries the new default key too, eks-b does not
    let aws = FakeAws::new();
    let mut both = suspended_by_guard(tagged("both-a", EKS_KEY, "prod"));
    both.tags.insert(CLUSTER_TAG.to_owned(), "owned".to_owned());
    aws.add_group(both);
    aws.add_hook("both-a", launch_hook(HOOK));
    aws.add_group(suspended_by_guard(tagged("eks-b", EKS_KEY, "prod")));
    aws.add_hook("eks-b", launch_hook(HOOK));

    // When: the new guard knows them by `kubernetes.io/cluster/prod`
    let old = [
        ("GUARD_CLUSTER_TAG_KEY", json!(EKS_KEY)),
        ("GUARD_CLUSTER_TAG_VALUE", json!("prod")),
    ];
    let response = answer(&aws, update(&old, &[])).await;

    // Then: the group still guarded keeps hook and suspension, the other is released
    assert_eq!(response.status, Status::Success, "{}", response.reason);
    assert_eq!(hook_names(&aws, "both-a").await, vec![HOOK]);
    assert!(still_suspended(&aws, "both-a"));
    assert!(hook_names(&aws, "eks-b").await.is_empty());
    assert!(released(&aws, "eks-b"));
}

#[tokio::test]
async fn a_new_cluster_tag_value_releases_the_old_values_groups() {
    // Given: blue and green node groups of cluster prod, `eks:cluster-name`
    // naming the value the guard follows
    let aws = FakeAws::new();
    aws.add_group(suspended_by_guard(tagged("blue-a", EKS_KEY, "prod-blue")));
    aws.add_hook("blue-a", launch_hook(HOOK));
    aws.add_group(suspended_by_guard(tagged("green-a", EKS_KEY, "prod-green")));
    aws.add_hook("green-a", launch_hook(HOOK));
    let tag = |value: &str| {
        vec![
            ("GUARD_CLUSTER_TAG_KEY", json!(EKS_KEY)),
            ("GUARD_CLUSTER_TAG_VALUE", json!(value)),
        ]
    };

    // When: the guard moves from blue to green
    let response = answer(&aws, update(&tag("prod-blue"), &tag("prod-green"))).await;

    // Then
    assert_eq!(response.status, Status::Success, "{}", response.reason);
    assert!(hook_names(&aws, "blue-a").await.is_empty());
    assert!(released(&aws, "blue-a"));
    assert_eq!(hook_names(&aws, "green-a").await, vec![HOOK]);
    assert!(still_suspended(&aws, "green-a"));
}

#[tokio::test(start_paused = true)]
async fn an_identity_cleanup_that_cannot_finish_fails_the_update_with_what_is_left() {
    // Given: Auto Scaling refuses every resume
    let aws = FakeAws::new();
    aws.add_group(suspended_by_guard(group(
        "old-a",
        "kubernetes.io/cluster/prod-old",
    )));
    aws.add_hook("old-a", launch_hook("scaling-guard-prod-old"));
    aws.fail("ResumeProcesses");

    // When
    let response = answer(&aws, update(&[("GUARD_CLUSTER", json!("prod-old"))], &[])).await;

    // Then: FAILED (CloudFormation rolls the update back), the resource's id kept
    assert_eq!(response.status, Status::Failed);
    assert_eq!(response.physical_resource_id, "scaling-guard-prod");
    assert!(
        response
            .reason
            .contains("the suspension of old-a may remain (tag `scaling-guard:suspended`): `ResumeProcesses` failed: injected failure"),
        "{}",
        response.reason
    );
    assert!(!released(&aws, "old-a"));
}

#[tokio::test]
async fn an_update_that_keeps_the_identity_reads_no_group() {
    let aws = FakeAws::new();
    aws.add_group(suspended_by_guard(group("prod-a", CLUSTER_TAG)));

    let response = answer(&aws, update(&[], &[("GUARD_MAX_VCPUS", json!("512"))])).await;

    assert_eq!(response.status, Status::Success);
    assert_eq!(aws.calls("DescribeAutoScalingGroups"), 0);
    assert!(aws.mutations().is_empty());
}

#[tokio::test]
async fn a_new_cluster_name_keeps_the_resource_id_so_that_no_cleanup_delete_undoes_the_new_guard() {
    // Given the resource of the guard of `prod-old`, whose cluster tag both
    // identities share (a pinned tag key: the groups stay guarded)
    let aws = FakeAws::new();
    aws.add_group(suspended_by_guard(group("prod-a", CLUSTER_TAG)));
    aws.add_hook("prod-a", launch_hook(HOOK));
    let mut input = update(
        &[
            ("GUARD_CLUSTER", json!("prod-old")),
            ("GUARD_CLUSTER_TAG_KEY", json!(CLUSTER_TAG)),
        ],
        &[("GUARD_CLUSTER_TAG_KEY", json!(CLUSTER_TAG))],
    );
    if let crate::event::Input::Request(request) = &mut input {
        request.physical_resource_id = Some("scaling-guard-prod-old".to_owned());
    }

    // When the stack renames the cluster to `prod`
    let response = answer(&aws, input).await;

    // Then the id stays: a new id would make CloudFormation delete the old
    // one with the old properties, and that delete would lift the new
    // guard's suspension and remove its hook from the shared groups.
    assert_eq!(response.status, Status::Success, "{}", response.reason);
    assert_eq!(response.physical_resource_id, "scaling-guard-prod-old");
    assert!(still_suspended(&aws, "prod-a"));
}
