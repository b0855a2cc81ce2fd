//! `scaling-guard validate`: the effective policy — every setting with the
//! value the functions would use, and which checks are on — or every problem.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use shared::checks::CheckName;
use shared::policy::{
    BudgetPolicy, DEFAULT_OUTDATED_IMAGE_GRACE_DAYS, ImageRules, Mode, NetworkRules, Policy,
};

use crate::settings::{Loaded, Settings, TOPIC_SETTING};
use crate::table::Table;

/// One setting and the value in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    pub value: String,
    /// Not given: the default applies.
    pub default: bool,
}

const NONE: &str = "(none)";
const UNSET: &str = "(unset)";
const NO_BUDGET: &str = "(unset: no budget)";
const LAUNCHER_TAGS: &str = "GUARD_ALLOWED_LAUNCHER_TAGS";

/// A setting's name and the value the policy holds.
type Row = (&'static str, String);

fn list<T: AsRef<str>>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<T> = items.into_iter().collect();
    if items.is_empty() {
        return NONE.to_owned();
    }
    let texts: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    texts.join(",")
}

fn optional(value: Option<impl ToString>, unset: &str) -> String {
    value.map_or_else(|| unset.to_owned(), |v| v.to_string())
}

/// Every setting of SPEC §3 (and `GUARD_ALLOWED_LAUNCHER_TAGS`,
/// `GUARD_MAX_REMEDIATIONS_PER_HOUR`), in that
/// order, with the value the policy holds.
pub fn effective_settings(policy: &Policy, settings: &Settings) -> Vec<Setting> {
    [
        scope_rows(policy),
        image_rows(&policy.image),
        network_rows(&policy.network),
        instance_rows(policy),
        budget_rows(&policy.budget),
        response_rows(policy),
    ]
    .into_iter()
    .flatten()
    .map(|(name, value)| Setting {
        name,
        value,
        default: !is_given(settings, name),
    })
    .collect()
}

/// Whether a setting was given (blank is not). The launcher tags count as
/// given when the variable exists at all: an empty value means "no launcher
/// allowed".
fn is_given(settings: &Settings, name: &str) -> bool {
    if name == LAUNCHER_TAGS {
        settings.vars.contains_key(name)
    } else {
        settings.is_given(name)
    }
}

/// The cluster guarded, and whether the checks block or report.
fn scope_rows(policy: &Policy) -> Vec<Row> {
    let audit_only = policy.audit_only_checks.iter().map(|c| c.as_str());
    vec![
        ("GUARD_CLUSTER", policy.cluster.clone()),
        ("GUARD_CLUSTER_TAG_KEY", policy.cluster_tag.key.clone()),
        (
            "GUARD_CLUSTER_TAG_VALUE",
            optional(policy.cluster_tag.value(), "(any value)"),
        ),
        ("GUARD_MODE", policy.mode.to_string()),
        ("GUARD_AUDIT_ONLY_CHECKS", list(audit_only)),
    ]
}

fn image_rows(image: &ImageRules) -> Vec<Row> {
    vec![
        ("GUARD_ALLOWED_AMI_IDS", list(&image.allowed_ids)),
        ("GUARD_ALLOWED_AMI_OWNERS", list(&image.allowed_owners)),
        (
            "GUARD_ALLOWED_AMI_NAME_PATTERNS",
            list(image.allowed_name_patterns.texts()),
        ),
        (
            "GUARD_MAX_AMI_AGE_DAYS",
            optional(image.max_age_days, UNSET),
        ),
        (
            "GUARD_DENY_DEPRECATED_AMIS",
            image.deny_deprecated.to_string(),
        ),
        (
            "GUARD_KUBERNETES_VERSION",
            optional(
                image
                    .outdated
                    .as_ref()
                    .and_then(|o| o.kubernetes_version.as_ref()),
                UNSET,
            ),
        ),
        (
            "GUARD_RECOMMENDED_IMAGE_PARAMETERS",
            list(image.outdated.iter().flat_map(|o| o.parameters.iter())),
        ),
        (
            "GUARD_OUTDATED_IMAGE_GRACE_DAYS",
            image
                .outdated
                .as_ref()
                .map_or(DEFAULT_OUTDATED_IMAGE_GRACE_DAYS.to_string(), |o| {
                    o.grace_days.to_string()
                }),
        ),
    ]
}

