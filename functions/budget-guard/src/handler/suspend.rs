//! Suspending scale-out (`Launch` only), or saying what would be suspended.

use shared::alerts::{self as shared_alerts, Suspended};
use shared::budget::{self, Dimension, Usage};
use shared::checks::CheckName;
use shared::facts::GroupFacts;
use shared::policy::BudgetPolicy;
use shared::suspension::{self, OnIncomplete, SuspendPlan, SuspensionRecord};

use super::{BudgetGuard, Changes, Measurement};
use crate::alerts::{self, WouldSuspend};
use shared::ports::Ports;

impl<P: Ports> BudgetGuard<'_, P> {
    /// Suspends `Launch` on the groups of `scope` that need it, under
    /// `record`, and alerts what changed; a group the guard already
    /// suspended gets `record`'s alarms joined to its record (the report's
    /// `joined`), so that the resume also waits for them. When the trigger's
    /// `checks` are not enforced, only says (once) what it would have
    /// suspended.
    pub(super) async fn suspend_or_say_so(
        &self,
        measured: &Measurement,
        scope: &[GroupFacts],
        record: SuspensionRecord,
        checks: &[CheckName],
        outcome: &mut Changes,
    ) {
        if !self.enforces(checks) {
            outcome.would_suspend = self
                .would_suspend(measured, scope, &record, checks, outcome)
                .await;
            return;
        }
        let report = suspension::suspend_groups(
            self.ports.groups(),
            scope,
            self.policy.budget.clamp_max_size,
            &record,
            OnIncomplete::Complete,
            self.policy.record_key.as_ref(),
        )
        .await;
        if !report.changed.is_empty() || !report.failed.is_empty() || outcome.breaker_news {
            let suspended = Suspended {
                reason: &record.reason,
                changed: &report.changed,
                failed: &report.failed,
                usage: measured.usage,
            };
            let mut alert = shared_alerts::scale_out_suspended(self.policy, self.now(), suspended);
            self.annotate_suspension(&mut alert, &outcome.launch_breaker);
            self.publish(&alert).await;
        }
        outcome.suspended = report;
    }

    /// The groups of `scope` a suspension would change; alerted the first
    /// time a group (or a launcher role the breaker would block) is among
    /// them.
    async fn would_suspend(
        &self,
        measured: &Measurement,
        scope: &[GroupFacts],
        record: &SuspensionRecord,
        checks: &[CheckName],
        outcome: &Changes,
    ) -> Vec<String> {
        let would: Vec<String> = scope
            .iter()
            .filter(|g| {
                matches!(
                    suspension::plan_suspend(g, record.clone(), self.policy.record_key.as_ref()),
                    SuspendPlan::Suspend { .. } | SuspendPlan::Incomplete { .. }
                )
            })
            .map(|g| g.name.clone())
            .collect();
        let condition = [would.as_slice(), &outcome.launch_breaker.would_block].concat();
        if self.first_time(|a| &mut a.would_suspend, &condition) {
            let mut alert = alerts::would_suspend_scale_out(
                self.policy,
                self.now(),
                WouldSuspend {
                    reason: &record.reason,
                    groups: &would,
                    checks,
                    usage: measured.usage,
                },
            );
            self.annotate_suspension(&mut alert, &outcome.launch_breaker);
            self.publish(&alert).await;
        }
        would
    }
}

/// Why a budget alarm is not believed: what the guard measured, every
/// budget below the suspend threshold.
pub(super) fn not_reached(alarm: &str, budget: &BudgetPolicy, usage: Usage) -> String {
    let measured: Vec<String> = budget::dimensions(budget, usage)
        .iter()
        .map(|d| format!("{} {} of {} ({:.1}%)", d.name, d.used, d.max, d.percent()))
        .collect();
    let measured = match measured.is_empty() {
        true => "no budget is set".to_owned(),
        false => measured.join(", "),
    };
    format!(
        "budget alarm `{alarm}` is not confirmed by the guard's own measurement: {measured}, below the suspend threshold of {}%",
        budget.suspend_at_percent
    )
}

/// `vcpus 100%, instances 100% of budget`: the budgets at or over the threshold.
pub(super) fn over_reason(over: &[Dimension]) -> String {
    let parts: Vec<String> = over
        .iter()
        .map(|d| format!("{} {:.0}%", d.name, d.percent()))
        .collect();
    format!("{} of budget", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use shared::budget::{self, Usage};
    use shared::policy::BudgetPolicy;

    use super::*;

    #[test]
    fn the_reason_lists_every_budget_over_the_threshold() {
        let budget = BudgetPolicy {
            max_vcpus: Some(20),
            max_memory_mib: Some(81920),
            max_instances: Some(10),
            suspend_at_percent: 100,
            resume_below_percent: 90,
            clamp_max_size: false,
        };
        let usage = Usage {
            vcpus: 20,
            memory_mib: 8192,
            instances: 10,
        };
        let over = budget::over_suspend_threshold(&budget, usage);
        assert_eq!(over_reason(&over), "vcpus 100%, instances 100% of budget");
    }
}
