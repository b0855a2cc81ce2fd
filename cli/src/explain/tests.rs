use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use shared::facts::{GroupFacts, InstanceFacts};
use shared::fakes::FakeAws;
use shared::fixtures::at;
use shared::lifecycle::{LAUNCHING, Origin};

use super::*;
use crate::fixtures::{GROUP, HOOK, cluster, node, now, policy, waiting};

const CANDIDATE: &str = "i-0000000000000000f";

fn action(instance_id: &str, group: &str, hook: &str) -> LifecycleAction {
    LifecycleAction {
        token: "token-1".into(),
        group: group.into(),
        hook: hook.into(),
        instance_id: instance_id.into(),
        transition: LAUNCHING.into(),
        notification_metadata: None,
        origin: Some("EC2".into()),
        destination: Some("AutoScalingGroup".into()),
    }
}

fn launch(action: LifecycleAction) -> Notification {
    Notification::Action {
        action: Box::new(action),
        origin: Origin::default(),
    }
}

/// A cluster with two running nodes and `candidate` waiting for launch-guard.
fn with_candidate(candidate: InstanceFacts) -> FakeAws {
    let aws = cluster(vec![
        node("i-0000000000000000a", Some(GROUP)),
        node("i-0000000000000000b", Some(GROUP)),
        candidate,
    ]);
    waiting(&aws, CANDIDATE);
    aws
}

async fn explain(policy: &Policy, aws: &FakeAws, notification: Notification) -> Explanation {
    run(policy, aws, notification, now()).await.unwrap()
}

async fn explain_candidate(policy: &Policy, aws: &FakeAws) -> Explanation {
    explain(policy, aws, launch(action(CANDIDATE, GROUP, HOOK))).await
}

#[tokio::test]
async fn a_compliant_launch_would_continue_and_nothing_is_completed() {
    let aws = with_candidate(node(CANDIDATE, Some(GROUP)));
    let policy = policy(&[]);

    let explanation = explain_candidate(&policy, &aws).await;

    assert_eq!(explanation.decision, Decision::Continue);
    assert_eq!(explanation.outcome(), ExitStatus::Clean);
    assert_eq!(explanation.violations, vec![]);
    assert!(!explanation.completed);
    assert_eq!(aws.completed(), vec![]);
    assert_eq!(aws.mutations(), BTreeMap::new());
    assert_eq!(
        render(&explanation, &policy),
        "launch of i-0000000000000000f into group prod-general (hook scaling-guard-prod)\n\
         instance: m6i.large, running, image ami-0ccc0001 (amazon-eks-node-al2023-x86_64-standard-1.31-v20260901), subnet subnet-0aaa0001\n\
         \n\
         decision: CONTINUE (mode enforce)\n\
         \n\
         no violations\n\
         \n\
         nothing was completed: this is what launch-guard would decide now; the lifecycle action is left as it is\n"
    );
}

#[tokio::test]
async fn a_blocking_violation_would_abandon_and_each_violation_is_listed() {
    let mut candidate = node(CANDIDATE, Some(GROUP));
    candidate.instance_type = "p5.48xlarge".into();
    candidate.http_tokens = Some(shared::facts::HttpTokens::Optional);
    let aws = with_candidate(candidate);
    let policy = policy(&[("GUARD_AUDIT_ONLY_CHECKS", "imds.v2")]);

    let explanation = explain_candidate(&policy, &aws).await;

    assert_eq!(explanation.decision, Decision::Abandon);
    assert_eq!(explanation.outcome(), ExitStatus::Found);
    let listed: Vec<(CheckName, bool)> = explanation
        .violations
        .iter()
        .map(|f| (f.violation.check, f.blocking))
        .collect();
    assert_eq!(
        listed,
        vec![
            (CheckName::InstanceTypeAllowed, true),
            (CheckName::ImdsV2, false)
        ]
    );
    assert_eq!(aws.completed(), vec![]);
    let text = render(&explanation, &policy);
    assert!(
        text.contains("\ndecision: ABANDON (mode enforce)\n"),
        "{text}"
    );
    assert!(
        text.contains("\nCHECK                  BLOCKING  RESOURCE             MESSAGE\n"),
        "{text}"
    );
    assert!(
        text.contains("\ninstance_type.allowed  yes       i-0000000000000000f  "),
        "{text}"
    );
    assert!(
        text.contains("\nimds.v2                no        i-0000000000000000f  "),
        "{text}"
    );
}

