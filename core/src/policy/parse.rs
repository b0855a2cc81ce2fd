//! Parsing and whole-policy validation of the `GUARD_*` variables.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::ids::{is_account_id, is_arn, is_resource_id};
use super::{
    AlarmTrust, AuditAction, BudgetPolicy, ClusterTag, Exceptions, FailMode, HookNotification,
    ImageRules, InstanceTypeRules, KeyPairRules, MAX_RECOMMENDED_PARAMETERS, Mode, NetworkRules,
    OutdatedImageRules, Patterns, Policy, VolumeRules, recommended_parameters,
};
use crate::check_name::CheckName;
use crate::suspension::{MIN_KEY_CHARS, RecordKey};

/// Every setting the policy reads; anything else starting with `GUARD_` is a typo.
const SETTINGS: &[&str] = &[
    "GUARD_CLUSTER",
    "GUARD_CLUSTER_TAG_KEY",
    "GUARD_CLUSTER_TAG_VALUE",
    "GUARD_MODE",
    "GUARD_AUDIT_ONLY_CHECKS",
    "GUARD_ALLOWED_AMI_IDS",
    "GUARD_ALLOWED_AMI_OWNERS",
    "GUARD_ALLOWED_AMI_NAME_PATTERNS",
    "GUARD_MAX_AMI_AGE_DAYS",
    "GUARD_DENY_DEPRECATED_AMIS",
    "GUARD_KUBERNETES_VERSION",
    "GUARD_RECOMMENDED_IMAGE_PARAMETERS",
    "GUARD_OUTDATED_IMAGE_GRACE_DAYS",
    "GUARD_ALLOWED_SUBNET_IDS",
    "GUARD_REQUIRE_PRIVATE_SUBNET",
    "GUARD_ALLOWED_SECURITY_GROUP_IDS",
    "GUARD_ALLOWED_INSTANCE_TYPES",
    "GUARD_DENIED_INSTANCE_TYPES",
    "GUARD_REQUIRE_IMDSV2",
    "GUARD_MAX_IMDS_HOP_LIMIT",
    "GUARD_ALLOWED_INSTANCE_PROFILES",
    "GUARD_REQUIRE_ENCRYPTED_VOLUMES",
    "GUARD_ALLOWED_VOLUME_KMS_KEYS",
    "GUARD_DENY_KEY_PAIRS",
    "GUARD_ALLOWED_KEY_PAIRS",
    "GUARD_CHECK_EXCEPTIONS",
    "GUARD_MAX_VCPUS",
    "GUARD_MAX_MEMORY_MIB",
    "GUARD_MAX_INSTANCES",
    "GUARD_SUSPEND_AT_PERCENT",
    "GUARD_RESUME_BELOW_PERCENT",
    "GUARD_CLAMP_MAX_SIZE",
    "GUARD_FAIL_MODE",
    "GUARD_HOOK_NAME",
    "GUARD_ENROLL_GROUPS",
    "GUARD_AUDIT_ACTION",
    "GUARD_MAX_REMEDIATIONS_PER_HOUR",
    "GUARD_QUARANTINE_SECURITY_GROUP_ID",
    "GUARD_ALLOWED_LAUNCHER_TAGS",
    "GUARD_ALERT_TOPIC_ARN",
    "GUARD_BUDGET_ALARM_NAMES",
    "GUARD_SURGE_ALARM_PREFIX",
    "GUARD_HOOK_NOTIFICATION_TARGET_ARN",
    "GUARD_HOOK_NOTIFICATION_ROLE_ARN",
    "GUARD_RECORD_KEY",
];

/// `GUARD_OUTDATED_IMAGE_GRACE_DAYS` when unset: AWS releases EKS images
/// every week or two, so a node may lag about two releases.
pub const DEFAULT_OUTDATED_IMAGE_GRACE_DAYS: u32 = 30;

/// `GUARD_MAX_REMEDIATIONS_PER_HOUR` when unset: one sweep's worth.
pub const DEFAULT_MAX_REMEDIATIONS_PER_HOUR: u32 = 20;

