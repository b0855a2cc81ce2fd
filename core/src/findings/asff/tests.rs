use std::time::Duration;

use pretty_assertions::assert_eq;

use super::*;
use crate::fixtures::{CLUSTER, GROUP, INSTANCE_ID, NOW_RFC3339, at, now};

use crate::findings::test_support::{ACCOUNT, REGION, blocking, imds_violation, subject};

fn context(severity: Severity) -> Context<'static> {
    Context {
        decision: "ABANDON",
        mode: Mode::Enforce,
        severity,
        advice: "launch the node with IMDSv2 required (HttpTokens=required)",
        now: now(),
    }
}

#[test]
fn a_blocking_violation_is_a_failed_active_new_finding_with_every_required_field() {
    let asff = failed(
        &subject(),
        &blocking(imds_violation()),
        &context(Severity::Critical),
    );
    let json = serde_json::to_value(&asff).unwrap();

    assert_eq!(*at(&json, "SchemaVersion"), "2018-10-08");
    assert_eq!(
        *at(&json, "Id"),
        "scaling-guard/123456789012/eu-west-1/prod/i-0123456789abcdef0/imds.v2"
    );
    assert_eq!(
        *at(&json, "ProductArn"),
        "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default"
    );
    assert_eq!(*at(&json, "GeneratorId"), "scaling-guard/imds.v2");
    assert_eq!(*at(&json, "AwsAccountId"), ACCOUNT);
    assert_eq!(*at(&json, "CreatedAt"), NOW_RFC3339);
    assert_eq!(*at(&json, "UpdatedAt"), NOW_RFC3339);
    assert_eq!(*at(&json, "Severity/Label"), "HIGH");
    assert_eq!(*at(&json, "Compliance/Status"), "FAILED");
    assert_eq!(*at(&json, "RecordState"), "ACTIVE");
    assert_eq!(*at(&json, "Workflow/Status"), "NEW");
    assert_eq!(*at(&json, "Region"), REGION);
    assert_eq!(
        *at(&json, "Types/0"),
        "Software and Configuration Checks/AWS Security Best Practices"
    );
    assert_eq!(
        *at(&json, "Remediation/Recommendation/Text"),
        "launch the node with IMDSv2 required (HttpTokens=required)"
    );
    assert_eq!(
        at(&json, "ProductFields").as_object().map(|m| m.len()),
        Some(7)
    );
}

#[test]
fn the_resources_are_the_instance_by_arn_and_its_group() {
    let asff = failed(
        &subject(),
        &blocking(imds_violation()),
        &context(Severity::Critical),
    );
    let kinds: Vec<(&str, &str)> = asff
        .resources
        .iter()
        .map(|r| (r.kind.as_str(), r.id.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                "AwsEc2Instance",
                "arn:aws:ec2:eu-west-1:123456789012:instance/i-0123456789abcdef0"
            ),
            ("AwsAutoScalingAutoScalingGroup", GROUP),
        ]
    );
    let without_group = Subject {
        group: None,
        ..subject()
    };
    let asff = failed(
        &without_group,
        &blocking(imds_violation()),
        &context(Severity::Critical),
    );
    assert_eq!(asff.resources.len(), 1);
    assert_eq!(asff.product_fields.get(fields::GROUP), None);
}

