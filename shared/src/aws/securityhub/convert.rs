//! ASFF findings to the SDK's types and back. The two are the same document:
//! the domain's [`AsffFinding`] is what the guard builds and tests; the
//! SDK's [`AwsSecurityFinding`] is what goes over the wire.

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance as SdkCompliance, ComplianceStatus as SdkComplianceStatus,
    Recommendation as SdkRecommendation, RecordState as SdkRecordState,
    Remediation as SdkRemediation, Resource as SdkResource, Severity as SdkSeverity,
    SeverityLabel as SdkSeverityLabel, Workflow as SdkWorkflow,
    WorkflowStatus as SdkWorkflowStatus,
};

use guard_core::findings::asff::{
    AsffFinding, AsffSeverity, Compliance, ComplianceStatus, Recommendation, RecordState,
    Remediation, Resource, SeverityLabel, Workflow, WorkflowStatus,
};

/// The finding as `BatchImportFindings` sends it.
pub(super) fn to_sdk(finding: &AsffFinding) -> AwsSecurityFinding {
    AwsSecurityFinding::builder()
        .schema_version(&finding.schema_version)
        .id(&finding.id)
        .product_arn(&finding.product_arn)
        .generator_id(&finding.generator_id)
        .aws_account_id(&finding.aws_account_id)
        .set_types(Some(finding.types.clone()))
        .created_at(&finding.created_at)
        .updated_at(&finding.updated_at)
        .severity(
            SdkSeverity::builder()
                .label(SdkSeverityLabel::from(finding.severity.label.as_str()))
                .build(),
        )
        .title(&finding.title)
        .description(&finding.description)
        .remediation(
            SdkRemediation::builder()
                .recommendation(
                    SdkRecommendation::builder()
                        .text(&finding.remediation.recommendation.text)
                        .build(),
                )
                .build(),
        )
        .set_product_fields(Some(finding.product_fields.clone().into_iter().collect()))
        .set_resources(Some(
            finding.resources.iter().map(resource_to_sdk).collect(),
        ))
        .compliance(
            SdkCompliance::builder()
                .status(SdkComplianceStatus::from(
                    finding.compliance.status.as_str(),
                ))
                .build(),
        )
        .record_state(SdkRecordState::from(finding.record_state.as_str()))
        .workflow(
            SdkWorkflow::builder()
                .status(SdkWorkflowStatus::from(finding.workflow.status.as_str()))
                .build(),
        )
        .region(&finding.region)
        .build()
}

fn resource_to_sdk(resource: &Resource) -> SdkResource {
    SdkResource::builder()
        .r#type(&resource.kind)
        .id(&resource.id)
        .partition(resource.partition.as_str().into())
        .region(&resource.region)
        .build()
}

/// The finding `GetFindings` returned, as the guard built it; `None` when
/// a field the guard always writes is missing or unknown (not the guard's
/// finding, or one changed by hand).
pub(super) fn from_sdk(finding: &AwsSecurityFinding) -> Option<AsffFinding> {
    Some(AsffFinding {
        schema_version: finding.schema_version()?.to_owned(),
        id: finding.id()?.to_owned(),
        product_arn: finding.product_arn()?.to_owned(),
        generator_id: finding.generator_id()?.to_owned(),
        aws_account_id: finding.aws_account_id()?.to_owned(),
        types: finding.types().to_vec(),
        created_at: finding.created_at()?.to_owned(),
        updated_at: finding.updated_at()?.to_owned(),
        severity: AsffSeverity {
            label: SeverityLabel::parse(finding.severity()?.label()?.as_str())?,
        },
        title: finding.title()?.to_owned(),
        description: finding.description()?.to_owned(),
        remediation: Remediation {
            recommendation: Recommendation {
                text: recommendation_text(finding),
            },
        },
        product_fields: finding
            .product_fields()?
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
        resources: finding
            .resources()
            .iter()
            .filter_map(resource_from_sdk)
            .collect(),
        compliance: Compliance {
            status: ComplianceStatus::parse(finding.compliance()?.status()?.as_str())?,
        },
        record_state: RecordState::parse(finding.record_state()?.as_str())?,
        workflow: Workflow {
            status: workflow_status(finding),
        },
        region: finding.region()?.to_owned(),
    })
}

fn recommendation_text(finding: &AwsSecurityFinding) -> String {
    finding
        .remediation()
        .and_then(SdkRemediation::recommendation)
        .and_then(SdkRecommendation::text)
        .unwrap_or_default()
        .to_owned()
}

/// `NEW` when Security Hub shows none (a finding imported without one).
fn workflow_status(finding: &AwsSecurityFinding) -> WorkflowStatus {
    finding
        .workflow()
        .and_then(SdkWorkflow::status)
        .and_then(|status| WorkflowStatus::parse(status.as_str()))
        .unwrap_or(WorkflowStatus::New)
}

fn resource_from_sdk(resource: &SdkResource) -> Option<Resource> {
    Some(Resource {
        kind: resource.r#type()?.to_owned(),
        id: resource.id()?.to_owned(),
        partition: resource
            .partition()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        region: resource.region().unwrap_or_default().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use guard_core::alerts::Severity;
    use guard_core::checks::{CheckName, Violation};
    use guard_core::decision::Finding;
    use guard_core::findings::asff::{Context, Subject, failed};
    use guard_core::fixtures::{CLUSTER, GROUP, INSTANCE_ID, now};
    use guard_core::policy::Mode;

    use super::*;

    #[test]
    fn a_finding_survives_the_trip_through_the_sdk_types() {
        let subject = Subject {
            account: "123456789012",
            region: "eu-west-1",
            cluster: CLUSTER,
            instance_id: INSTANCE_ID,
            group: Some(GROUP),
        };
        let finding = Finding {
            violation: Violation::new(CheckName::ImdsV2, INSTANCE_ID, "a", "b", "imds v1"),
            blocking: true,
        };
        let context = Context {
            decision: "ABANDON",
            mode: Mode::Enforce,
            severity: Severity::Critical,
            advice: "require IMDSv2",
            now: now(),
        };
        let asff = failed(&subject, &finding, &context);
        assert_eq!(from_sdk(&to_sdk(&asff)), Some(asff));
    }
}
