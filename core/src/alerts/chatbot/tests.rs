use pretty_assertions::assert_eq;
use rstest::rstest;
use serde_json::{Value, json};

use super::*;
use crate::alerts::{
    AlertKind, HandOver, Severity, Suspended, audit_handover, misconfigured_alert,
    scale_out_suspended,
};
use crate::checks::{CheckName, Violation};
use crate::fixtures::{at, now, strict_policy, usage};
use crate::policy::Mode;

/// The vendored schema every notification must satisfy.
const SCHEMA: &str = include_str!("../../../../schemas/chatbot/custom-notification.json");

fn schema_errors(notification: &ChatNotification) -> Vec<String> {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let document: Value = serde_json::from_str(&notification.json()).unwrap();
    validator
        .iter_errors(&document)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

fn finding(check: CheckName, actual: &str, blocking: bool) -> Finding {
    Finding {
        violation: Violation::new(
            check,
            "i-0abc",
            "within the policy",
            actual,
            format!("`{actual}` is outside the policy of `{}`", check.as_str()),
        ),
        blocking,
    }
}

/// An alert of `kind` about `group`, as the functions fill it.
fn alert(kind: AlertKind, severity: Severity, group: Option<&str>) -> Alert {
    let mut alert = Alert::new(
        kind,
        severity,
        &strict_policy(&[]),
        now(),
        format!("{} happened", kind.as_str()),
    );
    alert.group = group.map(str::to_owned);
    alert.advice =
        "Fix the launch template. Then run `aws autoscaling start-instance-refresh`.".into();
    alert
}

fn denied(group: &str, check: CheckName) -> Alert {
    let mut alert = alert(AlertKind::LaunchDenied, Severity::Warning, Some(group));
    alert.decision = "ABANDON".into();
    alert.instance_id = Some("i-0abc".into());
    alert.violations = vec![finding(check, "p5.48xlarge", true)];
    alert
}

fn suspended() -> Alert {
    scale_out_suspended(
        &strict_policy(&[("GUARD_MAX_INSTANCES", "4")]),
        now(),
        Suspended {
            reason: "budget reached",
            changed: &["prod-a".to_owned(), "prod-b".to_owned()],
            failed: &[],
            usage: usage(0, 4),
        },
    )
}

/// One alert of every kind. The match has no wildcard: a new kind does not
/// compile here until it has its sample, so it is validated too.
fn sample(kind: AlertKind) -> Alert {
    match kind {
        AlertKind::LaunchDenied => denied("prod-general", CheckName::InstanceTypeAllowed),
        AlertKind::LaunchViolationReported => {
            let mut alert = denied("prod-general", CheckName::ImageAge);
            alert.kind = kind;
            alert.decision = "CONTINUE".into();
            alert.violations[0].blocking = false;
            alert
        }
        AlertKind::ScaleOutSuspended => suspended(),
        AlertKind::ScaleOutResumed => alert(kind, Severity::Info, None),
        AlertKind::InstanceNonCompliant | AlertKind::InstanceRemediated => {
            let mut alert = denied("prod-general", CheckName::ImdsV2);
            alert.kind = kind;
            alert.decision = "stop".into();
            alert
        }
        AlertKind::GroupEnrolled | AlertKind::HookUnanswered | AlertKind::LaunchAllowed => {
            alert(kind, Severity::Info, Some("prod-general"))
        }
        AlertKind::ExceptionExpired => alert(kind, Severity::Warning, Some("prod-ebs-csi-a")),
        AlertKind::SweepSummary
        | AlertKind::GuardError
        | AlertKind::RemediationCapped
        | AlertKind::LauncherLoop => {
            let mut alert = alert(kind, Severity::Critical, None);
            alert.details.insert("count".into(), json!(3));
            alert
        }
        AlertKind::GuardMisconfigured => misconfigured_alert(
            "launch-guard",
            "prod",
            Mode::Enforce,
            &["`GUARD_MAX_VCPUS` is not a number: `x`".to_owned()],
            now(),
        ),
        AlertKind::AuditHandover => audit_handover(
            &strict_policy(&[]),
            now(),
            "budget-guard",
            &HandOver {
                resumed: vec!["prod-a".to_owned()],
                ..HandOver::default()
            },
        ),
    }
}

#[test]
fn every_alert_kind_is_a_custom_notification_the_schema_accepts() {
    for kind in AlertKind::ALL {
        let notification = ChatNotification::of(&sample(kind));
        assert_eq!(
            schema_errors(&notification),
            Vec::<String>::new(),
            "{kind:?}: {}",
            notification.json()
        );
        assert_eq!(notification.content.keywords[2], kind.as_str());
    }
}

#[test]
fn an_alert_with_every_reason_too_long_still_fits_and_says_what_it_left_out() {
    let mut alert = denied("prod-general", CheckName::InstanceTypeAllowed);
    alert.headline = "x".repeat(400);
    alert.advice = "Do this. ".repeat(50) + &"y".repeat(900);
    alert.violations = (0..60)
        .map(|n| {
            finding(
                CheckName::ImageAllowed,
                &format!("{n}{}", "z".repeat(700)),
                true,
            )
        })
        .collect();
    alert.group = Some("g".repeat(300));

    let notification = ChatNotification::of(&alert);

    assert_eq!(schema_errors(&notification), Vec::<String>::new());
    assert!(
        notification
            .content
            .description
            .ends_with("the alert topic's message has them all_"),
        "{}",
        notification.content.description
    );
    assert_eq!(notification.content.next_steps.len(), limits::NEXT_STEPS);
}

#[test]
fn a_denied_launch_reads_what_happened_why_and_what_to_do() {
    let notification =
        ChatNotification::of(&denied("prod-general", CheckName::InstanceTypeAllowed));
    let document: Value = serde_json::from_str(&notification.json()).unwrap();

    assert_eq!(*at(&document, "version"), "1.0");
    assert_eq!(*at(&document, "source"), "custom");
    assert_eq!(*at(&document, "content/textType"), "client-markdown");
    assert_eq!(
        notification.content.title,
        ":warning: prod: launch_denied happened"
    );
    let description = &notification.content.description;
    assert!(
        description.contains("*Group:* `prod-general`"),
        "{description}"
    );
    assert!(
        description
            .contains("• `instance_type.allowed` (blocking): `p5.48xlarge` is outside the policy"),
        "{description}"
    );
    assert!(
        description.contains("actual `p5.48xlarge`"),
        "{description}"
    );
    assert_eq!(
        notification.content.next_steps,
        vec![
            "Fix the launch template.".to_owned(),
            "Then run `aws autoscaling start-instance-refresh`.".to_owned(),
        ]
    );
    assert_eq!(
        notification.content.keywords,
        vec!["prod", "warning", "launch_denied"]
    );
    assert_eq!(
        notification.metadata.event_type,
        "scaling-guard.launch_denied"
    );
    assert_eq!(
        notification.metadata.related_resources,
        vec!["i-0abc", "prod-general"]
    );
    assert_eq!(
        notification.metadata.additional_context["decision"],
        "ABANDON"
    );
    assert_eq!(notification.metadata.summary, notification_subject());
}

fn notification_subject() -> String {
    denied("prod-general", CheckName::InstanceTypeAllowed).subject()
}

#[test]
fn a_group_name_cannot_mention_or_link_in_the_channel() {
    let notification = ChatNotification::of(&denied("<!channel> *x*", CheckName::ImageAge));
    let description = &notification.content.description;
    assert!(!description.contains("<!channel>"), "{description}");
    assert!(
        description.contains("`&lt;!channel&gt; *x*`"),
        "{description}"
    );
}

#[test]
fn the_same_alert_has_the_same_id_and_another_alert_another() {
    let first = ChatNotification::of(&denied("prod-general", CheckName::ImageAge));
    let again = ChatNotification::of(&denied("prod-general", CheckName::ImageAge));
    let other = ChatNotification::of(&denied("prod-other", CheckName::ImageAge));
    assert_eq!(first.id, again.id);
    assert_ne!(first.id, other.id);
}

fn resumed() -> Alert {
    alert(AlertKind::ScaleOutResumed, Severity::Info, None)
}

#[rstest]
#[case::suspension(suspended(), "scaling-guard/prod/scale-out")]
#[case::budget_denial_in_one_group(
    denied("prod-a", CheckName::BudgetVcpus),
    "scaling-guard/prod/scale-out"
)]
#[case::budget_denial_in_another(
    denied("prod-b", CheckName::BudgetInstances),
    "scaling-guard/prod/scale-out"
)]
#[case::resume(resumed(), "scaling-guard/prod/scale-out")]
#[case::image_denial(
    denied("prod-a", CheckName::ImageAge),
    "scaling-guard/prod/group/prod-a"
)]
#[case::image_denial_in_another_group(
    denied("prod-b", CheckName::ImageAge),
    "scaling-guard/prod/group/prod-b"
)]
#[case::hook_unanswered(
    alert(AlertKind::HookUnanswered, Severity::Critical, Some("prod-a")),
    "scaling-guard/prod/group/prod-a"
)]
#[case::sweep(
    alert(AlertKind::SweepSummary, Severity::Info, None),
    "scaling-guard/prod"
)]
fn thread_of(#[case] alert: Alert, #[case] thread: &str) {
    assert_eq!(ChatNotification::of(&alert).metadata.thread_id, thread);
}

