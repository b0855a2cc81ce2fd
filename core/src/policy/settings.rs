//! Every `GUARD_*` setting, once: its name, its kind (how its text is read),
//! its default, what it means and where its value lands in the [`Policy`].
//!
//! The policy parser reads each setting through its row (name, kind and
//! default come from here), `scaling-guard validate` lists the rows with the
//! value each holds, and `scripts/template_tests/test_settings_table.py`
//! checks the template against the table, which `cargo run -p
//! scaling-guard-core --example settings_table` prints as JSON.

use serde::Serialize;

use super::ids::{is_account_id, is_arn, is_resource_id};
use super::{AuditAction, FailMode, Mode, Policy};
use crate::suspension::MIN_KEY_CHARS;

/// The part of the policy a setting belongs to: the parser reads each
/// section in one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Which cluster, and whether the checks block or report.
    Scope,
    Image,
    Network,
    /// Instance types, metadata options, profiles, volumes, key pairs and
    /// the per-group exceptions of those checks.
    Instance,
    Budget,
    /// The launch hook: its name, its enrollment and the answer without facts.
    Hooks,
    /// What instance-audit does to an instance out of policy.
    Audit,
    /// Where the alerts go and which alarms are believed.
    Alerts,
    /// The key of the suspension records.
    Records,
}

/// How a setting's text is read. Blank counts as unset (CloudFormation
/// passes a parameter left blank as an empty string).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    /// Text its section checks (a name, an id, an arn, a version).
    Text,
    /// `true` or `false`, in any case.
    Flag,
    /// One of `choices`.
    Choice { choices: &'static [&'static str] },
    /// A whole number from `min` to `max`.
    Number { min: u64, max: u64 },
    /// Comma-separated items (blank items are skipped); with `item`, each
    /// item must be one (`valid` says whether it is).
    List {
        item: Option<&'static str>,
        #[serde(skip)]
        valid: Option<fn(&str) -> bool>,
    },
    /// Comma-separated glob patterns.
    Patterns,
    /// A secret of at least `min_chars` characters: never quoted or shown.
    Secret { min_chars: usize },
}

/// What a setting holds when it is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Fallback {
    /// Nothing: the policy is invalid without it.
    Required,
    /// Nothing: the check or feature is off.
    Unset,
    /// This text, read as if it were given.
    Value(&'static str),
    /// This prefix followed by the cluster's name (`GUARD_CLUSTER`).
    PerCluster(&'static str),
}

impl Fallback {
    /// The default's text for `cluster`; `None` when there is none.
    pub fn text(self, cluster: &str) -> Option<String> {
        match self {
            Fallback::Required | Fallback::Unset => None,
            Fallback::Value(text) => Some(text.to_owned()),
            Fallback::PerCluster(prefix) => Some(format!("{prefix}{cluster}")),
        }
    }
}

/// One `GUARD_*` setting.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Setting {
    pub name: &'static str,
    pub section: Section,
    #[serde(flatten)]
    pub kind: Kind,
    pub default: Fallback,
    /// A blank value is a value (an empty list), not "unset".
    pub blank_is_a_value: bool,
    pub help: &'static str,
    /// The value the policy holds for this setting, as text (`None`: unset
    /// or empty); this is the field the setting fills, read back.
    #[serde(skip)]
    pub holds: fn(&Policy) -> Option<String>,
    /// What `validate` shows when the policy holds nothing.
    pub shown_unset: &'static str,
}

impl Setting {
    /// The row of `name`, if it is a setting.
    pub fn named(name: &str) -> Option<&'static Setting> {
        SETTINGS.iter().find(|setting| setting.name == name)
    }

    /// The value in force as `validate` shows it.
    pub fn shown(&self, policy: &Policy) -> String {
        (self.holds)(policy).unwrap_or_else(|| self.shown_unset.to_owned())
    }
}

/// What every setting's name starts with: the variables the policy reads.
/// A `GUARD_*` variable that is no row is a typo, not someone else's.
pub const PREFIX: &str = "GUARD_";

const NONE: &str = "(none)";
const UNSET: &str = "(unset)";
const NO_BUDGET: &str = "(unset: no budget)";

/// Comma-joined items; `None` when there are none.
fn joined<T: AsRef<str>>(items: impl IntoIterator<Item = T>) -> Option<String> {
    let texts: Vec<String> = items.into_iter().map(|i| i.as_ref().to_owned()).collect();
    (!texts.is_empty()).then(|| texts.join(","))
}