#[tokio::test]
async fn in_audit_mode_a_violation_is_reported_and_the_launch_would_continue() {
    let mut candidate = node(CANDIDATE, Some(GROUP));
    candidate.instance_type = "p5.48xlarge".into();
    let aws = with_candidate(candidate);

    let explanation = explain_candidate(&policy(&[("GUARD_MODE", "audit")]), &aws).await;

    assert_eq!(explanation.decision, Decision::Continue);
    assert_eq!(explanation.violations.len(), 1);
    assert!(!explanation.violations[0].blocking);
}

#[tokio::test]
async fn the_budget_admission_counts_running_nodes_but_not_those_waiting() {
    let aws = with_candidate(node(CANDIDATE, Some(GROUP)));
    // Another launch waits too: not counted until admitted.
    aws.add_instance(node("i-0000000000000000e", Some(GROUP)));
    aws.update_group(GROUP, |group| {
        group.instances.push(shared::facts::GroupInstance {
            instance_id: "i-0000000000000000e".into(),
            lifecycle_state: "Pending:Wait".into(),
        });
    });
    let policy = policy(&[("GUARD_MAX_VCPUS", "5"), ("GUARD_MAX_INSTANCES", "3")]);

    let explanation = explain_candidate(&policy, &aws).await;

    assert_eq!(explanation.decision, Decision::Abandon);
    let admission = explanation.admission.clone().unwrap();
    assert!(!admission.admitted);
    assert_eq!(admission.waiting_for_decision, 1);
    assert_eq!(
        admission.dimensions,
        vec![
            AdmissionRow {
                check: CheckName::BudgetVcpus,
                name: "vcpus",
                used: 4,
                add: 2,
                max: 5,
                fits: false,
            },
            AdmissionRow {
                check: CheckName::BudgetInstances,
                name: "instances",
                used: 2,
                add: 1,
                max: 3,
                fits: true,
            },
        ]
    );
    assert_eq!(
        explanation.violations[0].violation.check,
        CheckName::BudgetVcpus
    );
    let text = render(&explanation, &policy);
    assert!(
        text.contains(
            "\nbudget admission: denied (budget.vcpus)\n\
             BUDGET     IN USE  THIS LAUNCH  MAX  FITS\n\
             vcpus      4       2            5    no\n\
             instances  2       1            3    yes\n\
             (1 other instance(s) waiting in Pending:Wait are not counted)\n"
        ),
        "{text}"
    );
    assert_eq!(aws.group_changes(), Vec::<String>::new(), "no suspension");
}

#[tokio::test]
async fn a_launch_into_the_warm_pool_is_vetted_without_a_budget_admission() {
    let aws = with_candidate(node(CANDIDATE, Some(GROUP)));
    let policy = policy(&[("GUARD_MAX_INSTANCES", "2")]);
    let mut into_pool = action(CANDIDATE, GROUP, HOOK);
    into_pool.destination = Some("WarmPool".into());

    let explanation = explain(&policy, &aws, launch(into_pool)).await;

    assert_eq!(explanation.decision, Decision::Continue);
    assert_eq!(explanation.admission, None);
}

