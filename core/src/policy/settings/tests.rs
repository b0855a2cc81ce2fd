use std::collections::BTreeSet;

use pretty_assertions::assert_eq;

use super::*;

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:scaling-guard-alerts";

fn minimal() -> Vec<(String, String)> {
    vec![
        (CLUSTER.name.to_owned(), "prod".to_owned()),
        (ALERT_TOPIC_ARN.name.to_owned(), TOPIC.to_owned()),
    ]
}

#[test]
fn every_setting_is_a_guard_variable_named_once() {
    let names: BTreeSet<&str> = SETTINGS.iter().map(|s| s.name).collect();
    assert_eq!(names.len(), SETTINGS.len(), "a name is in the table twice");
    assert!(SETTINGS.iter().all(|s| s.name.starts_with("GUARD_")));
    assert!(SETTINGS.iter().all(|s| !s.help.is_empty()));
    assert_eq!(
        Setting::named("GUARD_MODE").map(|s| s.name),
        Some("GUARD_MODE")
    );
    assert!(Setting::named("GUARD_TYPO").is_none());
}

#[test]
fn a_default_given_explicitly_reads_as_the_setting_left_unset() {
    // Given: every setting with a default, set to that default's text.
    let unset = Policy::from_vars(minimal()).unwrap();
    let mut vars = minimal();
    for setting in SETTINGS {
        if let Some(text) = setting.default.text("prod") {
            vars.push((setting.name.to_owned(), text));
        }
    }
    // Then: the policy is valid and holds the same as with nothing given.
    let explicit = Policy::from_vars(vars).unwrap();
    for setting in SETTINGS {
        assert_eq!(
            setting.shown(&explicit),
            setting.shown(&unset),
            "{}",
            setting.name
        );
    }
}

#[test]
fn the_defaults_are_the_ones_the_spec_names() {
    let defaults: Vec<(&str, Fallback)> = SETTINGS
        .iter()
        .filter(|s| s.default != Fallback::Unset)
        .map(|s| (s.name, s.default))
        .collect();
    assert_eq!(
        defaults,
        vec![
            ("GUARD_CLUSTER", Fallback::Required),
            (
                "GUARD_CLUSTER_TAG_KEY",
                Fallback::PerCluster("kubernetes.io/cluster/")
            ),
            ("GUARD_MODE", Fallback::Value("audit")),
            ("GUARD_DENY_DEPRECATED_AMIS", Fallback::Value("true")),
            ("GUARD_OUTDATED_IMAGE_GRACE_DAYS", Fallback::Value("30")),
            ("GUARD_REQUIRE_PRIVATE_SUBNET", Fallback::Value("true")),
            ("GUARD_REQUIRE_IMDSV2", Fallback::Value("true")),
            ("GUARD_REQUIRE_ENCRYPTED_VOLUMES", Fallback::Value("false")),
            ("GUARD_DENY_KEY_PAIRS", Fallback::Value("false")),
            ("GUARD_MAX_EXCEPTION_DAYS", Fallback::Value("180")),
            ("GUARD_REQUIRE_EXCEPTION_REASON", Fallback::Value("false")),
            ("GUARD_SUSPEND_AT_PERCENT", Fallback::Value("100")),
            ("GUARD_RESUME_BELOW_PERCENT", Fallback::Value("90")),
            ("GUARD_CLAMP_MAX_SIZE", Fallback::Value("false")),
            ("GUARD_FAIL_MODE", Fallback::Value("abandon")),
            ("GUARD_HOOK_NAME", Fallback::PerCluster("scaling-guard-")),
            ("GUARD_ENROLL_GROUPS", Fallback::Value("true")),
            ("GUARD_AUDIT_ACTION", Fallback::Value("alert")),
            (
                "GUARD_ALLOWED_LAUNCHER_TAGS",
                Fallback::Value("karpenter.sh/nodepool")
            ),
            ("GUARD_MAX_REMEDIATIONS_PER_HOUR", Fallback::Value("20")),
            ("GUARD_MAX_REMEDIATIONS_PER_POOL", Fallback::Value("10")),
            ("GUARD_ALERT_TOPIC_ARN", Fallback::Required),
            ("GUARD_EVENT_BUS", Fallback::Value("default")),
            ("GUARD_SECURITY_HUB", Fallback::Value("false")),
        ]
    );
}

#[test]
fn the_table_prints_as_json_without_its_functions() {
    let json = serde_json::to_value(SETTINGS).unwrap();
    let mode = json
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == "GUARD_MODE")
        .unwrap();
    assert_eq!(
        mode,
        &serde_json::json!({
            "name": "GUARD_MODE",
            "section": "scope",
            "kind": "choice",
            "choices": ["enforce", "audit"],
            "default": {"kind": "value", "value": "audit"},
            "blank_is_a_value": false,
            "help": MODE.help,
            "shown_unset": "(unset)",
        })
    );
}
