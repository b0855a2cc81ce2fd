//! The node checks of SPEC §4: pure functions of facts and policy.
//!
//! Every check runs; the result lists every violation in a deterministic
//! order (by check name, then resource), never only the first.

mod image;
mod imds;
pub mod in_place;
mod instance_profile;
mod instance_type;
mod key_pair;
pub mod membership;
pub mod outdated;
mod security_groups;
mod subnet;
mod volumes;

use std::time::SystemTime;

use serde::Serialize;

pub use crate::check_name::{CheckName, UnknownCheck};

use crate::facts::NodeFacts;
use crate::policy::Policy;

/// One rule broken by one resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Violation {
    pub check: CheckName,
    /// The resource at fault: an instance, image, subnet or group id.
    pub resource: String,
    pub expected: String,
    pub actual: String,
    /// One lowercase sentence a person can act on.
    pub message: String,
}

impl Violation {
    pub fn new(
        check: CheckName,
        resource: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            check,
            resource: resource.into(),
            expected: expected.into(),
            actual: actual.into(),
            message: message.into(),
        }
    }
}

/// Runs every node check (image, subnet, security groups, instance type,
/// IMDS, instance profile, volumes, key pair) and returns all violations,
/// sorted. Exceptions are not applied here: the verdict applies them.
///
/// These are the checks at launch (launch-guard), where the launch image is
/// what the node will run; after launch, see [`check_after_launch`].
pub fn check_node(policy: &Policy, facts: &NodeFacts, now: SystemTime) -> Vec<Violation> {
    let mut violations = Vec::new();
    violations.extend(image::check(&policy.image, facts, now));
    violations.extend(outdated::check(policy.image.outdated.as_ref(), facts, now));
    violations.extend(subnet::check(&policy.network, facts));
    violations.extend(security_groups::check(&policy.network, &facts.instance));
    violations.extend(instance_type::check(
        &policy.instance_types,
        &facts.instance,
    ));
    violations.extend(imds::check(policy.require_imdsv2, &facts.instance));
    violations.extend(imds::check_hop_limit(
        policy.max_imds_hop_limit,
        &facts.instance,
    ));
    violations.extend(instance_profile::check(
        &policy.allowed_instance_profiles,
        &facts.instance,
    ));
    violations.extend(volumes::check(&policy.volumes, facts));
    violations.extend(key_pair::check(&policy.key_pairs, &facts.instance));
    violations.sort();
    violations
}

/// A node's violations after launch, and those set aside because its OS
/// updates in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AfterLaunch {
    /// Sorted, as [`check_node`]'s.
    pub violations: Vec<Violation>,
    /// `image.age` and `image.outdated` of the launch image of a node whose
    /// OS updates in place, each message saying so: listed, never counted.
    pub set_aside: Vec<Violation>,
}

/// The node checks after launch (instance-audit's events and sweep,
/// `scaling-guard audit`): [`check_node`]'s, except that a node whose OS
/// updates in place ([`in_place::updates_in_place`]: Bottlerocket) is not
/// judged by its launch image's age or release, which EC2 keeps showing
/// after the node updated (see [`in_place`]).
pub fn check_after_launch(policy: &Policy, facts: &NodeFacts, now: SystemTime) -> AfterLaunch {
    let violations = check_node(policy, facts, now);
    match facts
        .image
        .as_ref()
        .filter(|image| in_place::updates_in_place(image))
    {
        Some(image) => in_place::set_aside(policy, facts, image, violations),
        None => AfterLaunch {
            violations,
            set_aside: Vec::new(),
        },
    }
}

/// The node facts whose read failed (an AWS error, not "not found").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unread {
    pub image: bool,
    pub subnet: bool,
    /// `DescribeVolumes` failed: every volume would look undescribed.
    pub volumes: bool,
}

/// [`check_node`] on what could be read: without the violations that stand
/// only for a fact that could not be read (an unread image would fail every
/// image rule, an unread subnet `subnet.public`, unread volumes
/// `volumes.encrypted`), which the fail mode decides.
pub fn check_known(
    policy: &Policy,
    facts: &NodeFacts,
    unread: Unread,
    now: SystemTime,
) -> Vec<Violation> {
    let image_checks = [
        CheckName::ImageAllowed,
        CheckName::ImageAge,
        CheckName::ImageDeprecated,
        CheckName::ImageOutdated,
    ];
    check_node(policy, facts, now)
        .into_iter()
        .filter(|v| !(unread.image && image_checks.contains(&v.check)))
        .filter(|v| !(unread.volumes && v.check == CheckName::VolumesEncrypted))
        .filter(|v| {
            let of_subnet =
                v.check == CheckName::SubnetPublic && v.resource != facts.instance.instance_id;
            !(unread.subnet && of_subnet)
        })
        .collect()
}

/// Formats a set of ids for `expected`/`actual` fields: `a, b, c`.
fn join<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    items
        .into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(any(test, feature = "test-util"))]
pub mod fixtures;
#[cfg(test)]
mod tests;
