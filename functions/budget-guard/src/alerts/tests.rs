//! Each builder from plain values: no ports, no runtime.

use pretty_assertions::assert_eq;
use shared::fixtures::usage;

use super::*;
use crate::fixtures::{now, policy};

/// What an alert is filed under: its kind, severity and decision.
fn filed(alert: &Alert) -> (AlertKind, Severity, &str) {
    (alert.kind, alert.severity, alert.decision.as_str())
}

fn groups(names: &[&str]) -> Vec<String> {
    names.iter().map(|&name| name.to_owned()).collect()
}

#[test]
fn a_would_be_suspension_in_audit_mode_says_why_nothing_changed() {
    let policy = policy(&[("GUARD_MODE", "audit")]);
    let would = groups(&["prod-a", "prod-b"]);

    let alert = would_suspend_scale_out(
        &policy,
        now(),
        WouldSuspend {
            reason: "vcpus 100% of budget",
            groups: &would,
            checks: &[CheckName::BudgetVcpus],
            usage: usage(20, 10),
        },
    );

    assert_eq!(
        filed(&alert),
        (
            AlertKind::ScaleOutSuspended,
            Severity::Warning,
            "would_suspend"
        )
    );
    assert_eq!(
        alert.subject(),
        "[scaling-guard] prod: would suspend scale-out on 2 group(s): vcpus 100% of budget"
    );
    assert!(
        alert
            .advice
            .starts_with("the guard runs in audit mode, so budget-guard changed nothing"),
        "{}",
        alert.advice
    );
    assert!(alert.advice.contains(WHILE_SUSPENDED), "{}", alert.advice);
    assert_eq!(alert.details["would_suspend"], json!(["prod-a", "prod-b"]));
    assert_eq!(alert.details["usage_vcpus"], json!("20 of 20 (100.0%)"));
    assert_eq!(alert.details["usage_instances"], json!("10 of 10 (100.0%)"));
}

#[test]
fn a_would_be_suspension_of_audit_only_checks_names_the_setting() {
    let policy = policy(&[("GUARD_AUDIT_ONLY_CHECKS", "budget.vcpus")]);

    let alert = would_suspend_scale_out(
        &policy,
        now(),
        WouldSuspend {
            reason: "vcpus 100% of budget",
            groups: &groups(&["prod-a"]),
            checks: &[CheckName::BudgetVcpus],
            usage: usage(20, 1),
        },
    );

    assert!(
        alert
            .advice
            .starts_with("these budget checks are listed in GUARD_AUDIT_ONLY_CHECKS"),
        "{}",
        alert.advice
    );
}

#[test]
fn a_resume_without_notes_has_nothing_to_do() {
    let report = SuspensionReport {
        changed: groups(&["prod-a", "prod-b"]),
        ..SuspensionReport::default()
    };

    let alert = scale_out_resumed(&policy(&[]), now(), &report, usage(8, 4));

    assert_eq!(
        filed(&alert),
        (AlertKind::ScaleOutResumed, Severity::Info, "resume")
    );
    assert_eq!(
        alert.subject(),
        "[scaling-guard] prod: scale-out resumed on 2 group(s)"
    );
    assert_eq!(alert.details["groups"], json!(["prod-a", "prod-b"]));
    assert!(alert.advice.ends_with("Nothing to do."), "{}", alert.advice);
    assert!(!alert.details.contains_key("notes"));
    assert_eq!(alert.details["usage_vcpus"], json!("8 of 20 (40.0%)"));
}

#[test]
fn a_resume_with_notes_adds_them_to_the_advice_and_the_details() {
    let report = SuspensionReport {
        changed: groups(&["prod-a"]),
        notes: vec![("prod-a".into(), "MaxSize of prod-a was kept".into())],
        ..SuspensionReport::default()
    };

    let alert = scale_out_resumed(&policy(&[]), now(), &report, usage(8, 4));

    assert!(
        alert
            .advice
            .ends_with("Nothing to do. MaxSize of prod-a was kept."),
        "{}",
        alert.advice
    );
    assert_eq!(
        alert.details["notes"],
        json!(["MaxSize of prod-a was kept"])
    );
}

#[test]
fn an_enrollment_names_the_hook_and_how_it_was_put() {
    let policy = policy(&[]);
    let enrolled = groups(&["prod-new"]);

    let alert = group_enrolled(
        &policy,
        now(),
        Enrolled {
            enrolled: &enrolled,
            repaired: &[],
            restored: &[],
            hook: &guard_hook(&policy, None),
        },
    );

    assert_eq!(
        filed(&alert),
        (AlertKind::GroupEnrolled, Severity::Info, "enroll")
    );
    assert_eq!(
        alert.subject(),
        "[scaling-guard] prod: launch hook put on 1 group(s)"
    );
    assert!(
        alert
            .advice
            .contains(&format!("no `{}` launch hook", policy.hook_name)),
        "{}",
        alert.advice
    );
    assert!(
        alert
            .advice
            .contains("(DefaultResult ABANDON, heartbeat 600 s)"),
        "{}",
        alert.advice
    );
    assert_eq!(alert.details["groups"], json!(["prod-new"]));
    assert!(!alert.details.contains_key("usage_vcpus"));
}

/// The hook enrollment puts: ABANDON, 600 s, notifying `target` when set.
fn guard_hook(policy: &Policy, target: Option<&str>) -> HookFacts {
    HookFacts {
        name: policy.hook_name.clone(),
        default_result: Some("ABANDON".to_owned()),
        heartbeat_timeout: Some(600),
        notification_target_arn: target.map(str::to_owned),
        ..HookFacts::default()
    }
}

#[test]
fn a_hook_put_again_says_its_launches_ended_unvetted_and_where_it_notifies_now() {
    let policy = policy(&[]);
    let (enrolled, repaired) = (groups(&["prod-new"]), groups(&["prod-a", "prod-b"]));
    let queue = "arn:aws:sqs:eu-west-1:123456789012:scaling-guard-launches";

    let alert = group_enrolled(
        &policy,
        now(),
        Enrolled {
            enrolled: &enrolled,
            repaired: &repaired,
            restored: &[],
            hook: &guard_hook(&policy, Some(queue)),
        },
    );

    assert_eq!(
        filed(&alert),
        (AlertKind::GroupEnrolled, Severity::Info, "enroll")
    );
    assert_eq!(
        alert.subject(),
        "[scaling-guard] prod: launch hook put on 3 group(s)"
    );
    assert!(
        alert.advice.contains(&format!(
            "the `{}` launch hook of prod-a, prod-b did not notify the guard's launch queue",
            policy.hook_name
        )),
        "{}",
        alert.advice
    );
    assert!(
        alert.advice.contains(&format!(
            "(DefaultResult ABANDON, heartbeat 600 s, notifying `{queue}`)"
        )),
        "{}",
        alert.advice
    );
    assert_eq!(
        alert.details["groups"],
        json!(["prod-new", "prod-a", "prod-b"])
    );
    assert_eq!(alert.details["repaired"], json!(["prod-a", "prod-b"]));
}

#[test]
fn a_guard_error_is_critical_and_starts_its_advice_with_the_error() {
    let alert = guard_error(&policy(&[]), now(), "`DescribeInstances` failed: throttled");

    assert_eq!(
        filed(&alert),
        (AlertKind::GuardError, Severity::Critical, "none")
    );
    assert_eq!(alert.subject(), "[scaling-guard] prod: budget run failed");
    assert!(
        alert
            .advice
            .starts_with("`DescribeInstances` failed: throttled. Budgets are not enforced"),
        "{}",
        alert.advice
    );
}
