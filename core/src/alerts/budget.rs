//! The budget alerts, built the same way by launch-guard (after a budget
//! denial) and budget-guard (its schedule and alarms).

use std::time::SystemTime;

use serde_json::json;

use super::{Alert, AlertKind, Severity};
use crate::budget::{self, Usage};
use crate::policy::{BudgetPolicy, Policy};

/// What a suspension leaves running, for the alerts' advice.
pub const WHILE_SUSPENDED: &str = "only Launch is suspended: health checks and scheduled actions go on, but an \
    unhealthy node is terminated and not replaced until Launch resumes";

/// The usage figures of an alert, one per budget the policy sets:
/// `usage_vcpus` → `12 of 16 (75.0%)`.
pub fn add_usage(alert: &mut Alert, budget: &BudgetPolicy, usage: Usage) {
    for dim in budget::dimensions(budget, usage) {
        alert.details.insert(
            format!("usage_{}", dim.name),
            json!(format!(
                "{} of {} ({:.1}%)",
                dim.used,
                dim.max,
                dim.percent()
            )),
        );
    }
}

/// What a suspension pass did, as the alert reports it.
#[derive(Debug, Clone, Copy)]
pub struct Suspended<'a> {
    /// Why: `budget reached`, `vcpus 100% of budget`, an alarm.
    pub reason: &'a str,
    /// The groups whose `Launch` the pass suspended.
    pub changed: &'a [String],
    /// The groups it could not suspend, with why.
    pub failed: &'a [(String, String)],
    /// The cluster's usage when it decided.
    pub usage: Usage,
}

/// `scale_out_suspended` (critical): the guard suspended scale-out.
pub fn scale_out_suspended(policy: &Policy, now: SystemTime, suspended: Suspended<'_>) -> Alert {
    let headline = format!(
        "scale-out suspended on {} group(s): {}",
        suspended.changed.len(),
        suspended.reason
    );
    let mut alert = Alert::new(
        AlertKind::ScaleOutSuspended,
        Severity::Critical,
        policy,
        now,
        headline,
    );
    alert.decision = "suspend".to_owned();
    alert.advice = format!(
        "the cluster stops growing: {WHILE_SUSPENDED}. It is resumed automatically once usage, with what \
         each group will launch at once, is below GUARD_RESUME_BELOW_PERCENT of every budget and the \
         triggering alarm is OK. Find what is scaling out; to resume by hand, run `aws autoscaling \
         resume-processes --scaling-processes Launch` and delete the `scaling-guard:suspended` tag."
    );
    alert
        .details
        .insert("groups".to_owned(), json!(suspended.changed));
    if !suspended.failed.is_empty() {
        alert
            .details
            .insert("failed".to_owned(), json!(suspended.failed));
    }
    add_usage(&mut alert, &policy.budget, suspended.usage);
    alert
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{now, strict_policy, usage};

    #[test]
    fn usage_figures_name_each_budget_set_and_only_those() {
        let policy = strict_policy(&[("GUARD_MAX_VCPUS", "16"), ("GUARD_MAX_INSTANCES", "8")]);
        let mut alert = Alert::new(
            AlertKind::LaunchDenied,
            Severity::Warning,
            &policy,
            now(),
            "",
        );
        add_usage(&mut alert, &policy.budget, usage(12, 3));
        assert_eq!(alert.details["usage_vcpus"], json!("12 of 16 (75.0%)"));
        assert_eq!(alert.details["usage_instances"], json!("3 of 8 (37.5%)"));
        assert!(!alert.details.contains_key("usage_memory"));
    }

    #[test]
    fn a_suspension_names_its_groups_failures_reason_and_usage() {
        let policy = strict_policy(&[("GUARD_MAX_INSTANCES", "4")]);
        let changed = ["prod-a".to_owned(), "prod-b".to_owned()];
        let failed = [("prod-c".to_owned(), "throttled".to_owned())];
        let alert = scale_out_suspended(
            &policy,
            now(),
            Suspended {
                reason: "budget reached",
                changed: &changed,
                failed: &failed,
                usage: usage(0, 4),
            },
        );
        assert_eq!(alert.kind, AlertKind::ScaleOutSuspended);
        assert_eq!(alert.severity, Severity::Critical);
        assert_eq!(alert.decision, "suspend");
        assert_eq!(
            alert.subject(),
            "[scaling-guard] prod: scale-out suspended on 2 group(s): budget reached"
        );
        assert_eq!(alert.details["groups"], json!(["prod-a", "prod-b"]));
        assert_eq!(alert.details["failed"], json!([["prod-c", "throttled"]]));
        assert_eq!(alert.details["usage_instances"], json!("4 of 4 (100.0%)"));
        assert!(alert.advice.contains(WHILE_SUSPENDED));
    }

    #[test]
    fn a_suspension_without_failures_has_no_failed_detail() {
        let policy = strict_policy(&[("GUARD_MAX_INSTANCES", "4")]);
        let alert = scale_out_suspended(
            &policy,
            now(),
            Suspended {
                reason: "vcpus 100% of budget",
                changed: &["prod-a".to_owned()],
                failed: &[],
                usage: usage(0, 4),
            },
        );
        assert!(!alert.details.contains_key("failed"));
    }
}
