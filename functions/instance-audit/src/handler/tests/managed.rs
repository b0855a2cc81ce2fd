//! EC2 managed instances (EKS Auto Mode, issue 23, scenario 1): audited and
//! reported at severity info, never remediated, whatever the action.

use pretty_assertions::assert_eq;
use shared::facts::Operator;

use super::*;

/// A running EKS Auto Mode node (`BY_HAND`'s id, so the samples name it)
/// with IMDSv1 on and no launcher tag the policy allows.
fn auto_mode_node() -> InstanceFacts {
    let mut instance = member(BY_HAND, "running", &[("eks:eks-cluster-name", "prod")]);
    instance.http_tokens = Some(HttpTokens::Optional);
    instance.operator = Some(Operator {
        managed: true,
        principal: Some("eks.amazonaws.com".into()),
    });
    instance
}

#[rstest]
#[case::stop("stop")]
#[case::terminate("terminate")]
#[case::isolate("isolate")]
#[tokio::test]
async fn a_managed_node_is_reported_at_info_and_never_remediated(#[case] action: &str) {
    let policy = policy(&[
        ("GUARD_AUDIT_ACTION", action),
        ("GUARD_ALLOWED_LAUNCHER_TAGS", ""),
    ]);
    let aws = account();
    aws.add_instance(auto_mode_node());

    let summary = run_instance(&policy, &aws, RUNNING).await;

    assert_eq!(summary.outcome, Outcome::Reported, "{summary:?}");
    assert_eq!(summary.action, None, "{summary:?}");
    assert_eq!(checks(&summary), ["imds.v2"], "no membership.unmanaged");
    assert!(
        summary.violations.iter().all(|f| !f.blocking),
        "{summary:?}"
    );
    let published = aws.published();
    assert_eq!(published.len(), 1, "{published:#?}");
    assert_eq!(published[0].kind, AlertKind::InstanceNonCompliant);
    assert_eq!(published[0].severity, Severity::Info);
    assert!(
        published[0].advice.contains("NodeClass"),
        "{}",
        published[0].advice
    );
    for call in [
        "StopInstances",
        "TerminateInstances",
        "ModifyInstanceAttribute",
        "CreateTags",
    ] {
        assert_eq!(aws.calls(call), 0, "{call}");
    }
}

#[tokio::test]
async fn the_sweep_counts_a_managed_node_and_leaves_it_alone_without_paging() {
    let policy = policy(&[
        ("GUARD_AUDIT_ACTION", "terminate"),
        ("GUARD_ALLOWED_LAUNCHER_TAGS", ""),
    ]);
    let aws = account();
    aws.add_instance(auto_mode_node());

    let sweep = run_sweep(&policy, &aws, SWEEP).await;

    assert_eq!(sweep.report.instances, 1, "{sweep:#?}");
    assert_eq!(sweep.report.non_compliant, 1, "{sweep:#?}");
    assert_eq!(sweep.report.managed_non_compliant, 1, "{sweep:#?}");
    assert_eq!(sweep.report.remediated, [], "{sweep:#?}");
    assert_eq!(aws.calls("TerminateInstances"), 0);
    let published = aws.published();
    assert_eq!(published.len(), 1, "{published:#?}");
    assert_eq!(published[0].kind, AlertKind::SweepSummary);
    assert_eq!(
        published[0].severity,
        Severity::Info,
        "nothing to do on it: no page"
    );
    assert!(
        published[0].advice.contains("EKS Auto Mode"),
        "{}",
        published[0].advice
    );
}
