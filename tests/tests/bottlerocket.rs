//! Bottlerocket judged by what it runs (issue 23, scenario 2), with the real
//! binaries (`target/debug/instance-audit`, `target/debug/scaling-guard`)
//! against the emulator.
//!
//! A Bottlerocket node updates its OS in place and keeps its launch image
//! id, so after launch (the sweep, `scaling-guard audit`) it is not judged
//! by that image's age or release: those findings are listed as set aside,
//! saying so. And when AWS rolls a recommended parameter back to an older
//! release (bottlerocket #4261), a node on the newer release is not behind
//! it. AWS's recommended images are seeded as SSM public parameters through
//! the control endpoint; seeding a name again is the rollback.
//!
//! Build the binaries first:
//! `cargo build -p instance-audit -p scaling-guard`.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::SystemTime;

use aws_sdk_ec2::types::{
    InstanceType, LaunchTemplateHttpTokensState,
    LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataOptionsRequest, RequestLaunchTemplateData,
};
use scaling_guard_e2e::{NODE_TYPE, REGION, events};
use serde_json::{Value, json};

mod support;

use support::Bed;

/// AWS's recommended Bottlerocket image of Kubernetes 1.31 on x86_64 (one
/// of the parameters `GUARD_KUBERNETES_VERSION=1.31` reads).
const BOTTLEROCKET_PARAMETER: &str =
    "/aws/service/bottlerocket/aws-k8s-1.31/x86_64/latest/image_id";
/// AWS's recommended AL2023 x86_64 image of Kubernetes 1.31.
const AL2023_PARAMETER: &str =
    "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/standard/recommended/image_id";
const BOTTLEROCKET_GROUP: &str = "prod-general";
const AL2023_GROUP: &str = "prod-system";

/// The images registered here.
struct Images {
    /// Bottlerocket v1.20.5, created 200 days ago: the node's launch image,
    /// past `GUARD_MAX_AMI_AGE_DAYS` (90) and far behind v1.26.1.
    bottlerocket_launch: String,
    /// Bottlerocket v1.26.1, created 10 days ago: AWS's recommendation.
    bottlerocket_latest: String,
    /// AL2023 `v20261115`, created 40 days ago: recommended, then rolled back.
    al2023_newer: String,
    /// AL2023 `v20261101`, copied into the region a day ago: what the
    /// recommended parameter rolls back to. Its creation date is 39 days
    /// later than the newer release's (past the 30 days' grace); its release
    /// is older.
    al2023_rolled_back: String,
}

/// What only these tests ask of the bed.
impl Bed {
    /// The images, AWS recommending Bottlerocket v1.26.1 and AL2023
    /// `v20261115`.
    async fn seed_bottlerocket_images(&self) -> Images {
        let (bottlerocket, al2023) = (
            "bottlerocket-aws-k8s-1.31-x86_64",
            "amazon-eks-node-al2023-x86_64-standard-1.31",
        );
        let now = SystemTime::now();
        let images = Images {
            bottlerocket_launch: self
                .register_dated_image(&format!("{bottlerocket}-v1.20.5-a3e8bda1"), now, 200)
                .await,
            bottlerocket_latest: self
                .register_dated_image(&format!("{bottlerocket}-v1.26.1-943d9a41"), now, 10)
                .await,
            al2023_newer: self
                .register_dated_image(&format!("{al2023}-v20261115"), now, 40)
                .await,
            al2023_rolled_back: self
                .register_dated_image(&format!("{al2023}-v20261101"), now, 1)
                .await,
        };
        self.recommend(&[
            (BOTTLEROCKET_PARAMETER, &images.bottlerocket_latest),
            (AL2023_PARAMETER, &images.al2023_newer),
        ]);
        images
    }

    /// Publishes `parameters` as AWS's recommended images (a new version of
    /// each: a rollback when it names an older release).
    fn recommend(&self, parameters: &[(&str, &str)]) {
        self.clients
            .control
            .seed_public_parameters(REGION, parameters)
            .unwrap();
    }

