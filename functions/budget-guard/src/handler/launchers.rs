//! The launch breaker on launcher roles (issue 23, scenario 4;
//! [`shared::launch_breaker`]): put on a budget breach, removed when the
//! groups' resume would be (the same hysteresis), and by the hand-over to
//! audit mode. In audit mode only said.

use shared::alerts::Alert;
use shared::budget;
use shared::checks::CheckName;
use shared::launch_breaker::{self, BreakerReport, LaunchBreaker};
use shared::ports::{LauncherRoles, Ports};

use super::{BudgetGuard, Changes, Measurement};
use crate::response::LaunchBreakerSummary;

/// What this execution environment knows of the breaker: a new environment
/// does not know, so it removes once (a delete of a missing policy is free
/// of effect) before it trusts "off". Trusting it is sound because only
/// budget-guard puts the breaker and the template reserves it one
/// concurrent execution: no other environment can put it meanwhile (the
/// hand-over and the stack's delete only remove it).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum BreakerMemory {
    #[default]
    Unknown,
    On,
    Off,
}

impl<P: Ports> BudgetGuard<'_, P> {
    fn launch_breaker(&self) -> LaunchBreaker {
        LaunchBreaker::of(self.policy, self.ports.launchers().region())
    }

    fn breaker_memory(&self) -> BreakerMemory {
        self.alerted
            .lock()
            .map(|alerted| alerted.launch_breaker)
            .unwrap_or_default()
    }

    /// Sets what is known of the breaker; returns what was.
    fn remember_breaker(&self, memory: BreakerMemory) -> BreakerMemory {
        match self.alerted.lock() {
            Ok(mut alerted) => std::mem::replace(&mut alerted.launch_breaker, memory),
            Err(_) => BreakerMemory::Unknown,
        }
    }

    /// A budget breach: puts the breaker on every launcher role (enforce),
    /// or notes the roles it would block (audit). `outcome.breaker_news`
    /// says whether the suspension alert should go out for the breaker alone
    /// (it was not known to be on, or a role failed).
    pub(super) async fn break_launchers(&self, checks: &[CheckName], outcome: &mut Changes) {
        let roles = &self.policy.launcher_role_arns;
        if roles.is_empty() {
            return;
        }
        if !self.enforces(checks) {
            outcome.launch_breaker.would_block = roles.iter().cloned().collect();
            return;
        }
        let report =
            launch_breaker::put_breakers(self.ports.launchers(), roles, &self.launch_breaker())
                .await;
        let was = self.remember_breaker(BreakerMemory::On);
        outcome.breaker_news = was != BreakerMemory::On || !report.failed.is_empty();
        outcome.launch_breaker.put = report.changed;
        outcome.launch_breaker.failed = report.failed;
    }

    /// Removes the breaker once no guard suspension is held and usage is
    /// below the resume threshold of every budget: when the groups' resume
    /// has nothing left to hold. Skipped while it is known to be off.
    pub(super) async fn mend_launchers(
        &self,
        measured: &Measurement,
        groups_held: bool,
    ) -> BreakerReport {
        let below = budget::below_resume_threshold(&self.policy.budget, measured.usage);
        if !below || groups_held {
            return BreakerReport::default();
        }
        self.remove_breaker().await
    }

    /// Deletes the breaker from every launcher role, unless it is known to
    /// be off; once every delete succeeded, it is.
    pub(super) async fn remove_breaker(&self) -> BreakerReport {
        let roles = &self.policy.launcher_role_arns;
        if roles.is_empty() || self.breaker_memory() == BreakerMemory::Off {
            return BreakerReport::default();
        }
        let name = self.launch_breaker().name;
        let report = launch_breaker::remove_breakers(self.ports.launchers(), roles, &name).await;
        if report.failed.is_empty() {
            self.remember_breaker(BreakerMemory::Off);
        }
        report
    }

    /// Adds to a suspension alert what the breaker step did.
    pub(super) fn annotate_suspension(&self, alert: &mut Alert, summary: &LaunchBreakerSummary) {
        if self.policy.launcher_role_arns.is_empty() {
            return;
        }
        let breaker = self.launch_breaker();
        if !summary.would_block.is_empty() {
            let roles = summary.would_block.iter().cloned().collect();
            launch_breaker::annotate_would_block(alert, &breaker.name, &roles);
            return;
        }
        let report = BreakerReport {
            changed: summary.put.clone(),
            failed: summary.failed.clone(),
        };
        if !report.is_empty() {
            launch_breaker::annotate_put(alert, &breaker, &report);
        }
    }
}

/// The removal's part of a run's summary.
pub(super) fn removed(summary: &mut LaunchBreakerSummary, report: BreakerReport) {
    summary.removed = report.changed;
    summary.failed.extend(report.failed);
}
