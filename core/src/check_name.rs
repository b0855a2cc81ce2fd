//! The stable identifiers of every check (SPEC §4), used in alerts, metrics
//! and `GUARD_AUDIT_ONLY_CHECKS`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One check's stable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CheckName {
    #[serde(rename = "image.allowed")]
    ImageAllowed,
    #[serde(rename = "image.age")]
    ImageAge,
    #[serde(rename = "image.deprecated")]
    ImageDeprecated,
    #[serde(rename = "image.outdated")]
    ImageOutdated,
    #[serde(rename = "subnet.allowed")]
    SubnetAllowed,
    #[serde(rename = "subnet.public")]
    SubnetPublic,
    #[serde(rename = "security_groups.allowed")]
    SecurityGroupsAllowed,
    #[serde(rename = "instance_type.allowed")]
    InstanceTypeAllowed,
    #[serde(rename = "imds.v2")]
    ImdsV2,
    #[serde(rename = "imds.hop_limit")]
    ImdsHopLimit,
    #[serde(rename = "instance_profile.allowed")]
    InstanceProfileAllowed,
    #[serde(rename = "volumes.encrypted")]
    VolumesEncrypted,
    #[serde(rename = "instance.key_pair")]
    InstanceKeyPair,
    #[serde(rename = "budget.vcpus")]
    BudgetVcpus,
    #[serde(rename = "budget.memory")]
    BudgetMemory,
    #[serde(rename = "budget.instances")]
    BudgetInstances,
    #[serde(rename = "membership.unmanaged")]
    MembershipUnmanaged,
    #[serde(rename = "membership.unguarded_group")]
    MembershipUnguardedGroup,
}

impl CheckName {
    /// Every check, in the order of SPEC §4 (the node checks, then the
    /// budgets, then membership).
    pub const ALL: [CheckName; 18] = [
        CheckName::ImageAllowed,
        CheckName::ImageAge,
        CheckName::ImageDeprecated,
        CheckName::ImageOutdated,
        CheckName::SubnetAllowed,
        CheckName::SubnetPublic,
        CheckName::SecurityGroupsAllowed,
        CheckName::InstanceTypeAllowed,
        CheckName::ImdsV2,
        CheckName::ImdsHopLimit,
        CheckName::InstanceProfileAllowed,
        CheckName::VolumesEncrypted,
        CheckName::InstanceKeyPair,
        CheckName::BudgetVcpus,
        CheckName::BudgetMemory,
        CheckName::BudgetInstances,
        CheckName::MembershipUnmanaged,
        CheckName::MembershipUnguardedGroup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::ImageAllowed => "image.allowed",
            CheckName::ImageAge => "image.age",
            CheckName::ImageDeprecated => "image.deprecated",
            CheckName::ImageOutdated => "image.outdated",
            CheckName::SubnetAllowed => "subnet.allowed",
            CheckName::SubnetPublic => "subnet.public",
            CheckName::SecurityGroupsAllowed => "security_groups.allowed",
            CheckName::InstanceTypeAllowed => "instance_type.allowed",
            CheckName::ImdsV2 => "imds.v2",
            CheckName::ImdsHopLimit => "imds.hop_limit",
            CheckName::InstanceProfileAllowed => "instance_profile.allowed",
            CheckName::VolumesEncrypted => "volumes.encrypted",
            CheckName::InstanceKeyPair => "instance.key_pair",
            CheckName::BudgetVcpus => "budget.vcpus",
            CheckName::BudgetMemory => "budget.memory",
            CheckName::BudgetInstances => "budget.instances",
            CheckName::MembershipUnmanaged => "membership.unmanaged",
            CheckName::MembershipUnguardedGroup => "membership.unguarded_group",
        }
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of SPEC §4's check names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown check `{0}`")]
pub struct UnknownCheck(pub String);

impl FromStr for CheckName {
    type Err = UnknownCheck;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CheckName::ALL
            .into_iter()
            .find(|check| check.as_str() == s)
            .ok_or_else(|| UnknownCheck(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_through_text_and_json() {
        for check in CheckName::ALL {
            assert_eq!(check.as_str().parse::<CheckName>(), Ok(check));
            let json = serde_json::to_string(&check).unwrap();
            assert_eq!(json, format!("\"{}\"", check.as_str()));
        }
    }

    #[test]
    fn an_unknown_name_is_named_in_the_error() {
        let err = "image.allow".parse::<CheckName>().unwrap_err();
        assert_eq!(err.to_string(), "unknown check `image.allow`");
    }
}
