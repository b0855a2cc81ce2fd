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
//!
//! A node on a newer release than the recommended one is not behind it,
//! whether its image's creation date or its release (`v1.26.1` >
//! `v1.26.0`) says so: AWS rolls a recommended parameter back to the
//! previous release when a release goes wrong (bottlerocket #4261), and an
//! image copied or published again later carries a later creation date
//! than its release.

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
    /// The release that follows the version (`v1.26.1` as `[1, 26, 1]`,
    /// `v20241024` as `[20241024]`): the releases of one family order by it.
    pub release: Option<Vec<u64>>,
}

impl Release<'_> {
    /// Whether both releases are known and this one is the later.
    fn is_later_than(&self, other: &Release<'_>) -> bool {
        match (&self.release, &other.release) {
            (Some(this), Some(other)) => this > other,
            _ => false,
        }
    }
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
    let release = after
        .get(suffix.len())
        .and_then(|part| release_numbers(part));
    let family: Vec<&str> = before
        .iter()
        .copied()
        .chain(std::iter::once("*"))
        .chain(suffix)
        .collect();
    Some(Release {
        family: family.join("-"),
        kubernetes_version: version,
        release,
    })
}

/// `v1.26.1` as `[1, 26, 1]`; `None` where a part is not a number.
fn release_numbers(part: &str) -> Option<Vec<u64>> {
    part.strip_prefix('v')?
        .split('.')
        .map(|number| number.parse().ok())
        .collect()
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
    let judged = Judged::of(facts)?;
    judged
        .other_version(rules)
        .or_else(|| judged.behind(rules.grace_days, now))
}

/// Only whether the image is built for the cluster's Kubernetes version:
/// the part of `image.outdated` an in-place OS update does not change (it
/// stays within its variant, and the variant names the Kubernetes version).
pub(super) fn check_kubernetes_version(
    rules: Option<&OutdatedImageRules>,
    facts: &NodeFacts,
) -> Option<Violation> {
    Judged::of(facts)?.other_version(rules?)
}

/// A node image this check judges: one of AWS's EKS families, or of the
/// family of a recommended image that was read (then with that image).
struct Judged<'a> {
    image: &'a ImageFacts,
    name: &'a str,
    release: Release<'a>,
    recommended: Option<(&'a ImageFacts, Release<'a>)>,
}

impl<'a> Judged<'a> {
    fn of(facts: &'a NodeFacts) -> Option<Self> {
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
        (is_eks || recommended.is_some()).then_some(Self {
            image,
            name,
            release,
            recommended,
        })
    }

    /// Built for another Kubernetes version than the policy's (or, without
    /// one, the recommended image's).
    fn other_version(&self, rules: &OutdatedImageRules) -> Option<Violation> {
        let expected = rules.kubernetes_version.as_deref().or(self
            .recommended
            .as_ref()
            .map(|(_, of)| of.kubernetes_version))?;
        let actual = self.release.kubernetes_version;
        (actual != expected).then(|| other_version(self.image, self.name, actual, expected))
    }

    /// Behind the recommended image by more than the grace, unless its
    /// release is the later one.
    fn behind(&self, grace_days: u32, now: SystemTime) -> Option<Violation> {
        let (recommended, of) = self.recommended.as_ref()?;
        if self.release.is_later_than(of) {
            return None;
        }
        behind(self.image, recommended, grace_days, now)
    }
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
    // Created after the recommended image: not behind it (a rollback).
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

    #[rstest]
    #[case::bottlerocket("bottlerocket-aws-k8s-1.31-x86_64-v1.26.1-943d9a41", Some(vec![1, 26, 1]))]
    #[case::al2023(
        "amazon-eks-node-al2023-x86_64-standard-1.31-v20241024",
        Some(vec![20241024])
    )]
    #[case::no_release("amazon-eks-node-1.29", None)]
    fn the_release_is_read_as_numbers(#[case] name: &str, #[case] release: Option<Vec<u64>>) {
        assert_eq!(release_of(name).unwrap().release, release);
    }

    mod rollback {
        //! AWS rolls a recommended parameter back to the previous release
        //! when a release goes wrong (bottlerocket #4261): nodes already on
        //! the newer release are not behind it.

        use pretty_assertions::assert_eq;
        use rstest::rstest;

        use super::super::check;
        use crate::facts::{ImageFacts, NodeFacts};
        use crate::fixtures::{compliant_node, days_ago, every_check_policy, now};

        fn image(image_id: &str, name: &str, age_days: u64) -> ImageFacts {
            ImageFacts {
                image_id: image_id.into(),
                name: Some(name.into()),
                creation_date: Some(days_ago(age_days)),
                architecture: Some("x86_64".into()),
                ..ImageFacts::default()
            }
        }

        /// A node on `(name, age)` while AWS recommends `(name, age)`.
        fn node(on: (&str, u64), recommended: (&str, u64)) -> NodeFacts {
            let mut node = compliant_node();
            node.image = Some(image("ami-0node", on.0, on.1));
            node.recommended_images = vec![image("ami-0recommended", recommended.0, recommended.1)];
            node
        }

        fn outdated(node: &NodeFacts) -> Option<String> {
            let policy = every_check_policy(&[]);
            check(policy.image.outdated.as_ref(), node, now()).map(|v| v.message)
        }

        #[rstest]
        #[case::bottlerocket(
            "bottlerocket-aws-k8s-1.31-x86_64-v1.26.1-943d9a41",
            "bottlerocket-aws-k8s-1.31-x86_64-v1.26.0-fa1f2f6f"
        )]
        #[case::al2023(
            "amazon-eks-node-al2023-x86_64-standard-1.31-v20260915",
            "amazon-eks-node-al2023-x86_64-standard-1.31-v20260901"
        )]
        fn a_node_on_a_newer_release_than_the_rolled_back_one_is_not_outdated_whatever_the_dates(
            #[case] newer: &str,
            #[case] older: &str,
        ) {
            // The older release's image was registered after the node's
            // (copied into the region, published again at the rollback):
            // its creation date does not order the releases, its name does.
            assert_eq!(outdated(&node((newer, 40), (older, 5))), None);
        }

        #[test]
        fn a_node_created_after_the_rolled_back_image_is_not_outdated() {
            let node = node(
                ("amazon-eks-node-al2023-x86_64-standard-1.31-v20260915", 5),
                ("amazon-eks-node-al2023-x86_64-standard-1.31-v20260901", 20),
            );
            assert_eq!(outdated(&node), None);
        }

        #[rstest]
        #[case::bottlerocket(
            "bottlerocket-aws-k8s-1.31-x86_64-v1.20.5-a3e8bda1",
            "bottlerocket-aws-k8s-1.31-x86_64-v1.26.0-fa1f2f6f"
        )]
        #[case::al2023(
            "amazon-eks-node-al2023-x86_64-standard-1.31-v20260801",
            "amazon-eks-node-al2023-x86_64-standard-1.31-v20260901"
        )]
        fn a_node_on_an_older_release_is_still_behind(#[case] older: &str, #[case] newer: &str) {
            let message = outdated(&node((older, 40), (newer, 5))).unwrap();
            assert!(message.contains("35 days behind"), "{message}");
        }
    }
}
