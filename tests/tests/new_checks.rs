//! The checks of issue 12 end to end: `image.outdated`, `imds.hop_limit`,
//! `volumes.encrypted`, `instance.key_pair` and the per-group exceptions
//! (`GUARD_CHECK_EXCEPTIONS`), with the real binaries
//! (`target/debug/launch-guard`, `target/debug/instance-audit`) against the
//! emulator: AWS's recommended image seeded as an SSM public parameter
//! through the control endpoint, launch templates whose hop limit, key pair
//! and block-device mappings the emulator carries onto the group's
//! instances. Each test has its own emulator and function processes.
//!
//! Build the binaries first:
//! `cargo build -p launch-guard -p instance-audit -p scaling-guard`.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::SystemTime;

use aws_sdk_ec2::types::{
    InstanceType, LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataOptionsRequest, RequestLaunchTemplateData, VolumeType,
};
use scaling_guard_e2e::{Function, NODE_TYPE, PendingAction, REGION, events};
use serde_json::{Value, json};

mod support;

use support::Bed;

/// The Kubernetes version of the cluster (`GUARD_KUBERNETES_VERSION`).
const KUBERNETES: &str = "1.31";
/// The SSM public parameter AWS publishes the recommended AL2023 x86_64
/// image of [`KUBERNETES`] under (one of the ten the policy reads).
const RECOMMENDED_PARAMETER: &str =
    "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/standard/recommended/image_id";
/// The root device of the images registered here, mapped by every template.
const ROOT_DEVICE: &str = "/dev/xvda";
const KEY_PAIR: &str = "ops-break-glass";
/// The group `GUARD_CHECK_EXCEPTIONS` exempts in these tests (glob
/// `prod-sys*`): the seeded `prod-system`.
const EXEMPT_GLOB: &str = "prod-sys*";
const EXEMPT_GROUP: &str = "prod-system";
const GENERAL_GROUP: &str = "prod-general";

/// The policy of every new check on (on top of the fixture's).
const NEW_CHECKS: [(&str, &str); 4] = [
    ("GUARD_KUBERNETES_VERSION", KUBERNETES),
    ("GUARD_MAX_IMDS_HOP_LIMIT", "1"),
    ("GUARD_REQUIRE_ENCRYPTED_VOLUMES", "true"),
    ("GUARD_DENY_KEY_PAIRS", "true"),
];

/// What one launch template of these tests puts on a node; everything else
/// is the fixture's compliant template (type, security groups, profile,
/// IMDSv2 required).
#[derive(Debug, Clone, Copy)]
struct Node<'a> {
    image: &'a str,
    hop_limit: i32,
    key_name: Option<&'a str>,
    /// The root device's mapping ([`ROOT_DEVICE`], replacing the default
    /// unencrypted root volume) is encrypted.
    encrypted: bool,
}

/// The images registered for these tests.
struct Images {
    /// `...-1.31-v20261115`, created a day ago: AWS's recommended image.
    recommended: String,
    /// `...-1.31-v20260915`, created 61 days ago: 60 days behind the
    /// recommended one (grace: 30), within `GUARD_MAX_AMI_AGE_DAYS` (90).
    behind: String,
    /// `...-1.30-v20261115`, created a day ago: another Kubernetes version.
    other_version: String,
}

/// What only these tests ask of the bed.
impl Bed {
    /// The three images, the recommended one published through SSM (in the
    /// bed's region, as AWS publishes its own). Their creation dates are set
    /// from one clock reading, so that the lag is exactly 60 days.
    async fn seed_images(&self) -> Images {
        let family = "amazon-eks-node-al2023-x86_64-standard";
        let now = SystemTime::now();
        let images = Images {
            recommended: self
                .register_dated_image(&format!("{family}-1.31-v20261115"), now, 1)
                .await,
            behind: self
                .register_dated_image(&format!("{family}-1.31-v20260915"), now, 61)
                .await,
            other_version: self
                .register_dated_image(&format!("{family}-1.30-v20261115"), now, 1)
                .await,
        };
        self.clients
            .control
            .seed_public_parameters(REGION, &[(RECOMMENDED_PARAMETER, &images.recommended)])
            .unwrap();
        images
    }

    async fn create_key_pair(&self, name: &str) {
        self.clients
            .ec2
            .create_key_pair()
            .key_name(name)
            .send()
            .await
            .unwrap();
    }

