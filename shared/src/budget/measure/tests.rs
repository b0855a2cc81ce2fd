use std::collections::{BTreeMap, BTreeSet};

use pretty_assertions::assert_eq;

use super::*;
use crate::facts::{GroupFacts, GroupInstance, HookFacts};
use crate::fakes::FakeAws;
use crate::fixtures::HOOK;

const QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:scaling-guard-launches";
const ROLE: &str = "arn:aws:iam::123456789012:role/scaling-guard-hook-notification";

fn node(id: &str, group: Option<&str>, tags: &[(&str, &str)]) -> InstanceFacts {
    let mut instance = InstanceFacts {
        instance_id: id.into(),
        instance_type: "m6i.large".into(),
        state: "running".into(),
        ..InstanceFacts::default()
    };
    if let Some(group) = group {
        instance.tags.insert(GROUP_NAME_TAG.into(), group.into());
    }
    for (k, v) in tags {
        instance.tags.insert((*k).into(), (*v).into());
    }
    instance
}

fn group(name: &str, listed: &[(&str, &str)]) -> GroupFacts {
    GroupFacts {
        name: name.into(),
        instances: listed
            .iter()
            .map(|(id, state)| GroupInstance {
                instance_id: (*id).into(),
                lifecycle_state: (*state).into(),
            })
            .collect(),
        ..GroupFacts::default()
    }
}

fn specs() -> BTreeMap<String, InstanceTypeSpec> {
    [(
        "m6i.large".to_owned(),
        InstanceTypeSpec {
            default_vcpus: 2,
            memory_mib: 8192,
        },
    )]
    .into()
}

fn names(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// i-1 in service; i-2 waiting undecided; i-3 waiting but admitted (tag);
/// i-4 waiting, admitted by this environment (ledger); i-5 in a warm pool
/// (not listed); i-6 listed `Warmed:Running`; i-7 unmanaged; i-8 waiting in
/// a group without the guard's hook.
fn cluster() -> ClusterState {
    ClusterState {
        instances: vec![
            node("i-1", Some("a"), &[]),
            node("i-2", Some("a"), &[]),
            node("i-3", Some("a"), &[(ADMITTED_TAG, "2026-11-26T10:00:00Z")]),
            node("i-4", Some("a"), &[]),
            node("i-5", Some("a"), &[]),
            node("i-6", Some("a"), &[]),
            node("i-7", None, &[]),
            node("i-8", Some("b"), &[]),
        ],
        groups: vec![
            group(
                "a",
                &[
                    ("i-1", "InService"),
                    ("i-2", PENDING_WAIT),
                    ("i-3", PENDING_WAIT),
                    ("i-4", PENDING_WAIT),
                    ("i-6", "Warmed:Running"),
                ],
            ),
            group("b", &[("i-8", PENDING_WAIT)]),
        ],
    }
}

#[test]
fn only_undecided_launches_waiting_for_the_guard_and_warm_pools_are_left_out() {
    let guarded = names(&["a"]);
    let admitted = names(&["i-4"]);
    let counting = Counting {
        guarded_groups: &guarded,
        admitted: &admitted,
        candidate: None,
    };
    assert_eq!(
        not_counted(&cluster(), &counting),
        names(&["i-2", "i-5", "i-6"])
    );
    assert_eq!(usage(&cluster(), &specs(), &counting).unwrap().instances, 5);
}

#[test]
fn the_candidate_is_left_out_even_when_already_tagged() {
    let guarded = names(&["a"]);
    let counting = Counting {
        guarded_groups: &guarded,
        admitted: &BTreeSet::new(),
        candidate: Some("i-3"),
    };
    assert!(not_counted(&cluster(), &counting).contains("i-3"));
}

#[test]
fn groups_with_undecided_launches_are_named() {
    assert_eq!(
        cluster().undecided_groups(&names(&["i-4"])),
        names(&["a", "b"])
    );
}

#[tokio::test]
async fn hooks_are_asked_once_per_group_and_a_failed_read_counts_the_waiting() {
    let aws = FakeAws::new();
    aws.add_group(group("a", &[]));
    aws.add_hook(
        "a",
        HookFacts {
            name: HOOK.into(),
            transition: LAUNCHING.into(),
            ..HookFacts::default()
        },
    );
    let guarded = GuardedGroups::new(HOOK);
    let wanted = names(&["a", "b"]);
    assert_eq!(guarded.among(&aws, &wanted).await, names(&["a"]));
    assert_eq!(guarded.among(&aws, &wanted).await, names(&["a"]));
    assert_eq!(aws.calls("DescribeLifecycleHooks"), 2, "each group once");

    let failing = FakeAws::new();
    failing.fail("DescribeLifecycleHooks");
    let fresh = GuardedGroups::new(HOOK);
    assert_eq!(fresh.among(&failing, &wanted).await, BTreeSet::new());
    fresh.mark("a");
    assert_eq!(fresh.among(&failing, &wanted).await, names(&["a"]));
}

/// The guard's hook, notifying `target` with `role`.
fn hook_to(target: Option<&str>, role: Option<&str>) -> HookFacts {
    HookFacts {
        name: HOOK.into(),
        transition: LAUNCHING.into(),
        notification_target_arn: target.map(str::to_owned),
        role_arn: role.map(str::to_owned),
        ..HookFacts::default()
    }
}

#[rstest::rstest]
#[case::eventbridge_hears_any_target(
    None,
    hook_to(Some("arn:aws:sqs:eu-west-1:123456789012:old"), None),
    GuardHook::Carried
)]
#[case::no_hook(Some(QUEUE), HookFacts::default(), GuardHook::Missing)]
#[case::the_queue_with_its_role(Some(QUEUE), hook_to(Some(QUEUE), Some(ROLE)), GuardHook::Carried)]
#[case::no_target(Some(QUEUE), hook_to(None, None), GuardHook::Misdirected)]
#[case::another_queue(
    Some(QUEUE),
    hook_to(Some("arn:aws:sqs:eu-west-1:123456789012:old"), Some(ROLE)),
    GuardHook::Misdirected
)]
#[case::another_role(
    Some(QUEUE),
    hook_to(Some(QUEUE), Some("arn:aws:iam::123456789012:role/old")),
    GuardHook::Misdirected
)]
#[tokio::test]
async fn with_sqs_delivery_a_hook_guards_its_group_only_when_it_notifies_the_queue_with_the_role(
    #[case] queue: Option<&str>,
    #[case] hook: HookFacts,
    #[case] expected: GuardHook,
) {
    let mut settings = vec![
        ("GUARD_CLUSTER", "prod"),
        (
            "GUARD_ALERT_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:123456789012:alerts",
        ),
    ];
    if let Some(queue) = queue {
        settings.push(("GUARD_HOOK_NOTIFICATION_TARGET_ARN", queue));
        settings.push(("GUARD_HOOK_NOTIFICATION_ROLE_ARN", ROLE));
    }
    let policy = Policy::from_vars(settings).unwrap();
    let aws = FakeAws::new();
    aws.add_group(group("a", &[("i-1", "Pending:Wait")]));
    aws.add_hook("a", hook);
    let guarded = GuardedGroups::of(&policy);

    assert_eq!(guarded.hook(&aws, "a").await, Ok(expected));
    // A group whose launches never reach the guard is not guarded: its
    // waiting instances are counted, which can only deny, never overrun.
    let among = guarded.among(&aws, &names(&["a"])).await;
    assert_eq!(among.contains("a"), expected == GuardHook::Carried);
}

