use pretty_assertions::assert_eq;

use super::*;
use crate::facts::HookFacts;
use crate::fakes::{FAKE_REGION, FakeAws, guarded_group, launch_hook, suspended_by_guard};
use crate::fixtures::{CLUSTER, HOOK};
use crate::launch_breaker::name as breaker_name;
use crate::policy::EXCEPTION_EXPIRED_TAG;

const LAUNCHER: &str = "arn:aws:iam::123456789012:role/karpenter-node";

/// A launch hook whose metadata says `by` put it for `cluster`.
fn hook_by(name: &str, cluster: &str, by: &str) -> HookFacts {
    HookFacts {
        notification_metadata: Some(
            serde_json::json!({ "cluster": cluster, "by": by }).to_string(),
        ),
        ..launch_hook(name)
    }
}

/// A hook the guard of `cluster` enrolled.
fn enrolled(name: &str, cluster: &str) -> HookFacts {
    hook_by(name, cluster, "scaling-guard")
}

fn item(thing: Thing, cluster: Option<&str>) -> Leftover {
    Leftover {
        thing,
        cluster: cluster.map(str::to_owned),
    }
}

fn hook(group: &str, hook: &str) -> Thing {
    Thing::Hook {
        group: group.into(),
        hook: hook.into(),
    }
}

/// Two clusters' leftovers in one account: every kind, each with its cluster.
#[tokio::test]
async fn lists_every_kind_of_leftover_with_its_cluster() {
    let aws = FakeAws::two_clusters();
    aws.update_group("prod-a", |g| *g = suspended_by_guard(g.clone()));
    aws.update_group("prod-b", |g| {
        g.tags.insert(
            EXCEPTION_EXPIRED_TAG.into(),
            "imds.hop_limit/2027-03-31".into(),
        );
    });
    aws.add_hook("staging-a", enrolled("scaling-guard-staging", "staging"));
    aws.add_role(LAUNCHER);
    aws.add_role("arn:aws:iam::123456789012:role/unrelated");
    let breaker = crate::launch_breaker::LaunchBreaker {
        name: breaker_name(CLUSTER, FAKE_REGION),
        document: "{}".into(),
    };
    crate::ports::LauncherRoles::put_breaker(&aws, LAUNCHER, &breaker)
        .await
        .unwrap();

    let found = survey_leftovers(&aws, &aws, FAKE_REGION).await.unwrap();

    let prod = Some(CLUSTER);
    let staging = Some("staging");
    let mut expected = vec![
        item(hook("prod-a", HOOK), prod),
        item(hook("prod-b", HOOK), prod),
        item(hook("staging-a", HOOK), staging),
        item(hook("staging-a", "scaling-guard-staging"), staging),
        item(
            Thing::Suspension {
                group: "prod-a".into(),
            },
            prod,
        ),
        item(
            Thing::Clamp {
                group: "prod-a".into(),
                max_size: 4,
                original: 20,
            },
            prod,
        ),
        item(
            Thing::GroupTag {
                group: "prod-b".into(),
                key: EXCEPTION_EXPIRED_TAG.into(),
            },
            prod,
        ),
        item(
            Thing::InlinePolicy {
                role: "karpenter-node".into(),
                policy: breaker.name.clone(),
            },
            prod,
        ),
    ];
    expected.sort();
    assert_eq!(found.items, expected);
    assert!(found.unread.is_empty());
    assert!(!found.is_empty());
    assert!(found.lines().contains(&format!(
        "role karpenter-node: inline policy {} (cluster prod)",
        breaker.name
    )));
    assert!(
        found
            .lines()
            .contains(&"group prod-a: MaxSize clamped to 4 (was 20) (cluster prod)".to_owned())
    );
}

