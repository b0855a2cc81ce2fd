//! Security Hub findings of audited instances (issue 24, point 1): FAILED
//! when found, SUPPRESSED when exempted, archived when the instance is fixed
//! (the next sweep) or terminated (its state change).

use pretty_assertions::assert_eq;
use shared::findings::asff::{AsffFinding, ComplianceStatus, RecordState, WorkflowStatus, fields};

use super::*;
use crate::response::FindingsReport;

const TERMINATED: &str = include_str!("../../../../../events/state-change-terminated.json");

fn hub_policy(extra: &[(&str, &str)]) -> Policy {
    policy(&[&[("GUARD_SECURITY_HUB", "true")], extra].concat())
}

/// (check, compliance, record state, workflow) of each finding.
fn states(findings: &[AsffFinding]) -> Vec<(&str, ComplianceStatus, RecordState, WorkflowStatus)> {
    findings
        .iter()
        .map(|f| {
            (
                f.generator_id.as_str(),
                f.compliance.status,
                f.record_state,
                f.workflow.status,
            )
        })
        .collect()
}

/// The two findings of the hand-launched instance with IMDSv1 on, in the
/// given states.
fn by_hand_findings(
    compliance: ComplianceStatus,
    record: RecordState,
    workflow: WorkflowStatus,
) -> Vec<(&'static str, ComplianceStatus, RecordState, WorkflowStatus)> {
    [
        "scaling-guard/imds.v2",
        "scaling-guard/membership.unmanaged",
    ]
    .into_iter()
    .map(|check| (check, compliance, record, workflow))
    .collect()
}

fn open() -> Vec<(&'static str, ComplianceStatus, RecordState, WorkflowStatus)> {
    by_hand_findings(
        ComplianceStatus::Failed,
        RecordState::Active,
        WorkflowStatus::New,
    )
}

fn archived() -> Vec<(&'static str, ComplianceStatus, RecordState, WorkflowStatus)> {
    by_hand_findings(
        ComplianceStatus::Passed,
        RecordState::Archived,
        WorkflowStatus::Resolved,
    )
}

#[tokio::test]
async fn a_sweep_imports_failed_findings_and_the_next_archives_them_once_fixed() {
    // Given: an instance launched by hand into the cluster, IMDSv1 on.
    let (policy, aws) = (hub_policy(&[]), account());
    aws.add_instance(by_hand("running"));

    // When: a sweep finds it.
    let first = run_sweep(&policy, &aws, SWEEP).await;

    // Then: one FAILED finding per check, in one import.
    assert_eq!(states(&aws.security_hub_findings()), open());
    assert_eq!(
        first.security_hub,
        Some(FindingsReport {
            created: 2,
            calls: 1,
            ..FindingsReport::default()
        })
    );

    // When: the instance is gone from the cluster's live instances (it was
    // stopped), and the next sweep runs.
    set_state(&aws, BY_HAND, "stopped");
    let second = run_sweep(&policy, &aws, SWEEP).await;

    // Then: both findings archived as PASSED, CreatedAt kept.
    let findings = aws.security_hub_findings();
    assert_eq!(states(&findings), archived());
    assert_eq!(second.security_hub.map(|r| r.archived), Some(2));
    assert_eq!(aws.calls("GetFindings"), 2);
}

#[tokio::test]
async fn a_fixed_instance_archives_the_finding_of_the_fixed_check_only() {
    let (policy, aws) = (hub_policy(&[]), account());
    aws.add_instance(by_hand("running"));
    run_sweep(&policy, &aws, SWEEP).await;

    // When: IMDSv2 is required now, and the next sweep runs.
    let mut fixed = aws.instance_facts(BY_HAND).unwrap();
    fixed.http_tokens = Some(HttpTokens::Required);
    aws.add_instance(fixed);
    let second = run_sweep(&policy, &aws, SWEEP).await;

    // Then: imds.v2 archived, membership.unmanaged still open and untouched.
    let findings = aws.security_hub_findings();
    assert_eq!(
        states(&findings),
        vec![archived()[0], open()[1]],
        "{findings:#?}"
    );
    assert_eq!(
        second.security_hub,
        Some(FindingsReport {
            unchanged: 1,
            archived: 1,
            calls: 1,
            ..FindingsReport::default()
        })
    );
}