/// The guard's hook ending unanswered launches by `result`, enrolled by the
/// guard of `cluster` (metadata) when one is named.
fn hook_ending(result: &str, cluster: Option<&str>) -> HookFacts {
    HookFacts {
        default_result: Some(result.into()),
        notification_metadata: cluster
            .map(|c| format!(r#"{{"cluster":"{c}","by":"scaling-guard"}}"#)),
        ..hook_to(None, None)
    }
}

#[rstest::rstest]
#[case::left_continuing_by_the_hand_over(
    "enforce",
    "abandon",
    hook_ending("CONTINUE", Some("prod")),
    GuardHook::Outdated
)]
#[case::put_by_someone_else(
    "enforce",
    "abandon",
    hook_ending("CONTINUE", None),
    GuardHook::Outdated
)]
#[case::abandoning_after_a_fail_mode_change(
    "enforce",
    "continue",
    hook_ending("ABANDON", None),
    GuardHook::Outdated
)]
#[case::as_enforce_wants(
    "enforce",
    "abandon",
    hook_ending("ABANDON", Some("prod")),
    GuardHook::Carried
)]
#[case::another_clusters_guard_sets_it(
    "enforce",
    "abandon",
    hook_ending("CONTINUE", Some("staging")),
    GuardHook::Carried
)]
#[case::audit_mode_hands_over_itself(
    "audit",
    "abandon",
    hook_ending("ABANDON", Some("prod")),
    GuardHook::Carried
)]
#[tokio::test]
async fn in_enforce_mode_a_hook_ending_launches_otherwise_than_the_fail_mode_is_outdated_but_guards(
    #[case] mode: &str,
    #[case] fail_mode: &str,
    #[case] hook: HookFacts,
    #[case] expected: GuardHook,
) {
    let policy = Policy::from_vars([
        ("GUARD_CLUSTER", "prod"),
        (
            "GUARD_ALERT_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:123456789012:alerts",
        ),
        ("GUARD_MODE", mode),
        ("GUARD_FAIL_MODE", fail_mode),
    ])
    .unwrap();
    let aws = FakeAws::new();
    aws.add_group(group("a", &[("i-1", "Pending:Wait")]));
    aws.add_hook("a", hook);
    let guarded = GuardedGroups::of(&policy);

    assert_eq!(guarded.hook(&aws, "a").await, Ok(expected));
    // launch-guard still hears its launches: the group stays guarded.
    assert!(guarded.among(&aws, &names(&["a"])).await.contains("a"));
}
