//! Audit mode is the off switch (SPEC §7): in audit mode the resume step
//! hands over instead — what the guard made in enforce mode is undone
//! ([`shared::off_switch`]) and alerted once; once nothing is left, a run
//! changes nothing and alerts nothing.

use std::time::Duration;

use shared::alerts::{HandOver, audit_handover};
use shared::cache::TtlCache;
use shared::launch_breaker;
use shared::off_switch;
use shared::ports::Ports;

use super::{BudgetGuard, Measurement};
use crate::response::LaunchBreakerSummary;

/// How long a group whose guard hook was seen not to abandon is not read
/// again: as long as the measurement trusts a group's hooks, so that an
/// audit run does not read every group's hooks every minute.
const SETTLED_TTL: Duration = Duration::from_secs(600);

/// The groups whose guard hook is known not to abandon.
pub(super) fn settled_hooks() -> TtlCache<()> {
    TtlCache::new(1024, SETTLED_TTL)
}

impl<P: Ports> BudgetGuard<'_, P> {
    /// Undoes what the guard made on the measured groups: its suspensions and
    /// clamps, and its hooks' `ABANDON`. Alerts what it undid, once; what it
    /// could not undo is alerted once per condition and retried every run.
    pub(super) async fn hand_over(
        &self,
        measured: &Measurement,
        breaker: &mut LaunchBreakerSummary,
    ) -> HandOver {
        let unsettled: Vec<String> = measured
            .groups()
            .iter()
            .filter(|g| self.settled_hooks.get(&g.name).is_none())
            .map(|g| g.name.clone())
            .collect();
        let released = off_switch::hand_over(
            self.ports.groups(),
            measured.groups(),
            &unsettled,
            self.policy,
            self.now(),
        )
        .await;
        for group in &released.hooks_settled {
            self.settled_hooks.insert(group, ());
        }
        let mut done = released.done;
        // The launch breaker is the guard's too: a failed delete is left,
        // alerted once and retried every run like the groups' leftovers.
        let removed = self.remove_breaker().await;
        done.left.extend(
            removed
                .failed
                .iter()
                .map(|f| format!("launch breaker on {f}")),
        );
        let left_is_new = self.first_time(|a| &mut a.handover_left, &done.left);
        if done.changed_anything() || !removed.changed.is_empty() || left_is_new {
            let mut alert = audit_handover(self.policy, self.now(), "budget-guard", &done);
            if !removed.is_empty() {
                launch_breaker::annotate_removed(&mut alert, &removed);
            }
            self.publish(&alert).await;
        }
        breaker.removed = removed.changed;
        breaker.failed.extend(removed.failed);
        done
    }
}
