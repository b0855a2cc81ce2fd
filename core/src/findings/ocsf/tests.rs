use std::sync::LazyLock;

use pretty_assertions::assert_eq;
use serde_json::Value;

use super::*;
use crate::check_name::CheckName;
use crate::fixtures::{CLUSTER, GROUP, IMAGE, INSTANCE_ID, NOW_SECS, at, now};
use crate::policy::Mode;

use crate::findings::test_support::{ACCOUNT, REGION, blocking, imds_violation, subject_in};

/// OCSF 1.6.0's Compliance Finding with the `cloud` profile, generated from
/// the published schema by scripts/ocsf/make_schema.py.
static SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(include_str!(
        "../../../../schemas/ocsf/1.6.0/compliance_finding.schema.json"
    ))
    .unwrap();
    jsonschema::validator_for(&schema).unwrap()
});

/// Every way `event` breaks the published schema, one line each.
fn schema_errors(event: &Value) -> Vec<String> {
    SCHEMA
        .iter_errors(event)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

fn context(severity: Severity, advice: &'static str) -> Context<'static> {
    Context {
        decision: "alert",
        mode: Mode::Enforce,
        severity,
        advice,
        now: now(),
    }
}

fn json(event: &OcsfFinding) -> Value {
    serde_json::to_value(event).unwrap()
}

#[test]
fn a_blocking_violation_is_a_failed_new_compliance_finding_the_published_schema_accepts() {
    let event = failed(
        &subject_in(INSTANCE_ID, Some(GROUP)),
        &blocking(imds_violation()),
        &context(Severity::Warning, "require IMDSv2 in the launch template"),
    );

    assert_eq!(schema_errors(&json(&event)), Vec::<String>::new());
    assert_eq!(
        (event.class_uid, event.class_name),
        (2003, "Compliance Finding")
    );
    assert_eq!((event.category_uid, event.category_name), (2, "Findings"));
    assert_eq!((event.activity_id, event.type_uid), (1, 200_301));
    assert_eq!((event.severity_id, event.severity), (3, "Medium"));
    assert_eq!((event.status_id, event.status), (1, "New"));
    assert_eq!(
        (event.compliance.status_id, event.compliance.status),
        (3, "Fail")
    );
    assert_eq!(event.compliance.control, "imds.v2");
    assert_eq!(
        event.compliance.status_detail,
        "expected required, found optional"
    );
    assert_eq!(event.time, i64::try_from(NOW_SECS * 1000).unwrap());
    assert_eq!(event.metadata.version, "1.6.0");
    assert_eq!(event.metadata.profiles, vec!["cloud"]);
    assert_eq!(
        event.remediation,
        Some(Remediation {
            desc: "require IMDSv2 in the launch template".to_owned()
        })
    );
    assert_eq!(
        event.unmapped.get("blocking").map(String::as_str),
        Some("true")
    );
}

#[test]
fn the_finding_names_the_instance_its_group_and_the_account_and_region_it_runs_in() {
    let event = failed(
        &subject_in(INSTANCE_ID, Some(GROUP)),
        &blocking(imds_violation()),
        &context(Severity::Warning, ""),
    );

    let resources: Vec<(&str, &str, &str)> = event
        .resources
        .iter()
        .map(|r| (r.kind, r.uid.as_str(), r.name.as_str()))
        .collect();
    assert_eq!(
        resources,
        vec![
            (
                "AWS::EC2::Instance",
                "arn:aws:ec2:eu-west-1:123456789012:instance/i-0123456789abcdef0",
                INSTANCE_ID
            ),
            ("AWS::AutoScaling::AutoScalingGroup", GROUP, GROUP),
        ]
    );
    assert_eq!(event.cloud.provider, "AWS");
    assert_eq!(event.cloud.region, REGION);
    assert_eq!(event.cloud.account.uid, ACCOUNT);
    assert_eq!(event.cloud.account.type_id, 10);
    assert_eq!(event.remediation, None, "no advice, no remediation");
    assert_eq!(schema_errors(&json(&event)), Vec::<String>::new());
}

#[test]
fn its_uid_is_the_asff_findings_id_so_both_exports_join() {
    let subject = subject_in(INSTANCE_ID, None);
    let event = failed(
        &subject,
        &blocking(imds_violation()),
        &context(Severity::Warning, ""),
    );
    assert_eq!(
        event.finding_info.uid,
        finding_id(&subject, CheckName::ImdsV2)
    );
    assert_eq!(
        event.finding_info.uid,
        "scaling-guard/123456789012/eu-west-1/prod/i-0123456789abcdef0/imds.v2"
    );
    assert_eq!(event.finding_info.types, vec!["imds.v2"]);
}

#[test]
fn an_exempted_violation_is_suppressed_with_the_exceptions_reason() {
    let event = suppressed(
        &subject_in(INSTANCE_ID, Some(GROUP)),
        &imds_violation(),
        "PLAT-123 ebs csi needs hop 2",
        &context(Severity::Info, ""),
    );

    assert_eq!(schema_errors(&json(&event)), Vec::<String>::new());
    assert_eq!((event.status_id, event.status), (3, "Suppressed"));
    assert_eq!(
        event.status_detail.as_deref(),
        Some("exempted: PLAT-123 ebs csi needs hop 2")
    );
    assert_eq!(
        event.unmapped.get("exemption").map(String::as_str),
        Some("PLAT-123 ebs csi needs hop 2")
    );
}

#[test]
fn a_violation_at_info_is_a_low_compliance_warning_as_in_asff() {
    let reported = Finding {
        violation: imds_violation(),
        blocking: false,
    };
    let event = failed(
        &subject_in(INSTANCE_ID, None),
        &reported,
        &context(Severity::Info, ""),
    );
    assert_eq!((event.severity_id, event.severity), (2, "Low"));
    assert_eq!(
        (event.compliance.status_id, event.compliance.status),
        (2, "Warning")
    );
    assert_eq!(
        event.unmapped.get("blocking").map(String::as_str),
        Some("false")
    );
}

#[test]
fn the_resource_at_fault_when_not_the_instance_is_kept_in_unmapped() {
    let violation = Violation::new(
        CheckName::ImageAge,
        IMAGE,
        "at most 90 days",
        "200 days",
        "image is 200 days old",
    );
    let event = failed(
        &subject_in(INSTANCE_ID, Some(GROUP)),
        &blocking(violation),
        &context(Severity::Critical, ""),
    );
    let json = json(&event);
    assert_eq!(*at(&json, "unmapped/resource"), IMAGE);
    assert_eq!(*at(&json, "unmapped/cluster"), CLUSTER);
    assert_eq!(*at(&json, "unmapped/group"), GROUP);
    assert_eq!((event.severity_id, event.severity), (4, "High"));
    assert_eq!(schema_errors(&json), Vec::<String>::new());
}

#[test]
fn the_published_schema_rejects_a_misspelt_or_missing_attribute() {
    let event = failed(
        &subject_in(INSTANCE_ID, Some(GROUP)),
        &blocking(imds_violation()),
        &context(Severity::Warning, ""),
    );
    let mut misspelt = json(&event);
    misspelt["clas_uid"] = misspelt["class_uid"].take();
    assert!(!schema_errors(&misspelt).is_empty(), "`clas_uid` accepted");

    let mut no_cloud = json(&event);
    no_cloud.as_object_mut().unwrap().remove("cloud");
    assert!(
        !schema_errors(&no_cloud).is_empty(),
        "the cloud profile's `cloud` is required"
    );

    let mut wrong_severity = json(&event);
    wrong_severity["severity_id"] = 7.into();
    assert!(
        !schema_errors(&wrong_severity).is_empty(),
        "severity_id 7 accepted"
    );
}
