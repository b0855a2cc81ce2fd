//! The scheduled sweep: every cluster instance audited, remediations within
//! the per-sweep limit and the hourly cap, one metrics call and one summary
//! alert.

use shared::audit::gather::{self, Audited};
use shared::audit::{InstanceAudit, Plan, Remediation, RemediationWindow, Remedy, SweepReport};
use shared::facts::InstanceFacts;
use shared::lifecycle::Origin;
use shared::ports::{Metric, MetricUnit, MetricsPublish};

use super::{Auditor, HandlerError};
use crate::alerts;
use crate::limits::MAX_REMEDIATIONS_PER_SWEEP;
use crate::response::SweepSummary;
use shared::ports::Ports;

/// What limits the sweep's remediations: its own count, and the hour's.
#[derive(Debug, Default)]
struct Limits {
    /// Remediations this sweep attempted.
    attempts: usize,
    /// The cluster's remediations of the last hour (or why they could not be
    /// counted), read once, at the first remediation the sweep plans.
    window: Option<Result<RemediationWindow, String>>,
}

impl<P: Ports> Auditor<'_, P> {
    /// Audits every cluster instance, remediates within the per-sweep limit,
    /// publishes `NonCompliantInstances` and one summary alert.
    pub(super) async fn sweep(&self, origin: &Origin) -> Result<SweepSummary, HandlerError> {
        let (policy, ports) = (self.policy, self.ports);
        let read = gather::read_audit(
            policy,
            ports.instances(),
            ports.images(),
            ports.groups(),
            self.now(),
        )
        .await
        .map_err(|error| HandlerError::Sweep { error })?;
        let report = self.sweep_instances(read.audits()).await.finish();
        self.publish_sweep_metrics(&report).await;
        let alert = alerts::sweep_summary(policy, self.now(), origin, &report);
        self.publish(&alert).await;
        tracing::info!(
            trigger = "sweep",
            instances = report.instances,
            non_compliant = report.non_compliant,
            remediated = report.remediated.len(),
            failed = report.failed.len(),
            deferred = report.deferred,
            unchecked = report.unchecked.len(),
            mode = %policy.mode,
            "cluster swept"
        );
        Ok(SweepSummary::new(policy.mode, report))
    }

    /// Counts every audited instance into the report and makes the
    /// remediations the plans call for, within the limits.
    async fn sweep_instances(&self, audited: impl Iterator<Item = Audited>) -> SweepReport {
        let mut report = SweepReport::default();
        let mut limits = Limits::default();
        for Audited { instance, audit } in audited {
            let audit = match audit {
                Ok(audit) => audit,
                Err(reason) => {
                    report.add_unchecked(&instance.instance_id, reason);
                    continue;
                }
            };
            report.add(&instance, &audit);
            if let Plan::Remediate(remedy) = Plan::for_audit(self.policy, &audit) {
                self.sweep_remediation(&mut report, &mut limits, &remedy, &instance, &audit)
                    .await;
            }
        }
        report
    }

    /// One planned remediation: found done, deferred, capped, or made (and
    /// counted as made or failed).
    async fn sweep_remediation(
        &self,
        report: &mut SweepReport,
        limits: &mut Limits,
        remedy: &Remedy,
        instance: &InstanceFacts,
        audit: &InstanceAudit,
    ) {
        if remedy.is_done(instance) {
            report.already_remediated = report.already_remediated.saturating_add(1);
            return;
        }
        if !remedy.applies_now(instance) || limits.attempts >= MAX_REMEDIATIONS_PER_SWEEP {
            report.deferred = report.deferred.saturating_add(1);
            return;
        }
        let window = match limits.window.take() {
            Some(window) => window,
            None => self.window().await.map_err(|err| err.to_string()),
        };
        let record = |error| Remediation {
            instance_id: instance.instance_id.clone(),
            action: remedy.as_str(),
            error,
        };
        let counted = match limits.window.insert(window) {
            Ok(counted) => counted,
            Err(reason) => {
                report.failed.push(record(Some(reason.clone())));
                return;
            }
        };
        if counted.is_full() {
            report.capped = report.capped.saturating_add(1);
            return;
        }
        counted.add();
        limits.attempts = limits.attempts.saturating_add(1);
        match self.remediate(remedy, instance, audit).await {
            Ok(()) => report.remediated.push(record(None)),
            Err(err) => report.failed.push(record(Some(err.to_string()))),
        }
    }

    /// `NonCompliantInstances` and `RemediatedInstances`, in one call; a
    /// failure is logged and does not stop the sweep.
    async fn publish_sweep_metrics(&self, report: &SweepReport) {
        let metrics = [
            Metric {
                name: "NonCompliantInstances",
                value: count(report.non_compliant),
                unit: MetricUnit::Count,
            },
            Metric {
                name: "RemediatedInstances",
                value: count(report.remediated.len()),
                unit: MetricUnit::Count,
            },
        ];
        let published = self
            .ports
            .metrics()
            .put_metrics(&self.policy.cluster, &metrics)
            .await;
        if let Err(err) = published {
            tracing::error!(%err, "sweep metrics could not be published");
        }
    }
}

/// Metric values are counts far below 2^52: exact as `f64`.
fn count(n: usize) -> f64 {
    u32::try_from(n).map(f64::from).unwrap_or(f64::MAX)
}
