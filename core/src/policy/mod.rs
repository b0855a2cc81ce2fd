//! The policy: the central configuration of one deployment (SPEC §3).
//!
//! Read once at cold start from `GUARD_*` environment variables, validated as a
//! whole (every problem in one error), then passed by reference everywhere.

mod ids;
mod parse;
mod patterns;

use std::collections::BTreeSet;
use std::fmt;

pub use ids::{is_account_id, is_arn, is_resource_id};
pub use parse::PolicyError;
pub use patterns::Patterns;

use crate::check_name::CheckName;

/// `enforce` blocks and remediates; `audit` decides and alerts only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Enforce,
    Audit,
}

/// The decision when facts cannot be established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    Abandon,
    Continue,
}

/// What instance-audit does to a non-compliant instance in enforce mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Alert,
    Stop,
    Terminate,
    Isolate,
}

macro_rules! text_enum {
    ($ty:ty { $($text:literal => $variant:expr),+ $(,)? }) => {
        impl $ty {
            pub const CHOICES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                $(if self == $variant { return $text; })+
                ""
            }

            fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(Mode { "enforce" => Mode::Enforce, "audit" => Mode::Audit });
text_enum!(FailMode { "abandon" => FailMode::Abandon, "continue" => FailMode::Continue });
text_enum!(AuditAction {
    "alert" => AuditAction::Alert,
    "stop" => AuditAction::Stop,
    "terminate" => AuditAction::Terminate,
    "isolate" => AuditAction::Isolate,
});

/// Which images nodes may boot from.
#[derive(Debug, Clone, Default)]
pub struct ImageRules {
    pub allowed_ids: BTreeSet<String>,
    /// Account ids, `amazon`, `aws-marketplace` or `self`.
    pub allowed_owners: BTreeSet<String>,
    pub allowed_name_patterns: Patterns,
    pub max_age_days: Option<u32>,
    pub deny_deprecated: bool,
}

impl ImageRules {
    /// `image.allowed` is on when any of its three lists is set.
    pub fn allow_list_is_on(&self) -> bool {
        !self.allowed_ids.is_empty()
            || !self.allowed_owners.is_empty()
            || !self.allowed_name_patterns.is_empty()
    }
}

/// Where nodes may run and which security groups they may carry.
#[derive(Debug, Clone, Default)]
pub struct NetworkRules {
    pub allowed_subnet_ids: BTreeSet<String>,
    pub require_private_subnet: bool,
    pub allowed_security_group_ids: BTreeSet<String>,
}

/// Instance types: deny wins over allow; an empty allow list allows all.
#[derive(Debug, Clone, Default)]
pub struct InstanceTypeRules {
    pub allowed: Patterns,
    pub denied: Patterns,
}

/// Cluster-wide budgets and the thresholds of surge suspension (SPEC §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetPolicy {
    pub max_vcpus: Option<u64>,
    pub max_memory_mib: Option<u64>,
    pub max_instances: Option<u64>,
    pub suspend_at_percent: u32,
    pub resume_below_percent: u32,
    pub clamp_max_size: bool,
}

impl BudgetPolicy {
    pub fn is_on(&self) -> bool {
        self.max_vcpus.is_some() || self.max_memory_mib.is_some() || self.max_instances.is_some()
    }
}

/// The whole policy of one deployment.
#[derive(Debug, Clone)]
pub struct Policy {
    pub cluster: String,
    pub cluster_tag_key: String,
    pub mode: Mode,
    pub audit_only_checks: BTreeSet<CheckName>,
    pub image: ImageRules,
    pub network: NetworkRules,
    pub instance_types: InstanceTypeRules,
    pub require_imdsv2: bool,
    pub allowed_instance_profiles: BTreeSet<String>,
    pub budget: BudgetPolicy,
    pub fail_mode: FailMode,
    pub hook_name: String,
    pub enroll_groups: bool,
    pub audit_action: AuditAction,
    /// At most this many instances remediated per hour across the cluster,
    /// by events and sweeps together (`GUARD_MAX_REMEDIATIONS_PER_HOUR`).
    pub max_remediations_per_hour: u32,
    pub quarantine_security_group_id: Option<String>,
    /// Tags whose presence marks an instance as launched by an allowed
    /// launcher outside any Auto Scaling group (e.g. Karpenter).
    pub allowed_launcher_tags: BTreeSet<String>,
    pub alert_topic_arn: String,
}

impl Policy {
    /// Reads and validates the policy from the process environment. Call once,
    /// at cold start.
    pub fn from_env() -> Result<Self, PolicyError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads and validates the policy from `GUARD_*` variables; other
    /// variables are ignored.
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<Self, PolicyError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        parse::parse(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// Whether a violation of `check` blocks (enforce mode, not audit-only).
    pub fn blocks(&self, check: CheckName) -> bool {
        self.mode == Mode::Enforce && !self.audit_only_checks.contains(&check)
    }

    /// The checks that this policy turns on, for the start-up log.
    pub fn enabled_checks(&self) -> Vec<CheckName> {
        let budget = &self.budget;
        let on = |check: CheckName| match check {
            CheckName::ImageAllowed => self.image.allow_list_is_on(),
            CheckName::ImageAge => self.image.max_age_days.is_some(),
            CheckName::ImageDeprecated => self.image.deny_deprecated,
            CheckName::SubnetAllowed => !self.network.allowed_subnet_ids.is_empty(),
            CheckName::SubnetPublic => self.network.require_private_subnet,
            CheckName::SecurityGroupsAllowed => !self.network.allowed_security_group_ids.is_empty(),
            CheckName::InstanceTypeAllowed => {
                !self.instance_types.allowed.is_empty() || !self.instance_types.denied.is_empty()
            }
            CheckName::ImdsV2 => self.require_imdsv2,
            CheckName::InstanceProfileAllowed => !self.allowed_instance_profiles.is_empty(),
            CheckName::BudgetVcpus => budget.max_vcpus.is_some(),
            CheckName::BudgetMemory => budget.max_memory_mib.is_some(),
            CheckName::BudgetInstances => budget.max_instances.is_some(),
            CheckName::MembershipUnmanaged | CheckName::MembershipUnguardedGroup => true,
        };
        CheckName::ALL
            .into_iter()
            .filter(|check| on(*check))
            .collect()
    }
}
