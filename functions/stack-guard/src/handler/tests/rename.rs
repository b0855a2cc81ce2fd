//! An update that renames the guard's hook (issue 20, scenario 2: existing
//! stacks upgrade from `scaling-guard-launch` to `scaling-guard-<cluster>`
//! without a stranded hook): the hook moves on the old identity's groups
//! that carry it, and nowhere else.

use std::time::Duration;

use pretty_assertions::assert_eq;
use rstest::rstest;
use serde_json::{Value, json};
use shared::facts::HookFacts;
use shared::fakes::FakeAws;
use shared::ports::ClusterGroupsRead;

use super::{
    CLUSTER_TAG, HOOK, UPDATE, answer, group, hook_names, launch_hook, suspended_by_guard,
};
use crate::event::Input;
use crate::handler::ANSWER_RESERVE;
use crate::response::Status;

/// Every stack's default hook name before issue 20.
const OLD_HOOK: &str = "scaling-guard-launch";

/// The sample update, with `old` made to its `OldResourceProperties`'
/// policy and `new` to its `ResourceProperties`' (`Value::Null` removes a
/// setting).
pub(super) fn update(old: &[(&str, Value)], new: &[(&str, Value)]) -> Input {
    let mut event: Value = serde_json::from_str(UPDATE).unwrap();
    for (properties, changes) in [("OldResourceProperties", old), ("ResourceProperties", new)] {
        let policy = event[properties]["Policy"].as_object_mut().unwrap();
        for (key, value) in changes {
            match value {
                Value::Null => policy.remove(*key),
                value => policy.insert((*key).to_owned(), value.clone()),
            };
        }
    }
    serde_json::from_value(event).unwrap()
}

/// The upgrade: the old stack named its hook `scaling-guard-launch` (the
/// template's old default, passed explicitly), the new one takes the
/// default `scaling-guard-prod`.
fn upgrade() -> Input {
    update(&[("GUARD_HOOK_NAME", json!(OLD_HOOK))], &[])
}

async fn hooks(aws: &FakeAws, group: &str) -> Vec<HookFacts> {
    aws.lifecycle_hooks(group).await.unwrap()
}