/// The policy is invalid; every problem found is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    pub problems: Vec<String>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(
            f,
            "invalid policy ({count} {noun}): {}",
            self.problems.join("; ")
        )
    }
}

/// Reads settings and collects problems instead of stopping at the first.
struct Reader {
    vars: BTreeMap<String, String>,
    problems: Vec<String>,
}

impl Reader {
    /// The trimmed value; empty counts as unset (CloudFormation passes empty
    /// strings for parameters left blank).
    fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn problem(&mut self, text: String) {
        self.problems.push(text);
    }

    fn required(&mut self, name: &str) -> String {
        match self.get(name) {
            Some(value) => value.to_owned(),
            None => {
                self.problem(format!("`{name}` is required"));
                String::new()
            }
        }
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|value| {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A list whose every item must satisfy `valid`; `what` describes a valid item.
    fn checked_list(
        &mut self,
        name: &str,
        what: &str,
        valid: impl Fn(&str) -> bool,
    ) -> BTreeSet<String> {
        let items = self.list(name);
        for item in items.iter().filter(|item| !valid(item)) {
            self.problems
                .push(format!("`{name}` has `{item}`, which is not {what}"));
        }
        items.into_iter().collect()
    }

    fn patterns(&mut self, name: &str) -> Patterns {
        match Patterns::new(self.list(name)) {
            Ok(patterns) => patterns,
            Err(problems) => {
                for problem in problems {
                    self.problem(format!("`{name}`: {problem}"));
                }
                Patterns::default()
            }
        }
    }

    fn flag(&mut self, name: &str, default: bool) -> bool {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => default,
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                let other = other.to_owned();
                self.problem(format!("`{name}` must be `true` or `false`, not `{other}`"));
                default
            }
        }
    }

