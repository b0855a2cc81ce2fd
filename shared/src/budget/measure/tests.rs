use std::collections::{BTreeMap, BTreeSet};

use pretty_assertions::assert_eq;

use super::*;
use crate::facts::{GroupFacts, GroupInstance, HookFacts};
use crate::fakes::FakeAws;

const HOOK: &str = "scaling-guard-launch";

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