fn network_rows(network: &NetworkRules) -> Vec<Row> {
    vec![
        (
            "GUARD_ALLOWED_SUBNET_IDS",
            list(&network.allowed_subnet_ids),
        ),
        (
            "GUARD_REQUIRE_PRIVATE_SUBNET",
            network.require_private_subnet.to_string(),
        ),
        (
            "GUARD_ALLOWED_SECURITY_GROUP_IDS",
            list(&network.allowed_security_group_ids),
        ),
    ]
}

/// Instance types, metadata options and instance profiles.
fn instance_rows(policy: &Policy) -> Vec<Row> {
    vec![
        (
            "GUARD_ALLOWED_INSTANCE_TYPES",
            list(policy.instance_types.allowed.texts()),
        ),
        (
            "GUARD_DENIED_INSTANCE_TYPES",
            list(policy.instance_types.denied.texts()),
        ),
        ("GUARD_REQUIRE_IMDSV2", policy.require_imdsv2.to_string()),
        (
            "GUARD_MAX_IMDS_HOP_LIMIT",
            optional(policy.max_imds_hop_limit, UNSET),
        ),
        (
            "GUARD_ALLOWED_INSTANCE_PROFILES",
            list(&policy.allowed_instance_profiles),
        ),
        (
            "GUARD_REQUIRE_ENCRYPTED_VOLUMES",
            policy.volumes.require_encrypted.to_string(),
        ),
        (
            "GUARD_ALLOWED_VOLUME_KMS_KEYS",
            list(&policy.volumes.allowed_kms_keys),
        ),
        ("GUARD_DENY_KEY_PAIRS", policy.key_pairs.deny.to_string()),
        ("GUARD_ALLOWED_KEY_PAIRS", list(&policy.key_pairs.allowed)),
        (
            "GUARD_CHECK_EXCEPTIONS",
            list(policy.exceptions.iter().map(ToString::to_string)),
        ),
    ]
}

fn budget_rows(budget: &BudgetPolicy) -> Vec<Row> {
    vec![
        ("GUARD_MAX_VCPUS", optional(budget.max_vcpus, NO_BUDGET)),
        (
            "GUARD_MAX_MEMORY_MIB",
            optional(budget.max_memory_mib, NO_BUDGET),
        ),
        (
            "GUARD_MAX_INSTANCES",
            optional(budget.max_instances, NO_BUDGET),
        ),
        (
            "GUARD_SUSPEND_AT_PERCENT",
            budget.suspend_at_percent.to_string(),
        ),
        (
            "GUARD_RESUME_BELOW_PERCENT",
            budget.resume_below_percent.to_string(),
        ),
        ("GUARD_CLAMP_MAX_SIZE", budget.clamp_max_size.to_string()),
    ]
}

/// How the functions act: on missing facts, on the hook, on groups and
/// instances out of policy, and where they alert.
fn response_rows(policy: &Policy) -> Vec<Row> {
    vec![
        ("GUARD_FAIL_MODE", policy.fail_mode.to_string()),
        ("GUARD_HOOK_NAME", policy.hook_name.clone()),
        ("GUARD_ENROLL_GROUPS", policy.enroll_groups.to_string()),
        ("GUARD_AUDIT_ACTION", policy.audit_action.to_string()),
        (
            "GUARD_QUARANTINE_SECURITY_GROUP_ID",
            optional(policy.quarantine_security_group_id.as_ref(), UNSET),
        ),
        (LAUNCHER_TAGS, list(&policy.allowed_launcher_tags)),
        (
            "GUARD_MAX_REMEDIATIONS_PER_HOUR",
            policy.max_remediations_per_hour.to_string(),
        ),
        (TOPIC_SETTING, policy.alert_topic_arn.clone()),
        (
            "GUARD_BUDGET_ALARM_NAMES",
            list(&policy.alarms.budget_alarm_names),
        ),
        (
            "GUARD_SURGE_ALARM_PREFIX",
            optional(policy.alarms.surge_alarm_prefix.as_ref(), UNSET),
        ),
        (
            "GUARD_HOOK_NOTIFICATION_TARGET_ARN",
            optional(
                policy.hook_notification.as_ref().map(|n| &n.target_arn),
                "(unset: EventBridge)",
            ),
        ),
        (
            "GUARD_HOOK_NOTIFICATION_ROLE_ARN",
            optional(
                policy.hook_notification.as_ref().map(|n| &n.role_arn),
                UNSET,
            ),
        ),
        // A secret: whether it is set, never its value.
        (
            "GUARD_RECORD_KEY",
            match policy.record_key {
                Some(_) => "(set, not shown: suspension records are signed and verified)",
                None => "(unset: suspension records are neither signed nor verified)",
            }
            .to_owned(),
        ),
    ]
}

