//! The guard's findings in the AWS Security Finding Format (ASFF), as
//! Security Hub's `BatchImportFindings` takes them (issue 24, point 1).
//!
//! One finding per (account, region, cluster, instance, check): its [`Id`]
//! is made of exactly those, so a later sweep or launch that finds the same
//! thing updates the finding instead of adding one, and an instance that is
//! fixed or gone archives it ([`resolved`]). The document is also what the
//! CLI exports as `--format asff`.
//!
//! Security Hub accepts a finding only from the account it describes
//! (`AwsAccountId`) and only on the account's own default product
//! ([`product_arn`]); it refuses a finding over 240 KB, and cuts nothing
//! itself: the builders cut the long texts to ASFF's limits
//! ([`TITLE_MAX`], [`DESCRIPTION_MAX`], [`RECOMMENDATION_MAX`]).
//!
//! [`Id`]: AsffFinding::id

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::alerts::Severity;
use crate::check_name::CheckName;
use crate::checks::Violation;
use crate::decision::Finding;
use crate::policy::Mode;
use crate::time::format_rfc3339;

/// ASFF's only schema version.
pub const SCHEMA_VERSION: &str = "2018-10-08";
/// What `GeneratorId` starts with: the rest is the check's name.
pub const GENERATOR_PREFIX: &str = "scaling-guard/";
/// Security Hub refuses a finding larger than this (in bytes of JSON).
pub const MAX_FINDING_BYTES: usize = 240 * 1024;
/// ASFF's limit on `Title`, in characters.
pub const TITLE_MAX: usize = 256;
/// ASFF's limit on `Description`, in characters.
pub const DESCRIPTION_MAX: usize = 1024;
/// ASFF's limit on `Remediation.Recommendation.Text`, in characters.
pub const RECOMMENDATION_MAX: usize = 512;
/// A `ProductFields` value is kept under ASFF's 2,048 characters.
pub const PRODUCT_FIELD_MAX: usize = 2048;
/// ASFF's limit on `Id`, and the guard's on a resource's `Id`.
pub const ID_MAX: usize = 512;
/// The `ProductFields` the guard writes, one key each. `active` filters on
/// [`fields::CLUSTER`] and [`fields::INSTANCE`]; the others are for people
/// and rules (`scaling-guard/exemption` names an exception's reason).
pub mod fields {
    pub const DECISION: &str = "scaling-guard/decision";
    pub const MODE: &str = "scaling-guard/mode";
    pub const EXEMPTION: &str = "scaling-guard/exemption";
    pub const CLUSTER: &str = "scaling-guard/cluster";
    pub const GROUP: &str = "scaling-guard/group";
    pub const INSTANCE: &str = "scaling-guard/instance";
    /// The resource at fault (an image, a subnet, …), when not the instance.
    pub const RESOURCE: &str = "scaling-guard/resource";
    pub const VERSION: &str = "scaling-guard/version";
}
/// What `scaling-guard/exemption` holds when no exception applies.
pub const NOT_EXEMPTED: &str = "none";
/// The guard's version, in `ProductFields`.
pub const PRODUCT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// ASFF resource types of the two resources a finding names.
pub const INSTANCE_TYPE: &str = "AwsEc2Instance";
pub const GROUP_TYPE: &str = "AwsAutoScalingAutoScalingGroup";