    /// Points `group` at a new compliant template of `image` and puts one
    /// instance of it in service, vetted (as launch-guard let it in).
    async fn node_of(&self, group: &str, image: &str) -> String {
        let template = format!("{group}-{image}");
        let data = RequestLaunchTemplateData::builder()
            .image_id(image)
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
                    .build(),
            )
            .build();
        self.clients
            .ec2
            .create_launch_template()
            .launch_template_name(&template)
            .launch_template_data(data)
            .send()
            .await
            .unwrap();
        self.cluster.use_template(group, &template).await.unwrap();
        let id = self
            .cluster
            .launch_in_service(group, 1)
            .await
            .unwrap()
            .remove(0);
        self.vet(std::slice::from_ref(&id)).await;
        id
    }
}

/// The fixture's policy with Bottlerocket images allowed and
/// `image.outdated` on for Kubernetes 1.31.
fn policy(bed: &Bed) -> BTreeMap<String, String> {
    bed.policy_with(&[
        (
            "GUARD_ALLOWED_AMI_NAME_PATTERNS",
            "amazon-eks-node-al2023-x86_64-standard-*,bottlerocket-aws-k8s-*",
        ),
        ("GUARD_KUBERNETES_VERSION", "1.31"),
    ])
}

/// `scaling-guard audit --json` against the bed: its exit code and report.
fn cli_audit(bed: &Bed, policy: &BTreeMap<String, String>) -> (Option<i32>, Value) {
    let output = scaling_guard_e2e::operator_cli(Some(bed.endpoint().as_str()))
        .unwrap()
        .envs(policy)
        .args(["audit", "--json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!(
            "{err}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), report)
}

/// The report's row of `instance_id`.
fn row<'a>(report: &'a Value, instance_id: &str) -> &'a Value {
    report["instances"]
        .as_array()
        .unwrap_or_else(|| panic!("no instances in {report}"))
        .iter()
        .find(|row| row["instance_id"] == instance_id)
        .unwrap_or_else(|| panic!("no {instance_id} in {report}"))
}

#[tokio::test]
async fn a_bottlerocket_node_is_not_flagged_by_its_launch_image_and_a_rollback_flags_no_newer_node()
{
    let bed = Bed::new().await;
    let images = bed.seed_bottlerocket_images().await;
    let bottlerocket = bed
        .node_of(BOTTLEROCKET_GROUP, &images.bottlerocket_launch)
        .await;
    let al2023 = bed.node_of(AL2023_GROUP, &images.al2023_newer).await;
    let policy = policy(&bed);

    // The sweep: nothing non-compliant; the Bottlerocket node's launch-image
    // findings are listed as set aside, not counted.
    let audit = bed.instance_audit(&policy).await;
    let sweep = audit.invoke(&events::audit_sweep().unwrap()).await.unwrap();
    assert_eq!(sweep["instances"], 2, "{sweep}");
    assert_eq!(sweep["non_compliant"], 0, "{sweep}");
    assert_eq!(sweep["counts"], json!({}), "{sweep}");
    assert_eq!(
        sweep["exempted"],
        json!({"image.age": 1, "image.outdated": 1}),
        "{sweep}"
    );
    drop(audit);

    // The operator's audit says why, naming the launch image.
    let (code, report) = cli_audit(&bed, &policy);
    assert_eq!(code, Some(0), "{report}");
    let node = row(&report, &bottlerocket);
    assert_eq!(node["compliant"], true, "{report}");
    let notes = node["exempted"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{report}");
    for note in notes {
        let message = note["message"].as_str().unwrap();
        assert!(
            message.contains("updates its OS in place")
                && message.contains(&format!("launch image `{}`", images.bottlerocket_launch))
                && message.contains("EC2 does not show the running OS version"),
            "{message}"
        );
    }

    // AWS rolls the AL2023 parameter back to the older release, whose copy
    // in the region is newer than the node's image.
    bed.recommend(&[(AL2023_PARAMETER, &images.al2023_rolled_back)]);

    // A fresh environment (no cached recommendation) and the CLI: the node
    // on the newer release is not outdated.
    let audit = bed.instance_audit(&policy).await;
    let sweep = audit.invoke(&events::audit_sweep().unwrap()).await.unwrap();
    assert_eq!(sweep["non_compliant"], 0, "{sweep}");
    assert_eq!(sweep["counts"], json!({}), "{sweep}");
    let (code, report) = cli_audit(&bed, &policy);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(row(&report, &al2023)["violations"], json!([]), "{report}");
}
