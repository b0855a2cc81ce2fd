//! Lifting the guard's suspensions safely, or saying what would be lifted.

use std::collections::BTreeSet;
use std::time::SystemTime;

use shared::budget::{self, Usage};
use shared::facts::GroupFacts;
use shared::policy::{BudgetPolicy, Mode};
use shared::ports::AlarmRead;
use shared::suspension::{self, ResumePlan, SuspensionRecord};

use super::{BudgetGuard, Changes, HandlerError, Measurement};
use crate::alerts;
use shared::ports::Ports;

impl<P: Ports> BudgetGuard<'_, P> {
    /// Lifts guard suspensions, group by group, while usage plus what the
    /// groups resumed so far and this one will launch at once stays below the
    /// resume threshold, and no alarm that triggered it fires. In audit mode
    /// only says (once) what it would lift.
    pub(super) async fn resume(
        &self,
        measured: &Measurement,
        outcome: &mut Changes,
    ) -> Result<(), HandlerError> {
        let firing = self.firing_alarms(measured.groups()).await?;
        let now = self.now();
        let fits = headroom(&self.policy.budget, measured);
        if self.policy.mode == Mode::Audit {
            outcome.would_resume = self.would_resume(measured, now, &firing, fits).await;
            return Ok(());
        }
        let groups = self.ports.groups();
        let report = suspension::resume(groups, measured.groups(), now, &firing, fits).await;
        if !report.changed.is_empty() {
            let alert = alerts::scale_out_resumed(self.policy, self.now(), &report, measured.usage);
            self.publish(&alert).await;
        }
        outcome.resumed = report;
        Ok(())
    }

    /// The groups a resume would lift; alerted the first time a group is
    /// among them.
    async fn would_resume(
        &self,
        measured: &Measurement,
        now: SystemTime,
        firing: &[String],
        mut fits: impl FnMut(&GroupFacts) -> Result<(), String>,
    ) -> Vec<String> {
        let would: Vec<String> = measured
            .groups()
            .iter()
            .filter(|g| {
                matches!(
                    suspension::plan_resume(g, now, firing, &mut fits),
                    ResumePlan::Resume { .. }
                )
            })
            .map(|g| g.name.clone())
            .collect();
        if self.first_time(|a| &mut a.would_resume, &would) {
            let alert =
                alerts::would_resume_scale_out(self.policy, self.now(), &would, measured.usage);
            self.publish(&alert).await;
        }
        would
    }

    /// The alarms named by the groups' suspension records that are in
    /// `ALARM` now (none asked when no record names one). A budget alarm
    /// never holds a resume, also when a record written before this rule
    /// names one: the guard's own measurement decides, and anyone who may
    /// put metric data could keep the alarm in `ALARM`.
    async fn firing_alarms(&self, groups: &[GroupFacts]) -> Result<Vec<String>, HandlerError> {
        let alarms: Vec<String> = groups
            .iter()
            .filter_map(SuspensionRecord::of)
            .flat_map(|r| r.alarms)
            .filter(|alarm| !self.policy.alarms.is_budget_alarm(alarm))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if alarms.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.ports.metrics().alarms_in_alarm(&alarms).await?)
    }
}

/// Whether one more group's resume fits: the usage measured, plus what the
/// groups it allowed so far and this one will launch at once, stays below
/// the resume threshold of every budget. Else why it is held.
fn headroom<'m>(
    budget: &'m BudgetPolicy,
    measured: &'m Measurement,
) -> impl FnMut(&GroupFacts) -> Result<(), String> + 'm {
    let mut committed = measured.usage;
    move |group| {
        let demand = budget::resume_demand(group, &measured.state, &measured.specs);
        let total = committed
            .checked_add(demand)
            .ok_or("cluster usage overflows")?;
        if budget::below_resume_threshold(budget, total) {
            committed = total;
            return Ok(());
        }
        Err(hold_reason(budget, total, demand))
    }
}

/// Why a group stays suspended: usage with its demand is not below the
/// resume threshold.
fn hold_reason(budget: &BudgetPolicy, total: Usage, demand: Usage) -> String {
    let over: Vec<String> = budget::dimensions(budget, total)
        .into_iter()
        .filter(|d| d.at_or_above(budget.resume_below_percent))
        .map(|d| format!("{} {} of {} ({:.1}%)", d.name, d.used, d.max, d.percent()))
        .collect();
    match demand.instances {
        0 => "usage is not yet below the resume threshold".to_owned(),
        n => format!(
            "it would launch {n} instance(s) at once, taking the cluster to {}: not below {}%",
            over.join(", "),
            budget.resume_below_percent
        ),
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use shared::checks::fixtures::usage;

    use super::*;

    fn budget() -> BudgetPolicy {
        BudgetPolicy {
            max_vcpus: Some(64),
            max_memory_mib: None,
            max_instances: Some(100),
            suspend_at_percent: 100,
            resume_below_percent: 90,
            clamp_max_size: false,
        }
    }

    #[test]
    fn a_hold_names_what_the_group_would_launch_and_the_budgets_it_would_pass() {
        assert_eq!(
            hold_reason(&budget(), usage(72, 9), usage(16, 2)),
            "it would launch 2 instance(s) at once, taking the cluster to vcpus 72 of 64 (112.5%): not below 90%"
        );
    }

    #[test]
    fn a_hold_without_demand_says_usage_is_still_too_high() {
        assert_eq!(
            hold_reason(&budget(), usage(60, 8), usage(0, 0)),
            "usage is not yet below the resume threshold"
        );
    }
}