    /// Creates the launch template `name` of `node`.
    async fn node_template(&self, name: &str, node: Node<'_>) {
        let root = LaunchTemplateBlockDeviceMappingRequest::builder()
            .device_name(ROOT_DEVICE)
            .ebs(
                LaunchTemplateEbsBlockDeviceRequest::builder()
                    .volume_size(20)
                    .volume_type(VolumeType::Gp3)
                    .encrypted(node.encrypted)
                    .build(),
            )
            .build();
        let data = RequestLaunchTemplateData::builder()
            .image_id(node.image)
            .instance_type(InstanceType::from(NODE_TYPE))
            .set_security_group_ids(Some(self.cluster.node_security_group_ids.clone()))
            .iam_instance_profile(
                LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                    .arn(&self.cluster.prod_profile_arn)
                    .build(),
            )
            .metadata_options(
                LaunchTemplateInstanceMetadataOptionsRequest::builder()
                    .http_tokens(LaunchTemplateHttpTokensState::Required)
                    .http_put_response_hop_limit(node.hop_limit)
                    .build(),
            )
            .set_key_name(node.key_name.map(str::to_owned))
            .block_device_mappings(root)
            .build();
        self.clients
            .ec2
            .create_launch_template()
            .launch_template_name(name)
            .launch_template_data(data)
            .send()
            .await
            .unwrap();
    }

    /// Launches one instance from `template` into `group`.
    async fn launch_into(&self, group: &str, template: &str) -> PendingAction {
        self.cluster.launch_with(group, template).await.unwrap()
    }
}

/// The checks of a summary's `violations` (or `exempted`), in its order.
fn checks_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|v| v["check"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn each_new_check_abandons_the_launch_that_breaks_it_and_a_compliant_one_continues() {
    let bed = Bed::new().await;
    let images = bed.seed_images().await;
    bed.create_key_pair(KEY_PAIR).await;
    let compliant = Node {
        image: &images.recommended,
        hop_limit: 1,
        key_name: None,
        encrypted: true,
    };
    let cases = [
        ("new-compliant", compliant, None),
        (
            "new-hop-limit-2",
            Node {
                hop_limit: 2,
                ..compliant
            },
            Some(("imds.hop_limit", "2")),
        ),
        (
            "new-key-pair",
            Node {
                key_name: Some(KEY_PAIR),
                ..compliant
            },
            Some(("instance.key_pair", KEY_PAIR)),
        ),
        (
            "new-unencrypted",
            Node {
                encrypted: false,
                ..compliant
            },
            Some(("volumes.encrypted", "not encrypted")),
        ),
        (
            "new-kubernetes-1-30",
            Node {
                image: &images.other_version,
                ..compliant
            },
            Some(("image.outdated", "Kubernetes 1.30")),
        ),
        (
            "new-60-days-behind",
            Node {
                image: &images.behind,
                ..compliant
            },
            Some(("image.outdated", "60 days behind")),
        ),
    ];
    for (name, node, _) in &cases {
        bed.node_template(name, *node).await;
    }
    let guard = bed.launch_guard(&bed.policy_with(&NEW_CHECKS)).await;

    for (template, _, broken) in &cases {
        let action = bed.launch_into(GENERAL_GROUP, template).await;
        let summary = support::decide(&guard, &action).await;
        match broken {
            None => {
                assert_eq!(summary["decision"], "CONTINUE", "{template}: {summary}");
                assert_eq!(summary["violations"], json!([]), "{template}: {summary}");
                assert_eq!(summary.get("exempted"), None, "{template}: {summary}");
            }
            Some((check, actual)) => {
                assert_eq!(summary["decision"], "ABANDON", "{template}: {summary}");
                assert_eq!(
                    checks_of(&summary["violations"]),
                    [*check],
                    "{template}: {summary}"
                );
                let violation = &summary["violations"][0];
                assert_eq!(violation["blocking"], true, "{template}: {summary}");
                assert!(
                    violation["actual"].as_str().unwrap().contains(actual),
                    "{template}: `{actual}` in {summary}"
                );
            }
        }
    }
}

#[tokio::test]
async fn an_exempted_hop_limit_continues_in_its_group_only() {
    // The fixture's compliant template sets hop limit 2.
    let exception = format!("imds.hop_limit@{EXEMPT_GLOB}");
    let bed = Bed::with_guard(|policy| {
        policy.insert("GUARD_MAX_IMDS_HOP_LIMIT".into(), "1".into());
        policy.insert("GUARD_CHECK_EXCEPTIONS".into(), exception);
    })
    .await;
    let template = bed.cluster.templates.compliant.clone();

    let exempted = bed.launch_into(EXEMPT_GROUP, &template).await;
    let summary = support::decide(bed.guard(), &exempted).await;
    assert_eq!(summary["decision"], "CONTINUE", "{summary}");
    assert_eq!(summary["violations"], json!([]), "{summary}");
    assert_eq!(
        checks_of(&summary["exempted"]),
        ["imds.hop_limit"],
        "{summary}"
    );
    assert_eq!(summary["exempted"][0]["check"], "imds.hop_limit");
    assert_eq!(
        bed.cluster
            .lifecycle_state(&exempted.instance_id)
            .await
            .unwrap()
            .as_deref(),
        Some("InService")
    );
    bed.assert_no_alert("an exempted violation is never alerted")
        .await;

    let denied = bed.launch_into(GENERAL_GROUP, &template).await;
    let summary = support::decide(bed.guard(), &denied).await;
    assert_eq!(summary["decision"], "ABANDON", "{summary}");
    assert_eq!(
        checks_of(&summary["violations"]),
        ["imds.hop_limit"],
        "{summary}"
    );
    assert_eq!(summary.get("exempted"), None, "{summary}");
    let received = bed.archived().await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].attribute("kind"), Some("launch_denied"));
}

