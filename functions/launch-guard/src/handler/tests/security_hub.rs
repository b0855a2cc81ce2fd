//! Security Hub findings of decided launches (issue 24, point 1): imported
//! after the completion, never changing it.

use pretty_assertions::assert_eq;
use shared::findings::asff::{AsffFinding, ComplianceStatus, RecordState, WorkflowStatus, fields};

use super::*;

/// The test policy with Security Hub on and `extra`.
fn hub_policy(extra: &[(&str, &str)]) -> Policy {
    policy(&[&[("GUARD_SECURITY_HUB", "true")], extra].concat())
}

/// The launch of `events/launch-lifecycle-action.json` with IMDSv1 on: a
/// blocking `imds.v2` violation in enforce mode.
fn imdsv1_launch() -> FakeAws {
    let aws = aws();
    let mut instance = compliant_instance(INSTANCE);
    instance.http_tokens = Some(HttpTokens::Optional);
    aws.add_instance(instance);
    aws
}

/// (check, compliance, record state, workflow, exemption) of each finding.
fn states(
    findings: &[AsffFinding],
) -> Vec<(&str, ComplianceStatus, RecordState, WorkflowStatus, &str)> {
    findings
        .iter()
        .map(|f| {
            (
                f.generator_id.as_str(),
                f.compliance.status,
                f.record_state,
                f.workflow.status,
                f.product_fields[fields::EXEMPTION].as_str(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_denied_launch_imports_a_failed_finding_after_its_completion() {
    // Given: a launch with IMDSv1 on, and Security Hub on.
    let (policy, aws) = (hub_policy(&[]), imdsv1_launch());
    let gate = aws.pause_before("CompleteLifecycleAction");
    let guard = LaunchGuard::new(&policy, &aws).with_clock(now);

    // When: it is decided; what Security Hub holds is looked at while the
    // completion is held.
    let decide = guard.handle(serde_json::from_str(LAUNCH).unwrap(), lambda_deadline());
    let at_completion = async {
        gate.reached().await;
        let imported = aws.import_batches();
        gate.release();
        imported
    };
    let (summary, before_completion) = futures::join!(decide, at_completion);

    // Then: ABANDON; nothing imported before the completion, one FAILED
    // finding in one call after it.
    assert_eq!(summary_of(summary.unwrap()).decision, Decision::Abandon);
    assert_eq!(before_completion, Vec::<usize>::new());
    assert_eq!(aws.import_batches(), vec![1]);
    let findings = aws.security_hub_findings();
    assert_eq!(
        states(&findings),
        vec![(
            "scaling-guard/imds.v2",
            ComplianceStatus::Failed,
            RecordState::Active,
            WorkflowStatus::New,
            "none"
        )]
    );
    let finding = &findings[0];
    assert_eq!(
        finding.id,
        format!("scaling-guard/123456789012/eu-west-1/prod/{INSTANCE}/imds.v2")
    );
    assert_eq!(finding.product_fields[fields::DECISION], "ABANDON");
    // The alert's advice is the finding's recommendation.
    let alert = &aws.published()[0];
    assert_eq!(finding.remediation.recommendation.text, alert.advice);
}

#[tokio::test]
async fn a_failed_import_changes_neither_the_completion_nor_the_answer_nor_the_alert() {
    // Given: the same launch decided with Security Hub working, and again
    // with every import failing.
    let working = imdsv1_launch();
    let expected = run(&hub_policy(&[]), &working, LAUNCH).await.unwrap();
    let (policy, aws) = (hub_policy(&[]), imdsv1_launch());
    aws.fail("BatchImportFindings");

    // When
    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    // Then: the import was tried; the answer, completion and alert are the
    // same as with Security Hub working.
    assert_eq!(aws.calls("BatchImportFindings"), 1);
    assert_eq!(summary, expected);
    assert_eq!(results(&aws), vec![LifecycleResult::Abandon]);
    assert_eq!(kinds(&aws), vec![AlertKind::LaunchDenied]);
    assert_eq!(aws.security_hub_findings(), vec![]);
}

#[tokio::test]
async fn an_exempted_violation_is_imported_suppressed_with_the_exceptions_reason() {
    // Given: IMDSv1 is exempted for the group, with a reason.
    let policy = hub_policy(&[(
        "GUARD_CHECK_EXCEPTIONS",
        "imds.v2@prod-gen* reason=PLAT-7 legacy agent",
    )]);
    let aws = imdsv1_launch();

    // When
    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    // Then: let in, no alert, one SUPPRESSED finding naming the reason.
    assert_eq!(summary.decision, Decision::Continue);
    assert_eq!(kinds(&aws), vec![]);
    assert_eq!(
        states(&aws.security_hub_findings()),
        vec![(
            "scaling-guard/imds.v2",
            ComplianceStatus::Failed,
            RecordState::Active,
            WorkflowStatus::Suppressed,
            "PLAT-7 legacy agent"
        )]
    );
}

#[tokio::test]
async fn without_security_hub_or_without_a_violation_nothing_is_imported() {
    // Security Hub off (the default): a denied launch imports nothing.
    let denied = imdsv1_launch();
    run(&policy(&[]), &denied, LAUNCH).await.unwrap();
    assert_eq!(denied.calls("BatchImportFindings"), 0);

    // Security Hub on: a compliant launch imports nothing.
    let compliant = aws();
    run(&hub_policy(&[]), &compliant, LAUNCH).await.unwrap();
    assert_eq!(compliant.calls("BatchImportFindings"), 0);
}

#[tokio::test]
async fn a_duplicate_event_imports_no_second_finding() {
    let (policy, aws) = (hub_policy(&[]), imdsv1_launch());
    run(&policy, &aws, LAUNCH).await.unwrap();

    let again = run(&policy, &aws, LAUNCH).await.unwrap();

    assert!(again.duplicate);
    assert_eq!(aws.import_batches(), vec![1]);
}
