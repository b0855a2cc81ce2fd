//! `scaling-guard validate`: the effective policy — every setting with the
//! value the functions would use, and which checks are on — or every problem.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use shared::checks::CheckName;
use shared::policy::settings::{self, SETTINGS};
use shared::policy::{Mode, Policy};

use crate::settings::{Loaded, Settings};
use crate::table::Table;

/// One setting and the value in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    pub value: String,
    /// Not given: the default applies.
    pub default: bool,
}

/// Every setting of the settings table, in its order, with the value the
/// policy holds.
pub fn effective_settings(policy: &Policy, settings: &Settings) -> Vec<Setting> {
    SETTINGS
        .iter()
        .map(|row| Setting {
            name: row.name,
            value: row.shown(policy),
            default: !is_given(settings, row),
        })
        .collect()
}

/// Whether a setting was given (blank is not, unless the table says a
/// blank is a value: an empty launcher list means "no launcher allowed").
fn is_given(settings: &Settings, row: &settings::Setting) -> bool {
    if row.blank_is_a_value {
        settings.vars.contains_key(row.name)
    } else {
        settings.is_given(row.name)
    }
}

/// What a check does under the policy, with the groups it is exempted for.
pub fn check_status(policy: &Policy, check: CheckName, on: &BTreeSet<CheckName>) -> String {
    if !on.contains(&check) {
        return "off".to_owned();
    }
    let status = if policy.blocks(check) {
        "on, blocks".to_owned()
    } else if policy.mode == Mode::Audit {
        "on, reports only (audit mode)".to_owned()
    } else {
        format!("on, reports only ({})", settings::AUDIT_ONLY_CHECKS.name)
    };
    let exempted: Vec<&str> = policy
        .exceptions
        .iter()
        .filter(|e| e.check == check)
        .map(|e| e.group_pattern())
        .collect();
    match exempted.as_slice() {
        [] => status,
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
            "note: `{}` is not set: the CLI never publishes and uses a placeholder, but the functions require it",
            settings::ALERT_TOPIC_ARN.name
        );
    }
    out.push('\n');
    let mut table = Table::new(["SETTING", "FROM", "VALUE"]);
    for setting in effective_settings(policy, settings) {
        let is_topic = setting.name == settings::ALERT_TOPIC_ARN.name;
        let from = match (setting.default, is_topic) {
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
mod expiry_tests;

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
        assert_eq!(effective.len(), SETTINGS.len());
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