fn text(value: impl ToString) -> Option<String> {
    Some(value.to_string())
}

fn optional(value: Option<impl ToString>) -> Option<String> {
    value.map(|v| v.to_string())
}

const fn list(item: &'static str, valid: fn(&str) -> bool) -> Kind {
    Kind::List {
        item: Some(item),
        valid: Some(valid),
    }
}

const ANY_ITEMS: Kind = Kind::List {
    item: None,
    valid: None,
};

fn is_image_owner(owner: &str) -> bool {
    is_account_id(owner) || ["amazon", "aws-marketplace", "self"].contains(&owner)
}

fn is_ssm_public_parameter(name: &str) -> bool {
    name.starts_with("/aws/service/")
        && name.len() <= 2048
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
}

fn is_key_pair_name(name: &str) -> bool {
    name.len() <= 255 && name.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

/// Declares each row as a constant the parser reads by name, and the table
/// of them all in this order (the order `validate` lists them in).
macro_rules! table {
    ($($(#[$doc:meta])* $id:ident = $row:expr;)+) => {
        $($(#[$doc])* pub const $id: Setting = $row;)+
        /// Every setting the policy reads; anything else starting with
        /// `GUARD_` is a typo.
        pub const SETTINGS: &[Setting] = &[$($id),+];
    };
}

use Fallback::{PerCluster, Required, Unset, Value};
use Section::{Alerts, Audit, Budget, Hooks, Image, Instance, Network, Records, Scope};

table! {
    CLUSTER = Setting {
        name: "GUARD_CLUSTER", section: Scope, kind: Kind::Text, default: Required,
        blank_is_a_value: false,
        help: "name of the Kubernetes cluster this deployment guards",
        holds: |p| text(&p.cluster), shown_unset: UNSET,
    };
    /// The default names the cluster by itself ([`super::ClusterTag::default_key`]).
    CLUSTER_TAG_KEY = Setting {
        name: "GUARD_CLUSTER_TAG_KEY", section: Scope, kind: Kind::Text,
        default: PerCluster("kubernetes.io/cluster/"), blank_is_a_value: false,
        help: "tag key that marks the cluster's groups and instances; any other key than the default needs GUARD_CLUSTER_TAG_VALUE",
        holds: |p| text(&p.cluster_tag.key), shown_unset: UNSET,
    };
    CLUSTER_TAG_VALUE = Setting {
        name: "GUARD_CLUSTER_TAG_VALUE", section: Scope, kind: Kind::Text, default: Unset,
        blank_is_a_value: false,
        help: "value of the cluster tag that names this cluster; unset with the default key: any value",
        holds: |p| optional(p.cluster_tag.value()), shown_unset: "(any value)",
    };
    /// SPEC §3: unset is audit. A guard that nobody configured decides and
    /// alerts, and blocks nothing (issue 21, scenario 10).
    MODE = Setting {
        name: "GUARD_MODE", section: Scope, kind: Kind::Choice { choices: Mode::CHOICES },
        default: Value("audit"), blank_is_a_value: false,
        help: "audit decides and alerts only; enforce blocks non-compliant launches and remediates",
        holds: |p| text(p.mode), shown_unset: UNSET,
    };
    AUDIT_ONLY_CHECKS = Setting {
        name: "GUARD_AUDIT_ONLY_CHECKS", section: Scope, kind: ANY_ITEMS, default: Unset,
        blank_is_a_value: false,
        help: "check names that only alert, even in enforce mode (e.g. image.age,imds.v2)",
        holds: |p| joined(p.audit_only_checks.iter().map(|c| c.as_str())), shown_unset: NONE,
    };
    ALLOWED_AMI_IDS = Setting {
        name: "GUARD_ALLOWED_AMI_IDS", section: Image,
        kind: list("an image id (`ami-…`)", |id| is_resource_id(id, "ami")),
        default: Unset, blank_is_a_value: false,
        help: "image ids nodes may boot from (image.allowed)",
        holds: |p| joined(&p.image.allowed_ids), shown_unset: NONE,
    };
    ALLOWED_AMI_OWNERS = Setting {
        name: "GUARD_ALLOWED_AMI_OWNERS", section: Image,
        kind: list("an account id, `amazon`, `aws-marketplace` or `self`", is_image_owner),
        default: Unset, blank_is_a_value: false,
        help: "image owners nodes may boot from: account ids, amazon, aws-marketplace or self (image.allowed)",
        holds: |p| joined(&p.image.allowed_owners), shown_unset: NONE,
    };
    ALLOWED_AMI_NAME_PATTERNS = Setting {
        name: "GUARD_ALLOWED_AMI_NAME_PATTERNS", section: Image, kind: Kind::Patterns,
        default: Unset, blank_is_a_value: false,
        help: "glob patterns on the image name, e.g. amazon-eks-node-al2023-* (image.allowed)",
        holds: |p| joined(p.image.allowed_name_patterns.texts()), shown_unset: NONE,
    };
    MAX_AMI_AGE_DAYS = Setting {
        name: "GUARD_MAX_AMI_AGE_DAYS", section: Image, kind: Kind::Number { min: 1, max: 36_500 },
        default: Unset, blank_is_a_value: false,
        help: "oldest allowed image, in days since its creation (image.age)",
        holds: |p| optional(p.image.max_age_days), shown_unset: UNSET,
    };
    DENY_DEPRECATED_AMIS = Setting {
        name: "GUARD_DENY_DEPRECATED_AMIS", section: Image, kind: Kind::Flag,
        default: Value("true"), blank_is_a_value: false,
        help: "deny images past their deprecation time (image.deprecated)",
        holds: |p| text(p.image.deny_deprecated), shown_unset: UNSET,
    };
    KUBERNETES_VERSION = Setting {
        name: "GUARD_KUBERNETES_VERSION", section: Image, kind: Kind::Text, default: Unset,
        blank_is_a_value: false,
        help: "the cluster's Kubernetes minor version, e.g. 1.31: nodes keep up with AWS's recommended images of it (image.outdated)",
        holds: |p| optional(p.image.outdated.as_ref().and_then(|o| o.kubernetes_version.as_ref())),
        shown_unset: UNSET,
    };
    RECOMMENDED_IMAGE_PARAMETERS = Setting {
        name: "GUARD_RECOMMENDED_IMAGE_PARAMETERS", section: Image,
        kind: list("an SSM public parameter name (`/aws/service/…`)", is_ssm_public_parameter),
        default: Unset, blank_is_a_value: false,
        help: "SSM public parameters naming the recommended images, at most 10; they replace the version's (image.outdated)",
        holds: |p| joined(p.image.outdated.iter().flat_map(|o| o.parameters.iter())),
        shown_unset: NONE,
    };
    /// AWS releases EKS images every week or two, so a node may lag about
    /// two releases.
    OUTDATED_IMAGE_GRACE_DAYS = Setting {
        name: "GUARD_OUTDATED_IMAGE_GRACE_DAYS", section: Image,
        kind: Kind::Number { min: 0, max: 3650 }, default: Value("30"), blank_is_a_value: false,
        help: "days an image may lag behind the recommended image of its family (image.outdated)",
        holds: |p| p.image.outdated.as_ref().map(|o| o.grace_days.to_string())
            .or_else(|| OUTDATED_IMAGE_GRACE_DAYS.default.text(&p.cluster)),
        shown_unset: UNSET,
    };
    ALLOWED_SUBNET_IDS = Setting {
        name: "GUARD_ALLOWED_SUBNET_IDS", section: Network,
        kind: list("a subnet id (`subnet-…`)", |id| is_resource_id(id, "subnet")),
        default: Unset, blank_is_a_value: false,
        help: "subnets nodes may run in (subnet.allowed)",
        holds: |p| joined(&p.network.allowed_subnet_ids), shown_unset: NONE,
    };
    REQUIRE_PRIVATE_SUBNET = Setting {
        name: "GUARD_REQUIRE_PRIVATE_SUBNET", section: Network, kind: Kind::Flag,
        default: Value("true"), blank_is_a_value: false,
        help: "deny a public IP on the node and subnets that map public IPs on launch (subnet.public)",
        holds: |p| text(p.network.require_private_subnet), shown_unset: UNSET,
    };
    ALLOWED_SECURITY_GROUP_IDS = Setting {
        name: "GUARD_ALLOWED_SECURITY_GROUP_IDS", section: Network,
        kind: list("a security group id (`sg-…`)", |id| is_resource_id(id, "sg")),
        default: Unset, blank_is_a_value: false,
        help: "security groups a node may carry, every one of them (security_groups.allowed)",
        holds: |p| joined(&p.network.allowed_security_group_ids), shown_unset: NONE,
    };
    ALLOWED_INSTANCE_TYPES = Setting {
        name: "GUARD_ALLOWED_INSTANCE_TYPES", section: Instance, kind: Kind::Patterns,
        default: Unset, blank_is_a_value: false,
        help: "glob patterns of allowed instance types, e.g. m6i.*,c7g.2xlarge (instance_type.allowed)",
        holds: |p| joined(p.instance_types.allowed.texts()), shown_unset: NONE,
    };
    DENIED_INSTANCE_TYPES = Setting {
        name: "GUARD_DENIED_INSTANCE_TYPES", section: Instance, kind: Kind::Patterns,
        default: Unset, blank_is_a_value: false,
        help: "glob patterns of denied instance types; deny wins over allow (instance_type.allowed)",
        holds: |p| joined(p.instance_types.denied.texts()), shown_unset: NONE,
    };
    REQUIRE_IMDSV2 = Setting {
        name: "GUARD_REQUIRE_IMDSV2", section: Instance, kind: Kind::Flag,
        default: Value("true"), blank_is_a_value: false,
        help: "require IMDSv2 (HttpTokens=required) on every node (imds.v2)",
        holds: |p| text(p.require_imdsv2), shown_unset: UNSET,
    };
    MAX_IMDS_HOP_LIMIT = Setting {
        name: "GUARD_MAX_IMDS_HOP_LIMIT", section: Instance, kind: Kind::Number { min: 1, max: 64 },
        default: Unset, blank_is_a_value: false,
        help: "highest allowed IMDS response hop limit, e.g. 1 so that pods cannot reach the node's credentials (imds.hop_limit)",
        holds: |p| optional(p.max_imds_hop_limit), shown_unset: UNSET,
    };
    ALLOWED_INSTANCE_PROFILES = Setting {
        name: "GUARD_ALLOWED_INSTANCE_PROFILES", section: Instance,
        kind: list(
            "an instance profile arn (`arn:aws:iam::<account>:instance-profile/<name>`)",
            |arn| is_arn(arn, "iam", false, "instance-profile/"),
        ),
        default: Unset, blank_is_a_value: false,
        help: "instance profile arns nodes may use (instance_profile.allowed)",
        holds: |p| joined(&p.allowed_instance_profiles), shown_unset: NONE,
    };
    REQUIRE_ENCRYPTED_VOLUMES = Setting {
        name: "GUARD_REQUIRE_ENCRYPTED_VOLUMES", section: Instance, kind: Kind::Flag,
        default: Value("false"), blank_is_a_value: false,
        help: "require every EBS volume of a node to be encrypted (volumes.encrypted)",
        holds: |p| text(p.volumes.require_encrypted), shown_unset: UNSET,
    };
    ALLOWED_VOLUME_KMS_KEYS = Setting {
        name: "GUARD_ALLOWED_VOLUME_KMS_KEYS", section: Instance,
        kind: list(
            "a KMS key arn (`arn:aws:kms:<region>:<account>:key/<id>`)",
            |arn| is_arn(arn, "kms", true, "key/"),
        ),
        default: Unset, blank_is_a_value: false,
        help: "KMS key arns node volumes must be encrypted with; implies GUARD_REQUIRE_ENCRYPTED_VOLUMES (volumes.encrypted)",
        holds: |p| joined(&p.volumes.allowed_kms_keys), shown_unset: NONE,
    };
    DENY_KEY_PAIRS = Setting {
        name: "GUARD_DENY_KEY_PAIRS", section: Instance, kind: Kind::Flag,
        default: Value("false"), blank_is_a_value: false,
        help: "deny nodes launched with an EC2 key pair, except the allowed ones (instance.key_pair)",
        holds: |p| text(p.key_pairs.deny), shown_unset: UNSET,
    };
    ALLOWED_KEY_PAIRS = Setting {
        name: "GUARD_ALLOWED_KEY_PAIRS", section: Instance,
        kind: list("a key pair name (1-255 printable ASCII characters)", is_key_pair_name),
        default: Unset, blank_is_a_value: false,
        help: "key pair names nodes may carry; setting it turns instance.key_pair on for other names",
        holds: |p| joined(&p.key_pairs.allowed), shown_unset: NONE,
    };
    CHECK_EXCEPTIONS = Setting {
        name: "GUARD_CHECK_EXCEPTIONS", section: Instance, kind: ANY_ITEMS, default: Unset,
        blank_is_a_value: false,
        help: "check@group-glob items, each optionally followed by until=YYYY-MM-DD (its last day, UTC) and reason=<ticket or owner> (last, no comma): the node check does not apply to the groups the glob matches until then (e.g. imds.hop_limit@prod-ebs-csi-* until=2027-03-31 reason=PLAT-123)",
        holds: |p| joined(p.exceptions.iter().map(ToString::to_string)), shown_unset: NONE,
    };
    MAX_EXCEPTION_DAYS = Setting {
        name: "GUARD_MAX_EXCEPTION_DAYS", section: Instance, kind: Kind::Number { min: 1, max: 3_650 },
        default: Value("180"), blank_is_a_value: false,
        help: "an exception's until= may be at most this many days after the day the policy is read",
        holds: |p| text(p.exception_terms.max_days), shown_unset: UNSET,
    };
    REQUIRE_EXCEPTION_REASON = Setting {
        name: "GUARD_REQUIRE_EXCEPTION_REASON", section: Instance, kind: Kind::Flag,
        default: Value("false"), blank_is_a_value: false,
        help: "every exception must name reason=<ticket or owner>",
        holds: |p| text(p.exception_terms.require_reason), shown_unset: UNSET,
    };
    MAX_VCPUS = Setting {
        name: "GUARD_MAX_VCPUS", section: Budget,
        kind: Kind::Number { min: 1, max: u32::MAX as u64 }, default: Unset,
        blank_is_a_value: false,
        help: "cluster-wide vCPU budget (budget.vcpus)",
        holds: |p| optional(p.budget.max_vcpus), shown_unset: NO_BUDGET,
    };
    MAX_MEMORY_MIB = Setting {
        name: "GUARD_MAX_MEMORY_MIB", section: Budget,
        kind: Kind::Number { min: 1, max: u32::MAX as u64 * 1024 }, default: Unset,
        blank_is_a_value: false,
        help: "cluster-wide memory budget in MiB (budget.memory)",
        holds: |p| optional(p.budget.max_memory_mib), shown_unset: NO_BUDGET,
    };
    MAX_INSTANCES = Setting {
        name: "GUARD_MAX_INSTANCES", section: Budget,
        kind: Kind::Number { min: 1, max: u32::MAX as u64 }, default: Unset,
        blank_is_a_value: false,
        help: "cluster-wide instance budget (budget.instances)",
        holds: |p| optional(p.budget.max_instances), shown_unset: NO_BUDGET,
    };
    SUSPEND_AT_PERCENT = Setting {
        name: "GUARD_SUSPEND_AT_PERCENT", section: Budget,
        kind: Kind::Number { min: 1, max: 100 }, default: Value("100"), blank_is_a_value: false,
        help: "usage of any budget, in percent, at or above which scale-out is suspended",
        holds: |p| text(p.budget.suspend_at_percent), shown_unset: UNSET,
    };
    RESUME_BELOW_PERCENT = Setting {
        name: "GUARD_RESUME_BELOW_PERCENT", section: Budget,
        kind: Kind::Number { min: 1, max: 100 }, default: Value("90"), blank_is_a_value: false,
        help: "usage of every budget, in percent, below which a suspension is lifted; below GUARD_SUSPEND_AT_PERCENT",
        holds: |p| text(p.budget.resume_below_percent), shown_unset: UNSET,
    };
    CLAMP_MAX_SIZE = Setting {
        name: "GUARD_CLAMP_MAX_SIZE", section: Budget, kind: Kind::Flag,
        default: Value("false"), blank_is_a_value: false,
        help: "while suspended, also set each group's MaxSize to its current size, restored on resume",
        holds: |p| text(p.budget.clamp_max_size), shown_unset: UNSET,
    };
    /// Launchers without hooks (Karpenter) are stopped at the API instead:
    /// a budget suspension also denies these roles cluster-tagged launches.
    LAUNCHER_ROLE_ARNS = Setting {
        name: "GUARD_LAUNCHER_ROLE_ARNS", section: Budget,
        kind: list(
            "an iam role arn (`arn:aws:iam::<account>:role/<name>`)",
            |arn| is_arn(arn, "iam", false, "role/"),
        ),
        default: Unset, blank_is_a_value: false,
        help: "roles of launchers without hooks (e.g. Karpenter's controller): while a budget suspends scale-out, each gets an inline deny of cluster-tagged RunInstances and CreateFleet",
        holds: |p| joined(&p.launcher_role_arns), shown_unset: "(none: no launcher breaker)",
    };
    FAIL_MODE = Setting {
        name: "GUARD_FAIL_MODE", section: Hooks, kind: Kind::Choice { choices: FailMode::CHOICES },
        default: Value("abandon"), blank_is_a_value: false,
        help: "the decision when the facts about a launch cannot be established",
        holds: |p| text(p.fail_mode), shown_unset: UNSET,
    };
    /// One hook name per cluster: several guards in one account never
    /// answer each other's launches.
    HOOK_NAME = Setting {
        name: "GUARD_HOOK_NAME", section: Hooks, kind: Kind::Text,
        default: PerCluster("scaling-guard-"), blank_is_a_value: false,
        help: "name of the guard's launch lifecycle hook on the cluster's groups",
        holds: |p| text(&p.hook_name), shown_unset: UNSET,
    };
    ENROLL_GROUPS = Setting {
        name: "GUARD_ENROLL_GROUPS", section: Hooks, kind: Kind::Flag,
        default: Value("true"), blank_is_a_value: false,
        help: "put the guard's launch hook on every cluster group that lacks it",
        holds: |p| text(p.enroll_groups), shown_unset: UNSET,
    };
    AUDIT_ACTION = Setting {
        name: "GUARD_AUDIT_ACTION", section: Audit,
        kind: Kind::Choice { choices: AuditAction::CHOICES }, default: Value("alert"),
        blank_is_a_value: false,
        help: "what instance-audit does to a non-compliant running instance in enforce mode",
        holds: |p| text(p.audit_action), shown_unset: UNSET,
    };
    QUARANTINE_SECURITY_GROUP_ID = Setting {
        name: "GUARD_QUARANTINE_SECURITY_GROUP_ID", section: Audit, kind: Kind::Text,
        default: Unset, blank_is_a_value: false,
        help: "the security group the isolate action swaps in; required for isolate",
        holds: |p| optional(p.quarantine_security_group_id.as_ref()), shown_unset: UNSET,
    };
    /// Present but blank is a choice: no launcher outside the groups is allowed.
    ALLOWED_LAUNCHER_TAGS = Setting {
        name: "GUARD_ALLOWED_LAUNCHER_TAGS", section: Audit, kind: ANY_ITEMS,
        default: Value("karpenter.sh/nodepool"), blank_is_a_value: true,
        help: "instance tag keys that mark a node launched outside any group by an allowed launcher; blank: none is",
        holds: |p| joined(&p.allowed_launcher_tags), shown_unset: NONE,
    };
    /// One sweep's worth.
    MAX_REMEDIATIONS_PER_HOUR = Setting {
        name: "GUARD_MAX_REMEDIATIONS_PER_HOUR", section: Audit,
        kind: Kind::Number { min: 1, max: 1000 }, default: Value("20"), blank_is_a_value: false,
        help: "at most this many instances stopped, terminated or isolated per hour, by events and sweeps together",
        holds: |p| text(p.max_remediations_per_hour), shown_unset: UNSET,
    };
    /// Karpenter relaunches what the guard terminates: past this many
    /// remediations of one NodePool in an hour, that pool's are held and one
    /// critical alert names the pool (`launcher_loop`). 0: no limit per pool.
    MAX_REMEDIATIONS_PER_POOL = Setting {
        name: "GUARD_MAX_REMEDIATIONS_PER_POOL", section: Audit,
        kind: Kind::Number { min: 0, max: 1000 }, default: Value("10"), blank_is_a_value: false,
        help: "at most this many instances of one launcher pool (e.g. a Karpenter NodePool) remediated per hour, then held with one alert; 0: no limit per pool",
        holds: |p| text(p.max_remediations_per_pool), shown_unset: UNSET,
    };
    ALERT_TOPIC_ARN = Setting {
        name: "GUARD_ALERT_TOPIC_ARN", section: Alerts, kind: Kind::Text, default: Required,
        blank_is_a_value: false,
        help: "the SNS topic every alert is published to",
        holds: |p| text(&p.alert_topic_arn), shown_unset: UNSET,
    };
    /// Chat (issue 24): AWS Chatbot drops a message it cannot read, so this
    /// topic gets each alert as a Chatbot custom notification instead of
    /// the alert topic's JSON and e-mail bodies.
    CHAT_TOPIC_ARN = Setting {
        name: "GUARD_CHAT_TOPIC_ARN", section: Alerts, kind: Kind::Text, default: Unset,
        blank_is_a_value: false,
        help: "an SNS topic that AWS Chatbot delivers to Slack, Teams or Chime: every alert is also published there as a Chatbot custom notification",
        holds: |p| optional(p.chat_topic_arn.as_ref()), shown_unset: "(unset: no chat messages)",
    };
    /// Decision events (issue 24): a rule on this bus is how teams automate
    /// on the guard; an ARN may name another account's (hub) bus.
    EVENT_BUS = Setting {
        name: "GUARD_EVENT_BUS", section: Alerts, kind: Kind::Text, default: Value("default"),
        blank_is_a_value: false,
        help: "the EventBridge bus every decision event goes to (source scaling-guard): `default` (this account's default bus), an event bus arn, or `none`",
        holds: |p| text(p.event_bus.as_text()), shown_unset: UNSET,
    };
    /// Security Hub (issue 24): one ASFF finding per instance and check, in
    /// this account and region's own product. Off by default: Security Hub
    /// must be enabled in the account, and findings are billed.
    SECURITY_HUB = Setting {
        name: "GUARD_SECURITY_HUB", section: Alerts, kind: Kind::Flag, default: Value("false"),
        blank_is_a_value: false,
        help: "also send every violation as a Security Hub finding (ASFF) and archive it when the instance is fixed or gone",
        holds: |p| text(p.security_hub), shown_unset: UNSET,
    };
    BUDGET_ALARM_NAMES = Setting {
        name: "GUARD_BUDGET_ALARM_NAMES", section: Alerts, kind: ANY_ITEMS, default: Unset,
        blank_is_a_value: false,
        help: "names of the budget alarms budget-guard believes (the stack's own)",
        holds: |p| joined(&p.alarms.budget_alarm_names), shown_unset: NONE,
    };
    SURGE_ALARM_PREFIX = Setting {
        name: "GUARD_SURGE_ALARM_PREFIX", section: Alerts, kind: Kind::Text, default: Unset,
        blank_is_a_value: false,
        help: "alarms whose name starts with this may suspend scale-out (ALARM) and let it resume (OK)",
        holds: |p| optional(p.alarms.surge_alarm_prefix.as_ref()), shown_unset: UNSET,
    };
    HOOK_NOTIFICATION_TARGET_ARN = Setting {
        name: "GUARD_HOOK_NOTIFICATION_TARGET_ARN", section: Hooks, kind: Kind::Text,
        default: Unset, blank_is_a_value: false,
        help: "the SQS queue the hooks the guard enrolls notify, instead of EventBridge; needs GUARD_HOOK_NOTIFICATION_ROLE_ARN",
        holds: |p| optional(p.hook_notification.as_ref().map(|n| &n.target_arn)),
        shown_unset: "(unset: EventBridge)",
    };
    HOOK_NOTIFICATION_ROLE_ARN = Setting {
        name: "GUARD_HOOK_NOTIFICATION_ROLE_ARN", section: Hooks, kind: Kind::Text,
        default: Unset, blank_is_a_value: false,
        help: "the role Auto Scaling assumes to notify that queue",
        holds: |p| optional(p.hook_notification.as_ref().map(|n| &n.role_arn)),
        shown_unset: UNSET,
    };
    /// A secret: whether it is set is shown, never its value.
    RECORD_KEY = Setting {
        name: "GUARD_RECORD_KEY", section: Records, kind: Kind::Secret { min_chars: MIN_KEY_CHARS },
        default: Unset, blank_is_a_value: false,
        help: "the secret that signs the guard's suspension records; unset: records are neither signed nor verified",
        holds: |p| p.record_key.as_ref().map(|_| {
            "(set, not shown: suspension records are signed and verified)".to_owned()
        }),
        shown_unset: "(unset: suspension records are neither signed nor verified)",
    };
}

#[cfg(test)]
mod tests;
