//! launch-guard's alerts (SPEC §8), one pure builder per kind: from the
//! launch and what was decided to the alert, with no port in sight.

use std::time::SystemTime;

use serde_json::json;
use shared::alerts::managed_node_group::add_abandon_consequences;
use shared::alerts::{self, Alert, AlertKind, Severity, Suspended};
use shared::assess::{Admission, Decided};
use shared::decision::{LifecycleResult, Verdict};
use shared::events::{DecisionEvent, DetailType};
use shared::lifecycle::{LifecycleAction, Origin};
use shared::policy::settings::AUDIT_ONLY_CHECKS;
use shared::policy::{Mode, Policy};
use shared::suspension::{SUSPENDED_TAG, SuspensionReport};

/// The launch an alert is about.
#[derive(Debug, Clone, Copy)]
pub struct DecidedLaunch<'a> {
    pub policy: &'a Policy,
    pub now: SystemTime,
    pub action: &'a LifecycleAction,
    pub origin: &'a Origin,
}

impl DecidedLaunch<'_> {
    /// An alert on this launch, with the verdict's decision and findings.
    fn alert(&self, kind: AlertKind, severity: Severity, verdict: &Verdict) -> Alert {
        let mut alert = Alert::new(kind, severity, self.policy, self.now, "");
        alert.decision = verdict.result.as_str().to_owned();
        alert.instance_id = Some(self.action.instance_id.clone());
        alert.group = Some(self.action.group.clone());
        alert.violations = verdict.findings.clone();
        alert.came_from(self.origin);
        alert
    }
}

/// The alert on a decision, if it needs one: a denial, a launch let in with
/// violations, or a decision the fail mode took. A budget-only denial on a
/// group the guard already suspended is the same condition, not alerted again.
/// An ABANDON on a group EKS owns says what it does there (the launch's
/// group, with its tags, is read for every decision: no extra call).
pub fn decision(launch: DecidedLaunch<'_>, decided: &Decided) -> Option<Alert> {
    let already_suspended = decided.group.tags.contains_key(SUSPENDED_TAG);
    if decided.denied_only_for_budget() && already_suspended {
        return None;
    }
    let mut alert = match decided.unknown_line() {
        Some(unknown) if decided.by_fail_mode() => by_fail_mode(launch, &decided.verdict, &unknown),
        Some(unknown) => {
            let mut alert = by_verdict(launch, &decided.verdict)?;
            alert.advice.push_str(&format!(
                " Part of the launch could not be established ({unknown}); what was known decided."
            ));
            alert.details.insert("unknown".to_owned(), json!(unknown));
            alert
        }
        None => by_verdict(launch, &decided.verdict)?,
    };
    if decided.verdict.result == LifecycleResult::Abandon {
        add_abandon_consequences(&mut alert, &decided.group.tags);
    }
    if let Some(admission) = &decided.admission {
        add_usage(&mut alert, launch.policy, admission);
    }
    Some(alert)
}

/// The decision event of a launch whose alert does not carry it: a clean
/// CONTINUE, a budget denial on a group already suspended, a decision the
/// fail mode took (a `guard_error` alert). Every launch decision reaches the
/// bus once: a decision alert is already its event.
pub fn decision_event(
    launch: DecidedLaunch<'_>,
    decided: &Decided,
    alert: Option<&Alert>,
) -> Option<DecisionEvent> {
    if alert.is_some_and(|alert| DetailType::of(alert.kind) == DetailType::LaunchDecision) {
        return None;
    }
    Some(DecisionEvent::of(&decision_document(launch, decided)))
}

/// The launch decision as the event's document: the decision alert's kind
/// by the verdict, `launch_allowed` when nothing was found.
fn decision_document(launch: DecidedLaunch<'_>, decided: &Decided) -> Alert {
    let verdict = &decided.verdict;
    let mut alert = by_verdict(launch, verdict).unwrap_or_else(|| {
        let mut alert = launch.alert(AlertKind::LaunchAllowed, Severity::Info, verdict);
        alert.headline = format!("launch of {} let in", launch.action.instance_id);
        alert
    });
    if let Some(unknown) = decided.unknown_line() {
        alert.details.insert("unknown".to_owned(), json!(unknown));
    }
    if let Some(admission) = &decided.admission {
        add_usage(&mut alert, launch.policy, admission);
    }
    alert
}

