//! Decision events (issue 24, part 2): every alert, and every launch
//! decision (a clean CONTINUE too), also goes to an EventBridge bus as
//! `source: scaling-guard` with a versioned `detail-type`, so that a rule on
//! that bus is how a team automates on the guard (a ticket, a central
//! account's bus).
//!
//! The `detail` is the versioned alert document ([`Alert::json`]): one
//! format for SNS subscribers and rules. The detail-type groups the alert
//! kinds a rule tells apart; a kind no group names is a `Scaling Guard Alert
//! v1`. Each detail-type's JSON Schema (JSONSchemaDraft4, the form the
//! EventBridge schema registry accepts) is `schemas/events/<schema_name>.json`;
//! a test holds the files and [`DetailType::ALL`] equal. An incompatible
//! change to a detail is a new detail-type (`v2`), sent next to the old one
//! until rules have moved.

use crate::alerts::{Alert, AlertKind};
use crate::policy::ids::is_arn;

/// The `source` of every event the guard sends. The IAM grant of
/// `events:PutEvents` allows this source only.
pub const SOURCE: &str = "scaling-guard";

/// What an event is about: its `detail-type` names it, with the version of
/// its detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DetailType {
    /// launch-guard decided a launch: `launch_denied`,
    /// `launch_violation_reported` (audit mode's "would deny" too) or
    /// `launch_allowed`.
    LaunchDecision,
    /// instance-audit stopped, terminated or isolated an instance.
    InstanceRemediation,
    /// Scale-out suspended, or in audit mode what would have been
    /// (`decision: would_suspend`).
    ScaleOutSuspended,
    ScaleOutResumed,
    /// budget-guard gave a group the launch hook.
    GroupEnrolled,
    /// instance-audit found a running instance out of policy and changed
    /// nothing (audit mode's "would remediate" too).
    InstanceFinding,
    /// Every other alert: errors, summaries, caps, hand-overs.
    GuardAlert,
}

impl DetailType {
    /// Every detail-type the guard sends: one schema file each.
    pub const ALL: [DetailType; 7] = [
        DetailType::LaunchDecision,
        DetailType::InstanceRemediation,
        DetailType::ScaleOutSuspended,
        DetailType::ScaleOutResumed,
        DetailType::GroupEnrolled,
        DetailType::InstanceFinding,
        DetailType::GuardAlert,
    ];

    /// The detail-type of an alert of `kind`. Kinds added later are alerts
    /// until a rule needs them told apart.
    pub fn of(kind: AlertKind) -> Self {
        match kind {
            AlertKind::LaunchDenied
            | AlertKind::LaunchViolationReported
            | AlertKind::LaunchAllowed => DetailType::LaunchDecision,
            AlertKind::InstanceRemediated => DetailType::InstanceRemediation,
            AlertKind::ScaleOutSuspended => DetailType::ScaleOutSuspended,
            AlertKind::ScaleOutResumed => DetailType::ScaleOutResumed,
            AlertKind::GroupEnrolled => DetailType::GroupEnrolled,
            AlertKind::InstanceNonCompliant => DetailType::InstanceFinding,
            _ => DetailType::GuardAlert,
        }
    }

    /// The `detail-type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            DetailType::LaunchDecision => "Scaling Guard Launch Decision v1",
            DetailType::InstanceRemediation => "Scaling Guard Instance Remediation v1",
            DetailType::ScaleOutSuspended => "Scaling Guard Scale-out Suspended v1",
            DetailType::ScaleOutResumed => "Scaling Guard Scale-out Resumed v1",
            DetailType::GroupEnrolled => "Scaling Guard Group Enrolled v1",
            DetailType::InstanceFinding => "Scaling Guard Instance Finding v1",
            DetailType::GuardAlert => "Scaling Guard Alert v1",
        }
    }

    /// The schema's file name, without `.json`, under `schemas/events/`.
    pub fn schema_name(self) -> &'static str {
        match self {
            DetailType::LaunchDecision => "launch-decision-v1",
            DetailType::InstanceRemediation => "instance-remediation-v1",
            DetailType::ScaleOutSuspended => "scale-out-suspended-v1",
            DetailType::ScaleOutResumed => "scale-out-resumed-v1",
            DetailType::GroupEnrolled => "group-enrolled-v1",
            DetailType::InstanceFinding => "instance-finding-v1",
            DetailType::GuardAlert => "alert-v1",
        }
    }
}

/// One event, ready for `PutEvents` (its source is [`SOURCE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionEvent {
    pub detail_type: DetailType,
    /// The alert's versioned JSON document.
    pub detail: String,
}

impl DecisionEvent {
    /// The event of `alert`: every alert is one.
    pub fn of(alert: &Alert) -> Self {
        Self {
            detail_type: DetailType::of(alert.kind),
            detail: alert.json(),
        }
    }
}

/// Where the events go (`GUARD_EVENT_BUS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EventBus {
    /// The default bus of the function's account and region.
    #[default]
    Default,
    /// A bus by ARN, perhaps another account's (a hub bus whose policy
    /// lets this account put events).
    Arn(String),
    /// No events are sent.
    Off,
}

impl EventBus {
    /// `default`, `none` (any case) or an event bus ARN; `None` otherwise.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "default" => Some(EventBus::Default),
            "none" => Some(EventBus::Off),
            _ if is_arn(text, "events", true, "event-bus/") => Some(EventBus::Arn(text.to_owned())),
            _ => None,
        }
    }

    /// The `EventBusName` of a `PutEvents`: the ARN, or nothing for the
    /// default bus (and when off).
    pub fn name(&self) -> Option<&str> {
        match self {
            EventBus::Arn(arn) => Some(arn),
            EventBus::Default | EventBus::Off => None,
        }
    }

    /// Whether events are sent at all.
    pub fn is_on(&self) -> bool {
        *self != EventBus::Off
    }

    /// As `validate` shows it and the setting reads it.
    pub fn as_text(&self) -> &str {
        match self {
            EventBus::Default => "default",
            EventBus::Arn(arn) => arn,
            EventBus::Off => "none",
        }
    }
}

#[cfg(test)]
mod schema_tests;
#[cfg(test)]
mod tests;