#[tokio::test]
async fn a_launch_within_every_budget_is_admitted() {
    let aws = with_candidate(node(CANDIDATE, Some(GROUP)));
    let policy = policy(&[("GUARD_MAX_VCPUS", "6")]);

    let explanation = explain_candidate(&policy, &aws).await;

    assert_eq!(explanation.decision, Decision::Continue);
    assert!(explanation.admission.unwrap().admitted);
}

#[tokio::test]
async fn notifications_launch_guard_does_not_own_are_ignored_with_the_reason() {
    let aws = with_candidate(node(CANDIDATE, Some(GROUP)));
    let mut staging = GroupFacts {
        name: "staging-general".into(),
        ..GroupFacts::default()
    };
    staging
        .tags
        .insert("kubernetes.io/cluster/staging".into(), "owned".into());
    aws.add_group(staging);
    let policy = policy(&[]);
    let mut terminating = action(CANDIDATE, GROUP, HOOK);
    terminating.transition = "autoscaling:EC2_INSTANCE_TERMINATING".into();

    let cases = [
        (
            launch(action(CANDIDATE, GROUP, "other-hook")),
            "hook `other-hook` is not the guard's hook `scaling-guard-prod`",
        ),
        (
            launch(action(CANDIDATE, "staging-general", HOOK)),
            "group `staging-general` is not a member of cluster `prod`",
        ),
        (
            launch(action(CANDIDATE, "gone", HOOK)),
            "group `gone` does not exist",
        ),
        (
            launch(terminating),
            "transition `autoscaling:EC2_INSTANCE_TERMINATING` is not a launch",
        ),
        (Notification::Test { group: None }, "test notification"),
    ];
    for (notification, reason) in cases {
        let explanation = explain(&policy, &aws, notification).await;
        assert_eq!(explanation.decision, Decision::Ignored, "{reason}");
        assert_eq!(explanation.reason.as_deref(), Some(reason));
        assert_eq!(explanation.outcome(), ExitStatus::Clean);
    }
    let explanation = explain(
        &policy,
        &aws,
        launch(action(CANDIDATE, GROUP, "other-hook")),
    )
    .await;
    assert!(render(&explanation, &policy).contains(
        "\ndecision: IGNORED (mode enforce)\n  hook `other-hook` is not the guard's hook `scaling-guard-prod`: launch-guard leaves it alone\n"
    ));
}

#[tokio::test]
async fn a_missing_instance_is_decided_by_the_fail_mode() {
    let aws = cluster(vec![]);
    let notification = || launch(action("i-0a1b2c3d4e5f60718", GROUP, HOOK));

    let abandon = explain(&policy(&[]), &aws, notification()).await;
    let policy_continue = policy(&[("GUARD_FAIL_MODE", "continue")]);
    let cont = explain(&policy_continue, &aws, notification()).await;

    assert_eq!(abandon.decision, Decision::Abandon);
    assert!(abandon.fail_mode);
    assert_eq!(
        abandon.reason.as_deref(),
        Some("instance `i-0a1b2c3d4e5f60718` was not found")
    );
    assert_eq!(cont.decision, Decision::Continue);
    assert!(render(&cont, &policy_continue).contains(
        "\ndecision: CONTINUE (mode enforce)\n  by GUARD_FAIL_MODE `continue`: the facts cannot be established: instance `i-0a1b2c3d4e5f60718` was not found\n"
    ));
}

#[tokio::test]
async fn a_known_violation_decides_although_the_budget_is_unknown_as_in_launch_guard() {
    let mut candidate = node(CANDIDATE, Some(GROUP));
    candidate.instance_type = "m6i.9xhuge".into();
    candidate.public_ip = Some("203.0.113.7".into());
    let aws = with_candidate(candidate);
    let policy = policy(&[("GUARD_MAX_VCPUS", "100"), ("GUARD_FAIL_MODE", "continue")]);

    let explanation = explain_candidate(&policy, &aws).await;

    assert_eq!(explanation.decision, Decision::Abandon);
    assert!(!explanation.fail_mode);
    let checks: Vec<&str> = explanation
        .violations
        .iter()
        .map(|f| f.violation.check.as_str())
        .collect();
    assert_eq!(checks, vec!["subnet.public"]);
    assert!(render(&explanation, &policy).contains(
        "  not established: the budget: instance type `m6i.9xhuge` is unknown, so its capacity cannot be counted; what is known blocks the launch\n"
    ), "{}", render(&explanation, &policy));
}

