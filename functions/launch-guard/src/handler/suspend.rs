//! A budget denial suspends scale-out (`Launch`) on the cluster's groups, so
//! that they do not loop launch → abandon while the cluster is at its
//! budget. The suspension itself, its record and its resume are
//! `shared::suspension`'s; this is when launch-guard asks for it, on which
//! groups, and within what time.

use std::time::Duration;

use shared::assess::{Decided, LATE};
use shared::deadline::Deadline;
use shared::facts::GroupFacts;
use shared::lifecycle::LifecycleAction;
use shared::ports::Ports;
use shared::suspension::{self, OnIncomplete, SuspensionRecord, SuspensionReport};

use super::LaunchGuard;

impl<P: Ports> LaunchGuard<'_, P> {
    /// On a budget denial, the launch's own group (suspended before the
    /// ABANDON completes, so that it does not launch a replacement in
    /// between) and the cluster's other groups (after it, all at once).
    /// `None` when the launch is no budget denial.
    pub(super) fn groups_to_suspend_for_denial(
        &self,
        action: &LifecycleAction,
        decided: &Decided,
    ) -> (Option<Vec<GroupFacts>>, Vec<GroupFacts>) {
        match &decided.admission {
            Some(admission) if decided.denied_for_budget() => {
                let (own, others) = admission
                    .groups
                    .iter()
                    .cloned()
                    .partition(|g| g.name == action.group);
                (Some(own), others)
            }
            _ => (None, Vec::new()),
        }
    }

    /// Suspends `Launch` on `groups` (all at once) after the denial of
    /// `action`; stops `reserve` before the deadline, reporting what was not
    /// done as failed.
    pub(super) async fn suspend_groups_for_denial(
        &self,
        action: &LifecycleAction,
        groups: &[GroupFacts],
        deadline: Deadline,
        reserve: Duration,
    ) -> SuspensionReport {
        if groups.is_empty() {
            return SuspensionReport::default();
        }
        let record = SuspensionRecord::new(
            format!("launch of {} denied for budget", action.instance_id),
            "budget_denial",
            (self.clock)(),
            Vec::new(),
        );
        // A group with the guard's record but a running Launch may be in the
        // middle of budget-guard's resume: it is left alone (see
        // shared::suspension), and launches stay denied meanwhile. `groups`
        // is the decision's read, older than an earlier denial's suspension
        // in the same batch: each group is read again before it is written,
        // so that it is suspended (and alerted) once and its record merged.
        let suspended = suspension::suspend_groups(
            self.aws.groups(),
            groups,
            self.policy.budget.clamp_max_size,
            &record,
            OnIncomplete::Leave,
            self.policy.record_key.as_ref(),
        );
        let report = deadline
            .run(reserve, suspended)
            .await
            .unwrap_or_else(|| late(groups));
        tracing::info!(changed = ?report.changed, failed = ?report.failed, "scale-out suspension after budget denial");
        report
    }
}

/// A suspension that ran out of time: every group failed.
fn late(groups: &[GroupFacts]) -> SuspensionReport {
    SuspensionReport {
        failed: groups
            .iter()
            .map(|g| (g.name.clone(), LATE.to_owned()))
            .collect(),
        ..SuspensionReport::default()
    }
}

/// Adds a later suspension pass to the first.
pub(super) fn merge(report: &mut SuspensionReport, rest: SuspensionReport) {
    report.changed.extend(rest.changed);
    report.unchanged.extend(rest.unchanged);
    report.failed.extend(rest.failed);
    report.notes.extend(rest.notes);
}
