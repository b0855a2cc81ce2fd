//! Parsing and whole-policy validation of the `GUARD_*` variables: one
//! function per section of the policy, each reading its settings through
//! their rows of the settings table ([`super::settings`]) and adding the
//! checks that span settings. Every problem is collected; the policy fails
//! once, with all of them, in the order the sections read them.

mod reader;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::SystemTime;

use super::ids::{is_arn, is_resource_id};
use super::settings as s;
use super::{
    AlarmTrust, AuditAction, BudgetPolicy, ClusterTag, ExceptionTerms, Exceptions, FailMode,
    HookNotification, ImageRules, InstanceTypeRules, KeyPairRules, MAX_RECOMMENDED_PARAMETERS,
    Mode, NetworkRules, OutdatedImageRules, Policy, VolumeRules, recommended_parameters,
};
use crate::check_name::CheckName;
use crate::events::EventBus;
use crate::suspension::RecordKey;
use reader::Reader;

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

fn is_kubernetes_version(version: &str) -> bool {
    version.split_once('.').is_some_and(|(major, minor)| {
        major == "1" && (1..=3).contains(&minor.len()) && minor.bytes().all(|b| b.is_ascii_digit())
    })
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

/// [`parse_at`] today: the parser's own tests.
#[cfg(test)]
fn parse(vars: BTreeMap<String, String>) -> Result<Policy, PolicyError> {
    parse_at(vars, SystemTime::now())
}

pub(super) fn parse_at(
    vars: BTreeMap<String, String>,
    now: SystemTime,
) -> Result<Policy, PolicyError> {
    let mut r = Reader::new(vars);
    r.unknown_settings();
    let scope = scope(&mut r);
    let image = image_rules(&mut r);
    let network = network_rules(&mut r);
    let instance = instance_rules(&mut r, now);
    let budget = budget_policy(&mut r);
    let launcher_role_arns = r.checked_list(&s::LAUNCHER_ROLE_ARNS);
    let hooks = hooks(&mut r, &scope.cluster);
    let audit = audit_rules(&mut r);
    let alerts = alerts(&mut r);
    let hook_notification = hook_notification(&mut r);
    let record_key = record_key(&mut r);
    let event_bus = event_bus(&mut r);
    let security_hub = r.flag(&s::SECURITY_HUB);

    let problems = r.into_problems();
    if !problems.is_empty() {
        return Err(PolicyError { problems });
    }
    Ok(Policy {
        cluster: scope.cluster,
        cluster_tag: scope.cluster_tag,
        mode: scope.mode,
        audit_only_checks: scope.audit_only_checks,
        image,
        network,
        instance_types: instance.types,
        require_imdsv2: instance.require_imdsv2,
        max_imds_hop_limit: instance.max_imds_hop_limit,
        allowed_instance_profiles: instance.allowed_instance_profiles,
        volumes: instance.volumes,
        key_pairs: instance.key_pairs,
        exceptions: instance.exceptions,
        exception_terms: instance.exception_terms,
        budget,
        fail_mode: hooks.fail_mode,
        hook_name: hooks.hook_name,
        enroll_groups: hooks.enroll_groups,
        audit_action: audit.action,
        max_remediations_per_hour: audit.max_remediations_per_hour,
        max_remediations_per_pool: audit.max_remediations_per_pool,
        quarantine_security_group_id: audit.quarantine_security_group_id,
        allowed_launcher_tags: audit.allowed_launcher_tags,
        launcher_role_arns,
        alert_topic_arn: alerts.topic_arn,
        chat_topic_arn: alerts.chat_topic_arn,
        event_bus,
        security_hub,
        alarms: alerts.alarms,
        hook_notification,
        record_key,
    })
}

/// [`Section::Scope`](s::Section::Scope): the cluster, its tag, the mode.
struct Scope {
    cluster: String,
    cluster_tag: ClusterTag,
    mode: Mode,
    audit_only_checks: BTreeSet<CheckName>,
}

fn scope(r: &mut Reader) -> Scope {
    let cluster = r.required(&s::CLUSTER);
    if !cluster.is_empty() && !is_cluster_name(&cluster) {
        r.problem(format!(
            "`{}` must be 1-100 letters, digits, `-` or `_`, not `{cluster}`",
            s::CLUSTER.name
        ));
    }
    let cluster_tag = cluster_tag(r, &cluster);
    let mode = r.choice(&s::MODE);
    let audit_only_checks = r
        .list(&s::AUDIT_ONLY_CHECKS)
        .into_iter()
        .filter_map(|name| match name.parse::<CheckName>() {
            Ok(check) => Some(check),
            Err(err) => {
                r.problem(format!("`{}`: {err}", s::AUDIT_ONLY_CHECKS.name));
                None
            }
        })
        .collect();
    Scope {
        cluster,
        cluster_tag,
        mode,
        audit_only_checks,
    }
}

/// `GUARD_CLUSTER_TAG_KEY` and `GUARD_CLUSTER_TAG_VALUE`: the default key
/// names the cluster by itself; any other key needs the value that does.
fn cluster_tag(r: &mut Reader, cluster: &str) -> ClusterTag {
    let (key_name, value_name) = (s::CLUSTER_TAG_KEY.name, s::CLUSTER_TAG_VALUE.name);
    let default_key = ClusterTag::default_key(cluster);
    let key = r.text(&s::CLUSTER_TAG_KEY, cluster).unwrap_or_default();
    if !is_tag_key(&key) {
        r.problem(format!("`{key_name}` is not a valid tag key: `{key}`"));
    }
    let value = r.given(&s::CLUSTER_TAG_VALUE);
    match &value {
        Some(value) if !is_tag_value(value) => r.problem(format!(
            "`{value_name}` is not a valid tag value: `{value}`"
        )),
        None if key != default_key => r.problem(format!(
            "`{key_name}` `{key}` needs `{value_name}`: every cluster in the account may carry that key, so only its value names this cluster (e.g. `{key}` = `{cluster}`); only the default key `{default_key}` names the cluster by itself"
        )),
        _ => {}
    }
    ClusterTag { key, value }
}

fn image_rules(r: &mut Reader) -> ImageRules {
    ImageRules {
        allowed_ids: r.checked_list(&s::ALLOWED_AMI_IDS),
        allowed_owners: r.checked_list(&s::ALLOWED_AMI_OWNERS),
        allowed_name_patterns: r.patterns(&s::ALLOWED_AMI_NAME_PATTERNS),
        max_age_days: r.small_number(&s::MAX_AMI_AGE_DAYS),
        deny_deprecated: r.flag(&s::DENY_DEPRECATED_AMIS),
        outdated: outdated_image_rules(r),
    }
}

/// `image.outdated`: on with `GUARD_KUBERNETES_VERSION` (AWS's recommended
/// images of that version) or `GUARD_RECOMMENDED_IMAGE_PARAMETERS` (named
/// parameters, which replace the version's).
fn outdated_image_rules(r: &mut Reader) -> Option<OutdatedImageRules> {
    let kubernetes_version = r.given(&s::KUBERNETES_VERSION);
    if let Some(version) = &kubernetes_version
        && !is_kubernetes_version(version)
    {
        r.problem(format!(
            "`{}` must be a Kubernetes minor version such as `1.31`, not `{version}`",
            s::KUBERNETES_VERSION.name
        ));
    }
    let named = r.checked_list(&s::RECOMMENDED_IMAGE_PARAMETERS);
    if named.len() > MAX_RECOMMENDED_PARAMETERS {
        r.problem(format!(
            "`{}` names {} parameters; at most {MAX_RECOMMENDED_PARAMETERS} (one `GetParameters` call)",
            s::RECOMMENDED_IMAGE_PARAMETERS.name,
            named.len()
        ));
    }
    // Always a number: the table's default is one.
    let grace_days = r.small_number(&s::OUTDATED_IMAGE_GRACE_DAYS).unwrap_or(0);
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

fn network_rules(r: &mut Reader) -> NetworkRules {
    NetworkRules {
        allowed_subnet_ids: r.checked_list(&s::ALLOWED_SUBNET_IDS),
        require_private_subnet: r.flag(&s::REQUIRE_PRIVATE_SUBNET),
        allowed_security_group_ids: r.checked_list(&s::ALLOWED_SECURITY_GROUP_IDS),
    }
}

/// [`Section::Instance`](s::Section::Instance): what a node itself may be.
struct InstanceRules {
    types: InstanceTypeRules,
    require_imdsv2: bool,
    max_imds_hop_limit: Option<u32>,
    allowed_instance_profiles: BTreeSet<String>,
    volumes: VolumeRules,
    key_pairs: KeyPairRules,
    exceptions: Exceptions,
    exception_terms: ExceptionTerms,
}

fn instance_rules(r: &mut Reader, now: SystemTime) -> InstanceRules {
    let types = instance_types(r);
    let require_imdsv2 = r.flag(&s::REQUIRE_IMDSV2);
    let max_imds_hop_limit = r.small_number(&s::MAX_IMDS_HOP_LIMIT);
    let allowed_instance_profiles = r.checked_list(&s::ALLOWED_INSTANCE_PROFILES);
    let allowed_kms_keys = r.checked_list(&s::ALLOWED_VOLUME_KMS_KEYS);
    let volumes = VolumeRules {
        // Allowed keys imply encryption.
        require_encrypted: r.flag(&s::REQUIRE_ENCRYPTED_VOLUMES) || !allowed_kms_keys.is_empty(),
        allowed_kms_keys,
    };
    let key_pairs = KeyPairRules {
        deny: r.flag(&s::DENY_KEY_PAIRS),
        allowed: r.checked_list(&s::ALLOWED_KEY_PAIRS),
    };
    let (exceptions, exception_terms) = exceptions(r, now);
    InstanceRules {
        types,
        require_imdsv2,
        max_imds_hop_limit,
        allowed_instance_profiles,
        volumes,
        key_pairs,
        exceptions,
        exception_terms,
    }
}

/// Allowed and denied types; a deny list that covers the whole allow list
/// leaves nothing to launch.
fn instance_types(r: &mut Reader) -> InstanceTypeRules {
    let types = InstanceTypeRules {
        allowed: r.patterns(&s::ALLOWED_INSTANCE_TYPES),
        denied: r.patterns(&s::DENIED_INSTANCE_TYPES),
    };
    if nothing_left_allowed(&types) {
        r.problem(format!(
            "`{}` (`{}`) denies every type that `{}` (`{}`) allows",
            s::DENIED_INSTANCE_TYPES.name,
            types.denied.texts().join(","),
            s::ALLOWED_INSTANCE_TYPES.name,
            types.allowed.texts().join(",")
        ));
    }
    types
}

/// The exceptions and their terms: an `until` too far ahead of `now` (or,
/// when required, a missing reason) is a problem at every cold start, so a
/// policy cannot exempt for longer than `GUARD_MAX_EXCEPTION_DAYS` from the
/// day it is deployed; an `until` already past is not (it has expired).
fn exceptions(r: &mut Reader, now: SystemTime) -> (Exceptions, ExceptionTerms) {
    let terms = ExceptionTerms {
        // Always a number: the table's default is one.
        max_days: r.small_number(&s::MAX_EXCEPTION_DAYS).unwrap_or(0),
        require_reason: r.flag(&s::REQUIRE_EXCEPTION_REASON),
    };
    let exceptions = match Exceptions::parse(&r.list(&s::CHECK_EXCEPTIONS)) {
        Ok(exceptions) => exceptions,
        Err(problems) => {
            for problem in problems {
                r.problem(format!("`{}`: {problem}", s::CHECK_EXCEPTIONS.name));
            }
            Exceptions::default()
        }
    };
    for problem in exceptions.terms_problems(terms, now) {
        r.problem(format!("`{}`: {problem}", s::CHECK_EXCEPTIONS.name));
    }
    (exceptions, terms)
}

fn budget_policy(r: &mut Reader) -> BudgetPolicy {
    let budget = BudgetPolicy {
        max_vcpus: r.number(&s::MAX_VCPUS),
        max_memory_mib: r.number(&s::MAX_MEMORY_MIB),
        max_instances: r.number(&s::MAX_INSTANCES),
        // Always numbers: the table's defaults are.
        suspend_at_percent: r.small_number(&s::SUSPEND_AT_PERCENT).unwrap_or(0),
        resume_below_percent: r.small_number(&s::RESUME_BELOW_PERCENT).unwrap_or(0),
        clamp_max_size: r.flag(&s::CLAMP_MAX_SIZE),
    };
    if budget.resume_below_percent >= budget.suspend_at_percent {
        r.problem(format!(
            "`{}` (`{}`) must be below `{}` (`{}`)",
            s::RESUME_BELOW_PERCENT.name,
            budget.resume_below_percent,
            s::SUSPEND_AT_PERCENT.name,
            budget.suspend_at_percent
        ));
    }
    budget
}

/// [`Section::Hooks`](s::Section::Hooks): the launch hook and the answer
/// without facts.
struct Hooks {
    fail_mode: FailMode,
    hook_name: String,
    enroll_groups: bool,
}

fn hooks(r: &mut Reader, cluster: &str) -> Hooks {
    let fail_mode = r.choice(&s::FAIL_MODE);
    let given = r.given(&s::HOOK_NAME);
    // A default made of a bad cluster name is that name's problem, said once.
    if let Some(name) = &given
        && !is_hook_name(name)
    {
        r.problem(format!(
            "`{}` must be 1-255 letters, digits, `-`, `_` or `/`, not `{name}`",
            s::HOOK_NAME.name
        ));
    }
    let hook_name = r.text(&s::HOOK_NAME, cluster).unwrap_or_default();
    Hooks {
        fail_mode,
        hook_name,
        enroll_groups: r.flag(&s::ENROLL_GROUPS),
    }
}

/// [`Section::Audit`](s::Section::Audit): what instance-audit does.
struct AuditRules {
    action: AuditAction,
    max_remediations_per_hour: u32,
    max_remediations_per_pool: u32,
    quarantine_security_group_id: Option<String>,
    allowed_launcher_tags: BTreeSet<String>,
}

fn audit_rules(r: &mut Reader) -> AuditRules {
    let action = r.choice(&s::AUDIT_ACTION);
    // Always a number: the table's default is one.
    let max_remediations_per_hour = r.small_number(&s::MAX_REMEDIATIONS_PER_HOUR).unwrap_or(0);
    let max_remediations_per_pool = r.small_number(&s::MAX_REMEDIATIONS_PER_POOL).unwrap_or(0);
    let quarantine_name = s::QUARANTINE_SECURITY_GROUP_ID.name;
    let quarantine_security_group_id = r.given(&s::QUARANTINE_SECURITY_GROUP_ID);
    match &quarantine_security_group_id {
        Some(id) if !is_resource_id(id, "sg") => r.problem(format!(
            "`{quarantine_name}` must be a security group id (`sg-…`), not `{id}`"
        )),
        None if action == AuditAction::Isolate => r.problem(format!(
            "`{}` `isolate` needs `{quarantine_name}`",
            s::AUDIT_ACTION.name
        )),
        _ => {}
    }
    AuditRules {
        action,
        max_remediations_per_hour,
        max_remediations_per_pool,
        quarantine_security_group_id,
        allowed_launcher_tags: r.list(&s::ALLOWED_LAUNCHER_TAGS).into_iter().collect(),
    }
}

/// [`Section::Alerts`](s::Section::Alerts): the topic, and the alarms
/// budget-guard believes.
struct Alerts {
    topic_arn: String,
    chat_topic_arn: Option<String>,
    alarms: AlarmTrust,
}

fn alerts(r: &mut Reader) -> Alerts {
    let topic_arn = r.required(&s::ALERT_TOPIC_ARN);
    if !topic_arn.is_empty() && !is_arn(&topic_arn, "sns", true, "") {
        r.problem(format!(
            "`{}` is not an sns topic arn: `{topic_arn}`",
            s::ALERT_TOPIC_ARN.name
        ));
    }
    let chat_topic_arn = r.given(&s::CHAT_TOPIC_ARN);
    if let Some(chat) = &chat_topic_arn
        && !is_arn(chat, "sns", true, "")
    {
        r.problem(format!(
            "`{}` is not an sns topic arn: `{chat}`",
            s::CHAT_TOPIC_ARN.name
        ));
    }
    let alarms = AlarmTrust {
        budget_alarm_names: r.list(&s::BUDGET_ALARM_NAMES).into_iter().collect(),
        surge_alarm_prefix: r.given(&s::SURGE_ALARM_PREFIX),
    };
    Alerts {
        topic_arn,
        chat_topic_arn,
        alarms,
    }
}

/// `GUARD_EVENT_BUS`: `default`, `none` or an event bus ARN.
fn event_bus(r: &mut Reader) -> EventBus {
    let text = r.text(&s::EVENT_BUS, "").unwrap_or_default();
    EventBus::parse(&text).unwrap_or_else(|| {
        r.problem(format!(
            "`{}` must be `default`, `none` or an event bus arn, not `{text}`",
            s::EVENT_BUS.name
        ));
        EventBus::Off
    })
}

/// `GUARD_HOOK_NOTIFICATION_TARGET_ARN` and `GUARD_HOOK_NOTIFICATION_ROLE_ARN`:
/// both or neither.
fn hook_notification(r: &mut Reader) -> Option<HookNotification> {
    let (target_name, role_name) = (
        s::HOOK_NOTIFICATION_TARGET_ARN.name,
        s::HOOK_NOTIFICATION_ROLE_ARN.name,
    );
    let target = r.given(&s::HOOK_NOTIFICATION_TARGET_ARN);
    let role = r.given(&s::HOOK_NOTIFICATION_ROLE_ARN);
    if let Some(target) = &target
        && !is_arn(target, "sqs", true, "")
    {
        r.problem(format!(
            "`{target_name}` is not an sqs queue arn: `{target}`"
        ));
    } else if let Some(target) = &target
        && target.ends_with(".fifo")
    {
        r.problem(format!(
            "`{target_name}` `{target}` is a FIFO queue: lifecycle hooks cannot notify FIFO queues"
        ));
    }
    if let Some(role) = &role
        && !is_arn(role, "iam", false, "role/")
    {
        r.problem(format!("`{role_name}` is not an iam role arn: `{role}`"));
    }
    match (target, role) {
        (Some(target_arn), Some(role_arn)) => Some(HookNotification {
            target_arn,
            role_arn,
        }),
        (None, None) => None,
        (Some(_), None) => {
            r.problem(format!(
                "`{target_name}` needs `{role_name}` (the role Auto Scaling assumes to notify it)"
            ));
            None
        }
        (None, Some(_)) => {
            r.problem(format!("`{role_name}` needs `{target_name}`"));
            None
        }
    }
}

/// `GUARD_RECORD_KEY`: the secret that signs suspension records.
fn record_key(r: &mut Reader) -> Option<RecordKey> {
    r.secret(&s::RECORD_KEY)
        .map(|secret| RecordKey::new(&secret))
}

#[cfg(test)]
mod chat_topic_tests;
#[cfg(test)]
mod launcher_role_tests;
#[cfg(test)]
mod record_key_tests;
#[cfg(test)]
mod table_tests;
#[cfg(test)]
mod tests;
