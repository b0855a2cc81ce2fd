//! budget-guard's own alerts, one pure builder per kind: from values to an
//! [`Alert`], without ports. The handler builds them and publishes. The
//! critical suspension alert is launch-guard's too:
//! [`shared::alerts::scale_out_suspended`].

use std::time::SystemTime;

use serde_json::json;
use shared::alerts::{Alert, AlertKind, Severity, WHILE_SUSPENDED, add_usage};
use shared::budget::Usage;
use shared::checks::CheckName;
use shared::facts::HookFacts;
use shared::policy::{Mode, Policy};
use shared::suspension::SuspensionReport;

/// An alert's kind, severity and decision (`would_suspend`, `resume`, …).
type Heading = (AlertKind, Severity, &'static str);

const WOULD_SUSPEND: Heading = (
    AlertKind::ScaleOutSuspended,
    Severity::Warning,
    "would_suspend",
);
const RESUMED: Heading = (AlertKind::ScaleOutResumed, Severity::Info, "resume");
const ENROLLED: Heading = (AlertKind::GroupEnrolled, Severity::Info, "enroll");

/// A budget-guard alert with its heading and headline.
fn headed(policy: &Policy, now: SystemTime, heading: Heading, headline: String) -> Alert {
    let (kind, severity, decision) = heading;
    let mut alert = Alert::new(kind, severity, policy, now, headline);
    alert.decision = decision.to_owned();
    alert
}

/// What the guard would have suspended, had it enforced the trigger's checks.
#[derive(Debug, Clone, Copy)]
pub struct WouldSuspend<'a> {
    /// Why: `vcpus 100% of budget`, an alarm in `ALARM`.
    pub reason: &'a str,
    /// The groups whose `Launch` it would suspend.
    pub groups: &'a [String],
    /// The budget checks behind the trigger; none: a surge alarm.
    pub checks: &'a [CheckName],
    /// The cluster's usage when it decided.
    pub usage: Usage,
}

/// `scale_out_suspended` (warning, `would_suspend`): audit mode, or audit-only
/// budget checks, kept the guard from suspending.
pub fn would_suspend_scale_out(policy: &Policy, now: SystemTime, would: WouldSuspend<'_>) -> Alert {
    let headline = format!(
        "would suspend scale-out on {} group(s): {}",
        would.groups.len(),
        would.reason
    );
    let mut alert = headed(policy, now, WOULD_SUSPEND, headline);
    alert.advice = format!(
        "{}, so budget-guard changed nothing. In enforce mode it would suspend Launch on these \
         groups ({WHILE_SUSPENDED}). Find what is scaling out.",
        why_audit(policy, would.checks)
    );
    alert
        .details
        .insert("would_suspend".to_owned(), json!(would.groups));
    add_usage(&mut alert, &policy.budget, would.usage);
    alert
}

/// `scale_out_resumed` (info, `resume`): the resume pass lifted the guard's
/// suspension on `resumed.changed`; its notes say what a person should know.
pub fn scale_out_resumed(
    policy: &Policy,
    now: SystemTime,
    resumed: &SuspensionReport,
    usage: Usage,
) -> Alert {
    let headline = format!("scale-out resumed on {} group(s)", resumed.changed.len());
    let mut alert = headed(policy, now, RESUMED, headline);
    alert.advice = "usage, with what these groups launch at once, is below the resume threshold of every \
        budget and no triggering alarm fires, so Launch was resumed (and MaxSize restored where the guard's \
        clamp was still in place). Nothing to do."
        .to_owned();
    alert
        .details
        .insert("groups".to_owned(), json!(resumed.changed));
    if !resumed.notes.is_empty() {
        let notes: Vec<&str> = resumed.notes.iter().map(|(_, n)| n.as_str()).collect();
        alert.advice = format!("{} {}.", alert.advice, notes.join("; "));
        alert.details.insert("notes".to_owned(), json!(notes));
    }
    add_usage(&mut alert, &policy.budget, usage);
    alert
}

