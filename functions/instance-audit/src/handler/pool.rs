//! The launcher-pool limit on the event path (`GUARD_MAX_REMEDIATIONS_PER_POOL`,
//! see [`shared::audit::LauncherPool`]): a pool past its limit is held, not
//! remediated, so Karpenter's relaunch loop does not become a terminate loop.

use shared::audit::{
    InstanceAudit, LauncherPool, POOL_HELD_TAG, REMEDIATED_TAG, REMEDIATION_HELD_TAG,
    RemediationWindow, Remedy,
};
use shared::facts::InstanceFacts;
use shared::ports::{InstanceTag, Ports, TaggedInstancesRead};

use super::{Auditor, HandlerError, InstanceEvent};
use crate::alerts;

impl<P: Ports> Auditor<'_, P> {
    /// The remediation records of the last hour and the holds, in any state:
    /// one read for the cluster's cap and every pool's limit.
    pub(super) async fn records(&self) -> Result<Vec<InstanceFacts>, HandlerError> {
        self.ports
            .instances()
            .tagged_instances(&[REMEDIATED_TAG, REMEDIATION_HELD_TAG, POOL_HELD_TAG])
            .await
            .map_err(|error| HandlerError::Cap { error })
    }

    /// Holds the remediation of a launcher pool's instance whose pool reached
    /// its limit: records the hold on the instance and alerts the pool's first
    /// hold of the window (`launcher_loop`). Returns why; `None` when the
    /// instance has no pool or its pool has room.
    pub(super) async fn hold_pool(
        &self,
        event: &InstanceEvent<'_>,
        instance: &InstanceFacts,
        audit: &InstanceAudit,
        remedy: &Remedy,
        records: &[InstanceFacts],
    ) -> Option<String> {
        let pool = LauncherPool::of(&audit.membership, instance)?;
        let window = pool
            .window(self.policy, records, self.now())
            .filter(RemediationWindow::is_full)?;
        let (value, alert_now) = window.hold(self.now());
        let recorded = self
            .ports
            .instances()
            .tag_instances(&[&instance.instance_id], &[(POOL_HELD_TAG, &value)])
            .await;
        if let Err(err) = recorded {
            tracing::warn!(%err, instance_id = %instance.instance_id, "the pool's hold could not be recorded");
        }
        if alert_now {
            let about = self.about(event, instance, audit);
            let alert = alerts::launcher_loop(&about, remedy, &pool, &window);
            self.publish(&alert).await;
        }
        Some(format!(
            "{} instances of {} remediated in the last hour reach GUARD_MAX_REMEDIATIONS_PER_POOL ({}): held so that the launcher's relaunches do not become a loop",
            window.remediated,
            pool.label(),
            window.cap
        ))
    }
}
