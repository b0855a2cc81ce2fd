//! `scaling-guard audit --format asff|ocsf|json|text` end to end: the built
//! CLI against the emulator's cluster. The OCSF export is validated against
//! the JSON Schema of OCSF 1.6.0's Compliance Finding class, generated from
//! the published OCSF schema (`schemas/ocsf/`, scripts/ocsf/make_schema.py),
//! with the `jsonschema` crate; the ASFF export is the document the
//! functions send to Security Hub (`guard_core`'s builder), and the
//! emulator's Security Hub, which enforces what AWS does on
//! `BatchImportFindings`, takes it.
//!
//! Build the binary first: `cargo build -p scaling-guard`.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::LaunchTemplateSpecification;
use scaling_guard_e2e::security_hub;
use scaling_guard_e2e::{ACCOUNT, CliRun as Run, REGION};
use serde_json::Value;
use shared::aws::SecurityHub;
use shared::check_name::CheckName;
use shared::findings::asff::{AsffFinding, Subject, finding_id};
use shared::ports::FindingsPublish;

mod support;

use support::Bed;

/// The findings a run printed: one JSON array.
fn findings(run: &Run) -> Vec<Value> {
    match run.json() {
        Value::Array(findings) => findings,
        other => panic!("stdout is not a json array ({other}): {run:#?}"),
    }
}

