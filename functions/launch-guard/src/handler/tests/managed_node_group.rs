//! Issue 23, scenario 5: on a group EKS owns (an EKS managed node group,
//! tag `eks:nodegroup-name`), an ABANDON is a launch failure to EKS and to
//! the Cluster Autoscaler. The denial alert says so; on any other group it
//! says nothing of EKS.

use pretty_assertions::assert_eq;

use super::*;

/// The node group EKS names on the fixtures' group.
const NODEGROUP: &str = "general";

/// The fixtures' cluster, its group owned by EKS when `eks_owned`, and the
/// launch's instance on a denied instance type.
fn denied_launch(eks_owned: bool) -> FakeAws {
    let aws = aws();
    if eks_owned {
        aws.update_group(GROUP, |group| {
            group
                .tags
                .insert("eks:nodegroup-name".into(), NODEGROUP.into());
        });
    }
    aws.add_instance(InstanceFacts {
        instance_type: "p5.48xlarge".into(),
        ..compliant_instance(INSTANCE)
    });
    aws
}

/// What an ABANDON does on a managed node group, as the advice must say it.
const EKS_CONSEQUENCES: [&str; 3] = [
    "AsgInstanceLaunchFailures",
    "Cluster Autoscaler",
    "backs the node group off",
];

#[tokio::test]
async fn a_denial_on_an_eks_managed_node_group_says_what_the_abandon_does_there() {
    let (policy, aws) = (policy(&[]), denied_launch(true));

    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(summary.decision, Decision::Abandon);
    let alerts = aws.published();
    assert_eq!(kinds(&aws), vec![AlertKind::LaunchDenied]);
    for said in EKS_CONSEQUENCES {
        assert!(
            alerts[0].advice.contains(said),
            "{said}: {}",
            alerts[0].advice
        );
    }
    assert!(
        alerts[0]
            .advice
            .contains(&format!("node group `{NODEGROUP}`")),
        "{}",
        alerts[0].advice
    );
    assert_eq!(
        alerts[0].details.get("eks_nodegroup"),
        Some(&json!(NODEGROUP))
    );
}

#[tokio::test]
async fn a_fail_mode_abandon_on_an_eks_managed_node_group_says_it_too() {
    let (policy, aws) = (policy(&[]), denied_launch(true));
    aws.fail("DescribeInstances");

    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(summary.decision, Decision::Abandon);
    let alerts = aws.published();
    assert_eq!(kinds(&aws), vec![AlertKind::GuardError]);
    assert!(
        alerts[0].advice.contains("AsgInstanceLaunchFailures"),
        "{}",
        alerts[0].advice
    );
}

#[tokio::test]
async fn a_denial_on_a_plain_group_says_nothing_of_eks() {
    let (policy, aws) = (policy(&[]), denied_launch(false));

    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(summary.decision, Decision::Abandon);
    let alerts = aws.published();
    assert_eq!(kinds(&aws), vec![AlertKind::LaunchDenied]);
    for said in EKS_CONSEQUENCES {
        assert!(
            !alerts[0].advice.contains(said),
            "{said}: {}",
            alerts[0].advice
        );
    }
    assert_eq!(alerts[0].details.get("eks_nodegroup"), None);
}

#[tokio::test]
async fn a_launch_let_in_on_an_eks_managed_node_group_says_nothing_of_an_abandon() {
    let (policy, aws) = (policy(&[("GUARD_MODE", "audit")]), denied_launch(true));

    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(summary.decision, Decision::Continue);
    let alerts = aws.published();
    assert_eq!(kinds(&aws), vec![AlertKind::LaunchViolationReported]);
    assert!(
        !alerts[0].advice.contains("AsgInstanceLaunchFailures"),
        "{}",
        alerts[0].advice
    );
}
