use std::collections::BTreeSet;
use std::time::Duration;

use guard_core::decision::LifecycleResult;
use guard_core::facts::{GroupFacts, GroupInstance, InstanceTypeSpec};
use guard_core::fixtures::{compliant_node, now, strict_policy};
use guard_core::lifecycle::{LAUNCHING, LifecycleAction};
use guard_core::policy::Policy;
use pretty_assertions::assert_eq;
use tokio::time::Instant;

use super::*;
use crate::fakes::FakeAws;

const GROUP: &str = "prod-a";

fn budget_policy() -> Policy {
    strict_policy(&[("GUARD_MAX_INSTANCES", "2")])
}

/// A cluster group with the candidate waiting in it, and one running node.
fn cluster(policy: &Policy) -> FakeAws {
    let aws = FakeAws::new();
    let tag = (policy.cluster_tag.key.clone(), "owned".to_owned());
    let node = compliant_node();
    let mut candidate = node.instance.clone();
    candidate.tags.extend([tag.clone()]);
    let mut running = candidate.clone();
    running.instance_id = "i-0000000000000000a".into();
    running.state = "running".into();
    aws.add_group(GroupFacts {
        name: GROUP.into(),
        max_size: 10,
        tags: [tag].into(),
        instances: vec![
            GroupInstance {
                instance_id: candidate.instance_id.clone(),
                lifecycle_state: "Pending:Wait".into(),
            },
            GroupInstance {
                instance_id: running.instance_id.clone(),
                lifecycle_state: "InService".into(),
            },
        ],
        ..GroupFacts::default()
    });
    aws.add_instance(candidate);
    aws.add_instance(running);
    aws.add_image(node.image.clone().unwrap());
    aws.add_subnet(node.subnet.clone().unwrap());
    aws.add_instance_type(
        "m6i.large",
        InstanceTypeSpec {
            default_vcpus: 2,
            memory_mib: 8192,
        },
    );
    aws
}

fn action(policy: &Policy) -> LifecycleAction {
    LifecycleAction {
        token: "token-1".into(),
        group: GROUP.into(),
        hook: policy.hook_name.clone(),
        instance_id: compliant_node().instance.instance_id,
        transition: LAUNCHING.into(),
        notification_metadata: None,
        origin: None,
        destination: None,
    }
}

async fn run(policy: &Policy, aws: &FakeAws, admitted: Option<&BTreeSet<String>>) -> Assessment {
    let guarded = GuardedGroups::new(&policy.hook_name);
    let action = action(policy);
    let launch = Launch {
        action: &action,
        now: now(),
        until: Instant::now() + Duration::from_secs(60),
        admitted,
    };
    assess(policy, aws, &guarded, launch).await.unwrap()
}

fn decided(assessment: Assessment) -> Decided {
    match assessment {
        Assessment::Decided(decided) => *decided,
        Assessment::Ignored { reason } => panic!("ignored: {reason}"),
    }
}

#[tokio::test]
async fn a_budget_decision_takes_the_group_and_instance_from_the_cluster_read() {
    let policy = budget_policy();
    let aws = cluster(&policy);

    let decided = decided(run(&policy, &aws, Some(&BTreeSet::new())).await);

    assert_eq!(decided.verdict.result, LifecycleResult::Continue);
    let admission = decided.admission.unwrap();
    assert_eq!(admission.usage.instances, 1, "the running node");
    assert_eq!(admission.candidate.instances, 1);
    // One listing each, one type lookup: no DescribeAutoScalingGroups(name),
    // no DescribeInstances(id).
    assert_eq!(aws.calls("DescribeInstances"), 1);
    assert_eq!(aws.calls("DescribeAutoScalingGroups"), 1);
    assert_eq!(aws.calls("DescribeInstanceTypes"), 1);
    // Its launch reached the guard's hook: its group's hooks are not read.
    assert_eq!(aws.calls("DescribeLifecycleHooks"), 0);
}

#[tokio::test]
async fn an_instance_the_cluster_read_does_not_list_is_asked_for_by_id() {
    let policy = budget_policy();
    let aws = cluster(&policy);
    let id = compliant_node().instance.instance_id;
    let mut untagged = aws.instance_facts(&id).unwrap();
    untagged.tags.clear();
    aws.add_instance(untagged);

    let decided = decided(run(&policy, &aws, Some(&BTreeSet::new())).await);

    assert_eq!(decided.facts.unwrap().instance.instance_id, id);
    assert_eq!(aws.calls("DescribeInstances"), 2);
}

#[tokio::test]
async fn a_group_outside_the_cluster_is_ignored_whether_budgets_are_on_or_not() {
    for policy in [budget_policy(), strict_policy(&[])] {
        let aws = cluster(&policy);
        aws.update_group(GROUP, |group| group.tags.clear());

        let Assessment::Ignored { reason } = run(&policy, &aws, Some(&BTreeSet::new())).await
        else {
            panic!("decided")
        };

        assert_eq!(reason, "group `prod-a` is not a member of cluster `prod`");
    }
}

#[tokio::test]
async fn what_is_not_ours_is_ignored_without_a_read() {
    let policy = budget_policy();
    let aws = cluster(&policy);
    let guarded = GuardedGroups::new(&policy.hook_name);
    let mut action = action(&policy);
    action.hook = "someone-elses".into();
    let launch = Launch {
        action: &action,
        now: now(),
        until: Instant::now() + Duration::from_secs(60),
        admitted: Some(&BTreeSet::new()),
    };

    let assessment = assess(&policy, &aws, &guarded, launch).await.unwrap();

    let Assessment::Ignored { reason } = assessment else {
        panic!("decided")
    };
    assert_eq!(
        reason,
        "hook `someone-elses` is not the guard's hook `scaling-guard-prod`"
    );
    assert_eq!(aws.calls("DescribeInstances"), 0);
}

#[tokio::test]
async fn without_its_turn_to_admit_the_budget_is_unknown_and_the_fail_mode_decides() {
    let policy = strict_policy(&[("GUARD_MAX_INSTANCES", "2"), ("GUARD_FAIL_MODE", "abandon")]);
    let aws = cluster(&policy);

    let decided = decided(run(&policy, &aws, None).await);

    assert_eq!(decided.unknown, vec![Unknown::Budget(Missing::Late)]);
    assert!(decided.by_fail_mode());
    assert_eq!(decided.verdict.result, LifecycleResult::Abandon);
    assert_eq!(
        decided.unknown_line().unwrap(),
        "the budget: not established before the invocation's deadline"
    );
}

#[tokio::test]
async fn other_waiting_instances_are_not_counted_and_are_named_so() {
    let policy = budget_policy();
    let aws = cluster(&policy);
    aws.update_group(GROUP, |group| {
        group.instances[1].lifecycle_state = "Pending:Wait".into();
    });

    let decided = decided(run(&policy, &aws, Some(&BTreeSet::new())).await);

    let admission = decided.admission.unwrap();
    assert_eq!(admission.usage.instances, 0);
    assert_eq!(admission.not_counted, 1);
}