#[test]
fn a_surge_is_one_thread_and_two_groups_are_two() {
    let surge: Vec<String> = [
        suspended(),
        denied("prod-a", CheckName::BudgetVcpus),
        denied("prod-b", CheckName::BudgetMemory),
        resumed(),
    ]
    .iter()
    .map(|alert| Thread::of(alert).id())
    .collect();
    assert!(surge.iter().all(|id| *id == surge[0]), "{surge:?}");

    let a = Thread::of(&denied("prod-a", CheckName::ImageAge)).id();
    let b = Thread::of(&denied("prod-b", CheckName::ImageAge)).id();
    assert_ne!(a, b);
}

#[test]
fn long_group_names_keep_distinct_threads_within_the_bound() {
    let long = "g".repeat(200);
    let a = Thread::of(&denied(&format!("{long}-a"), CheckName::ImageAge)).id();
    let b = Thread::of(&denied(&format!("{long}-b"), CheckName::ImageAge)).id();
    assert_ne!(a, b);
    assert!(a.chars().count() <= limits::THREAD_ID, "{a}");
}

#[test]
fn the_schema_rejects_what_chatbot_would_drop_or_cut() {
    let mut notification = ChatNotification::of(&suspended());
    notification.version = "2.0";
    notification.content.description = "d".repeat(limits::DESCRIPTION + 1);
    let errors = schema_errors(&notification);
    assert_eq!(errors.len(), 2, "{errors:?}");
}