/// Nothing known blocks and part of the launch is unknown: the fail mode decided.
fn by_fail_mode(launch: DecidedLaunch<'_>, verdict: &Verdict, unknown: &str) -> Alert {
    let mut alert = launch.alert(AlertKind::GuardError, Severity::Critical, verdict);
    let done = match verdict.result {
        LifecycleResult::Continue => "let in",
        LifecycleResult::Abandon => "abandoned",
    };
    alert.headline = format!(
        "launch of {} {done} by the fail mode",
        launch.action.instance_id
    );
    alert.advice = format!(
        "part of the launch could not be established ({unknown}), so GUARD_FAIL_MODE decided; what \
         could be checked blocks nothing. Check the instance and the function's logs and permissions."
    );
    alert.details.insert("unknown".to_owned(), json!(unknown));
    alert
}

/// The alert on a decision the checks made, if it needs one.
fn by_verdict(launch: DecidedLaunch<'_>, verdict: &Verdict) -> Option<Alert> {
    let id = &launch.action.instance_id;
    let checks = verdict.check_names().join(", ");
    match verdict.result {
        LifecycleResult::Abandon => {
            let mut alert = launch.alert(AlertKind::LaunchDenied, Severity::Warning, verdict);
            alert.headline = format!("launch of {id} denied ({checks})");
            alert.advice =
                "the instance was abandoned and is being terminated. Fix the group's launch \
                template (or the policy, if it is wrong) so that new nodes comply; the group keeps \
                launching replacements until then."
                    .to_owned();
            Some(alert)
        }
        LifecycleResult::Continue if !verdict.findings.is_empty() => {
            let mut alert =
                launch.alert(AlertKind::LaunchViolationReported, Severity::Info, verdict);
            alert.headline = format!("launch of {id} let in with violations ({checks})");
            alert.advice = format!(
                "these checks only report ({}). Fix the launch template before they are enforced.",
                match launch.policy.mode {
                    Mode::Audit => "audit mode",
                    Mode::Enforce => AUDIT_ONLY_CHECKS.name,
                }
            );
            Some(alert)
        }
        LifecycleResult::Continue => None,
    }
}

/// The lifecycle action could not be completed (`error` says why).
pub fn failed_completion(launch: DecidedLaunch<'_>, verdict: &Verdict, error: &str) -> Alert {
    let mut alert = launch.alert(AlertKind::GuardError, Severity::Critical, verdict);
    alert.headline = format!(
        "lifecycle action of {} could not be completed",
        launch.action.instance_id
    );
    alert.advice = format!(
        "{error}. The event is retried; if no retry completes it, the instance waits until the hook's heartbeat \
         timeout and then gets its DefaultResult. Check the function's permissions and logs."
    );
    alert
}

/// The suspension after a budget denial, when it changed or failed on a group.
pub fn suspension(
    launch: DecidedLaunch<'_>,
    verdict: &Verdict,
    report: &SuspensionReport,
    admission: &Admission,
) -> Option<Alert> {
    if report.changed.is_empty() && report.failed.is_empty() {
        return None;
    }
    let suspended = Suspended {
        reason: "budget reached",
        changed: &report.changed,
        failed: &report.failed,
        usage: admission.usage,
    };
    let mut alert = alerts::scale_out_suspended(launch.policy, launch.now, suspended);
    alert.instance_id = Some(launch.action.instance_id.clone());
    alert.violations = verdict.findings.clone();
    alert.came_from(launch.origin);
    add_usage(&mut alert, launch.policy, admission);
    Some(alert)
}

/// Usage and budget figures, and what the launch would add.
fn add_usage(alert: &mut Alert, policy: &Policy, admission: &Admission) {
    alerts::add_usage(alert, &policy.budget, admission.usage);
    alert
        .details
        .insert("launch_would_add".to_owned(), json!(admission.candidate));
}

#[cfg(test)]
mod tests;
