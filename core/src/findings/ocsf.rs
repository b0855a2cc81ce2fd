//! The guard's findings as OCSF events: the Compliance Finding class
//! (`class_uid` 2003, category Findings) of OCSF [`OCSF_VERSION`], with the
//! `cloud` profile, as `scaling-guard audit --format ocsf` prints them for a
//! data lake (Amazon Security Lake, a SIEM) to ingest.
//!
//! OCSF 1.6.0 is pinned because it is the version Security Hub takes and
//! gives its findings in: an export that a team loads next to Security
//! Hub's own findings needs no second mapping. Tests validate these events
//! against the JSON Schema generated from that version's published
//! definitions (`schemas/ocsf/1.6.0/`, made by `scripts/ocsf/make_schema.py`).
//!
//! One event per (instance, check), built from the same [`Subject`] and
//! [`Context`] as the ASFF finding ([`super::asff`]): the event's
//! `finding_info.uid` is the ASFF finding's `Id`, so the two exports of the
//! same violation can be joined.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use super::asff::{Context, PRODUCT_VERSION, Subject, finding_id, partition};
use crate::alerts::Severity;
use crate::checks::Violation;
use crate::decision::Finding;

/// The OCSF schema version the events follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.6.0";
/// The profiles the events apply (`metadata.profiles`): `cloud` adds the
/// `cloud` object (provider, region, account), which it requires.
pub const PROFILES: [&str; 1] = ["cloud"];
/// `metadata.product.name` and `vendor_name`.
pub const PRODUCT: &str = "scaling-guard";
/// The resource types, as AWS names them in CloudFormation and Config.
pub const INSTANCE_TYPE: &str = "AWS::EC2::Instance";
pub const GROUP_TYPE: &str = "AWS::AutoScaling::AutoScalingGroup";