#[tokio::test]
async fn an_aws_error_is_the_cli_s_error_not_a_decision() {
    let aws = with_candidate(node(CANDIDATE, Some(GROUP)));
    aws.fail("DescribeImages");
    let err = run(
        &policy(&[]),
        &aws,
        launch(action(CANDIDATE, GROUP, HOOK)),
        now(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.operation, "DescribeImages");
}

#[tokio::test]
async fn the_json_document_names_the_decision_and_that_nothing_was_completed() {
    let aws = with_candidate(node(CANDIDATE, Some(GROUP)));
    let explanation = explain_candidate(&policy(&[("GUARD_MAX_INSTANCES", "10")]), &aws).await;
    let json = serde_json::to_value(&explanation).unwrap();
    assert_eq!(*at(&json, "decision"), "CONTINUE");
    assert_eq!(*at(&json, "completed"), false);
    assert_eq!(*at(&json, "fail_mode"), false);
    assert_eq!(*at(&json, "instance_id"), CANDIDATE);
    assert_eq!(*at(&json, "admission/admitted"), true);
    assert_eq!(*at(&json, "admission/usage/instances"), 2);
    assert_eq!(*at(&json, "instance/instance_type"), "m6i.large");
}

#[tokio::test]
async fn a_late_event_for_an_instance_already_in_service_is_flagged() {
    let aws = with_candidate(node(CANDIDATE, Some(GROUP)));
    let policy = policy(&[]);

    let explanation = explain(
        &policy,
        &aws,
        launch(action("i-0000000000000000a", GROUP, HOOK)),
    )
    .await;

    assert_eq!(explanation.lifecycle_state.as_deref(), Some("InService"));
    assert!(render(&explanation, &policy).contains(
        "\nnote: the instance is `InService`, not waiting in `Pending:Wait`: launch-guard would find no active action to complete (a duplicate or late event)\n"
    ));
    let waiting = explain_candidate(&policy, &aws).await;
    assert_eq!(waiting.lifecycle_state.as_deref(), Some("Pending:Wait"));
}

#[tokio::test]
async fn a_new_check_exempted_for_the_group_is_listed_as_exempted_and_does_not_block() {
    let mut candidate = node(CANDIDATE, Some(GROUP));
    candidate.http_put_response_hop_limit = Some(2);
    candidate.key_name = Some("ops".into());
    let aws = with_candidate(candidate);
    let policy = policy(&[
        ("GUARD_MAX_IMDS_HOP_LIMIT", "1"),
        ("GUARD_DENY_KEY_PAIRS", "true"),
        ("GUARD_CHECK_EXCEPTIONS", "imds.hop_limit@prod-*"),
    ]);

    let explanation = explain_candidate(&policy, &aws).await;

    assert_eq!(explanation.decision, Decision::Abandon);
    let listed: Vec<CheckName> = explanation
        .violations
        .iter()
        .map(|f| f.violation.check)
        .collect();
    assert_eq!(listed, vec![CheckName::InstanceKeyPair]);
    let exempted: Vec<CheckName> = explanation.exempted.iter().map(|v| v.check).collect();
    assert_eq!(exempted, vec![CheckName::ImdsHopLimit]);
    let text = render(&explanation, &policy);
    assert!(
        text.contains("\ninstance.key_pair  yes       i-0000000000000000f  "),
        "{text}"
    );
    assert!(
        text.contains("\nimds.hop_limit     exempted  i-0000000000000000f  "),
        "{text}"
    );
}
