//! The policy: the central configuration of one deployment (SPEC §3).
//!
//! Read once at cold start from `GUARD_*` environment variables, validated as a
//! whole (every problem in one error), then passed by reference everywhere.
//! Each variable is one row of [`settings::SETTINGS`] (name, kind, default,
//! help); `parse.rs` reads the rows section by section.

mod cluster_tag;
mod exceptions;
pub(crate) mod ids;
mod parse;
mod patterns;
pub mod settings;

use std::collections::BTreeSet;
use std::time::SystemTime;

use crate::suspension::RecordKey;
use std::fmt;

pub use cluster_tag::ClusterTag;
pub use exceptions::{
    EXCEPTION_EXPIRED_TAG, Exception, ExceptionTerms, Exceptions, NOT_EXEMPTIBLE,
};
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

/// The words of a setting whose value is one of a few (`Kind::Choice` in
/// the settings table).
pub(crate) trait Choice: Copy {
    const CHOICES: &'static [&'static str];
    /// What the reader falls back to when even the table's default is not
    /// a choice, a table bug it reports as a problem.
    const FIRST: Self;
    fn parse(text: &str) -> Option<Self>;
}

macro_rules! text_enum {
    ($ty:ty { $first_text:literal => $first:expr $(, $text:literal => $variant:expr)* $(,)? }) => {
        impl $ty {
            pub const CHOICES: &'static [&'static str] = &[$first_text $(, $text)*];

            pub fn as_str(self) -> &'static str {
                if self == $first { return $first_text; }
                $(if self == $variant { return $text; })*
                ""
            }
        }

        impl Choice for $ty {
            const CHOICES: &'static [&'static str] = <$ty>::CHOICES;
            const FIRST: Self = $first;

            fn parse(text: &str) -> Option<Self> {
                match text {
                    $first_text => Some($first),
                    $($text => Some($variant),)*
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
    /// `image.outdated`, when on.
    pub outdated: Option<OutdatedImageRules>,
}

/// `image.outdated`: nodes keep up with AWS's recommended EKS images, which
/// AWS publishes as SSM public parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutdatedImageRules {
    /// The cluster's Kubernetes version (`1.31`): a node image built for
    /// another version violates.
    pub kubernetes_version: Option<String>,
    /// The SSM public parameters that name the recommended images (at most
    /// [`MAX_RECOMMENDED_PARAMETERS`], one `GetParameters` call).
    pub parameters: Vec<String>,
    /// A node image may be this many days older than the recommended image
    /// of its family.
    pub grace_days: u32,
}

/// `GetParameters` takes at most 10 names: one call reads them all.
pub const MAX_RECOMMENDED_PARAMETERS: usize = 10;

/// The recommended-image parameters AWS publishes for Kubernetes `version`:
/// Amazon Linux 2023 (standard, NVIDIA, Neuron), Amazon Linux 2 (x86_64,
/// arm64, GPU; AWS publishes these up to Kubernetes 1.32) and Bottlerocket,
/// each architecture AWS builds. Ten names: one `GetParameters` call. A
/// family AWS does not publish for the version is simply absent.
pub fn recommended_parameters(version: &str) -> Vec<String> {
    let eks = format!("/aws/service/eks/optimized-ami/{version}");
    let bottlerocket = format!("/aws/service/bottlerocket/aws-k8s-{version}");
    vec![
        format!("{eks}/amazon-linux-2023/x86_64/standard/recommended/image_id"),
        format!("{eks}/amazon-linux-2023/arm64/standard/recommended/image_id"),
        format!("{eks}/amazon-linux-2023/x86_64/nvidia/recommended/image_id"),
        format!("{eks}/amazon-linux-2023/arm64/nvidia/recommended/image_id"),
        format!("{eks}/amazon-linux-2023/x86_64/neuron/recommended/image_id"),
        format!("{eks}/amazon-linux-2/recommended/image_id"),
        format!("{eks}/amazon-linux-2-arm64/recommended/image_id"),
        format!("{eks}/amazon-linux-2-gpu/recommended/image_id"),
        format!("{bottlerocket}/x86_64/latest/image_id"),
        format!("{bottlerocket}/arm64/latest/image_id"),
    ]
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

/// `volumes.encrypted`: every attached EBS volume is encrypted, with one of
/// the allowed KMS keys when any are listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeRules {
    pub require_encrypted: bool,
    /// KMS key ARNs; empty allows any key.
    pub allowed_kms_keys: BTreeSet<String>,
}

