//! `scaling-guard export` end to end: the built binary
//! (`target/debug/scaling-guard`) compiles a policy file into the SCP,
//! Allowed AMIs and declarative-policy documents it writes into `--out`;
//! each parses, stays within AWS's size limit, and the checks no launch-time
//! control expresses are listed with their reason. A huge policy is split
//! into several SCPs, and the output says so. No AWS is needed.
//!
//! Build the binary first: `cargo build -p scaling-guard`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use scaling_guard_e2e::Function;
use serde_json::Value;

/// AWS Organizations' limits: an SCP, a declarative policy (characters).
const SCP_LIMIT: usize = 5_120;
const DECLARATIVE_LIMIT: usize = 10_000;

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("scaling-guard-export-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The cluster's policy: every node check, `image.outdated` and a budget.
fn policy(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut settings: Vec<(&str, String)> = [
        ("GUARD_CLUSTER", "prod"),
        ("GUARD_MODE", "enforce"),
        ("GUARD_ALLOWED_AMI_OWNERS", "amazon"),
        (
            "GUARD_ALLOWED_AMI_NAME_PATTERNS",
            "amazon-eks-node-al2023-*",
        ),
        ("GUARD_MAX_AMI_AGE_DAYS", "90"),
        ("GUARD_KUBERNETES_VERSION", "1.31"),
        (
            "GUARD_ALLOWED_SUBNET_IDS",
            "subnet-0aaa0001,subnet-0aaa0002",
        ),
        ("GUARD_ALLOWED_SECURITY_GROUP_IDS", "sg-0bbb0001"),
        ("GUARD_ALLOWED_INSTANCE_TYPES", "m6i.*,c7g.2xlarge"),
        ("GUARD_DENIED_INSTANCE_TYPES", "*.metal"),
        (
            "GUARD_ALLOWED_INSTANCE_PROFILES",
            "arn:aws:iam::123456789012:instance-profile/prod-node",
        ),
        ("GUARD_MAX_IMDS_HOP_LIMIT", "1"),
        ("GUARD_DENY_KEY_PAIRS", "true"),
        ("GUARD_MAX_VCPUS", "512"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    for (key, value) in extra {
        settings.retain(|(k, _)| k != key);
        settings.push((key, value.clone()));
    }
    settings
}

/// Runs `scaling-guard --policy FILE export ARGS` with a clean environment.
fn export(scratch: &Scratch, policy: &[(&str, String)], args: &[&str]) -> (i32, String, String) {
    let file = scratch.0.join("policy.env");
    let text: String = policy.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let output = Command::new(Function::binary("scaling-guard").unwrap())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .arg("--policy")
        .arg(&file)
        .arg("export")
        .args(args)
        .output()
        .expect("the cli starts");
    (
        output.status.code().expect("the cli exits"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every document the summary names, read back from `dir`: it parses, it
/// is the content the summary shows, and it fits its limit when written
/// without whitespace (as the API counts what it is sent).
fn read_documents(summary: &Value, dir: &Path) -> Vec<(String, Value)> {
    summary["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|document| {
            let file = document["file"].as_str().unwrap().to_owned();
            let text = std::fs::read_to_string(dir.join(&file)).unwrap();
            let content: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{file} does not parse: {e}"));
            assert_eq!(content, document["content"], "{file}");
            let limit = match document["kind"].as_str().unwrap() {
                "scp" => Some(SCP_LIMIT),
                "declarative_policy" => Some(DECLARATIVE_LIMIT),
                _ => None,
            };
            if let Some(limit) = limit {
                let size = content.to_string().len();
                assert!(size <= limit, "{file} is {size} characters, over {limit}");
            }
            (file, content)
        })
        .collect()
}

#[test]
fn export_writes_documents_that_parse_fit_their_limits_and_name_what_they_cannot_say() {
    let scratch = Scratch::new();
    let out = scratch.0.join("out");

    let (code, stdout, stderr) = export(
        &scratch,
        &policy(&[]),
        &["--format", "json", "--out", out.to_str().unwrap()],
    );

    assert_eq!(code, 0, "{stderr}");
    let summary: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not json ({e}): {stdout}"));
    let documents = read_documents(&summary, &out);
    let files: Vec<&str> = documents.iter().map(|(file, _)| file.as_str()).collect();
    assert_eq!(
        files,
        [
            "scp-cluster-1.json",
            "scp-account-1.json",
            "allowed-amis.json",
            "declarative-policy-1.json"
        ]
    );
    let (_, cluster_scp) = &documents[0];
    for statement in cluster_scp["Statement"].as_array().unwrap() {
        assert_eq!(statement["Effect"], "Deny");
        assert_eq!(
            statement["Condition"]["Null"]["aws:RequestTag/kubernetes.io/cluster/prod"],
            "false"
        );
    }
    assert_eq!(
        documents[3].1["ec2_attributes"]["instance_metadata_defaults"]["http_tokens"]["@@assign"],
        "required"
    );
    let none: Vec<(&str, &str)> = summary["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["extent"] == "none")
        .map(|c| {
            (
                c["check"].as_str().unwrap(),
                c["reasons"][0].as_str().unwrap(),
            )
        })
        .collect();
    let names: Vec<&str> = none.iter().map(|(check, _)| *check).collect();
    assert_eq!(
        names,
        [
            "image.outdated",
            "subnet.public",
            "budget.vcpus",
            "membership.unmanaged",
            "membership.unguarded_group"
        ]
    );
    assert!(none.iter().all(|(_, reason)| !reason.is_empty()));
    let checks: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("checks.json")).unwrap()).unwrap();
    assert_eq!(checks["checks"], summary["checks"]);
}

#[test]
fn the_text_names_each_check_no_launch_control_expresses_with_its_reason() {
    let scratch = Scratch::new();

    let (code, stdout, stderr) = export(&scratch, &policy(&[]), &[]);

    assert_eq!(code, 0, "{stderr}");
    let section = stdout
        .split("\nnot expressible at launch (the guard alone enforces them):\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no such section in:\n{stdout}"));
    for check in [
        "image.outdated",
        "subnet.public",
        "budget.vcpus",
        "membership.unmanaged",
    ] {
        assert!(
            section.contains(&format!("\n  {check}: "))
                || section.starts_with(&format!("  {check}: ")),
            "{check} in:\n{section}"
        );
    }
    assert!(stdout.contains("\n# scp-cluster-1.json\n{"), "{stdout}");
}

#[test]
fn a_huge_policy_is_split_into_several_scps_and_says_so() {
    let scratch = Scratch::new();
    let out = scratch.0.join("out");
    let types: Vec<String> = (0..400).map(|n| format!("m{n}i.*")).collect();
    let subnets: Vec<String> = (0..110).map(|n| format!("subnet-{n:08x}")).collect();
    let huge = policy(&[
        ("GUARD_ALLOWED_INSTANCE_TYPES", types.join(",")),
        ("GUARD_ALLOWED_SUBNET_IDS", subnets.join(",")),
    ]);

    let (code, stdout, stderr) = export(
        &scratch,
        &huge,
        &["--format", "json", "--out", out.to_str().unwrap()],
    );

    assert_eq!(code, 0, "{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    let documents = read_documents(&summary, &out);
    let scps: Vec<&str> = documents
        .iter()
        .map(|(file, _)| file.as_str())
        .filter(|file| file.starts_with("scp-"))
        .collect();
    assert!(scps.contains(&"scp-cluster-2.json"), "{scps:?}");
    assert!(scps.contains(&"scp-account-2.json"), "{scps:?}");
    let full: Vec<&str> = summary["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["extent"] == "full")
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert!(
        full.contains(&"instance_type.allowed") && full.contains(&"subnet.allowed"),
        "{full:?}"
    );
    let notes: Vec<&str> = summary["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("the cluster statements are split into 2 SCPs")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("the account statements are split into 2 SCPs")),
        "{notes:?}"
    );
}