    fn choice<T: Copy>(
        &mut self,
        name: &str,
        default: T,
        choices: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> T {
        let Some(text) = self.get(name).map(str::to_owned) else {
            return default;
        };
        parse(&text).unwrap_or_else(|| {
            let one_of = choices
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            self.problem(format!("`{name}` must be one of {one_of}, not `{text}`"));
            default
        })
    }

    /// A positive integer no larger than `max`, or unset.
    fn positive(&mut self, name: &str, max: u64) -> Option<u64> {
        let text = self.get(name)?.to_owned();
        match text.parse::<u64>() {
            Ok(value) if (1..=max).contains(&value) => Some(value),
            _ => {
                self.problem(format!(
                    "`{name}` must be a whole number from 1 to {max}, not `{text}`"
                ));
                None
            }
        }
    }

    fn unknown_settings(&mut self) {
        let unknown: Vec<String> = self
            .vars
            .keys()
            .filter(|key| key.starts_with("GUARD_") && !SETTINGS.contains(&key.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            self.problem(format!("unknown setting `{key}`"));
        }
    }
}

fn is_cluster_name(name: &str) -> bool {
    // EKS: 1-100 characters, alphanumerics, hyphens and underscores, starting alphanumeric.
    name.len() <= 100
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_hook_name(name: &str) -> bool {
    // Auto Scaling: 1-255 characters of [A-Za-z0-9\-_\/].
    name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_/".contains(&b))
}

fn is_tag_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 128 && !key.starts_with("aws:")
}

fn is_tag_value(value: &str) -> bool {
    value.chars().count() <= 256
}

/// Whether every type the allow list names is also denied, so nothing is left.
/// An allow pattern counts as covered when a deny pattern matches its text:
/// `m6*` covers `m6i.*`, `*` covers everything.
fn nothing_left_allowed(rules: &InstanceTypeRules) -> bool {
    !rules.allowed.is_empty()
        && !rules.denied.is_empty()
        && rules
            .allowed
            .texts()
            .iter()
            .all(|allowed| rules.denied.first_match(allowed).is_some())
}

pub(super) fn parse(vars: BTreeMap<String, String>) -> Result<Policy, PolicyError> {
    let mut r = Reader {
        vars,
        problems: Vec::new(),
    };
    r.unknown_settings();

    let cluster = r.required("GUARD_CLUSTER");
    if !cluster.is_empty() && !is_cluster_name(&cluster) {
        r.problem(format!(
            "`GUARD_CLUSTER` must be 1-100 letters, digits, `-` or `_`, not `{cluster}`"
        ));
    }
    let cluster_tag = cluster_tag(&mut r, &cluster);

    // SPEC §3: unset is audit. A guard that nobody configured decides and
    // alerts, and blocks nothing (issue 21, scenario 10).
    let mode = r.choice("GUARD_MODE", Mode::Audit, Mode::CHOICES, Mode::parse);
    let audit_only_checks = r
        .list("GUARD_AUDIT_ONLY_CHECKS")
        .into_iter()
        .filter_map(|name| match name.parse::<CheckName>() {
            Ok(check) => Some(check),
            Err(err) => {
                r.problem(format!("`GUARD_AUDIT_ONLY_CHECKS`: {err}"));
                None
            }
        })
        .collect();

    let image = ImageRules {
        allowed_ids: r.checked_list("GUARD_ALLOWED_AMI_IDS", "an image id (`ami-…`)", |id| {
            is_resource_id(id, "ami")
        }),
        allowed_owners: r.checked_list(
            "GUARD_ALLOWED_AMI_OWNERS",
            "an account id, `amazon`, `aws-marketplace` or `self`",
            |owner| is_account_id(owner) || ["amazon", "aws-marketplace", "self"].contains(&owner),
        ),
        allowed_name_patterns: r.patterns("GUARD_ALLOWED_AMI_NAME_PATTERNS"),
        max_age_days: r
            .positive("GUARD_MAX_AMI_AGE_DAYS", 36_500)
            .and_then(|days| u32::try_from(days).ok()),
        deny_deprecated: r.flag("GUARD_DENY_DEPRECATED_AMIS", true),
        outdated: outdated_image_rules(&mut r),
    };

    let network = NetworkRules {
        allowed_subnet_ids: r.checked_list(
            "GUARD_ALLOWED_SUBNET_IDS",
            "a subnet id (`subnet-…`)",
            |id| is_resource_id(id, "subnet"),
        ),
        require_private_subnet: r.flag("GUARD_REQUIRE_PRIVATE_SUBNET", true),
        allowed_security_group_ids: r.checked_list(
            "GUARD_ALLOWED_SECURITY_GROUP_IDS",
            "a security group id (`sg-…`)",
            |id| is_resource_id(id, "sg"),
        ),
    };

    let instance_types = InstanceTypeRules {
        allowed: r.patterns("GUARD_ALLOWED_INSTANCE_TYPES"),
        denied: r.patterns("GUARD_DENIED_INSTANCE_TYPES"),
    };
    if nothing_left_allowed(&instance_types) {
        r.problem(format!(
            "`GUARD_DENIED_INSTANCE_TYPES` (`{}`) denies every type that `GUARD_ALLOWED_INSTANCE_TYPES` (`{}`) allows",
            instance_types.denied.texts().join(","),
            instance_types.allowed.texts().join(",")
        ));
    }

    let require_imdsv2 = r.flag("GUARD_REQUIRE_IMDSV2", true);
    let max_imds_hop_limit = r
        .positive("GUARD_MAX_IMDS_HOP_LIMIT", 64)
        .and_then(|hops| u32::try_from(hops).ok());
    let allowed_instance_profiles = r.checked_list(
        "GUARD_ALLOWED_INSTANCE_PROFILES",
        "an instance profile arn (`arn:aws:iam::<account>:instance-profile/<name>`)",
        |arn| is_arn(arn, "iam", false, "instance-profile/"),
    );
    let allowed_kms_keys = r.checked_list(
        "GUARD_ALLOWED_VOLUME_KMS_KEYS",
        "a KMS key arn (`arn:aws:kms:<region>:<account>:key/<id>`)",
        |arn| is_arn(arn, "kms", true, "key/"),
    );
    let volumes = VolumeRules {
        // Allowed keys imply encryption.
        require_encrypted: r.flag("GUARD_REQUIRE_ENCRYPTED_VOLUMES", false)
            || !allowed_kms_keys.is_empty(),
        allowed_kms_keys,
    };
    let key_pairs = KeyPairRules {
        deny: r.flag("GUARD_DENY_KEY_PAIRS", false),
        allowed: r.checked_list(
            "GUARD_ALLOWED_KEY_PAIRS",
            "a key pair name (1-255 printable ASCII characters)",
            |name| name.len() <= 255 && name.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
        ),
    };
    let exceptions = match Exceptions::parse(&r.list("GUARD_CHECK_EXCEPTIONS")) {
        Ok(exceptions) => exceptions,
        Err(problems) => {
            for problem in problems {
                r.problem(format!("`GUARD_CHECK_EXCEPTIONS`: {problem}"));
            }
            Exceptions::default()
        }
    };

    let budget = BudgetPolicy {
        max_vcpus: r.positive("GUARD_MAX_VCPUS", u64::from(u32::MAX)),
        max_memory_mib: r.positive("GUARD_MAX_MEMORY_MIB", u64::from(u32::MAX) * 1024),
        max_instances: r.positive("GUARD_MAX_INSTANCES", u64::from(u32::MAX)),
        suspend_at_percent: percent(&mut r, "GUARD_SUSPEND_AT_PERCENT", 100),
        resume_below_percent: percent(&mut r, "GUARD_RESUME_BELOW_PERCENT", 90),
        clamp_max_size: r.flag("GUARD_CLAMP_MAX_SIZE", false),
    };
    if budget.resume_below_percent >= budget.suspend_at_percent {
        r.problem(format!(
            "`GUARD_RESUME_BELOW_PERCENT` (`{}`) must be below `GUARD_SUSPEND_AT_PERCENT` (`{}`)",
            budget.resume_below_percent, budget.suspend_at_percent
        ));
    }

    let fail_mode = r.choice(
        "GUARD_FAIL_MODE",
        FailMode::Abandon,
        FailMode::CHOICES,
        FailMode::parse,
    );
    // One hook name per cluster: several guards in one account never answer
    // each other's launches.
    let given_hook_name = r.get("GUARD_HOOK_NAME").map(str::to_owned);
    let hook_name = given_hook_name
        .clone()
        .unwrap_or_else(|| format!("scaling-guard-{cluster}"));
    // A default made of a bad cluster name is that name's problem, said once.
    if given_hook_name.is_some() && !is_hook_name(&hook_name) {
        r.problem(format!(
            "`GUARD_HOOK_NAME` must be 1-255 letters, digits, `-`, `_` or `/`, not `{hook_name}`"
        ));
    }
    let enroll_groups = r.flag("GUARD_ENROLL_GROUPS", true);
    let audit_action = r.choice(
        "GUARD_AUDIT_ACTION",
        AuditAction::Alert,
        AuditAction::CHOICES,
        AuditAction::parse,
    );
    let max_remediations_per_hour = r
        .positive("GUARD_MAX_REMEDIATIONS_PER_HOUR", 1000)
        .and_then(|value| u32::try_from(value).ok())
        .unwrap_or(DEFAULT_MAX_REMEDIATIONS_PER_HOUR);
    let quarantine_security_group_id = r
        .get("GUARD_QUARANTINE_SECURITY_GROUP_ID")
        .map(str::to_owned);
    match &quarantine_security_group_id {
        Some(id) if !is_resource_id(id, "sg") => r.problem(format!(
            "`GUARD_QUARANTINE_SECURITY_GROUP_ID` must be a security group id (`sg-…`), not `{id}`"
        )),
        None if audit_action == AuditAction::Isolate => r.problem(
            "`GUARD_AUDIT_ACTION` `isolate` needs `GUARD_QUARANTINE_SECURITY_GROUP_ID`".to_owned(),
        ),
        _ => {}
    }
    let allowed_launcher_tags = if r.vars.contains_key("GUARD_ALLOWED_LAUNCHER_TAGS") {
        r.list("GUARD_ALLOWED_LAUNCHER_TAGS").into_iter().collect()
    } else {
        BTreeSet::from(["karpenter.sh/nodepool".to_owned()])
    };

    let alert_topic_arn = r.required("GUARD_ALERT_TOPIC_ARN");
    if !alert_topic_arn.is_empty() && !is_arn(&alert_topic_arn, "sns", true, "") {
        r.problem(format!(
            "`GUARD_ALERT_TOPIC_ARN` is not an sns topic arn: `{alert_topic_arn}`"
        ));
    }

    let alarms = AlarmTrust {
        budget_alarm_names: r.list("GUARD_BUDGET_ALARM_NAMES").into_iter().collect(),
        surge_alarm_prefix: r.get("GUARD_SURGE_ALARM_PREFIX").map(str::to_owned),
    };
    let hook_notification = hook_notification(&mut r);
    let record_key = record_key(&mut r);

    if !r.problems.is_empty() {
        return Err(PolicyError {
            problems: r.problems,
        });
    }
    Ok(Policy {
        cluster,
        cluster_tag,
        mode,
        audit_only_checks,
        image,
        network,
        instance_types,
        require_imdsv2,
        max_imds_hop_limit,
        allowed_instance_profiles,
        volumes,
        key_pairs,
        exceptions,
        budget,
        fail_mode,
        hook_name,
        enroll_groups,
        audit_action,
        max_remediations_per_hour,
        quarantine_security_group_id,
        allowed_launcher_tags,
        alert_topic_arn,
        alarms,
        hook_notification,
        record_key,
    })
}

/// `GUARD_RECORD_KEY`: the secret that signs suspension records. A problem
/// with it never quotes it.
fn record_key(r: &mut Reader) -> Option<RecordKey> {
    let secret = r.get("GUARD_RECORD_KEY")?.to_owned();
    if secret.chars().count() < MIN_KEY_CHARS {
        r.problem(format!(
            "`GUARD_RECORD_KEY` must be at least {MIN_KEY_CHARS} characters (its value is not shown)"
        ));
        return None;
    }
    Some(RecordKey::new(&secret))
}

/// `GUARD_CLUSTER_TAG_KEY` and `GUARD_CLUSTER_TAG_VALUE`: the default key
/// names the cluster by itself; any other key needs the value that does.
fn cluster_tag(r: &mut Reader, cluster: &str) -> ClusterTag {
    let default_key = ClusterTag::default_key(cluster);
    let key = r
        .get("GUARD_CLUSTER_TAG_KEY")
        .map_or_else(|| default_key.clone(), str::to_owned);
    if !is_tag_key(&key) {
        r.problem(format!(
            "`GUARD_CLUSTER_TAG_KEY` is not a valid tag key: `{key}`"
        ));
    }
    let value = r.get("GUARD_CLUSTER_TAG_VALUE").map(str::to_owned);
    match &value {
        Some(value) if !is_tag_value(value) => r.problem(format!(
            "`GUARD_CLUSTER_TAG_VALUE` is not a valid tag value: `{value}`"
        )),
        None if key != default_key => r.problem(format!(
            "`GUARD_CLUSTER_TAG_KEY` `{key}` needs `GUARD_CLUSTER_TAG_VALUE`: every cluster in the account may carry that key, so only its value names this cluster (e.g. `{key}` = `{cluster}`); only the default key `{default_key}` names the cluster by itself"
        )),
        _ => {}
    }
    ClusterTag { key, value }
}

/// `GUARD_HOOK_NOTIFICATION_TARGET_ARN` and `GUARD_HOOK_NOTIFICATION_ROLE_ARN`:
/// both or neither.
fn hook_notification(r: &mut Reader) -> Option<HookNotification> {
    let target = r
        .get("GUARD_HOOK_NOTIFICATION_TARGET_ARN")
        .map(str::to_owned);
    let role = r.get("GUARD_HOOK_NOTIFICATION_ROLE_ARN").map(str::to_owned);
    if let Some(target) = &target
        && !is_arn(target, "sqs", true, "")
    {
        r.problem(format!(
            "`GUARD_HOOK_NOTIFICATION_TARGET_ARN` is not an sqs queue arn: `{target}`"
        ));
    } else if let Some(target) = &target
        && target.ends_with(".fifo")
    {
        r.problem(format!(
            "`GUARD_HOOK_NOTIFICATION_TARGET_ARN` `{target}` is a FIFO queue: lifecycle hooks cannot notify FIFO queues"
        ));
    }
    if let Some(role) = &role
        && !is_arn(role, "iam", false, "role/")
    {
        r.problem(format!(
            "`GUARD_HOOK_NOTIFICATION_ROLE_ARN` is not an iam role arn: `{role}`"
        ));
    }
    match (target, role) {
        (Some(target_arn), Some(role_arn)) => Some(HookNotification {
            target_arn,
            role_arn,
        }),
        (None, None) => None,
        (Some(_), None) => {
            r.problem("`GUARD_HOOK_NOTIFICATION_TARGET_ARN` needs `GUARD_HOOK_NOTIFICATION_ROLE_ARN` (the role Auto Scaling assumes to notify it)".to_owned());
            None
        }
        (None, Some(_)) => {
            r.problem(
                "`GUARD_HOOK_NOTIFICATION_ROLE_ARN` needs `GUARD_HOOK_NOTIFICATION_TARGET_ARN`"
                    .to_owned(),
            );
            None
        }
    }
}

/// `image.outdated`: on with `GUARD_KUBERNETES_VERSION` (AWS's recommended
/// images of that version) or `GUARD_RECOMMENDED_IMAGE_PARAMETERS` (named
/// parameters, which replace the version's).
fn outdated_image_rules(r: &mut Reader) -> Option<OutdatedImageRules> {
    let kubernetes_version = r.get("GUARD_KUBERNETES_VERSION").map(str::to_owned);
    if let Some(version) = &kubernetes_version
        && !is_kubernetes_version(version)
    {
        r.problem(format!(
            "`GUARD_KUBERNETES_VERSION` must be a Kubernetes minor version such as `1.31`, not `{version}`"
        ));
    }
    let named = r.checked_list(
        "GUARD_RECOMMENDED_IMAGE_PARAMETERS",
        "an SSM public parameter name (`/aws/service/…`)",
        |name| {
            name.starts_with("/aws/service/")
                && name.len() <= 2048
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
        },
    );
    if named.len() > MAX_RECOMMENDED_PARAMETERS {
        r.problem(format!(
            "`GUARD_RECOMMENDED_IMAGE_PARAMETERS` names {} parameters; at most {MAX_RECOMMENDED_PARAMETERS} (one `GetParameters` call)",
            named.len()
        ));
    }
    let grace = r.get("GUARD_OUTDATED_IMAGE_GRACE_DAYS").map(str::to_owned);
    let grace_days = match grace.as_deref().map(str::parse::<u32>) {
        None => DEFAULT_OUTDATED_IMAGE_GRACE_DAYS,
        Some(Ok(days)) if days <= 3650 => days,
        Some(_) => {
            r.problem(format!(
                "`GUARD_OUTDATED_IMAGE_GRACE_DAYS` must be a whole number from 0 to 3650, not `{}`",
                grace.unwrap_or_default()
            ));
            DEFAULT_OUTDATED_IMAGE_GRACE_DAYS
        }
    };
    let parameters = if named.is_empty() {
        recommended_parameters(kubernetes_version.as_deref()?)
    } else {
        named.into_iter().collect()
    };
    Some(OutdatedImageRules {
        kubernetes_version,
        parameters,
        grace_days,
    })
}

fn is_kubernetes_version(version: &str) -> bool {
    version.split_once('.').is_some_and(|(major, minor)| {
        major == "1" && (1..=3).contains(&minor.len()) && minor.bytes().all(|b| b.is_ascii_digit())
    })
}

fn percent(r: &mut Reader, name: &str, default: u32) -> u32 {
    r.positive(name, 100)
        .and_then(|value| u32::try_from(value).ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod record_key_tests;
#[cfg(test)]
mod tests;
