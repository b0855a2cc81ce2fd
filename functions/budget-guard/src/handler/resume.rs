//! Lifting the guard's suspensions safely; in audit mode, the off switch
//! (`handler/off_switch.rs`) instead.

use std::collections::BTreeSet;

use shared::budget::{self, Usage};
use shared::facts::GroupFacts;
use shared::policy::{BudgetPolicy, Mode};
use shared::ports::AlarmRead;
use shared::suspension::{self, SuspensionRecord};

use shared::launch_breaker;

use super::demand::Launches;
use super::launchers;
use super::{BudgetGuard, Changes, HandlerError, Measurement};
use crate::alerts;
use shared::ports::Ports;

impl<P: Ports> BudgetGuard<'_, P> {
    /// Lifts guard suspensions, group by group, while usage plus what the
    /// groups resumed so far and this one will launch at once stays below the
    /// resume threshold, and no alarm that triggered it fires. In audit mode
    /// hands over: lifts every suspension the guard made, holding none.
    pub(super) async fn resume(
        &self,
        measured: &Measurement,
        outcome: &mut Changes,
    ) -> Result<(), HandlerError> {
        if self.policy.mode == Mode::Audit {
            outcome.handed_over = self.hand_over(measured, &mut outcome.launch_breaker).await;
            return Ok(());
        }
        let firing = self.firing_alarms(measured.groups()).await?;
        let now = self.now();
        let launches = self.launches(measured).await;
        let key = self.policy.record_key.as_ref();
        let mut headroom = headroom(&self.policy.budget, measured, &launches);
        let findable = self.policy.alarms.surge_alarm_prefix.is_some();
        let fits = |group: &GroupFacts| {
            match SuspensionRecord::of(group, key) {
            Some(record) if record.alarms.needs_surge_alarms() && !findable => Err(
                "its record knows its alarms only by digest, and without a surge alarm prefix (SurgeAlarmPrefix) they cannot be asked: lift it with `scaling-guard release` once the surge is over, or set the prefix again"
                    .to_owned(),
            ),
            _ => headroom(group),
        }
        };
        let groups = self.ports.groups();
        let report = suspension::resume(groups, measured.groups(), now, &firing, key, fits).await;
        let mended = self
            .mend_launchers(measured, !report.unchanged.is_empty())
            .await;
        if !report.changed.is_empty() || !mended.changed.is_empty() {
            let mut alert =
                alerts::scale_out_resumed(self.policy, self.now(), &report, measured.usage);
            if !mended.is_empty() {
                launch_breaker::annotate_removed(&mut alert, &mended);
            }
            self.publish(&alert).await;
        }
        launchers::removed(&mut outcome.launch_breaker, mended);
        outcome.resumed = report;
        Ok(())
    }

    /// The alarms the groups' suspension records wait for that are in
    /// `ALARM` now: those they name, asked by name (none asked when no record
    /// names one), and when a record knows some only by digest (a record too
    /// long for their names), every surge alarm in `ALARM`, asked by the
    /// surge prefix (only surge alarms are ever recorded). A budget alarm
    /// never holds a resume, also when a record written before this rule
    /// names one: the guard's own measurement decides, and anyone who may
    /// put metric data could keep the alarm in `ALARM`.
    async fn firing_alarms(&self, groups: &[GroupFacts]) -> Result<Vec<String>, HandlerError> {
        let key = self.policy.record_key.as_ref();
        let records: Vec<SuspensionRecord> = groups
            .iter()
            .filter_map(|g| SuspensionRecord::of(g, key))
            .collect();
        let trusted = |alarm: &String| !self.policy.alarms.is_budget_alarm(alarm);
        let named: Vec<String> = records
            .iter()
            .flat_map(|r| r.alarms.names().map(str::to_owned))
            .filter(trusted)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut firing = BTreeSet::new();
        if !named.is_empty() {
            firing.extend(self.ports.metrics().alarms_in_alarm(&named).await?);
        }
        let by_digest = records.iter().any(|r| r.alarms.needs_surge_alarms());
        if let Some(prefix) = self.policy.alarms.surge_alarm_prefix.as_deref()
            && by_digest
        {
            let surge = self.ports.metrics().alarms_in_alarm_with_prefix(prefix);
            firing.extend(surge.await?.into_iter().filter(trusted));
        }
        Ok(firing.into_iter().collect())
    }
}

/// Whether one more group's resume fits: the usage measured, plus what the
/// groups it allowed so far and this one will launch at once, stays below
/// the resume threshold of every budget. Else why it is held.
fn headroom<'m>(
    budget: &'m BudgetPolicy,
    measured: &'m Measurement,
    launches: &'m Launches,
) -> impl FnMut(&GroupFacts) -> Result<(), String> + 'm {
    let mut committed = measured.usage;
    move |group| {
        let demand = launches
            .demand(budget, group, measured)
            .map_err(|unknown| format!("what it would launch cannot be priced: {unknown}"))?;
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
    use shared::fixtures::usage;

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