/// The AWS requests per operation of two decisions by `guard` in a row
/// (cold, then warm) of launches from `template` into `group`, each
/// decision's alone (the test's own launch calls are not counted).
async fn decision_requests(
    bed: &Bed,
    guard: &Function,
    group: &str,
    template: &str,
) -> [BTreeMap<String, usize>; 2] {
    bed.cluster.use_template(group, template).await.unwrap();
    let mut counted = Vec::new();
    for _ in 0..2 {
        let action = bed.cluster.launch(group).await.unwrap();
        bed.clients.control.clear_requests().unwrap();
        let summary = support::decide(guard, &action).await;
        assert_eq!(summary["decision"], "CONTINUE", "{summary}");
        counted.push(support::per_operation(
            &bed.clients.control.requests(None).unwrap(),
        ));
    }
    counted.try_into().unwrap()
}

// Observed (the emulator's request journal, one decision at a time):
//   warm, new checks off: CompleteLifecycleAction 1, CreateTags 1,
//                         DescribeAutoScalingGroups 1, DescribeInstances 1;
//   warm, new checks on:  the same plus DescribeVolumes 1; no GetParameters,
//                         no DescribeImages.
//   cold, new checks off: the warm calls plus DescribeImages 1,
//                         DescribeSubnets 1;
//   cold, new checks on:  the warm calls plus DescribeImages 2 (the node's
//                         image, the recommended ones), DescribeSubnets 1,
//                         GetParameters 1.
#[tokio::test]
async fn a_warm_decision_with_every_new_check_makes_one_more_ec2_call() {
    let bed = Bed::new().await;
    let images = bed.seed_images().await;
    let template = "new-compliant";
    bed.node_template(
        template,
        Node {
            image: &images.recommended,
            hop_limit: 1,
            key_name: None,
            encrypted: true,
        },
    )
    .await;
    let mut all_on = NEW_CHECKS.to_vec();
    let exception = format!("imds.hop_limit@{EXEMPT_GLOB}");
    all_on.push(("GUARD_CHECK_EXCEPTIONS", &exception));
    let on = bed.launch_guard(&bed.policy_with(&all_on)).await;
    let off = bed.launch_guard(&bed.policy_with(&[])).await;

    let [cold, with_checks] = decision_requests(&bed, &on, GENERAL_GROUP, template).await;
    let [cold_off, without] = decision_requests(&bed, &off, "prod-batch", template).await;
    eprintln!("cold decision, new checks on: {cold:?}");
    eprintln!("cold decision, new checks off: {cold_off:?}");
    eprintln!("warm decision, new checks on: {with_checks:?}");
    eprintln!("warm decision, new checks off: {without:?}");

    // The cold decision read the recommended images (one GetParameters for
    // the version's ten parameters): the check was on.
    assert_eq!(cold.get("GetParameters"), Some(&1), "{cold:?}");

    assert_eq!(with_checks.get("GetParameters"), None, "{with_checks:?}");
    assert_eq!(
        with_checks.get("DescribeVolumes"),
        Some(&1),
        "{with_checks:?}"
    );
    let mut expected = without.clone();
    expected.insert("DescribeVolumes".into(), 1);
    assert_eq!(with_checks, expected, "off: {without:?}");
}