#[tokio::test]
async fn a_steady_cluster_costs_one_read_and_no_import_a_sweep() {
    let (policy, aws) = (hub_policy(&[]), account());
    aws.add_instance(by_hand("running"));
    run_sweep(&policy, &aws, SWEEP).await;

    let second = run_sweep(&policy, &aws, SWEEP).await;

    assert_eq!(aws.import_batches(), vec![2]);
    assert_eq!(aws.calls("GetFindings"), 2);
    assert_eq!(second.security_hub.map(|r| r.unchanged), Some(2));
}

#[tokio::test]
async fn a_terminated_instance_has_its_findings_archived_at_its_state_change() {
    // Given: the instance's findings are open.
    let (policy, aws) = (hub_policy(&[]), account());
    aws.add_instance(by_hand("running"));
    run_sweep(&policy, &aws, SWEEP).await;
    set_state(&aws, BY_HAND, "terminated");
    let reads = aws.calls("DescribeInstances");

    // When: its state change to `terminated` arrives.
    let summary = run_instance(&policy, &aws, TERMINATED).await;

    // Then: archived, with no EC2 read.
    assert_eq!(summary.outcome, Outcome::Terminated, "{summary:#?}");
    assert_eq!(states(&aws.security_hub_findings()), archived());
    assert_eq!(aws.calls("DescribeInstances"), reads);
}

#[tokio::test]
async fn without_security_hub_a_terminated_instance_is_ignored_with_no_call() {
    let (policy, aws) = (policy(&[]), account());

    let summary = run_instance(&policy, &aws, TERMINATED).await;

    assert_eq!(summary.outcome, Outcome::Ignored);
    assert_eq!(aws.calls("GetFindings"), 0);
    assert_eq!(aws.calls("DescribeInstances"), 0);
}

#[tokio::test]
async fn an_exempted_violation_is_suppressed_with_the_exceptions_reason() {
    // Given: IMDSv1 exempted for the instance's group, with a reason.
    let policy = hub_policy(&[(
        "GUARD_CHECK_EXCEPTIONS",
        "imds.v2@prod-gen* reason=PLAT-42 vendor agent",
    )]);
    let aws = account();
    let mut instance = member(BY_HAND, "running", &[(GROUP_NAME_TAG, GROUP)]);
    instance.http_tokens = Some(HttpTokens::Optional);
    aws.add_instance(instance);

    // When
    run_sweep(&policy, &aws, SWEEP).await;

    // Then: the exempted check is SUPPRESSED and names the reason.
    let findings = aws.security_hub_findings();
    let imds: Vec<_> = findings
        .iter()
        .filter(|f| f.generator_id == "scaling-guard/imds.v2")
        .collect();
    assert_eq!(imds.len(), 1, "{findings:#?}");
    assert_eq!(imds[0].workflow.status, WorkflowStatus::Suppressed);
    assert_eq!(
        imds[0].product_fields[fields::EXEMPTION],
        "PLAT-42 vendor agent"
    );
}

#[tokio::test]
async fn an_event_imports_the_findings_it_alerts_and_a_security_hub_failure_changes_nothing() {
    // Given: the hand-launched instance; Security Hub failing.
    let (policy, aws) = (hub_policy(&[]), account());
    aws.add_instance(by_hand("running"));
    aws.fail("BatchImportFindings");

    // When: its running event arrives.
    let summary = run_instance(&policy, &aws, RUNNING).await;

    // Then: reported and alerted as without Security Hub; the import tried.
    assert_eq!(summary.outcome, Outcome::Reported);
    assert_eq!(kinds(&aws), vec![AlertKind::InstanceNonCompliant]);
    assert_eq!(aws.calls("BatchImportFindings"), 1);

    // And with Security Hub working, the same event imports the findings.
    let working = account();
    working.add_instance(by_hand("running"));
    run_instance(&policy, &working, RUNNING).await;
    assert_eq!(states(&working.security_hub_findings()), open());
}