/// An OCSF enumeration value: the `_id` attribute and its caption sibling.
type Enumerated = (u32, &'static str);

const CATEGORY: Enumerated = (2, "Findings");
const CLASS: Enumerated = (2003, "Compliance Finding");
/// Activity `Create`: an export states what is found now; it updates or
/// closes nothing.
const ACTIVITY: Enumerated = (1, "Create");
const TYPE: Enumerated = (200_301, "Compliance Finding: Create");
const STATUS_NEW: Enumerated = (1, "New");
const STATUS_SUPPRESSED: Enumerated = (3, "Suppressed");
const COMPLIANCE_WARNING: Enumerated = (2, "Warning");
const COMPLIANCE_FAIL: Enumerated = (3, "Fail");
const AWS_ACCOUNT: Enumerated = (10, "AWS Account");

/// One Compliance Finding event (the attributes the guard fills).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OcsfFinding {
    pub activity_id: u32,
    pub activity_name: &'static str,
    pub category_uid: u32,
    pub category_name: &'static str,
    pub class_uid: u32,
    pub class_name: &'static str,
    pub type_uid: u32,
    pub type_name: &'static str,
    /// When the guard found it, in milliseconds since the epoch.
    pub time: i64,
    pub severity_id: u32,
    pub severity: &'static str,
    pub status_id: u32,
    pub status: &'static str,
    /// Why a suppressed finding is suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    pub message: String,
    pub metadata: Metadata,
    pub finding_info: FindingInfo,
    pub compliance: Compliance,
    pub resources: Vec<ResourceDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
    pub cloud: Cloud,
    /// The guard's own facts OCSF has no attribute for: cluster, group,
    /// decision, mode, whether the check blocks, the resource at fault.
    pub unmapped: BTreeMap<&'static str, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    pub version: &'static str,
    pub product: Product,
    pub profiles: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub name: &'static str,
    pub vendor_name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingInfo {
    /// The ASFF finding's `Id`: one per (account, region, cluster,
    /// instance, check).
    pub uid: String,
    pub title: String,
    pub desc: String,
    /// The check's name (`imds.v2`).
    pub types: Vec<String>,
    pub created_time: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compliance {
    /// The check's name: the guard's policy is the standard it belongs to.
    pub control: String,
    pub standards: Vec<&'static str>,
    pub status_id: u32,
    pub status: &'static str,
    /// What the check expected and what it found.
    pub status_detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceDetails {
    /// The instance's ARN; the group's name (its ARN holds an id the
    /// guard is not told).
    pub uid: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub region: String,
    pub cloud_partition: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remediation {
    pub desc: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cloud {
    pub provider: &'static str,
    pub region: String,
    pub cloud_partition: &'static str,
    pub account: Account,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub uid: String,
    pub type_id: u32,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A violation that counts (blocking or reported): compliance `Fail`
/// (`Warning` for an `info` finding, as in ASFF), status `New`.
pub fn failed(subject: &Subject, finding: &Finding, context: &Context) -> OcsfFinding {
    let mut event = build(subject, &finding.violation, context);
    event
        .unmapped
        .insert("blocking", finding.blocking.to_string());
    event
}

/// A violation the policy exempts: status `Suppressed`, with the
/// exception's `reason`.
pub fn suppressed(
    subject: &Subject,
    violation: &Violation,
    reason: &str,
    context: &Context,
) -> OcsfFinding {
    let mut event = build(subject, violation, context);
    (event.status_id, event.status) = STATUS_SUPPRESSED;
    event.status_detail = Some(format!("exempted: {reason}"));
    event.unmapped.insert("exemption", reason.to_owned());
    event
}

/// The event every builder starts from: status `New`, severity and
/// compliance from the context's severity.
fn build(subject: &Subject, violation: &Violation, context: &Context) -> OcsfFinding {
    let time = epoch_millis(context.now);
    let (severity_id, severity) = severity_of(context.severity);
    let (status_id, status) = compliance_of(context.severity);
    OcsfFinding {
        activity_id: ACTIVITY.0,
        activity_name: ACTIVITY.1,
        category_uid: CATEGORY.0,
        category_name: CATEGORY.1,
        class_uid: CLASS.0,
        class_name: CLASS.1,
        type_uid: TYPE.0,
        type_name: TYPE.1,
        time,
        severity_id,
        severity,
        status_id: STATUS_NEW.0,
        status: STATUS_NEW.1,
        status_detail: None,
        message: violation.message.clone(),
        metadata: metadata(),
        finding_info: FindingInfo {
            uid: finding_id(subject, violation.check),
            title: format!(
                "{} on {}: {}",
                violation.check, subject.instance_id, violation.message
            ),
            desc: violation.message.clone(),
            types: vec![violation.check.to_string()],
            created_time: time,
        },
        compliance: Compliance {
            control: violation.check.to_string(),
            standards: vec![PRODUCT],
            status_id,
            status,
            status_detail: format!(
                "expected {}, found {}",
                violation.expected, violation.actual
            ),
        },
        resources: resources(subject),
        remediation: (!context.advice.is_empty()).then(|| Remediation {
            desc: context.advice.to_owned(),
        }),
        cloud: cloud(subject),
        unmapped: unmapped(subject, violation, context),
    }
}

fn metadata() -> Metadata {
    Metadata {
        version: OCSF_VERSION,
        product: Product {
            name: PRODUCT,
            vendor_name: PRODUCT,
            version: PRODUCT_VERSION,
        },
        profiles: PROFILES.to_vec(),
    }
}

/// `critical` → High, `warning` → Medium, `info` → Low: ASFF's grading
/// (a violation is never informational).
fn severity_of(severity: Severity) -> Enumerated {
    match severity {
        Severity::Critical => (4, "High"),
        Severity::Warning => (3, "Medium"),
        Severity::Info => (2, "Low"),
    }
}

/// `Fail`, or `Warning` for an `info` finding (reported, nothing to do on
/// the node), as ASFF's `Compliance.Status`.
fn compliance_of(severity: Severity) -> Enumerated {
    match severity {
        Severity::Critical | Severity::Warning => COMPLIANCE_FAIL,
        Severity::Info => COMPLIANCE_WARNING,
    }
}

fn resources(subject: &Subject) -> Vec<ResourceDetails> {
    let partition = partition(subject.region);
    let resource = |kind, uid, name: &str| ResourceDetails {
        uid,
        name: name.to_owned(),
        kind,
        region: subject.region.to_owned(),
        cloud_partition: partition,
    };
    let instance_arn = format!(
        "arn:{partition}:ec2:{}:{}:instance/{}",
        subject.region, subject.account, subject.instance_id
    );
    let mut resources = vec![resource(INSTANCE_TYPE, instance_arn, subject.instance_id)];
    resources.extend(
        subject
            .group
            .map(|group| resource(GROUP_TYPE, group.to_owned(), group)),
    );
    resources
}

fn cloud(subject: &Subject) -> Cloud {
    Cloud {
        provider: "AWS",
        region: subject.region.to_owned(),
        cloud_partition: partition(subject.region),
        account: Account {
            uid: subject.account.to_owned(),
            type_id: AWS_ACCOUNT.0,
            kind: AWS_ACCOUNT.1,
        },
    }
}

fn unmapped(
    subject: &Subject,
    violation: &Violation,
    context: &Context,
) -> BTreeMap<&'static str, String> {
    let mut unmapped = BTreeMap::from([
        ("cluster", subject.cluster.to_owned()),
        ("decision", context.decision.to_owned()),
        ("mode", context.mode.as_str().to_owned()),
    ]);
    if let Some(group) = subject.group {
        unmapped.insert("group", group.to_owned());
    }
    if violation.resource != subject.instance_id {
        unmapped.insert("resource", violation.resource.clone());
    }
    unmapped
}

/// OCSF's `timestamp_t`: milliseconds since the epoch (0 before it).
fn epoch_millis(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests;
