//! Removing prod's guard when prod and staging share the tag key
//! `eks:cluster-name` (issue 20, scenario 1): staging keeps its hook and its
//! suspension.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::{DELETE, HOOK, answer, event, group, hook_names, launch_hook, suspended_by_guard};
use crate::response::Status;
use shared::fakes::FakeAws;

fn eks_group(name: &str, cluster: &str) -> shared::facts::GroupFacts {
    let mut group = group(name, "eks:cluster-name");
    group
        .tags
        .insert("eks:cluster-name".to_owned(), cluster.to_owned());
    group
}

#[tokio::test]
async fn a_delete_with_a_shared_tag_key_cleans_its_own_cluster_and_leaves_the_other_alone() {
    // Given: both clusters hooked with the same hook name and suspended by their guards
    let aws = FakeAws::new();
    for (name, cluster) in [("prod-a", "prod"), ("staging-a", "staging")] {
        aws.add_group(suspended_by_guard(eks_group(name, cluster)));
        aws.add_hook(name, launch_hook(HOOK));
    }
    let staging_before = aws.group_facts("staging-a").unwrap();

    // When: prod's stack goes
    let response = answer(
        &aws,
        event(
            DELETE,
            &[
                ("GUARD_CLUSTER_TAG_KEY", json!("eks:cluster-name")),
                ("GUARD_CLUSTER_TAG_VALUE", json!("prod")),
            ],
        ),
    )
    .await;

    // Then
    assert_eq!(response.status, Status::Success);
    assert_eq!(response.data["HooksRemoved"], "prod-a");
    assert_eq!(response.data["Resumed"], "prod-a");
    assert!(hook_names(&aws, "prod-a").await.is_empty());
    assert_eq!(hook_names(&aws, "staging-a").await, vec![HOOK]);
    assert_eq!(aws.group_facts("staging-a").unwrap(), staging_before);
    assert!(
        aws.group_changes().iter().all(|c| !c.contains("staging")),
        "{:?}",
        aws.group_changes()
    );
}
