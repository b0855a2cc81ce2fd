use std::time::Duration;

use pretty_assertions::assert_eq;

use super::*;
use crate::facts::HookFacts;
use crate::fakes::{FakeAws, suspended_by_guard};
use crate::fixtures::{CLUSTER, CLUSTER_TAG, HOOK, now};
use crate::suspension::SUSPENDED_TAG;

fn scope() -> Scope {
    Scope {
        cluster: CLUSTER.to_owned(),
        hook_name: HOOK.to_owned(),
        cluster_tag: ClusterTag::any_value(CLUSTER_TAG),
        except: None,
        record_key: None,
        unsigned: UnsignedRecords::Trust,
    }
}

fn group(name: &str, tags: &[(&str, &str)]) -> GroupFacts {
    GroupFacts {
        name: name.into(),
        max_size: 20,
        desired_capacity: 4,
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..GroupFacts::default()
    }
}

fn hook(name: &str) -> HookFacts {
    HookFacts {
        name: name.into(),
        transition: LAUNCHING.into(),
        default_result: Some("ABANDON".into()),
        ..HookFacts::default()
    }
}

/// prod-a: hooked, suspended, clamped; prod-b: hooked; lost-c: the cluster
/// tag removed, still hooked; staging-a: another cluster, suspended by its
/// guard, with a hook of its own.
fn account() -> FakeAws {
    let aws = FakeAws::new();
    aws.add_group(suspended_by_guard(group(
        "prod-a",
        &[(CLUSTER_TAG, "owned")],
    )));
    aws.add_hook("prod-a", hook(HOOK));
    aws.add_group(group("prod-b", &[(CLUSTER_TAG, "owned")]));
    aws.add_hook("prod-b", hook(HOOK));
    aws.add_hook("prod-b", hook("node-bootstrap"));
    aws.add_group(group("lost-c", &[]));
    aws.add_hook("lost-c", hook(HOOK));
    aws.add_group(suspended_by_guard(group(
        "staging-a",
        &[("kubernetes.io/cluster/staging", "owned")],
    )));
    aws.add_hook("staging-a", hook("scaling-guard-staging"));
    aws
}

async fn hook_names(aws: &FakeAws, group: &str) -> Vec<String> {
    let hooks = aws.lifecycle_hooks(group).await.unwrap();
    hooks.into_iter().map(|h| h.name).collect()
}

#[tokio::test]
async fn a_survey_finds_the_hook_on_every_group_and_changes_nothing() {
    let aws = account();

    let found = survey(&aws, &scope()).await;

    assert_eq!(found.hooks, vec!["lost-c", "prod-a", "prod-b"]);
    let suspended: Vec<&str> = found.suspensions.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(suspended, vec!["prod-a"]);
    assert_eq!(found.clamps(None), vec!["prod-a=20"]);
    assert!(aws.mutations().is_empty(), "{:?}", aws.mutations());
    assert_eq!(aws.calls("DescribeAutoScalingGroups"), 1);
    assert_eq!(aws.calls("DescribeLifecycleHooks"), 4);
}

#[tokio::test(start_paused = true)]
async fn a_release_undoes_the_guards_work_and_leaves_other_clusters_alone() {
    let aws = account();
    let staging = aws.group_facts("staging-a").unwrap();
    let mut report = ReleaseReport::default();

    release(
        &aws,
        &scope(),
        now(),
        Instant::now() + Duration::from_secs(60),
        &mut report,
    )
    .await;

    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.hooks_removed, vec!["lost-c", "prod-a", "prod-b"]);
    assert_eq!(report.resumed, vec!["prod-a"]);
    assert_eq!(report.max_size_restored, vec!["prod-a=20"]);
    assert_eq!(report.passes, 2, "one pass undoes, the second proves");
    assert_eq!(hook_names(&aws, "prod-b").await, vec!["node-bootstrap"]);
    assert!(hook_names(&aws, "lost-c").await.is_empty());
    let prod_a = aws.group_facts("prod-a").unwrap();
    assert_eq!((prod_a.max_size, prod_a.suspended_processes.len()), (20, 0));
    assert!(!prod_a.tags.contains_key(SUSPENDED_TAG));
    assert_eq!(aws.group_facts("staging-a").unwrap(), staging);
}

#[tokio::test(start_paused = true)]
async fn a_release_that_cannot_delete_a_hook_lists_it_as_left() {
    let aws = account();
    aws.fail("DeleteLifecycleHook");
    let mut report = ReleaseReport::default();

    release(
        &aws,
        &scope(),
        now(),
        Instant::now() + Duration::from_secs(60),
        &mut report,
    )
    .await;

    assert!(!report.is_complete());
    assert_eq!(report.passes, MAX_PASSES);
    assert_eq!(report.leftovers.len(), 3, "{:?}", report.leftovers);
    assert_eq!(report.resumed, vec!["prod-a"]);
    assert!(
        report.leftovers.contains(
            &"the hook `scaling-guard-prod` of prod-b may remain: `DeleteLifecycleHook` failed: injected failure"
                .to_owned()
        ),
        "{:?}",
        report.leftovers
    );
    assert!(
        report
            .leftovers
            .contains(&"the hook `scaling-guard-prod` of lost-c may remain: `DeleteLifecycleHook` failed: injected failure".to_owned()),
        "{:?}",
        report.leftovers
    );
}