/// The groups the guard put its launch hook on, and the hook it put.
#[derive(Debug, Clone, Copy)]
pub struct Enrolled<'a> {
    /// Groups that had no guard hook.
    pub enrolled: &'a [String],
    /// Groups whose guard hook did not notify the launch queue.
    pub repaired: &'a [String],
    /// Groups whose guard hook ended unanswered launches otherwise than the
    /// fail mode says (put again with every other setting kept).
    pub restored: &'a [String],
    pub hook: &'a HookFacts,
}

/// `group_enrolled` (info, `enroll`): the guard put its launch hook on
/// groups that lacked it, or put it again where it notified elsewhere.
pub fn group_enrolled(policy: &Policy, now: SystemTime, put: Enrolled<'_>) -> Alert {
    let groups = [put.enrolled, put.repaired, put.restored].concat();
    let headline = format!("launch hook put on {} group(s)", groups.len());
    let mut alert = headed(policy, now, ENROLLED, headline);
    let hook = put.hook;
    let settings = format!(
        "DefaultResult {}, heartbeat {} s{}",
        hook.default_result.as_deref().unwrap_or("ABANDON"),
        hook.heartbeat_timeout.unwrap_or_default(),
        hook.notification_target_arn
            .as_deref()
            .map(|target| format!(", notifying `{target}`"))
            .unwrap_or_default()
    );
    let mut advice = Vec::new();
    if !put.enrolled.is_empty() {
        advice.push(format!(
            "these cluster groups had no `{}` launch hook, so their launches were not vetted. The guard put it \
             on them ({settings}); from now on every launch is checked before it serves.",
            hook.name
        ));
    }
    if !put.repaired.is_empty() {
        advice.push(format!(
            "the `{}` launch hook of {} did not notify the guard's launch queue, so their launches waited for the \
             heartbeat and ended by its DefaultResult, unvetted. The guard put it again ({settings}).",
            hook.name,
            put.repaired.join(", ")
        ));
    }
    if !put.restored.is_empty() {
        advice.push(format!(
            "the `{}` launch hook of {} did not end an unanswered launch by {} (as audit mode's hand-over \
             or an earlier fail mode left it): the guard put it again with that DefaultResult, its other \
             settings kept.",
            hook.name,
            put.restored.join(", "),
            hook.default_result.as_deref().unwrap_or("ABANDON")
        ));
    }
    alert.advice = advice.join(" ");
    alert.details.insert("groups".to_owned(), json!(groups));
    if !put.repaired.is_empty() {
        alert
            .details
            .insert("repaired".to_owned(), json!(put.repaired));
    }
    if !put.restored.is_empty() {
        alert
            .details
            .insert("restored".to_owned(), json!(put.restored));
    }
    alert
}

/// `guard_error` (critical): a run failed with `error`.
pub fn guard_error(policy: &Policy, now: SystemTime, error: &str) -> Alert {
    let mut alert = Alert::new(
        AlertKind::GuardError,
        Severity::Critical,
        policy,
        now,
        "budget run failed",
    );
    alert.advice = format!(
        "{error}. Budgets are not enforced by the schedule while this lasts (launch-guard still admits launches \
         strictly). Check the function's logs and permissions."
    );
    alert
}

/// Why a would-be change was not made.
fn why_audit(policy: &Policy, checks: &[CheckName]) -> &'static str {
    match policy.mode {
        Mode::Audit => "the guard runs in audit mode",
        Mode::Enforce if checks.is_empty() => "the guard runs in audit mode",
        Mode::Enforce => "these budget checks are listed in GUARD_AUDIT_ONLY_CHECKS",
    }
}

mod exception_expired;
mod unanswered;

pub use exception_expired::exception_expired;
pub use unanswered::{Unanswered, hook_unanswered, hook_unanswered_on_non_members};

#[cfg(test)]
mod tests;