#[test]
fn the_product_fields_carry_decision_mode_exemption_cluster_group_and_version() {
    let asff = failed(
        &subject(),
        &blocking(imds_violation()),
        &context(Severity::Warning),
    );
    let expected: BTreeMap<String, String> = [
        ("scaling-guard/decision", "ABANDON"),
        ("scaling-guard/mode", "enforce"),
        ("scaling-guard/exemption", "none"),
        ("scaling-guard/cluster", CLUSTER),
        ("scaling-guard/group", GROUP),
        ("scaling-guard/instance", INSTANCE_ID),
        ("scaling-guard/version", env!("CARGO_PKG_VERSION")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(asff.product_fields, expected);
}

#[test]
fn the_id_is_one_per_account_region_cluster_instance_and_check() {
    let base = finding_id(&subject(), CheckName::ImdsV2);
    assert_eq!(
        base,
        finding_id(
            &Subject {
                group: None,
                ..subject()
            },
            CheckName::ImdsV2
        )
    );
    let others = [
        finding_id(
            &Subject {
                account: "210987654321",
                ..subject()
            },
            CheckName::ImdsV2,
        ),
        finding_id(
            &Subject {
                region: "us-east-1",
                ..subject()
            },
            CheckName::ImdsV2,
        ),
        finding_id(
            &Subject {
                cluster: "staging",
                ..subject()
            },
            CheckName::ImdsV2,
        ),
        finding_id(
            &Subject {
                instance_id: "i-0fff",
                ..subject()
            },
            CheckName::ImdsV2,
        ),
        finding_id(&subject(), CheckName::ImdsHopLimit),
    ];
    for other in others {
        assert_ne!(other, base);
    }
    // The same subject and check later (another sweep) is the same finding.
    let later = Context {
        now: now() + Duration::from_secs(3600),
        ..context(Severity::Critical)
    };
    let again = failed(&subject(), &blocking(imds_violation()), &later);
    assert_eq!(again.id(), base);
}

#[test]
fn the_accessors_read_back_the_instance_and_the_check() {
    let asff = failed(
        &subject(),
        &blocking(imds_violation()),
        &context(Severity::Critical),
    );
    assert_eq!(asff.instance_id(), Some(INSTANCE_ID));
    assert_eq!(asff.check(), Some(CheckName::ImdsV2));
    assert_eq!(asff.cluster(), Some(CLUSTER));
}

#[rstest::rstest]
#[case::critical(Severity::Critical, SeverityLabel::High, ComplianceStatus::Failed)]
#[case::warning(Severity::Warning, SeverityLabel::Medium, ComplianceStatus::Failed)]
#[case::info(Severity::Info, SeverityLabel::Low, ComplianceStatus::Warning)]
fn severity_and_compliance_follow_the_alert_severity(
    #[case] severity: Severity,
    #[case] label: SeverityLabel,
    #[case] status: ComplianceStatus,
) {
    let asff = failed(&subject(), &blocking(imds_violation()), &context(severity));
    assert_eq!(
        (asff.severity.label, asff.compliance.status),
        (label, status)
    );
}

#[test]
fn an_exempted_violation_is_created_suppressed_with_the_reason() {
    let reason = "JIRA-123: legacy AMI until the node group is replaced";
    let asff = suppressed(
        &subject(),
        &imds_violation(),
        reason,
        &context(Severity::Info),
    );
    assert_eq!(asff.workflow.status, WorkflowStatus::Suppressed);
    assert_eq!(asff.record_state, RecordState::Active);
    assert_eq!(
        asff.product_fields
            .get(fields::EXEMPTION)
            .map(String::as_str),
        Some(reason)
    );
    assert!(asff.description.contains(reason), "{}", asff.description);
    assert_eq!(asff.id(), finding_id(&subject(), CheckName::ImdsV2));
}

#[test]
fn a_resolved_finding_is_passed_archived_and_resolved_and_keeps_its_creation() {
    let created = failed(
        &subject(),
        &blocking(imds_violation()),
        &context(Severity::Critical),
    );
    let later = now() + Duration::from_secs(600);
    let over = resolved(&created, later);
    assert_eq!(over.compliance.status, ComplianceStatus::Passed);
    assert_eq!(over.record_state, RecordState::Archived);
    assert_eq!(over.workflow.status, WorkflowStatus::Resolved);
    assert_eq!(over.created_at, NOW_RFC3339);
    assert_eq!(over.updated_at, "2026-09-21T14:23:20Z");
    assert_eq!(over.id(), created.id());
}

#[test]
fn a_budget_finding_is_typed_as_resource_consumption() {
    let violation = Violation::new(CheckName::BudgetVcpus, GROUP, "<= 64", "72", "over budget");
    let asff = failed(
        &subject(),
        &blocking(violation),
        &context(Severity::Critical),
    );
    assert_eq!(asff.types, vec!["Effects/Resource Consumption".to_owned()]);
    assert_eq!(
        asff.product_fields
            .get(fields::RESOURCE)
            .map(String::as_str),
        Some(GROUP)
    );
}

#[test]
fn long_texts_are_cut_to_asff_limits_and_the_finding_stays_under_240_kb() {
    let huge = "é".repeat(300_000);
    let violation = Violation::new(
        CheckName::ImageAllowed,
        huge.clone(),
        "x",
        "y",
        huge.clone(),
    );
    let long = Context {
        advice: &huge,
        decision: &huge,
        ..context(Severity::Critical)
    };
    let group = huge.clone();
    let subject = Subject {
        group: Some(&group),
        cluster: &huge,
        ..subject()
    };
    for asff in [
        failed(&subject, &blocking(violation.clone()), &long),
        suppressed(&subject, &violation, &huge, &long),
    ] {
        assert_eq!(asff.title.chars().count(), TITLE_MAX);
        assert_eq!(asff.description.chars().count(), DESCRIPTION_MAX);
        assert_eq!(
            asff.remediation.recommendation.text.chars().count(),
            RECOMMENDATION_MAX
        );
        assert!(asff.title.ends_with('…'));
        assert!(asff.id.chars().count() <= ID_MAX, "{}", asff.id);
        assert_eq!(asff.id, finding_id(&subject, CheckName::ImageAllowed));
        assert!(
            asff.resources
                .iter()
                .all(|r| r.id.chars().count() <= ID_MAX)
        );
        assert!(
            asff.product_fields
                .values()
                .all(|v| v.chars().count() <= PRODUCT_FIELD_MAX)
        );
        assert!(
            asff.json_bytes() <= MAX_FINDING_BYTES,
            "{}",
            asff.json_bytes()
        );
    }
}

#[test]
fn partitions_follow_the_region() {
    assert_eq!(
        product_arn("cn-north-1", ACCOUNT),
        "arn:aws-cn:securityhub:cn-north-1:123456789012:product/123456789012/default"
    );
    assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    assert_eq!(partition("eu-west-1"), "aws");
}

#[test]
fn a_finding_round_trips_through_its_json() {
    let asff = failed(
        &subject(),
        &blocking(imds_violation()),
        &context(Severity::Critical),
    );
    let json = serde_json::to_string(&asff).unwrap();
    let back: AsffFinding = serde_json::from_str(&json).unwrap();
    assert_eq!(back, asff);
}