/// The old guard's hook, as enrolled with a notification queue.
fn old_hook() -> HookFacts {
    HookFacts {
        heartbeat_timeout: Some(300),
        notification_target_arn: Some(
            "arn:aws:sqs:eu-west-1:123456789012:scaling-guard-launches".into(),
        ),
        role_arn: Some("arn:aws:iam::123456789012:role/scaling-guard-hook".into()),
        notification_metadata: Some(r#"{"cluster":"prod"}"#.into()),
        ..launch_hook(OLD_HOOK)
    }
}

/// prod-a: the old hook, suspended and clamped by the guard; prod-b: the old
/// hook and another team's; prod-c: another team's hook only; staging-a:
/// another cluster, carrying a hook of the same old name (its own guard's).
fn upgraded_cluster() -> FakeAws {
    let aws = FakeAws::new();
    aws.add_group(suspended_by_guard(group("prod-a", CLUSTER_TAG)));
    aws.add_hook("prod-a", old_hook());
    aws.add_group(group("prod-b", CLUSTER_TAG));
    aws.add_hook("prod-b", launch_hook("node-bootstrap"));
    aws.add_hook("prod-b", old_hook());
    aws.add_group(group("prod-c", CLUSTER_TAG));
    aws.add_hook("prod-c", launch_hook("node-bootstrap"));
    aws.add_group(group("staging-a", "kubernetes.io/cluster/staging"));
    aws.add_hook("staging-a", launch_hook(OLD_HOOK));
    aws
}

#[tokio::test]
async fn an_update_that_renames_the_hook_moves_it_on_the_clusters_groups_that_carry_it() {
    // Given
    let aws = upgraded_cluster();
    let prod_a_before = aws.group_facts("prod-a").unwrap();

    // When
    let response = answer(&aws, upgrade()).await;

    // Then: the new hook has every setting of the old one, which is gone
    assert_eq!(response.status, Status::Success);
    assert_eq!(response.physical_resource_id, "scaling-guard-prod");
    let moved = HookFacts {
        name: HOOK.into(),
        ..old_hook()
    };
    assert_eq!(hooks(&aws, "prod-a").await, vec![moved.clone()]);
    assert_eq!(
        hooks(&aws, "prod-b").await,
        vec![launch_hook("node-bootstrap"), moved]
    );
    // a group without the old hook, and another cluster's, are left alone
    assert_eq!(hook_names(&aws, "prod-c").await, vec!["node-bootstrap"]);
    assert_eq!(hook_names(&aws, "staging-a").await, vec![OLD_HOOK]);
    assert_eq!(
        aws.group_changes(),
        vec![
            "PutLifecycleHook prod-a",
            "DeleteLifecycleHook prod-a",
            "PutLifecycleHook prod-b",
            "DeleteLifecycleHook prod-b",
        ]
    );
    // the guard keeps running: its suspension stays
    assert_eq!(aws.group_facts("prod-a").unwrap(), prod_a_before);
    // and the answer says so
    assert_eq!(response.data["HooksRenamed"], "prod-a, prod-b");
    assert_eq!(response.data["NotRenamed"], "");
    assert_eq!(response.data["HookName"], HOOK);
    assert_eq!(
        response.reason,
        "the policy of cluster `prod` is valid; hook `scaling-guard-launch` renamed `scaling-guard-prod` on 2 group(s)"
    );
}

#[tokio::test]
async fn an_update_with_a_shared_tag_key_moves_the_hook_of_its_own_cluster_only() {
    // Given: prod and staging share the key `eks:cluster-name` and the old
    // default hook name
    let aws = FakeAws::new();
    for (name, cluster) in [("prod-a", "prod"), ("staging-a", "staging")] {
        let mut eks = group(name, "eks:cluster-name");
        eks.tags.insert("eks:cluster-name".into(), cluster.into());
        aws.add_group(eks);
        aws.add_hook(name, launch_hook(OLD_HOOK));
    }
    let tag = [
        ("GUARD_CLUSTER_TAG_KEY", json!("eks:cluster-name")),
        ("GUARD_CLUSTER_TAG_VALUE", json!("prod")),
    ];
    let mut old = tag.to_vec();
    old.push(("GUARD_HOOK_NAME", json!(OLD_HOOK)));

    // When
    let response = answer(&aws, update(&old, &tag)).await;

    // Then
    assert_eq!(response.status, Status::Success);
    assert_eq!(response.data["HooksRenamed"], "prod-a");
    assert_eq!(hook_names(&aws, "prod-a").await, vec![HOOK]);
    assert_eq!(hook_names(&aws, "staging-a").await, vec![OLD_HOOK]);
    assert!(
        aws.group_changes().iter().all(|c| !c.contains("staging")),
        "{:?}",
        aws.group_changes()
    );
}

#[tokio::test]
async fn an_upgrade_from_a_shared_key_without_a_value_moves_the_hook_on_its_own_clusters_groups() {
    // Given: before issue 20, prod's guard knew its groups by the key
    // `eks:cluster-name` alone (today's rules refuse that policy), and staging's
    // groups carry a hook of the same old default name
    let aws = FakeAws::new();
    for (name, cluster) in [("prod-a", "prod"), ("staging-a", "staging")] {
        let mut eks = group(name, "eks:cluster-name");
        eks.tags.insert("eks:cluster-name".into(), cluster.into());
        aws.add_group(eks);
        aws.add_hook(name, launch_hook(OLD_HOOK));
    }
    let old = [
        ("GUARD_CLUSTER_TAG_KEY", json!("eks:cluster-name")),
        ("GUARD_HOOK_NAME", json!(OLD_HOOK)),
    ];
    let new = [
        ("GUARD_CLUSTER_TAG_KEY", json!("eks:cluster-name")),
        ("GUARD_CLUSTER_TAG_VALUE", json!("prod")),
    ];

    // When
    let response = answer(&aws, update(&old, &new)).await;

    // Then: moved on prod's groups (the new identity) only
    assert_eq!(response.status, Status::Success);
    assert_eq!(response.data["HooksRenamed"], "prod-a");
    assert_eq!(hook_names(&aws, "prod-a").await, vec![HOOK]);
    assert_eq!(hook_names(&aws, "staging-a").await, vec![OLD_HOOK]);
    assert!(
        aws.group_changes().iter().all(|c| !c.contains("staging")),
        "{:?}",
        aws.group_changes()
    );
}

#[tokio::test]
async fn an_update_that_also_changes_the_cluster_tag_moves_the_hook_on_the_new_tags_groups_and_removes_it_elsewhere()
 {
    // Given: the old guard knew its groups by the default key; the new one
    // by `eks:cluster-name` = `prod`
    let aws = FakeAws::new();
    aws.add_group(group("prod-a", CLUSTER_TAG));
    aws.add_hook("prod-a", launch_hook(OLD_HOOK));
    let mut eks_only = group("prod-new", "eks:cluster-name");
    eks_only
        .tags
        .insert("eks:cluster-name".into(), "prod".into());
    aws.add_group(eks_only);
    aws.add_hook("prod-new", launch_hook(OLD_HOOK));

    // When
    let response = answer(
        &aws,
        update(
            &[("GUARD_HOOK_NAME", json!(OLD_HOOK))],
            &[
                ("GUARD_CLUSTER_TAG_KEY", json!("eks:cluster-name")),
                ("GUARD_CLUSTER_TAG_VALUE", json!("prod")),
            ],
        ),
    )
    .await;

    // Then: the group the new guard guards keeps a guard hook, under the new
    // name; the old identity's group, which it no longer guards, loses it
    assert_eq!(response.status, Status::Success, "{}", response.reason);
    assert_eq!(response.data["HooksRenamed"], "prod-new");
    assert_eq!(response.data["OldHooksRemoved"], "prod-a");
    assert!(hook_names(&aws, "prod-a").await.is_empty());
    assert_eq!(hook_names(&aws, "prod-new").await, vec![HOOK]);
}

#[tokio::test]
async fn a_group_already_carrying_the_new_hook_only_loses_the_old_one() {
    // Given: the new budget-guard enrolled the new hook before the update
    let aws = FakeAws::new();
    aws.add_group(group("prod-a", CLUSTER_TAG));
    aws.add_hook("prod-a", old_hook());
    aws.add_hook("prod-a", launch_hook(HOOK));

    // When
    let response = answer(&aws, upgrade()).await;

    // Then: the new hook keeps its own settings
    assert_eq!(response.data["HooksRenamed"], "prod-a");
    assert_eq!(hooks(&aws, "prod-a").await, vec![launch_hook(HOOK)]);
    assert_eq!(aws.calls("PutLifecycleHook"), 0);
}

#[tokio::test]
async fn a_hook_that_cannot_be_put_keeps_the_old_one_and_fails_the_update() {
    // Given
    let aws = upgraded_cluster();
    aws.fail("PutLifecycleHook");

    // When
    let response = answer(&aws, upgrade()).await;

    // Then: no group is left without a guard hook, and the update rolls back
    assert_eq!(response.status, Status::Failed);
    assert_eq!(response.physical_resource_id, "scaling-guard-prod");
    assert_eq!(response.data["HooksRenamed"], "");
    assert_eq!(
        response.data["NotRenamed"],
        "prod-a keeps `scaling-guard-launch`: `scaling-guard-prod` could not be put: `PutLifecycleHook` failed: injected failure; \
         prod-b keeps `scaling-guard-launch`: `scaling-guard-prod` could not be put: `PutLifecycleHook` failed: injected failure"
    );
    assert!(
        response
            .reason
            .ends_with("could not be cleaned up, so the update fails and rolls back; NOT RENAMED (2): prod-a keeps `scaling-guard-launch`: `scaling-guard-prod` could not be put: `PutLifecycleHook` failed: injected failure; prod-b keeps `scaling-guard-launch`: `scaling-guard-prod` could not be put: `PutLifecycleHook` failed: injected failure"),
        "{}",
        response.reason
    );
    assert_eq!(aws.calls("DeleteLifecycleHook"), 0);
    assert_eq!(hooks(&aws, "prod-a").await, vec![old_hook()]);
}

#[tokio::test]
async fn an_old_hook_that_cannot_be_deleted_is_listed_beside_the_new_one_and_fails_the_update() {
    // Given
    let aws = upgraded_cluster();
    aws.fail("DeleteLifecycleHook");

    // When
    let response = answer(&aws, upgrade()).await;

    // Then
    assert_eq!(response.status, Status::Failed);
    assert_eq!(response.data["HooksRenamed"], "");
    assert_eq!(
        response.data["NotRenamed"],
        "prod-a may keep `scaling-guard-launch` beside `scaling-guard-prod`: `DeleteLifecycleHook` failed: injected failure; \
         prod-b may keep `scaling-guard-launch` beside `scaling-guard-prod`: `DeleteLifecycleHook` failed: injected failure"
    );
    assert_eq!(hook_names(&aws, "prod-a").await, vec![OLD_HOOK, HOOK]);
}

#[tokio::test(start_paused = true)]
async fn an_update_that_cannot_list_the_groups_fails_saying_so() {
    let aws = upgraded_cluster();
    aws.fail("DescribeAutoScalingGroups");

    let response = answer(&aws, upgrade()).await;

    assert_eq!(response.status, Status::Failed);
    assert_eq!(
        response.data["NotRenamed"],
        "the groups of `kubernetes.io/cluster/prod` could not be listed (they may keep `scaling-guard-launch`): `DescribeAutoScalingGroups` failed: injected failure"
    );
    assert_eq!(
        response.data["NotUndone"],
        "the groups could not be listed: `DescribeAutoScalingGroups` failed: injected failure"
    );
    assert!(aws.mutations().is_empty(), "{:?}", aws.mutations());
}

#[tokio::test(start_paused = true)]
async fn an_update_that_outlasts_its_time_fails_in_time() {
    // Given: every hook lookup takes ten minutes (a throttled, hanging AWS)
    let aws = upgraded_cluster();
    aws.slow_down("DescribeLifecycleHooks", Duration::from_secs(600));
    let started = tokio::time::Instant::now();

    // When
    let response = answer(&aws, upgrade()).await;

    // Then
    assert_eq!(started.elapsed(), super::FUNCTION_TIMEOUT - ANSWER_RESERVE);
    assert_eq!(response.status, Status::Failed);
    assert_eq!(
        response.data["NotRenamed"],
        "the renaming stopped at its time limit: a group not listed here may keep `scaling-guard-launch`"
    );
}

#[rstest]
#[case::the_hook_keeps_its_name(&[], &[], Status::Success)]
#[case::the_old_policy_is_invalid_and_names_no_hook(
    &[("GUARD_CLUSTER_TAG_KEY", json!("eks:cluster-name"))],
    &[],
    Status::Success
)]
#[case::the_old_policy_is_invalid_and_names_no_cluster(
    &[("GUARD_CLUSTER", Value::Null), ("GUARD_HOOK_NAME", json!(OLD_HOOK))],
    &[],
    Status::Success
)]
#[case::the_old_policy_is_unreadable(
    &[("GUARD_CLUSTER", json!(["prod"])), ("GUARD_HOOK_NAME", json!(OLD_HOOK))],
    &[],
    Status::Success
)]
#[case::the_new_policy_is_invalid(
    &[("GUARD_HOOK_NAME", json!(OLD_HOOK))],
    &[("GUARD_MAX_VCPUS", json!("0"))],
    Status::Failed
)]
#[tokio::test]
async fn an_update_with_no_hook_to_move_touches_no_group(
    #[case] old: &[(&str, Value)],
    #[case] new: &[(&str, Value)],
    #[case] status: Status,
) {
    let aws = upgraded_cluster();

    let response = answer(&aws, update(old, new)).await;

    assert_eq!(response.status, status, "{}", response.reason);
    assert_eq!(aws.calls("DescribeAutoScalingGroups"), 0);
    assert!(aws.mutations().is_empty(), "{:?}", aws.mutations());
    if status == Status::Success {
        assert_eq!(response.data["HooksRenamed"], "");
        assert_eq!(response.data["NotRenamed"], "");
    }
}

#[tokio::test]
async fn a_rolled_back_update_moves_the_hook_back() {
    // Given: the renamed cluster, and CloudFormation rolling the update back
    // (the new policy is now the old one)
    let aws = upgraded_cluster();
    answer(&aws, upgrade()).await;
    let back = update(&[], &[("GUARD_HOOK_NAME", json!(OLD_HOOK))]);

    // When
    let response = answer(&aws, back).await;

    // Then
    assert_eq!(response.data["HooksRenamed"], "prod-a, prod-b");
    assert_eq!(hooks(&aws, "prod-a").await, vec![old_hook()]);
}