#[tokio::test]
async fn instance_audit_reports_unencrypted_volumes_and_hop_limits_and_lists_exempted_ones() {
    let bed = Bed::new().await;
    let images = bed.seed_images().await;
    // prod-general: the fixture's compliant template, hop limit 2 and the
    // image's default (unencrypted) root volume.
    let drifted = bed
        .cluster
        .launch_in_service(GENERAL_GROUP, 1)
        .await
        .unwrap()
        .remove(0);
    // prod-system (exempted from imds.hop_limit): hop limit 2, encrypted.
    bed.node_template(
        "new-hop-limit-2",
        Node {
            image: &images.recommended,
            hop_limit: 2,
            key_name: None,
            encrypted: true,
        },
    )
    .await;
    bed.cluster
        .use_template(EXEMPT_GROUP, "new-hop-limit-2")
        .await
        .unwrap();
    let exempted = bed
        .cluster
        .launch_in_service(EXEMPT_GROUP, 1)
        .await
        .unwrap()
        .remove(0);
    bed.vet(&[drifted.clone(), exempted.clone()]).await;
    let exception = format!("imds.hop_limit@{EXEMPT_GLOB}");
    let policy = bed.policy_with(&[
        ("GUARD_MAX_IMDS_HOP_LIMIT", "1"),
        ("GUARD_REQUIRE_ENCRYPTED_VOLUMES", "true"),
        ("GUARD_CHECK_EXCEPTIONS", &exception),
    ]);
    let audit = bed.instance_audit(&policy).await;

    let sweep = audit.invoke(&events::audit_sweep().unwrap()).await.unwrap();
    assert_eq!(sweep["instances"], 2, "{sweep}");
    assert_eq!(sweep["non_compliant"], 1, "{sweep}");
    assert_eq!(
        sweep["counts"],
        json!({"imds.hop_limit": 1, "volumes.encrypted": 1}),
        "{sweep}"
    );
    assert_eq!(sweep["worst"][0]["instance_id"], drifted, "{sweep}");
    assert_eq!(sweep["exempted"], json!({"imds.hop_limit": 1}), "{sweep}");

    // The exempted node is not counted; the operator's audit lists it.
    let stdout = cli(&bed, &policy, &["audit", "--json"]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let instances = report["instances"].as_array().unwrap();
    let row = |id: &str| {
        instances
            .iter()
            .find(|i| i["instance_id"] == id)
            .unwrap_or_else(|| panic!("no {id} in {report}"))
    };
    let mut found = checks_of(&row(&drifted)["violations"]);
    found.sort();
    assert_eq!(found, ["imds.hop_limit", "volumes.encrypted"], "{report}");
    assert_eq!(row(&drifted).get("exempted"), None, "{report}");
    assert_eq!(row(&exempted)["compliant"], true, "{report}");
    assert_eq!(row(&exempted)["violations"], json!([]), "{report}");
    assert_eq!(
        checks_of(&row(&exempted)["exempted"]),
        ["imds.hop_limit"],
        "{report}"
    );
    // The table lists it with BLOCKING `exempted`.
    let table = cli(&bed, &policy, &["audit"]);
    let line = table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| {
            cells.first() == Some(&exempted.as_str()) && cells.get(2) == Some(&"exempted")
        })
        .unwrap_or_else(|| panic!("no exempted row for {exempted}:\n{table}"));
    assert_eq!(line[1], "imds.hop_limit", "{table}");
}

/// Runs `scaling-guard` (the operator CLI) against the bed's emulator with
/// `policy` as its environment; asserts exit code 1 (some instance is
/// non-compliant) and returns its stdout.
fn cli(bed: &Bed, policy: &BTreeMap<String, String>, args: &[&str]) -> String {
    let output = scaling_guard_e2e::operator_cli(Some(bed.endpoint().as_str()))
        .unwrap()
        .envs(policy)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    stdout
}
