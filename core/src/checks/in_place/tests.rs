//! A Bottlerocket node: judged by its launch image at launch, and after
//! launch not by that image's age or release alone.

use pretty_assertions::assert_eq;

use crate::audit::InstanceAudit;
use crate::checks::membership::{Membership, Vetting};
use crate::checks::{CheckName, Violation, check_node};
use crate::facts::{ImageFacts, NodeFacts};
use crate::fixtures::{AMAZON, compliant_node, days_ago, now, strict_policy};
use crate::policy::Policy;

const LAUNCH_IMAGE: &str = "ami-0b0c0001";
const RECOMMENDED: &str = "ami-0b0c0009";

/// Bottlerocket images from Amazon for Kubernetes 1.31, at most 90 days old,
/// `image.outdated` on.
fn policy() -> Policy {
    strict_policy(&[
        ("GUARD_ALLOWED_AMI_NAME_PATTERNS", "bottlerocket-aws-k8s-*"),
        ("GUARD_KUBERNETES_VERSION", "1.31"),
    ])
}

fn bottlerocket_image(image_id: &str, name: &str, age_days: u64) -> ImageFacts {
    ImageFacts {
        image_id: image_id.into(),
        name: Some(name.into()),
        owner_id: Some(AMAZON.into()),
        owner_alias: Some("amazon".into()),
        creation_date: Some(days_ago(age_days)),
        deprecation_time: None,
        architecture: Some("x86_64".into()),
    }
}

/// A node launched from Bottlerocket v1.20.5 (200 days old) for `kubernetes`;
/// AWS recommends v1.26.1 of 1.31, 10 days old. The update operator may have
/// moved the node to v1.26.1 since: EC2 still shows the launch image.
fn launched_long_ago(kubernetes: &str) -> NodeFacts {
    let mut node = compliant_node();
    node.instance.image_id = LAUNCH_IMAGE.into();
    node.image = Some(bottlerocket_image(
        LAUNCH_IMAGE,
        &format!("bottlerocket-aws-k8s-{kubernetes}-x86_64-v1.20.5-a3e8bda1"),
        200,
    ));
    node.recommended_images = vec![bottlerocket_image(
        RECOMMENDED,
        "bottlerocket-aws-k8s-1.31-x86_64-v1.26.1-943d9a41",
        10,
    )];
    node
}

fn vetted() -> Membership {
    Membership::GuardedGroup {
        group: "prod-bottlerocket".into(),
        vetting: Vetting::Vetted,
    }
}

fn audit(node: &NodeFacts) -> InstanceAudit {
    InstanceAudit::of(&policy(), node, vetted(), now())
}

fn checks(violations: &[Violation]) -> Vec<CheckName> {
    violations.iter().map(|v| v.check).collect()
}

#[test]
fn a_bottlerocket_launch_is_judged_by_its_image() {
    let violations = check_node(&policy(), &launched_long_ago("1.31"), now());
    assert_eq!(
        checks(&violations),
        vec![CheckName::ImageAge, CheckName::ImageOutdated]
    );
}

#[test]
fn after_launch_a_bottlerocket_node_is_not_judged_by_its_launch_images_age_or_release() {
    let audit = audit(&launched_long_ago("1.31"));

    assert!(audit.is_compliant(), "{:?}", audit.findings);
    // Listed, not counted: each note names the launch image and says why.
    assert_eq!(
        checks(&audit.exempted),
        vec![CheckName::ImageAge, CheckName::ImageOutdated]
    );
    for note in &audit.exempted {
        assert_eq!(note.resource, LAUNCH_IMAGE);
        assert!(
            note.message.contains("updates its OS in place")
                && note
                    .message
                    .contains(&format!("launch image `{LAUNCH_IMAGE}`"))
                && note
                    .message
                    .contains("EC2 does not show the running OS version"),
            "{}",
            note.message
        );
    }
}

#[test]
fn after_launch_a_bottlerocket_node_of_another_kubernetes_version_is_still_outdated() {
    // An in-place update stays within its variant, and the variant names the
    // Kubernetes version: the launch image tells it truly.
    let audit = audit(&launched_long_ago("1.30"));

    assert_eq!(audit.checks(), vec![CheckName::ImageOutdated]);
    assert!(
        audit.findings[0]
            .violation
            .message
            .contains("built for Kubernetes 1.30"),
        "{:?}",
        audit.findings
    );
    assert_eq!(checks(&audit.exempted), vec![CheckName::ImageAge]);
}

#[test]
fn after_launch_an_image_that_does_not_update_in_place_is_still_judged_by_its_age() {
    let policy = strict_policy(&[]);
    let mut node = compliant_node();
    node.image.as_mut().unwrap().creation_date = Some(days_ago(200));

    let audit = InstanceAudit::of(&policy, &node, vetted(), now());

    assert_eq!(audit.checks(), vec![CheckName::ImageAge]);
    assert_eq!(audit.exempted, vec![]);
}