/// `instance.key_pair`: nodes carry no SSH key pair, or only allowed ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPairRules {
    /// No key pair but the allowed ones.
    pub deny: bool,
    pub allowed: BTreeSet<String>,
}

impl KeyPairRules {
    pub fn is_on(&self) -> bool {
        self.deny || !self.allowed.is_empty()
    }
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
    /// What marks the cluster's groups and instances: key and value.
    pub cluster_tag: ClusterTag,
    pub mode: Mode,
    pub audit_only_checks: BTreeSet<CheckName>,
    pub image: ImageRules,
    pub network: NetworkRules,
    pub instance_types: InstanceTypeRules,
    pub require_imdsv2: bool,
    /// `imds.hop_limit`: the highest `HttpPutResponseHopLimit` allowed.
    pub max_imds_hop_limit: Option<u32>,
    pub allowed_instance_profiles: BTreeSet<String>,
    pub volumes: VolumeRules,
    pub key_pairs: KeyPairRules,
    /// Checks that do not apply to named groups (`GUARD_CHECK_EXCEPTIONS`).
    pub exceptions: Exceptions,
    /// How long an exception may run and whether it must say why
    /// (`GUARD_MAX_EXCEPTION_DAYS`, `GUARD_REQUIRE_EXCEPTION_REASON`).
    pub exception_terms: ExceptionTerms,
    pub budget: BudgetPolicy,
    pub fail_mode: FailMode,
    pub hook_name: String,
    pub enroll_groups: bool,
    pub audit_action: AuditAction,
    /// At most this many instances remediated per hour across the cluster,
    /// by events and sweeps together (`GUARD_MAX_REMEDIATIONS_PER_HOUR`).
    pub max_remediations_per_hour: u32,
    /// At most this many instances of one launcher pool (the value of its
    /// launcher tag, e.g. a Karpenter NodePool) remediated per hour; then
    /// that pool's are held (`GUARD_MAX_REMEDIATIONS_PER_POOL`).
    /// 0: no limit per pool.
    pub max_remediations_per_pool: u32,
    pub quarantine_security_group_id: Option<String>,
    /// Tags whose presence marks an instance as launched by an allowed
    /// launcher outside any Auto Scaling group (e.g. Karpenter).
    pub allowed_launcher_tags: BTreeSet<String>,
    /// Roles of launchers without hooks (`GUARD_LAUNCHER_ROLE_ARNS`): a
    /// budget suspension also puts the launch breaker on each, its resume
    /// removes it.
    pub launcher_role_arns: BTreeSet<String>,
    pub alert_topic_arn: String,
    /// Every alert also goes to this topic as an AWS Chatbot custom
    /// notification (`GUARD_CHAT_TOPIC_ARN`), or to no chat.
    pub chat_topic_arn: Option<String>,
    /// The bus every decision event goes to (`GUARD_EVENT_BUS`), or none.
    pub event_bus: crate::events::EventBus,
    /// Violations also go to Security Hub as ASFF findings
    /// (`GUARD_SECURITY_HUB`).
    pub security_hub: bool,
    /// Which alarms budget-guard believes: its own budget alarms by name and
    /// the operator's surge alarms by prefix.
    pub alarms: AlarmTrust,
    /// Where the hooks the guard enrolls notify, when not EventBridge.
    pub hook_notification: Option<HookNotification>,
    /// Signs the guard's suspension records (`GUARD_RECORD_KEY`, the stack's
    /// secret): with it, only records it signed are trusted. Without it (a
    /// guard run outside its stack) records are neither signed nor verified.
    pub record_key: Option<RecordKey>,
}

