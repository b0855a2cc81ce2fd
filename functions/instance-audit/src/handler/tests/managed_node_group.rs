//! EKS managed node groups (issue 23, scenario 5): a new node group's first
//! nodes launch before enrollment puts the guard's hook on. At a state-change
//! event after that, the group says whether the node's launch is over: if
//! it is and launch-guard never recorded the node, no one ever will, and it
//! is audited as unvetted at once; a launch the hook holds stays
//! launch-guard's.

use pretty_assertions::assert_eq;
use shared::facts::GroupInstance;

use super::*;

/// The account with `BY_HAND`'s id (the samples' instance) as a node of
/// [`GROUP`] launched a minute ago with IMDSv1, not recorded by
/// launch-guard, and listed by the group in `lifecycle_state`.
fn fresh_node_listed_as(lifecycle_state: &str) -> FakeAws {
    let aws = account();
    aws.add_instance(general_node_with_imdsv1(
        BY_HAND,
        "running",
        Duration::from_secs(60),
    ));
    aws.update_group(GROUP, |group| {
        group.instances.push(GroupInstance {
            instance_id: BY_HAND.into(),
            lifecycle_state: lifecycle_state.into(),
        });
    });
    aws
}

#[tokio::test]
async fn a_node_its_group_let_in_before_the_hook_is_remediated_at_its_state_change() {
    // Given: terminate; the group lists the node in service (it launched
    // before the hook), within the hook's heartbeat
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = fresh_node_listed_as("InService");

    // When: EC2's running event
    let running = run_instance(&policy, &aws, RUNNING).await;

    // Then: audited as unvetted, remediated now rather than deferred
    assert_eq!(running.outcome, Outcome::Remediated, "{running:?}");
    assert_eq!(running.action, Some("terminate"));
    assert_eq!(group(&running), GROUP);
    assert_eq!(
        aws.instance_changes(),
        vec![
            format!("CreateTags {BY_HAND}"),
            format!("TerminateInstances {BY_HAND}")
        ]
    );
}

#[tokio::test]
async fn a_node_the_hook_holds_stays_launch_guards_at_its_state_change() {
    // Given: the group's hook holds the node's launch
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = fresh_node_listed_as("Pending:Wait");

    // When
    let running = run_instance(&policy, &aws, RUNNING).await;

    // Then: left to launch-guard, nothing changed
    assert_eq!(running.outcome, Outcome::Deferred, "{running:?}");
    assert_eq!(aws.instance_changes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_node_launch_guard_recorded_before_its_group_let_it_in_stays_vetted() {
    // Given: the group lists the node in service, and it carries
    // launch-guard's record
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = fresh_node_listed_as("InService");
    let mut recorded = aws.instance_facts(BY_HAND).unwrap();
    recorded.tags.insert(VETTED_TAG.into(), ago(30));
    aws.add_instance(recorded);

    // When
    let running = run_instance(&policy, &aws, RUNNING).await;

    // Then: launch-guard's decision stands; the sweep reports its drift
    assert_eq!(running.outcome, Outcome::Vetted, "{running:?}");
    assert_eq!(aws.instance_changes(), Vec::<String>::new());
}
