use pretty_assertions::assert_eq;
use serde_json::Value;
use shared::facts::{HttpTokens, InstanceFacts};
use shared::fixtures::at;

use super::*;
use crate::audit::run;
use crate::fixtures::{GROUP, cluster, node, now, policy};

const REGION: &str = "eu-west-1";

fn imdsv1(id: &str, group: Option<&str>) -> InstanceFacts {
    let mut instance = node(id, group);
    instance.http_tokens = Some(HttpTokens::Optional);
    instance
}

async fn report(policy: &Policy, instances: Vec<InstanceFacts>) -> AuditReport {
    run(policy, &cluster(instances), now()).await.unwrap()
}

/// What `audit --format <standard>` prints: [`write`] collected.
fn export(
    report: &AuditReport,
    policy: &Policy,
    standard: Standard,
) -> Result<String, ExportError> {
    let mut out = Vec::new();
    let export = Export {
        standard,
        policy,
        region: REGION,
        now: now(),
    };
    write(report, &export, &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

fn findings(text: &str) -> Vec<Value> {
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn each_instance_and_broken_check_is_one_asff_finding_of_the_owner_account_and_region() {
    let policy = policy(&[]);
    let report = report(
        &policy,
        vec![
            node("i-0000000000000000a", Some(GROUP)),
            imdsv1("i-0000000000000000b", Some(GROUP)),
            imdsv1("i-0000000000000000c", None),
        ],
    )
    .await;

    let text = export(&report, &policy, Standard::Asff).unwrap();

    let findings = findings(&text);
    let ids: Vec<&str> = findings.iter().map(|f| f["Id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        vec![
            "scaling-guard/123456789012/eu-west-1/prod/i-0000000000000000b/imds.v2",
            "scaling-guard/123456789012/eu-west-1/prod/i-0000000000000000c/imds.v2",
            "scaling-guard/123456789012/eu-west-1/prod/i-0000000000000000c/membership.unmanaged",
        ]
    );
    let first = &findings[0];
    assert_eq!(*at(first, "AwsAccountId"), "123456789012");
    assert_eq!(*at(first, "Region"), REGION);
    assert_eq!(*at(first, "Compliance/Status"), "FAILED");
    assert_eq!(*at(first, "Workflow/Status"), "NEW");
    // Product field names hold a `/`: read directly.
    assert_eq!(first["ProductFields"]["scaling-guard/decision"], "none");
    assert_eq!(first["ProductFields"]["scaling-guard/group"], GROUP);
    assert_eq!(
        *at(first, "Remediation/Recommendation/Text"),
        "Make `imds.v2` hold: expected HttpTokens=required, found HttpTokens=optional."
    );
    assert_eq!(
        text.lines().count(),
        5,
        "`[`, one finding a line, `]`: {text}"
    );
}

#[tokio::test]
async fn an_exempted_violation_is_exported_suppressed_with_the_exceptions_reason() {
    let policy = policy(&[(
        "GUARD_CHECK_EXCEPTIONS",
        "imds.v2@prod-general reason=PLAT-123 legacy agent",
    )]);
    let report = report(&policy, vec![imdsv1("i-0000000000000000b", Some(GROUP))]).await;

    let asff = findings(&export(&report, &policy, Standard::Asff).unwrap());
    let ocsf = findings(&export(&report, &policy, Standard::Ocsf).unwrap());

    assert_eq!(asff.len(), 1);
    assert_eq!(*at(&asff[0], "Workflow/Status"), "SUPPRESSED");
    assert_eq!(
        asff[0]["ProductFields"]["scaling-guard/exemption"],
        "PLAT-123 legacy agent"
    );
    assert_eq!(ocsf.len(), 1);
    assert_eq!(*at(&ocsf[0], "status"), "Suppressed");
    assert_eq!(
        *at(&ocsf[0], "status_detail"),
        "exempted: PLAT-123 legacy agent"
    );
}

#[tokio::test]
async fn the_ocsf_export_is_one_compliance_finding_per_instance_and_check() {
    let policy = policy(&[]);
    let report = report(&policy, vec![imdsv1("i-0000000000000000c", None)]).await;

    let events = findings(&export(&report, &policy, Standard::Ocsf).unwrap());

    let controls: Vec<&str> = events
        .iter()
        .map(|e| at(e, "compliance/control").as_str().unwrap())
        .collect();
    assert_eq!(controls, vec!["imds.v2", "membership.unmanaged"]);
    for event in &events {
        assert_eq!(*at(event, "class_uid"), 2003);
        assert_eq!(*at(event, "cloud/account/uid"), "123456789012");
        assert_eq!(*at(event, "cloud/region"), REGION);
        assert_eq!(*at(event, "resources/0/name"), "i-0000000000000000c");
    }
}

#[tokio::test]
async fn a_clean_cluster_exports_an_empty_array() {
    let policy = policy(&[]);
    let report = report(&policy, vec![node("i-0000000000000000a", Some(GROUP))]).await;
    for standard in [Standard::Asff, Standard::Ocsf] {
        assert_eq!(export(&report, &policy, standard).unwrap(), "[]\n");
    }
}

#[tokio::test]
async fn an_instance_without_an_owner_account_refuses_the_export_before_writing() {
    let policy = policy(&[]);
    let mut orphan = imdsv1("i-0000000000000000b", Some(GROUP));
    orphan.owner_account = None;
    let report = report(&policy, vec![orphan]).await;

    let mut out = Vec::new();
    let export = Export {
        standard: Standard::Asff,
        policy: &policy,
        region: REGION,
        now: now(),
    };
    let err = write(&report, &export, &mut out).unwrap_err();

    assert_eq!(
        err.to_string(),
        "instance `i-0000000000000000b` has no owner account in `DescribeInstances`: its findings cannot name their account"
    );
    assert!(out.is_empty(), "nothing written");
}
