//! `image.outdated`: a node image keeps up with AWS's recommended EKS image
//! of its own family and architecture, for the cluster's Kubernetes version.
//!
//! An image's family is read from its name, the way AWS names its EKS
//! images: the Kubernetes version is one `-`-separated part, the release
//! (`v20241024`, `v1.20.5`) follows. `amazon-eks-node-al2023-x86_64-standard-1.31-v20241024`
//! is family `amazon-eks-node-al2023-x86_64-standard-*`, Kubernetes 1.31;
//! `bottlerocket-aws-k8s-1.31-x86_64-v1.26.1-943d9a41` is family
//! `bottlerocket-aws-k8s-*-x86_64`. A custom image of no recommended family
//! is not judged by this check (`image.allowed` and `image.age` judge it).

use std::time::{Duration, SystemTime};

use super::{CheckName, Violation};
use crate::facts::{ImageFacts, NodeFacts};
use crate::policy::OutdatedImageRules;
use crate::time::format_rfc3339;

const SECONDS_PER_DAY: u64 = 86_400;

/// Name prefixes of AWS's EKS image families: their version is checked even
/// when no recommended image of the family was read.
const EKS_PREFIXES: [&str; 2] = ["amazon-eks-", "bottlerocket-aws-k8s-"];

/// An image's family and Kubernetes version, read from its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release<'a> {
    /// The name with the version as `*` and without the release suffix.
    pub family: String,
    pub kubernetes_version: &'a str,
}

/// The family and Kubernetes version of an image named `name`, if its name
/// carries a Kubernetes version (`1.<minor>`).
pub fn release_of(name: &str) -> Option<Release<'_>> {
    let parts: Vec<&str> = name.split('-').collect();
    let at = parts.iter().position(|part| is_minor_version(part))?;
    let (before, from_version) = parts.split_at(at);
    let (version, after) = from_version.split_first()?;
    let suffix: Vec<&str> = after
        .iter()
        .take_while(|part| !is_release(part))
        .copied()
        .collect();
    let family: Vec<&str> = before
        .iter()
        .copied()
        .chain(std::iter::once("*"))
        .chain(suffix)
        .collect();
    Some(Release {
        family: family.join("-"),
        kubernetes_version: version,
    })
}

fn is_minor_version(part: &str) -> bool {
    part.split_once('.').is_some_and(|(major, minor)| {
        major == "1" && !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit())
    })
}

/// `v20241024`, `v1.20.5`: the release that follows the version.
fn is_release(part: &str) -> bool {
    part.strip_prefix('v')
        .is_some_and(|rest| rest.bytes().next().is_some_and(|b| b.is_ascii_digit()))
}

pub(super) fn check(
    rules: Option<&OutdatedImageRules>,
    facts: &NodeFacts,
    now: SystemTime,
) -> Option<Violation> {
    let rules = rules?;
    // A missing image is reported by `image::check`, for every image rule.
    let image = facts.image.as_ref()?;
    let name = image.name.as_deref()?;
    let release = release_of(name)?;
    let recommended = facts
        .recommended_images
        .iter()
        .filter_map(|r| Some((r, release_of(r.name.as_deref()?)?)))
        .find(|(r, of)| of.family == release.family && same_architecture(r, image));
    let is_eks = EKS_PREFIXES.iter().any(|prefix| name.starts_with(prefix));
    if !is_eks && recommended.is_none() {
        return None;
    }
    let expected_version = rules
        .kubernetes_version
        .as_deref()
        .or(recommended.as_ref().map(|(_, of)| of.kubernetes_version));
    if let Some(expected) = expected_version
        && release.kubernetes_version != expected
    {
        return Some(other_version(
            image,
            name,
            release.kubernetes_version,
            expected,
        ));
    }
    let (recommended, _) = recommended?;
    behind(image, recommended, rules.grace_days, now)
}

/// Both architectures known and different: not the same family.
fn same_architecture(a: &ImageFacts, b: &ImageFacts) -> bool {
    match (&a.architecture, &b.architecture) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

fn other_version(image: &ImageFacts, name: &str, actual: &str, expected: &str) -> Violation {
    Violation::new(
        CheckName::ImageOutdated,
        &image.image_id,
        format!("an image for Kubernetes {expected}"),
        format!("an image for Kubernetes {actual} (`{name}`)"),
        format!(
            "image `{}` (`{name}`) is built for Kubernetes {actual}, the cluster runs {expected}",
            image.image_id
        ),
    )
}

fn behind(
    image: &ImageFacts,
    recommended: &ImageFacts,
    grace_days: u32,
    now: SystemTime,
) -> Option<Violation> {
    if recommended.image_id == image.image_id {
        return None;
    }
    let (created, newest) = (image.creation_date?, recommended.creation_date?);
    let lag = newest.duration_since(created).ok()?;
    let grace = Duration::from_secs(u64::from(grace_days) * SECONDS_PER_DAY);
    if lag <= grace {
        return None;
    }
    let lag_days = lag.as_secs() / SECONDS_PER_DAY;
    let newest_name = recommended.name.as_deref().unwrap_or("unnamed");
    let age_days = now.duration_since(created).unwrap_or_default().as_secs() / SECONDS_PER_DAY;
    Some(Violation::new(
        CheckName::ImageOutdated,
        &image.image_id,
        format!(
            "at most {grace_days} days behind the recommended `{}` (`{newest_name}`, created {})",
            recommended.image_id,
            format_rfc3339(newest)
        ),
        format!(
            "{lag_days} days behind (created {}, {age_days} days ago)",
            format_rfc3339(created)
        ),
        format!(
            "image `{}` is {lag_days} days behind AWS's recommended image `{}` (`{newest_name}`) of its family; move the launch template to it",
            image.image_id, recommended.image_id
        ),
    ))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::al2023(
        "amazon-eks-node-al2023-x86_64-standard-1.31-v20241024",
        "amazon-eks-node-al2023-x86_64-standard-*",
        "1.31"
    )]
    #[case::al2023_nvidia(
        "amazon-eks-node-al2023-arm64-nvidia-1.32-v20250403",
        "amazon-eks-node-al2023-arm64-nvidia-*",
        "1.32"
    )]
    #[case::al2("amazon-eks-node-1.29-v20240307", "amazon-eks-node-*", "1.29")]
    #[case::al2_arm(
        "amazon-eks-arm64-node-1.29-v20240307",
        "amazon-eks-arm64-node-*",
        "1.29"
    )]
    #[case::bottlerocket(
        "bottlerocket-aws-k8s-1.31-x86_64-v1.26.1-943d9a41",
        "bottlerocket-aws-k8s-*-x86_64",
        "1.31"
    )]
    #[case::bottlerocket_nvidia(
        "bottlerocket-aws-k8s-1.30-nvidia-aarch64-v1.20.5-a3e8bda1",
        "bottlerocket-aws-k8s-*-nvidia-aarch64",
        "1.30"
    )]
    fn a_release_is_read_from_aws_image_names(
        #[case] name: &str,
        #[case] family: &str,
        #[case] version: &str,
    ) {
        let release = release_of(name).unwrap();
        assert_eq!(release.family, family);
        assert_eq!(release.kubernetes_version, version);
    }

    #[rstest]
    #[case::no_version("ubuntu-jammy-22.04-amd64-server-20240927")]
    #[case::custom("my-node-image")]
    fn names_without_a_kubernetes_version_have_no_release(#[case] name: &str) {
        assert_eq!(release_of(name), None);
    }
}
