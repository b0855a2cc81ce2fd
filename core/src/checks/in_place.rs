//! Nodes whose OS updates in place, judged after launch by what they can be
//! running, not by the image they launched from.
//!
//! Bottlerocket updates its OS in place (the update operator, or
//! `apiclient update`) and the instance keeps its launch image id
//! (bottlerocket-update-operator #538): EC2 shows the launch image, not the
//! release the node runs. So after launch, `image.age` and the release lag
//! of `image.outdated` say nothing about such a node, and are set aside
//! with a note. The Kubernetes version of `image.outdated` still holds: an
//! in-place update stays within its variant, and the variant names the
//! Kubernetes version. At launch, every image check applies as to any node.

use super::{AfterLaunch, CheckName, Violation, outdated};
use crate::facts::{ImageFacts, NodeFacts};
use crate::policy::Policy;

/// The name prefix of Bottlerocket's Kubernetes variants for AWS, as AWS
/// names their images (`bottlerocket-aws-k8s-1.31-x86_64-v1.26.1-943d9a41`,
/// the family [`outdated::release_of`] reads).
const BOTTLEROCKET_K8S: &str = "bottlerocket-aws-k8s-";

/// Whether a node launched from `image` updates its OS in place.
///
/// Recognised by the image's name: Bottlerocket's Kubernetes variants are
/// named `bottlerocket-aws-k8s-*`, AWS's own and builds that keep the form.
/// Not by the image's platform details: EC2 reports `Linux/UNIX` for
/// Bottlerocket as for any Linux image, and nothing of the OS a node runs.
/// A build named otherwise is judged as any image; only the checks after
/// launch read this, so a name cannot get an image past launch-guard.
pub fn updates_in_place(image: &ImageFacts) -> bool {
    image
        .name
        .as_deref()
        .is_some_and(|name| name.starts_with(BOTTLEROCKET_K8S))
}

/// Sets aside, from the violations of a node that runs `image` and updates
/// in place, those that judge the release it launched from: `image.age`,
/// and `image.outdated` unless the image is built for another Kubernetes
/// version. Each one set aside says why.
pub(super) fn set_aside(
    policy: &Policy,
    facts: &NodeFacts,
    image: &ImageFacts,
    violations: Vec<Violation>,
) -> AfterLaunch {
    let other_version = outdated::check_kubernetes_version(policy.image.outdated.as_ref(), facts);
    let (launch_release, violations): (Vec<Violation>, Vec<Violation>) =
        violations.into_iter().partition(|violation| {
            matches!(
                violation.check,
                CheckName::ImageAge | CheckName::ImageOutdated
            ) && Some(violation) != other_version.as_ref()
        });
    AfterLaunch {
        violations,
        set_aside: launch_release
            .into_iter()
            .map(|violation| noted(image, violation))
            .collect(),
    }
}

/// The violation, its message saying why it is not judged after launch.
fn noted(image: &ImageFacts, violation: Violation) -> Violation {
    let name = image.name.as_deref().unwrap_or("unnamed");
    let message = format!(
        "not judged after launch: Bottlerocket updates its OS in place and EC2 does not show the running OS version, only the launch image `{}` (`{name}`), of which: {}",
        image.image_id, violation.message
    );
    Violation {
        message,
        ..violation
    }
}

#[cfg(test)]
mod tests;
