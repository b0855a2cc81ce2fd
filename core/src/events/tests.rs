use rstest::rstest;
use serde_json::Value;

use super::*;
use crate::alerts::{Alert, AlertKind, Severity};
use crate::fixtures::{at, now, strict_policy};

fn alert(kind: AlertKind) -> Alert {
    let mut alert = Alert::new(
        kind,
        Severity::Warning,
        &strict_policy(&[]),
        now(),
        "headline",
    );
    alert.decision = "ABANDON".into();
    alert.instance_id = Some("i-0abc".into());
    alert
}

#[rstest]
#[case::denied(AlertKind::LaunchDenied, "Scaling Guard Launch Decision v1")]
#[case::reported(AlertKind::LaunchViolationReported, "Scaling Guard Launch Decision v1")]
#[case::allowed(AlertKind::LaunchAllowed, "Scaling Guard Launch Decision v1")]
#[case::remediated(AlertKind::InstanceRemediated, "Scaling Guard Instance Remediation v1")]
#[case::suspended(AlertKind::ScaleOutSuspended, "Scaling Guard Scale-out Suspended v1")]
#[case::resumed(AlertKind::ScaleOutResumed, "Scaling Guard Scale-out Resumed v1")]
#[case::enrolled(AlertKind::GroupEnrolled, "Scaling Guard Group Enrolled v1")]
#[case::non_compliant(AlertKind::InstanceNonCompliant, "Scaling Guard Instance Finding v1")]
#[case::sweep(AlertKind::SweepSummary, "Scaling Guard Alert v1")]
#[case::error(AlertKind::GuardError, "Scaling Guard Alert v1")]
#[case::misconfigured(AlertKind::GuardMisconfigured, "Scaling Guard Alert v1")]
#[case::capped(AlertKind::RemediationCapped, "Scaling Guard Alert v1")]
#[case::handover(AlertKind::AuditHandover, "Scaling Guard Alert v1")]
#[case::unanswered(AlertKind::HookUnanswered, "Scaling Guard Alert v1")]
#[case::launcher_loop(AlertKind::LauncherLoop, "Scaling Guard Alert v1")]
#[case::exception_expired(AlertKind::ExceptionExpired, "Scaling Guard Alert v1")]
fn each_alert_kind_has_its_versioned_detail_type(#[case] kind: AlertKind, #[case] expected: &str) {
    assert_eq!(DetailType::of(kind).as_str(), expected);
}

#[test]
fn every_detail_type_is_listed_once_with_its_own_schema_name() {
    let names: std::collections::BTreeSet<_> =
        DetailType::ALL.iter().map(|t| t.schema_name()).collect();
    let types: std::collections::BTreeSet<_> = DetailType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(names.len(), DetailType::ALL.len());
    assert_eq!(types.len(), DetailType::ALL.len());
    assert_eq!(
        DetailType::LaunchDecision.schema_name(),
        "launch-decision-v1"
    );
    assert!(DetailType::ALL.iter().all(|t| t.as_str().ends_with(" v1")));
}

#[test]
fn the_event_of_an_alert_carries_its_versioned_document_as_detail() {
    let event = DecisionEvent::of(&alert(AlertKind::LaunchDenied));
    assert_eq!(event.detail_type, DetailType::LaunchDecision);
    let detail: Value = serde_json::from_str(&event.detail).unwrap();
    assert_eq!(*at(&detail, "version"), 1);
    assert_eq!(*at(&detail, "kind"), "launch_denied");
    assert_eq!(*at(&detail, "decision"), "ABANDON");
    assert_eq!(*at(&detail, "instance_id"), "i-0abc");
    assert_eq!(SOURCE, "scaling-guard");
}

#[rstest]
#[case::default("default", Some(EventBus::Default))]
#[case::default_any_case("Default", Some(EventBus::Default))]
#[case::off("none", Some(EventBus::Off))]
#[case::hub_bus(
    "arn:aws:events:eu-west-1:111122223333:event-bus/guard-hub",
    Some(EventBus::Arn("arn:aws:events:eu-west-1:111122223333:event-bus/guard-hub".into()))
)]
#[case::default_bus_by_arn(
    "arn:aws:events:eu-west-1:123456789012:event-bus/default",
    Some(EventBus::Arn("arn:aws:events:eu-west-1:123456789012:event-bus/default".into()))
)]
#[case::topic_arn("arn:aws:sns:eu-west-1:123456789012:alerts", None)]
#[case::bus_name("guard-hub", None)]
#[case::rule_arn("arn:aws:events:eu-west-1:123456789012:rule/guard", None)]
fn the_event_bus_is_default_none_or_a_bus_arn(
    #[case] text: &str,
    #[case] expected: Option<EventBus>,
) {
    assert_eq!(EventBus::parse(text), expected);
}

#[test]
fn only_an_arn_names_the_bus_in_the_request() {
    assert_eq!(EventBus::Default.name(), None);
    assert_eq!(EventBus::Off.name(), None);
    let hub = EventBus::Arn("arn:aws:events:eu-west-1:111122223333:event-bus/hub".into());
    assert_eq!(
        hub.name(),
        Some("arn:aws:events:eu-west-1:111122223333:event-bus/hub")
    );
    assert!(EventBus::Default.is_on() && hub.is_on() && !EventBus::Off.is_on());
}

#[test]
fn the_policy_reads_the_bus_default_unless_told_and_refuses_a_bad_one() {
    use crate::fixtures::{ALERT_TOPIC, CLUSTER};
    use crate::policy::Policy;
    let base = [
        ("GUARD_CLUSTER", CLUSTER),
        ("GUARD_ALERT_TOPIC_ARN", ALERT_TOPIC),
    ];
    let unset = Policy::from_vars(base).unwrap();
    assert_eq!(unset.event_bus, EventBus::Default);
    let off =
        Policy::from_vars([base.as_slice(), &[("GUARD_EVENT_BUS", "none")]].concat()).unwrap();
    assert_eq!(off.event_bus, EventBus::Off);
    let err = Policy::from_vars([base.as_slice(), &[("GUARD_EVENT_BUS", "guard-hub")]].concat())
        .unwrap_err();
    assert_eq!(
        err.problems,
        vec!["`GUARD_EVENT_BUS` must be `default`, `none` or an event bus arn, not `guard-hub`"]
    );
}
