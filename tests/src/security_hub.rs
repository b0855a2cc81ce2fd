//! The guard's findings as Security Hub holds them, read back through the
//! SDK's `GetFindings` (issue 24, point 1): what the end-to-end tests assert
//! and the demo prints.

use aws_config::SdkConfig;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, MapFilter, MapFilterComparison,
};

use crate::{Error, Result};

/// The product field that names a finding's instance (`shared::findings::asff::fields::INSTANCE`).
const INSTANCE_FIELD: &str = "scaling-guard/instance";
/// The product field that names a finding's exemption.
const EXEMPTION_FIELD: &str = "scaling-guard/exemption";

/// One finding, as far as the tests and the demo look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldFinding {
    pub id: String,
    /// `scaling-guard/<check>`.
    pub generator_id: String,
    /// `Compliance.Status`: `FAILED`, `PASSED`, …
    pub compliance: String,
    /// `RecordState`: `ACTIVE` or `ARCHIVED`.
    pub record_state: String,
    /// `Workflow.Status`: `NEW`, `SUPPRESSED`, `RESOLVED`, …
    pub workflow: String,
    /// The exception's reason, or `none`.
    pub exemption: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Every finding about `instance_id`, archived ones too (all pages), in `Id`
/// order.
pub async fn findings_of(config: &SdkConfig, instance_id: &str) -> Result<Vec<HeldFinding>> {
    let client = aws_sdk_securityhub::Client::new(config);
    let filters = AwsSecurityFindingFilters::builder()
        .product_fields(
            MapFilter::builder()
                .key(INSTANCE_FIELD)
                .value(instance_id)
                .comparison(MapFilterComparison::Equals)
                .build(),
        )
        .build();
    let mut held = Vec::new();
    let mut next: Option<String> = None;
    loop {
        // Boxed: the SDK's operation future is large in a debug build, and
        // a test thread's stack is 2 MiB.
        let request = client
            .get_findings()
            .filters(filters.clone())
            .set_next_token(next.take())
            .max_results(100)
            .send();
        let page = Box::pin(request).await.map_err(Error::aws("GetFindings"))?;
        held.extend(page.findings().iter().map(held_finding));
        match page.next_token().filter(|token| !token.is_empty()) {
            Some(token) => next = Some(token.to_owned()),
            None => break,
        }
    }
    held.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(held)
}

fn held_finding(finding: &AwsSecurityFinding) -> HeldFinding {
    let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
    HeldFinding {
        id: text(finding.id()),
        generator_id: text(finding.generator_id()),
        compliance: text(
            finding
                .compliance()
                .and_then(|c| c.status())
                .map(|s| s.as_str()),
        ),
        record_state: text(finding.record_state().map(|s| s.as_str())),
        workflow: text(
            finding
                .workflow()
                .and_then(|w| w.status())
                .map(|s| s.as_str()),
        ),
        exemption: text(
            finding
                .product_fields()
                .and_then(|fields| fields.get(EXEMPTION_FIELD))
                .map(String::as_str),
        ),
        created_at: text(finding.created_at()),
        updated_at: text(finding.updated_at()),
    }
}