/// Hooks and policies that are not a guard's are not leftovers; a clean
/// account is empty.
#[tokio::test]
async fn an_account_without_guard_things_is_empty() {
    let aws = FakeAws::new();
    let mut group = guarded_group("prod-a");
    group.tags.insert("team".into(), "platform".into());
    aws.add_group(group);
    aws.add_hook("prod-a", launch_hook("drain-on-launch"));
    aws.add_hook("prod-a", hook_by("other-tool", "prod", "someone-else"));
    aws.add_role(LAUNCHER);
    let found = survey_leftovers(&aws, &aws, FAKE_REGION).await.unwrap();
    assert_eq!(found, Leftovers::default());
    assert!(found.is_empty());
    assert!(found.lines().is_empty());
}

/// A group the guard suspended with no clamp: a suspension, no clamp; a
/// record tag without `Launch` suspended (a run that stopped half-way) is a
/// tag left.
#[tokio::test]
async fn a_record_without_its_suspension_is_a_tag_left() {
    let aws = FakeAws::new();
    let mut half = suspended_by_guard(guarded_group("prod-a"));
    half.suspended_processes.clear();
    half.max_size = 20;
    aws.add_group(half);
    let found = survey_leftovers(&aws, &aws, FAKE_REGION).await.unwrap();
    assert_eq!(
        found.items,
        vec![item(
            Thing::GroupTag {
                group: "prod-a".into(),
                key: SUSPENDED_TAG.into(),
            },
            Some(CLUSTER),
        )]
    );
}

/// IAM is global: a breaker of another region is that region's survey's.
#[tokio::test]
async fn a_breaker_of_another_region_is_left_to_that_region() {
    let aws = FakeAws::new();
    aws.add_role(LAUNCHER);
    let other = crate::launch_breaker::LaunchBreaker {
        name: breaker_name(CLUSTER, "us-east-1"),
        document: "{}".into(),
    };
    crate::ports::LauncherRoles::put_breaker(&aws, LAUNCHER, &other)
        .await
        .unwrap();
    assert!(
        survey_leftovers(&aws, &aws, FAKE_REGION)
            .await
            .unwrap()
            .is_empty()
    );
    let there = survey_leftovers(&aws, &aws, "us-east-1").await.unwrap();
    assert_eq!(there.items.len(), 1);
}

/// A throttled read is retried; a read that keeps failing is named, not
/// dropped: the survey is then not empty.
#[tokio::test(start_paused = true)]
async fn throttled_reads_are_retried_and_failed_ones_named() {
    let aws = FakeAws::two_clusters();
    aws.throttle("DescribeLifecycleHooks", 2);
    aws.throttle("ListRolePolicies", 2);
    aws.add_role(LAUNCHER);
    aws.add_role("arn:aws:iam::123456789012:role/other");
    let found = survey_leftovers(&aws, &aws, FAKE_REGION).await.unwrap();
    assert_eq!(found.items.len(), 3, "{found:?}");
    assert!(found.unread.is_empty());

    aws.fail("ListRolePolicies");
    let found = survey_leftovers(&aws, &aws, FAKE_REGION).await.unwrap();
    assert_eq!(found.unread.len(), 2, "{found:?}");
    assert!(!found.is_empty());
    assert!(found.lines().iter().any(|l| l.starts_with("not read: ")));
}

/// Groups or roles that cannot be listed at all fail the survey.
#[tokio::test(start_paused = true)]
async fn a_listing_that_fails_fails_the_survey() {
    let aws = FakeAws::two_clusters();
    aws.fail("ListRoles");
    let err = survey_leftovers(&aws, &aws, FAKE_REGION).await.unwrap_err();
    assert_eq!(err.operation, "ListRoles");
}

/// The JSON names each thing's kind, place and cluster.
#[test]
fn serializes_kind_place_and_cluster() {
    let leftovers = Leftovers {
        items: vec![item(
            Thing::InlinePolicy {
                role: "r".into(),
                policy: "p".into(),
            },
            Some("prod"),
        )],
        unread: Vec::new(),
    };
    assert_eq!(
        serde_json::to_value(&leftovers).unwrap(),
        serde_json::json!({
            "items": [{ "kind": "inline_policy", "role": "r", "policy": "p", "cluster": "prod" }],
            "unread": [],
        })
    );
}
