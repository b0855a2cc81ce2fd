//! Managed instances (EKS Auto Mode, issue 23): audited and reported, never
//! blocking, never remediated.

use pretty_assertions::assert_eq;
use rstest::rstest;

use super::*;
use crate::facts::{HttpTokens, Operator};
use crate::fixtures::{compliant_node, now, strict_policy};

/// An Auto Mode node that allows IMDSv1, classified as the audit does.
fn auto_mode_with_imdsv1() -> (NodeFacts, Membership) {
    let mut node = compliant_node();
    node.instance.http_tokens = Some(HttpTokens::Optional);
    node.instance.operator = Some(Operator {
        managed: true,
        principal: Some("eks.amazonaws.com".into()),
    });
    let membership = Membership::of(&strict_policy(&[]), &node.instance, &[], now());
    (node, membership)
}

#[rstest]
#[case::alert(&[])]
#[case::stop(&[("GUARD_AUDIT_ACTION", "stop")])]
#[case::terminate(&[("GUARD_AUDIT_ACTION", "terminate")])]
#[case::isolate(&[("GUARD_AUDIT_ACTION", "isolate"), ("GUARD_QUARANTINE_SECURITY_GROUP_ID", "sg-0eee0001")])]
#[case::audit_mode(&[("GUARD_MODE", "audit"), ("GUARD_AUDIT_ACTION", "terminate")])]
fn a_managed_instance_is_reported_and_never_remediated_whatever_the_action(
    #[case] settings: &[(&str, &str)],
) {
    let policy = strict_policy(settings);
    let (node, membership) = auto_mode_with_imdsv1();
    let audit = InstanceAudit::of(&policy, &node, membership, now());

    assert_eq!(
        audit.checks(),
        vec![CheckName::ImdsV2],
        "no membership.unmanaged"
    );
    assert!(
        audit.findings.iter().all(|f| !f.blocking),
        "never blocking: {:?}",
        audit.findings
    );
    assert_eq!(
        Plan::for_audit(&policy, &audit),
        Plan::Report(ReportOnly::Managed)
    );
}

#[test]
fn a_compliant_managed_instance_needs_nothing() {
    let policy = strict_policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let (mut node, membership) = auto_mode_with_imdsv1();
    node.instance.http_tokens = Some(HttpTokens::Required);
    let audit = InstanceAudit::of(&policy, &node, membership, now());
    assert_eq!(Plan::for_audit(&policy, &audit), Plan::Compliant);
}

#[test]
fn the_reason_names_the_service_and_what_the_guard_never_does() {
    let why = ReportOnly::Managed.explain();
    assert!(why.contains("EKS Auto Mode"), "{why}");
    assert!(why.contains("never stops, terminates or isolates"), "{why}");
}
