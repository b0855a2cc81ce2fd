//! Which layer enforces each check (SPEC §12, issue 23): the preventive
//! controls `scaling-guard export` writes, and the guard's own functions.
//! `export` and `explain` read this one table, so that what the CLI says
//! about a check and what the export writes for it cannot drift apart.

use serde::Serialize;

use crate::check_name::CheckName;

/// A place where a check is enforced, earliest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// An SCP or permissions boundary denies `ec2:RunInstances`.
    Scp,
    /// EC2 Allowed AMIs hides and refuses images outside its criteria.
    AllowedAmis,
    /// An AWS Organizations EC2 declarative policy (allowed images, or the
    /// instance metadata defaults a launch takes when it sets none).
    DeclarativePolicy,
    /// launch-guard's hook, before the instance serves.
    LaunchGuard,
    /// instance-audit, after launch (events and sweeps).
    InstanceAudit,
    /// budget-guard's measurement and suspension.
    BudgetGuard,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Scp => "SCP/boundary",
            Layer::AllowedAmis => "Allowed AMIs",
            Layer::DeclarativePolicy => "declarative policy",
            Layer::LaunchGuard => "launch-guard hook",
            Layer::InstanceAudit => "instance-audit after launch",
            Layer::BudgetGuard => "budget-guard",
        }
    }
}

/// How much of a check a launch-time control can say, whatever the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtLaunch {
    /// The exported controls decide as the guard does.
    Full,
    /// The exported controls never block what the guard admits, but let
    /// some violations through (the reason says which).
    Partial(&'static str),
    /// No launch-time control can express it (the reason says why).
    Never(&'static str),
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enforcement {
    pub check: CheckName,
    /// Every layer that can enforce the check, earliest first.
    pub layers: &'static [Layer],
    pub at_launch: AtLaunch,
}

const AFTER: [Layer; 2] = [Layer::LaunchGuard, Layer::InstanceAudit];
const SCP_THEN_GUARD: [Layer; 3] = [Layer::Scp, Layer::LaunchGuard, Layer::InstanceAudit];
const IMAGES: [Layer; 4] = [
    Layer::AllowedAmis,
    Layer::DeclarativePolicy,
    Layer::LaunchGuard,
    Layer::InstanceAudit,
];
const IMDS: [Layer; 4] = [
    Layer::Scp,
    Layer::DeclarativePolicy,
    Layer::LaunchGuard,
    Layer::InstanceAudit,
];
const BUDGET: [Layer; 2] = [Layer::LaunchGuard, Layer::BudgetGuard];

const OUTDATED: &str = "the recommended image is whatever AWS's SSM public parameter names today; no launch-time control reads it";
const PUBLIC: &str = "a public address comes from the subnet's MapPublicIpOnLaunch and its routes, which no condition key of ec2:RunInstances carries";
const BUDGETS: &str =
    "a budget is a sum over the cluster's live instances; an authorization sees one request";
const UNMANAGED: &str = "whether an instance came from a guarded group or an allowed launcher is known only after launch";
const UNGUARDED: &str = "a group's lifecycle hooks are not in a launch's authorization context";
const HOP_LIMIT: &str = "a launch that sets no hop limit takes the image's or the account's default, which the SCP does not see (the declarative policy sets that default)";
const KMS_KEYS: &str = "the SCP requires encryption; which KMS key is left to the guard";

/// The enforcement of every check, in [`CheckName::ALL`]'s order (a data
/// table).
pub const TABLE: [Enforcement; 18] = [
    row(
        CheckName::ImageAllowed,
        &[
            Layer::Scp,
            Layer::AllowedAmis,
            Layer::DeclarativePolicy,
            Layer::LaunchGuard,
            Layer::InstanceAudit,
        ],
        AtLaunch::Full,
    ),
    row(CheckName::ImageAge, &IMAGES, AtLaunch::Full),
    row(CheckName::ImageDeprecated, &IMAGES, AtLaunch::Full),
    row(CheckName::ImageOutdated, &AFTER, AtLaunch::Never(OUTDATED)),
    row(CheckName::SubnetAllowed, &SCP_THEN_GUARD, AtLaunch::Full),
    row(CheckName::SubnetPublic, &AFTER, AtLaunch::Never(PUBLIC)),
    row(
        CheckName::SecurityGroupsAllowed,
        &SCP_THEN_GUARD,
        AtLaunch::Full,
    ),
    row(
        CheckName::InstanceTypeAllowed,
        &SCP_THEN_GUARD,
        AtLaunch::Full,
    ),
    row(CheckName::ImdsV2, &IMDS, AtLaunch::Full),
    row(CheckName::ImdsHopLimit, &IMDS, AtLaunch::Partial(HOP_LIMIT)),
    row(
        CheckName::InstanceProfileAllowed,
        &SCP_THEN_GUARD,
        AtLaunch::Full,
    ),
    row(
        CheckName::VolumesEncrypted,
        &SCP_THEN_GUARD,
        AtLaunch::Partial(KMS_KEYS),
    ),
    row(CheckName::InstanceKeyPair, &SCP_THEN_GUARD, AtLaunch::Full),
    row(CheckName::BudgetVcpus, &BUDGET, AtLaunch::Never(BUDGETS)),
    row(CheckName::BudgetMemory, &BUDGET, AtLaunch::Never(BUDGETS)),
    row(
        CheckName::BudgetInstances,
        &BUDGET,
        AtLaunch::Never(BUDGETS),
    ),
    row(
        CheckName::MembershipUnmanaged,
        &[Layer::InstanceAudit],
        AtLaunch::Never(UNMANAGED),
    ),
    row(
        CheckName::MembershipUnguardedGroup,
        &[Layer::InstanceAudit],
        AtLaunch::Never(UNGUARDED),
    ),
];

const fn row(check: CheckName, layers: &'static [Layer], at_launch: AtLaunch) -> Enforcement {
    Enforcement {
        check,
        layers,
        at_launch,
    }
}

/// The row of `check`.
pub fn enforcement(check: CheckName) -> Enforcement {
    TABLE
        .iter()
        .find(|row| row.check == check)
        .copied()
        .unwrap_or(row(check, &AFTER, AtLaunch::Never("not in the table")))
}

/// The layers of `check`, joined for a table cell: `SCP/boundary, launch-guard hook`.
pub fn layers_text(check: CheckName) -> String {
    enforcement(check)
        .layers
        .iter()
        .map(|layer| layer.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_has_one_row_in_the_order_of_all() {
        let checks: Vec<CheckName> = TABLE.iter().map(|row| row.check).collect();
        assert_eq!(checks, CheckName::ALL.to_vec());
    }

    #[test]
    fn a_check_no_launch_control_expresses_is_enforced_by_the_guard_alone() {
        for row in TABLE {
            let preventive = row.layers.iter().any(|layer| {
                matches!(
                    layer,
                    Layer::Scp | Layer::AllowedAmis | Layer::DeclarativePolicy
                )
            });
            assert_eq!(
                preventive,
                !matches!(row.at_launch, AtLaunch::Never(_)),
                "{}",
                row.check
            );
        }
    }
}