#[tokio::test(start_paused = true)]
async fn a_release_leaves_the_excepted_identitys_groups_alone() {
    let aws = account();
    let scope = Scope {
        except: Some(ClusterTag::any_value(CLUSTER_TAG)),
        ..scope()
    };
    let mut report = ReleaseReport::default();

    release(
        &aws,
        &scope,
        now(),
        Instant::now() + Duration::from_secs(60),
        &mut report,
    )
    .await;

    assert_eq!(report.hooks_removed, vec!["lost-c"]);
    assert!(report.resumed.is_empty());
    assert_eq!(hook_names(&aws, "prod-a").await, vec![HOOK]);
}

#[tokio::test(start_paused = true)]
async fn a_release_at_500_groups_under_throttling_leaves_nothing_of_the_guard() {
    // Given: 500 cluster groups, each hooked, every fifth suspended and
    // clamped, 20 groups that lost the tag; Auto Scaling throttles a third of
    // the reads and a quarter of the changes
    let aws = FakeAws::new();
    for i in 0..500 {
        let name = format!("prod-{i:03}");
        let g = group(&name, &[(CLUSTER_TAG, "owned")]);
        aws.add_group(if i % 5 == 0 { suspended_by_guard(g) } else { g });
        aws.add_hook(&name, hook(HOOK));
    }
    for i in 0..20 {
        let name = format!("lost-{i:02}");
        aws.add_group(group(&name, &[]));
        aws.add_hook(&name, hook(HOOK));
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
    let started = Instant::now();
    let mut report = ReleaseReport::default();

    // When
    release(
        &aws,
        &scope(),
        now(),
        started + Duration::from_secs(540),
        &mut report,
    )
    .await;

    // Then
    assert!(report.is_complete(), "{:?}", report.leftovers);
    assert_eq!(report.hooks_removed.len(), 520);
    assert_eq!(report.resumed.len(), 100);
    assert_eq!(report.max_size_restored.len(), 100);
    aws.throttle("DescribeAutoScalingGroups", 0);
    aws.throttle("DescribeLifecycleHooks", 0);
    let all = aws.all_groups().await.unwrap();
    assert_eq!(all.len(), 520);
    for g in &all {
        assert!(!g.tags.contains_key(SUSPENDED_TAG), "{}", g.name);
        assert!(g.suspended_processes.is_empty(), "{}", g.name);
        assert_eq!(g.max_size, 20, "{}", g.name);
        assert!(hook_names(&aws, &g.name).await.is_empty(), "{}", g.name);
    }
    assert!(started.elapsed() < Duration::from_secs(540));
}

#[tokio::test]
async fn a_hook_of_the_same_name_is_anothers_when_its_metadata_or_its_group_says_so() {
    // Given: the same hook name on another cluster's group, and on a group of
    // no cluster enrolled by staging's guard
    let aws = FakeAws::new();
    aws.add_group(group(
        "staging-a",
        &[("kubernetes.io/cluster/staging", "owned")],
    ));
    aws.add_hook("staging-a", hook(HOOK));
    aws.add_group(group("bare-b", &[]));
    aws.add_hook(
        "bare-b",
        HookFacts {
            notification_metadata: Some(r#"{"cluster":"staging","by":"scaling-guard"}"#.into()),
            ..hook(HOOK)
        },
    );
    aws.add_group(group("bare-c", &[("eks:cluster-name", "prod")]));
    aws.add_hook(
        "bare-c",
        HookFacts {
            notification_metadata: Some(r#"{"cluster":"prod","by":"scaling-guard"}"#.into()),
            ..hook(HOOK)
        },
    );

    let found = survey(&aws, &scope()).await;

    assert_eq!(found.hooks, vec!["bare-c"]);
}

#[tokio::test(start_paused = true)]
async fn a_group_deleted_while_it_is_released_is_no_leftover() {
    // Given: gone-c is deleted between the listing and the read of its hooks
    // (Auto Scaling then answers that the group is not found)
    let aws = account();
    aws.add_hook("gone-c", hook(HOOK));
    aws.add_group(group("gone-c", &[(CLUSTER_TAG, "owned")]));
    aws.vanish_after_listing("gone-c");
    let mut report = ReleaseReport::default();

    release(
        &aws,
        &scope(),
        now(),
        Instant::now() + Duration::from_secs(60),
        &mut report,
    )
    .await;

    assert!(report.is_complete(), "{:?}", report.leftovers);
}

mod exception_records;
mod unsigned;