/// One finding, as `BatchImportFindings` takes it and `GetFindings` returns
/// it (the fields the guard uses; Security Hub adds its own on import).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffFinding {
    pub schema_version: String,
    pub id: String,
    pub product_arn: String,
    pub generator_id: String,
    pub aws_account_id: String,
    pub types: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub severity: AsffSeverity,
    pub title: String,
    pub description: String,
    pub remediation: Remediation,
    pub product_fields: BTreeMap<String, String>,
    pub resources: Vec<Resource>,
    pub compliance: Compliance,
    pub record_state: RecordState,
    pub workflow: Workflow,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffSeverity {
    pub label: SeverityLabel,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Remediation {
    pub recommendation: Recommendation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Recommendation {
    pub text: String,
}

/// One resource of a finding: the instance (by arn) or its group (by name:
/// the group's arn holds an id the guard is not told).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    #[serde(rename = "Type")]
    pub kind: String,
    pub id: String,
    pub partition: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Compliance {
    pub status: ComplianceStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Workflow {
    pub status: WorkflowStatus,
}

/// Declares an ASFF enumeration with its wire words, both ways.
macro_rules! asff_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value of its wire word; `None` for another word.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

asff_enum!(
    /// `Severity.Label`.
    SeverityLabel {
        Informational => "INFORMATIONAL",
        Low => "LOW",
        Medium => "MEDIUM",
        High => "HIGH",
        Critical => "CRITICAL",
    }
);
asff_enum!(
    /// `Compliance.Status`.
    ComplianceStatus {
        Passed => "PASSED",
        Warning => "WARNING",
        Failed => "FAILED",
        NotAvailable => "NOT_AVAILABLE",
    }
);
asff_enum!(
    /// `RecordState`: an `ARCHIVED` finding is no longer current.
    RecordState {
        Active => "ACTIVE",
        Archived => "ARCHIVED",
    }
);
asff_enum!(
    /// `Workflow.Status`: `SUPPRESSED` for a violation the policy exempts.
    WorkflowStatus {
        New => "NEW",
        Notified => "NOTIFIED",
        Resolved => "RESOLVED",
        Suppressed => "SUPPRESSED",
    }
);

/// What a finding is about: the instance, where it runs and for which
/// cluster's guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub cluster: &'a str,
    pub instance_id: &'a str,
    pub group: Option<&'a str>,
}

/// What the guard decided about the instance: it goes into the finding's
/// severity, remediation and product fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context<'a> {
    /// `CONTINUE`, `ABANDON`, `isolate`, … as in the alert.
    pub decision: &'a str,
    pub mode: Mode,
    /// The alert's severity: the finding's severity and compliance follow it.
    pub severity: Severity,
    /// The alert's advice: the finding's recommendation.
    pub advice: &'a str,
    pub now: SystemTime,
}

/// The finding's `Id`: one per (account, region, cluster, instance, check),
/// readable in the console and stable across launches and sweeps. One
/// longer than ASFF's 512 characters (a very long cluster name) is the
/// SHA-256 of the readable one instead: as stable, and still one per subject.
pub fn finding_id(subject: &Subject, check: CheckName) -> String {
    let readable = format!(
        "{GENERATOR_PREFIX}{}/{}/{}/{}/{check}",
        subject.account, subject.region, subject.cluster, subject.instance_id
    );
    if readable.chars().count() <= ID_MAX {
        return readable;
    }
    let digest: String = Sha256::digest(readable.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{GENERATOR_PREFIX}{digest}/{check}")
}

/// The account's own default product: the only one a finding of the
/// account's may be imported to without a partner integration.
pub fn product_arn(region: &str, account: &str) -> String {
    format!(
        "arn:{}:securityhub:{region}:{account}:product/{account}/default",
        partition(region)
    )
}

/// The AWS partition of `region` (`aws-cn`, `aws-us-gov` or `aws`).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// A violation that counts (blocking or reported): `Compliance` `FAILED`
/// (`WARNING` for an `info` alert), workflow `NEW`.
pub fn failed(subject: &Subject, finding: &Finding, context: &Context) -> AsffFinding {
    let violation = &finding.violation;
    let mut asff = build(subject, violation, context, NOT_EXEMPTED);
    asff.description = cut(
        &format!(
            "{} ({}; {})",
            violation.message,
            if finding.blocking {
                "blocking"
            } else {
                "reported only"
            },
            context.mode
        ),
        DESCRIPTION_MAX,
    );
    asff
}

/// A violation the policy exempts: created `SUPPRESSED`, with the
/// exception's `reason` in the description and the product fields.
pub fn suppressed(
    subject: &Subject,
    violation: &Violation,
    reason: &str,
    context: &Context,
) -> AsffFinding {
    let mut asff = build(subject, violation, context, reason);
    asff.workflow.status = WorkflowStatus::Suppressed;
    asff.description = cut(
        &format!("{} (exempted: {reason})", violation.message),
        DESCRIPTION_MAX,
    );
    asff
}

/// The same finding, over: the instance is fixed or gone. `PASSED`,
/// `ARCHIVED`, `RESOLVED`, updated `now`; its `CreatedAt` is kept.
pub fn resolved(previous: &AsffFinding, now: SystemTime) -> AsffFinding {
    let mut asff = previous.clone();
    asff.compliance.status = ComplianceStatus::Passed;
    asff.record_state = RecordState::Archived;
    asff.workflow.status = WorkflowStatus::Resolved;
    asff.updated_at = format_rfc3339(now);
    asff
}

impl AsffFinding {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The instance the finding is about (its product field).
    pub fn instance_id(&self) -> Option<&str> {
        self.product_fields
            .get(fields::INSTANCE)
            .map(String::as_str)
    }

    /// The check that made the finding (its `GeneratorId`).
    pub fn check(&self) -> Option<CheckName> {
        self.generator_id
            .strip_prefix(GENERATOR_PREFIX)
            .and_then(|name| name.parse().ok())
    }

    /// The cluster whose guard made the finding (its product field).
    pub fn cluster(&self) -> Option<&str> {
        self.product_fields.get(fields::CLUSTER).map(String::as_str)
    }

    /// The size Security Hub measures against [`MAX_FINDING_BYTES`].
    pub fn json_bytes(&self) -> usize {
        serde_json::to_vec(self).map_or(usize::MAX, |json| json.len())
    }
}

/// The finding every builder starts from: `ACTIVE`, workflow `NEW`,
/// severity and compliance from the alert's severity.
fn build(
    subject: &Subject,
    violation: &Violation,
    context: &Context,
    exemption: &str,
) -> AsffFinding {
    let now = format_rfc3339(context.now);
    let (label, status) = grade(context.severity);
    AsffFinding {
        schema_version: SCHEMA_VERSION.to_owned(),
        id: finding_id(subject, violation.check),
        product_arn: product_arn(subject.region, subject.account),
        generator_id: format!("{GENERATOR_PREFIX}{}", violation.check),
        aws_account_id: subject.account.to_owned(),
        types: vec![finding_type(violation.check).to_owned()],
        created_at: now.clone(),
        updated_at: now,
        severity: AsffSeverity { label },
        title: cut(
            &format!(
                "{} on {}: {}",
                violation.check, subject.instance_id, violation.message
            ),
            TITLE_MAX,
        ),
        description: cut(&violation.message, DESCRIPTION_MAX),
        remediation: Remediation {
            recommendation: Recommendation {
                text: cut(context.advice, RECOMMENDATION_MAX),
            },
        },
        product_fields: product_fields(subject, violation, context, exemption),
        resources: resources(subject),
        compliance: Compliance { status },
        record_state: RecordState::Active,
        workflow: Workflow {
            status: WorkflowStatus::New,
        },
        region: subject.region.to_owned(),
    }
}

/// `critical` → `HIGH`/`FAILED`, `warning` → `MEDIUM`/`FAILED`, `info` →
/// `LOW`/`WARNING`: a violation is never informational, and only a
/// reported-only one at `info` is less than a failed control.
fn grade(severity: Severity) -> (SeverityLabel, ComplianceStatus) {
    match severity {
        Severity::Critical => (SeverityLabel::High, ComplianceStatus::Failed),
        Severity::Warning => (SeverityLabel::Medium, ComplianceStatus::Failed),
        Severity::Info => (SeverityLabel::Low, ComplianceStatus::Warning),
    }
}

/// ASFF's type taxonomy: a budget overrun consumes resources; every other
/// check is a configuration check.
fn finding_type(check: CheckName) -> &'static str {
    match check {
        CheckName::BudgetVcpus | CheckName::BudgetMemory | CheckName::BudgetInstances => {
            "Effects/Resource Consumption"
        }
        _ => "Software and Configuration Checks/AWS Security Best Practices",
    }
}

fn product_fields(
    subject: &Subject,
    violation: &Violation,
    context: &Context,
    exemption: &str,
) -> BTreeMap<String, String> {
    let mut fields: BTreeMap<String, String> = [
        (fields::DECISION, context.decision),
        (fields::MODE, context.mode.as_str()),
        (fields::EXEMPTION, exemption),
        (fields::CLUSTER, subject.cluster),
        (fields::INSTANCE, subject.instance_id),
        (fields::VERSION, PRODUCT_VERSION),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), cut(value, PRODUCT_FIELD_MAX)))
    .collect();
    if let Some(group) = subject.group {
        fields.insert(fields::GROUP.to_owned(), cut(group, PRODUCT_FIELD_MAX));
    }
    if violation.resource != subject.instance_id {
        fields.insert(
            fields::RESOURCE.to_owned(),
            cut(&violation.resource, PRODUCT_FIELD_MAX),
        );
    }
    fields
}

fn resources(subject: &Subject) -> Vec<Resource> {
    let partition = partition(subject.region);
    let resource = |kind: &str, id: String| Resource {
        kind: kind.to_owned(),
        id: cut(&id, ID_MAX),
        partition: partition.to_owned(),
        region: subject.region.to_owned(),
    };
    let instance_arn = format!(
        "arn:{partition}:ec2:{}:{}:instance/{}",
        subject.region, subject.account, subject.instance_id
    );
    let mut resources = vec![resource(INSTANCE_TYPE, instance_arn)];
    resources.extend(
        subject
            .group
            .map(|group| resource(GROUP_TYPE, group.to_owned())),
    );
    resources
}

/// `text` cut to at most `max` characters, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut kept: String = text.chars().take(max.saturating_sub(1)).collect();
    kept.push('…');
    kept
}

#[cfg(test)]
mod tests;