/// The alarms that may suspend this cluster (SPEC §12): an alarm whose name
/// is neither is ignored, whatever topic or function it reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmTrust {
    /// The template's budget alarms (`GUARD_BUDGET_ALARM_NAMES`).
    pub budget_alarm_names: BTreeSet<String>,
    /// The operator's surge alarms start with this (`GUARD_SURGE_ALARM_PREFIX`).
    pub surge_alarm_prefix: Option<String>,
}

impl AlarmTrust {
    /// Whether `name` is one of the budget alarms.
    pub fn is_budget_alarm(&self, name: &str) -> bool {
        self.budget_alarm_names.contains(name)
    }

    /// Whether `name` is a surge alarm of this stack.
    pub fn is_surge_alarm(&self, name: &str) -> bool {
        self.surge_alarm_prefix
            .as_deref()
            .is_some_and(|prefix| name.starts_with(prefix))
    }
}

/// The target and role of the hooks the guard enrolls, when launches reach
/// launch-guard through an SQS queue (`GUARD_HOOK_NOTIFICATION_TARGET_ARN`,
/// `GUARD_HOOK_NOTIFICATION_ROLE_ARN`): without them an enrolled hook would
/// notify nobody and every launch would wait for its heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookNotification {
    pub target_arn: String,
    pub role_arn: String,
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
        Self::from_vars_at(vars, SystemTime::now())
    }

    /// [`Policy::from_vars`] on the day of `now`: the rules that depend on
    /// today (an exception's `until` at most `GUARD_MAX_EXCEPTION_DAYS`
    /// ahead) are judged against it. Tests pin it.
    pub fn from_vars_at<K, V>(
        vars: impl IntoIterator<Item = (K, V)>,
        now: SystemTime,
    ) -> Result<Self, PolicyError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        parse::parse_at(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            now,
        )
    }

    /// Whether a violation of `check` blocks (enforce mode, not audit-only).
    pub fn blocks(&self, check: CheckName) -> bool {
        self.mode == Mode::Enforce && !self.audit_only_checks.contains(&check)
    }

    /// Whether a violation of `check` by an instance of `group` is exempted
    /// at `now`, the time of the decision (`GUARD_CHECK_EXCEPTIONS`): an
    /// exception past its `until` exempts nothing.
    pub fn exempts(&self, check: CheckName, group: Option<&str>, now: SystemTime) -> bool {
        self.exceptions.exempts(check, group, now)
    }

    /// The SSM public parameters `image.outdated` reads; empty when it is off.
    pub fn recommended_image_parameters(&self) -> &[String] {
        self.image
            .outdated
            .as_ref()
            .map_or(&[], |rules| rules.parameters.as_slice())
    }

    /// The checks that this policy turns on, for the start-up log.
    pub fn enabled_checks(&self) -> Vec<CheckName> {
        let budget = &self.budget;
        let on = |check: CheckName| match check {
            CheckName::ImageAllowed => self.image.allow_list_is_on(),
            CheckName::ImageAge => self.image.max_age_days.is_some(),
            CheckName::ImageDeprecated => self.image.deny_deprecated,
            CheckName::ImageOutdated => self.image.outdated.is_some(),
            CheckName::SubnetAllowed => !self.network.allowed_subnet_ids.is_empty(),
            CheckName::SubnetPublic => self.network.require_private_subnet,
            CheckName::SecurityGroupsAllowed => !self.network.allowed_security_group_ids.is_empty(),
            CheckName::InstanceTypeAllowed => {
                !self.instance_types.allowed.is_empty() || !self.instance_types.denied.is_empty()
            }
            CheckName::ImdsV2 => self.require_imdsv2,
            CheckName::ImdsHopLimit => self.max_imds_hop_limit.is_some(),
            CheckName::InstanceProfileAllowed => !self.allowed_instance_profiles.is_empty(),
            CheckName::VolumesEncrypted => self.volumes.require_encrypted,
            CheckName::InstanceKeyPair => self.key_pairs.is_on(),
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