/// What a check does under the policy, with the groups it is exempted for.
pub fn check_status(policy: &Policy, check: CheckName, on: &BTreeSet<CheckName>) -> String {
    if !on.contains(&check) {
        return "off".to_owned();
    }
    let status = if policy.blocks(check) {
        "on, blocks"
    } else if policy.mode == Mode::Audit {
        "on, reports only (audit mode)"
    } else {
        "on, reports only (GUARD_AUDIT_ONLY_CHECKS)"
    };
    let exempted: Vec<&str> = policy
        .exceptions
        .iter()
        .filter(|e| e.check == check)
        .map(|e| e.group_pattern())
        .collect();
    match exempted.as_slice() {
        [] => status.to_owned(),
        groups => format!("{status}; exempted for groups {}", groups.join(", ")),
    }
}

/// Which part of the product runs a check.
pub fn used_by(check: CheckName) -> &'static str {
    match check {
        CheckName::BudgetVcpus | CheckName::BudgetMemory | CheckName::BudgetInstances => {
            "launch-guard (admission), budget-guard"
        }
        CheckName::MembershipUnmanaged | CheckName::MembershipUnguardedGroup => "instance-audit",
        _ => "launch-guard, instance-audit",
    }
}

/// The report of a valid policy.
pub fn render_valid(settings: &Settings, loaded: &Loaded) -> String {
    let policy = &loaded.policy;
    let mut out = format!("policy from {}\n", settings.source);
    for note in &loaded.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if loaded.placeholder_topic {
        let _ = writeln!(
            out,
            "note: `{TOPIC_SETTING}` is not set: the CLI never publishes and uses a placeholder, but the functions require it"
        );
    }
    out.push('\n');
    let mut table = Table::new(["SETTING", "FROM", "VALUE"]);
    for setting in effective_settings(policy, settings) {
        let from = match (setting.default, setting.name == TOPIC_SETTING) {
            (true, true) if loaded.placeholder_topic => "placeholder",
            (true, _) => "default",
            (false, _) => "given",
        };
        table.row([setting.name.to_owned(), from.to_owned(), setting.value]);
    }
    out.push_str(&table.render());
    out.push('\n');

    let on: BTreeSet<CheckName> = policy.enabled_checks().into_iter().collect();
    let mut checks = Table::new(["CHECK", "STATUS", "RUN BY"]);
    for check in CheckName::ALL {
        checks.row([
            check.as_str().to_owned(),
            check_status(policy, check, &on),
            used_by(check).to_owned(),
        ]);
    }
    out.push_str(&checks.render());
    let _ = writeln!(
        out,
        "\npolicy is valid: {} of {} checks on, mode {}",
        on.len(),
        CheckName::ALL.len(),
        policy.mode
    );
    out
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::settings::Source;

    fn settings(text: &str) -> Settings {
        Settings::parse_file(text, Source::File("prod.env".into()))
    }

    const POLICY: &str = "GUARD_CLUSTER=prod\n\
        GUARD_MODE=enforce\n\
        GUARD_AUDIT_ONLY_CHECKS=imds.v2\n\
        GUARD_ALLOWED_INSTANCE_TYPES=m6i.*,c7g.2xlarge\n\
        GUARD_MAX_VCPUS=64\n\
        GUARD_ALLOWED_LAUNCHER_TAGS=\n";

    #[test]
    fn every_setting_is_listed_with_its_value_and_whether_it_is_the_default() {
        let settings = settings(POLICY);
        let loaded = settings.load().unwrap();
        let effective = effective_settings(&loaded.policy, &settings);
        // Every `GUARD_*` setting the policy reads.
        assert_eq!(effective.len(), 45);
        let find = |name: &str| effective.iter().find(|s| s.name == name).cloned().unwrap();
        assert_eq!(
            find("GUARD_CLUSTER_TAG_KEY"),
            Setting {
                name: "GUARD_CLUSTER_TAG_KEY",
                value: "kubernetes.io/cluster/prod".into(),
                default: true
            }
        );
        assert_eq!(
            find("GUARD_ALLOWED_INSTANCE_TYPES").value,
            "m6i.*,c7g.2xlarge"
        );
        assert!(!find("GUARD_ALLOWED_INSTANCE_TYPES").default);
        assert_eq!(find("GUARD_MAX_VCPUS").value, "64");
        assert_eq!(find("GUARD_MAX_INSTANCES").value, "(unset: no budget)");
        assert_eq!(find("GUARD_ALLOWED_AMI_IDS").value, "(none)");
        assert_eq!(find("GUARD_QUARANTINE_SECURITY_GROUP_ID").value, "(unset)");
        assert_eq!(find("GUARD_RESUME_BELOW_PERCENT").value, "90");
        assert_eq!(
            find("GUARD_MAX_REMEDIATIONS_PER_HOUR"),
            Setting {
                name: "GUARD_MAX_REMEDIATIONS_PER_HOUR",
                value: "20".into(),
                default: true
            }
        );
        assert_eq!(
            find("GUARD_ALLOWED_LAUNCHER_TAGS"),
            Setting {
                name: "GUARD_ALLOWED_LAUNCHER_TAGS",
                value: "(none)".into(),
                default: false
            },
            "an empty launcher list is a choice, not the default"
        );
    }

    #[test]
    fn exceptions_are_listed_as_a_setting_and_beside_the_checks_they_exempt() {
        let text = format!(
            "{POLICY}GUARD_MAX_IMDS_HOP_LIMIT=1\n\
             GUARD_CHECK_EXCEPTIONS=imds.hop_limit@prod-ebs-csi-*,imds.hop_limit@lb-*,imds.v2@legacy\n"
        );
        let settings = settings(&text);
        let loaded = settings.load().unwrap();
        let report = render_valid(&settings, &loaded);
        assert!(
            report.contains(
                "\nGUARD_CHECK_EXCEPTIONS              given        imds.hop_limit@prod-ebs-csi-*,imds.hop_limit@lb-*,imds.v2@legacy\n"
            ),
            "{report}"
        );
        assert!(
            report.contains("\nimds.hop_limit              on, blocks; exempted for groups prod-ebs-csi-*, lb-*  "),
            "{report}"
        );
        assert!(
            report.contains("\nimds.v2                     on, reports only (GUARD_AUDIT_ONLY_CHECKS); exempted for groups legacy  "),
            "{report}"
        );
    }

    #[test]
    fn the_report_shows_settings_checks_and_the_placeholder_topic() {
        let settings = settings(POLICY);
        let loaded = settings.load().unwrap();
        let text = render_valid(&settings, &loaded);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "policy from file `prod.env`");
        assert!(lines[1].starts_with("note: `GUARD_ALERT_TOPIC_ARN` is not set"));
        assert!(
            text.contains(
                "\nGUARD_ALERT_TOPIC_ARN               placeholder  arn:aws:sns:us-east-1:000000000000:scaling-guard-cli-placeholder\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("\nGUARD_MODE                          given        enforce\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "\nGUARD_CLUSTER_TAG_KEY               default      kubernetes.io/cluster/prod\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("\nimds.v2                     on, reports only (GUARD_AUDIT_ONLY_CHECKS)  launch-guard, instance-audit\n"),
            "{text}"
        );
        assert!(
            text.contains("\ninstance_type.allowed       on, blocks"),
            "{text}"
        );
        assert!(text.contains("\nimage.allowed               off"), "{text}");
        assert!(
            text.contains("\nbudget.vcpus                on, blocks                                  launch-guard (admission), budget-guard\n"),
            "{text}"
        );
        assert!(
            text.ends_with("\npolicy is valid: 7 of 18 checks on, mode enforce\n"),
            "{text}"
        );
    }

    #[test]
    fn in_audit_mode_every_check_reports_only() {
        let settings = settings("GUARD_CLUSTER=prod\nGUARD_MODE=audit");
        let policy = settings.load().unwrap().policy;
        let on: BTreeSet<CheckName> = policy.enabled_checks().into_iter().collect();
        assert_eq!(
            check_status(&policy, CheckName::ImdsV2, &on),
            "on, reports only (audit mode)"
        );
        assert_eq!(check_status(&policy, CheckName::BudgetVcpus, &on), "off");
    }
}

#[cfg(test)]
mod record_key_tests {
    use super::*;
    use crate::settings::Source;

    #[test]
    fn the_record_key_is_said_to_be_set_and_never_shown() {
        let secret = "the-stacks-secret-record-key-0123456789abcdef";
        let settings = Settings::parse_file(
            &format!("GUARD_CLUSTER=prod\nGUARD_RECORD_KEY={secret}\n"),
            Source::File("policy.env".into()),
        );
        let loaded = settings.load().unwrap();
        let report = render_valid(&settings, &loaded);
        assert!(!report.contains(secret), "{report}");
        assert!(report.contains("GUARD_RECORD_KEY"), "{report}");
        assert!(report.contains("(set, not shown"), "{report}");
    }
}