/// The OCSF Compliance Finding schema, as vendored.
fn ocsf_validator() -> jsonschema::Validator {
    let text = include_str!("../../schemas/ocsf/1.6.0/compliance_finding.schema.json");
    let schema: Value = serde_json::from_str(text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// What only these tests ask of the bed.
impl Bed {
    /// Runs the CLI with `policy` and `args` against the emulator.
    fn audit(&self, policy: &BTreeMap<String, String>, args: &[&str]) -> Run {
        let mut command = scaling_guard_e2e::operator_cli(Some(&self.endpoint())).unwrap();
        command.envs(policy).arg("audit").args(args);
        Run::of(command)
    }

    /// Launches one instance from `template` into `group`, `InService`.
    async fn in_service(&self, group: &str, template: &str) -> String {
        let action = self.cluster.launch_with(group, template).await.unwrap();
        self.cluster.complete(&action, "CONTINUE").await.unwrap();
        action.instance_id
    }

    /// An instance run by hand into the cluster, in no group: unmanaged.
    async fn launched_by_hand(&self) -> String {
        support::run_one(
            self.clients
                .ec2
                .run_instances()
                .launch_template(
                    LaunchTemplateSpecification::builder()
                        .launch_template_name(&self.cluster.templates.compliant)
                        .version("$Latest")
                        .build(),
                )
                .subnet_id(&self.cluster.private_subnet_ids[0])
                .tag_specifications(support::in_cluster()),
        )
        .await
    }
}

/// The cluster of these tests: a compliant node, an IMDSv1 node, an IMDSv1
/// node whose group is exempted from `imds.v2`, and an unmanaged instance.
struct Seeded {
    bed: Bed,
    policy: BTreeMap<String, String>,
    imdsv1: String,
    exempted: String,
    by_hand: String,
}

const EXEMPTED_GROUP: &str = "prod-system";

async fn seeded() -> Seeded {
    let bed = Bed::new().await;
    let templates = &bed.cluster.templates;
    bed.in_service("prod-general", &templates.compliant).await;
    let imdsv1 = bed.in_service("prod-general", &templates.imdsv1).await;
    let exempted = bed.in_service(EXEMPTED_GROUP, &templates.imdsv1).await;
    let by_hand = bed.launched_by_hand().await;
    let mut policy = bed.cluster.policy_env();
    policy.insert(
        "GUARD_CHECK_EXCEPTIONS".into(),
        format!("imds.v2@{EXEMPTED_GROUP}"),
    );
    Seeded {
        bed,
        policy,
        imdsv1,
        exempted,
        by_hand,
    }
}

/// `(instance, check)` of each finding, read at the two JSON pointers.
fn pairs(findings: &[Value], instance: &str, check: &str) -> BTreeSet<(String, String)> {
    findings
        .iter()
        .map(|f| {
            let text = |pointer: &str| {
                f.pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("no {pointer} in {f:#}"))
                    .to_owned()
            };
            (text(instance), text(check))
        })
        .collect()
}

fn expected_pairs(seeded: &Seeded) -> BTreeSet<(String, String)> {
    BTreeSet::from([
        (seeded.imdsv1.clone(), "imds.v2".to_owned()),
        (seeded.exempted.clone(), "imds.v2".to_owned()),
        (seeded.by_hand.clone(), "membership.unmanaged".to_owned()),
    ])
}

#[tokio::test]
async fn the_ocsf_export_is_one_compliance_finding_per_instance_and_check_valid_against_ocsf_1_6() {
    let seeded = seeded().await;

    let run = seeded.bed.audit(&seeded.policy, &["--format", "ocsf"]);

    assert_eq!(run.code, 1, "findings exit 1, as the text audit: {run:#?}");
    let events = findings(&run);
    let validator = ocsf_validator();
    for event in &events {
        let errors: Vec<String> = validator
            .iter_errors(event)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert_eq!(errors, Vec::<String>::new(), "{event:#}");
    }
    assert_eq!(
        pairs(&events, "/resources/0/name", "/compliance/control"),
        expected_pairs(&seeded)
    );
    for event in &events {
        assert_eq!(event["class_uid"], 2003);
        assert_eq!(event["cloud"]["account"]["uid"], ACCOUNT, "{event:#}");
        assert_eq!(event["cloud"]["region"], REGION);
        assert_eq!(event["unmapped"]["cluster"], "prod");
    }
    let status = |instance: &str| {
        let event = events
            .iter()
            .find(|e| e["resources"][0]["name"] == instance)
            .unwrap();
        event["status"].as_str().unwrap().to_owned()
    };
    assert_eq!(status(&seeded.exempted), "Suppressed");
    assert_eq!(status(&seeded.imdsv1), "New");
}

#[tokio::test]
async fn the_asff_export_is_the_security_hub_finding_of_each_instance_and_check() {
    let seeded = seeded().await;

    let run = seeded.bed.audit(&seeded.policy, &["--format", "asff"]);

    assert_eq!(run.code, 1, "{run:#?}");
    let findings = findings(&run);
    assert_eq!(
        pairs(
            &findings,
            "/ProductFields/scaling-guard~1instance",
            "/GeneratorId"
        )
        .into_iter()
        .map(|(instance, generator)| (instance, generator.replace("scaling-guard/", "")))
        .collect::<BTreeSet<_>>(),
        expected_pairs(&seeded)
    );
    for finding in &findings {
        let instance = finding["ProductFields"]["scaling-guard/instance"]
            .as_str()
            .unwrap();
        let check: CheckName = finding["GeneratorId"].as_str().unwrap()["scaling-guard/".len()..]
            .parse()
            .unwrap();
        let group = finding["ProductFields"]["scaling-guard/group"].as_str();
        let subject = Subject {
            account: ACCOUNT,
            region: REGION,
            cluster: "prod",
            instance_id: instance,
            group,
        };
        assert_eq!(finding["Id"], finding_id(&subject, check), "{finding:#}");
        assert_eq!(finding["AwsAccountId"], ACCOUNT);
        assert_eq!(finding["Region"], REGION);
        assert_eq!(finding["RecordState"], "ACTIVE");
        let workflow = if instance == seeded.exempted {
            "SUPPRESSED"
        } else {
            "NEW"
        };
        assert_eq!(finding["Workflow"]["Status"], workflow, "{finding:#}");
    }

    // The same documents the functions import: the emulator's Security Hub,
    // which refuses what AWS refuses (a required field missing, another
    // account, over 240 KB), takes every one through the guard's adapter.
    let config = seeded.bed.sdk_config().await;
    let exported: Vec<AsffFinding> = serde_json::from_str(&run.stdout).unwrap();
    let imported = SecurityHub::new(&config, true)
        .import(&exported)
        .await
        .unwrap();
    assert!(imported.is_complete(), "{imported:#?}");
    assert_eq!(imported.succeeded, 3);
    let held = security_hub::findings_of(&config, &seeded.exempted)
        .await
        .unwrap();
    assert_eq!(held.len(), 1, "{held:#?}");
    assert_eq!(held[0].workflow, "SUPPRESSED");
}

#[tokio::test]
async fn json_is_the_format_json_report_and_text_stays_the_default() {
    let seeded = seeded().await;
    let bed = &seeded.bed;

    let alias = bed.audit(&seeded.policy, &["--json"]);
    let format = bed.audit(&seeded.policy, &["--format", "json"]);
    let text = bed.audit(&seeded.policy, &[]);
    let conflicting = bed.audit(&seeded.policy, &["--json", "--format", "ocsf"]);

    let report = |run: &Run| {
        assert_eq!(run.code, 1, "{run:#?}");
        let mut json: Value = serde_json::from_str(&run.stdout).unwrap();
        json["time"] = Value::Null;
        json
    };
    assert_eq!(report(&alias), report(&format));
    assert_eq!(text.code, 1, "{text:#?}");
    assert!(text.stdout.starts_with("cluster prod"), "{text:#?}");
    assert_eq!(conflicting.code, 2, "{conflicting:#?}");
    assert!(conflicting.stderr.contains("--format"), "{conflicting:#?}");
}
