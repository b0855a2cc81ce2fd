//! The scheduled sweep: every cluster instance audited, remediations within
//! the per-sweep limit and the hourly cap, one metrics call and one summary
//! alert.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use shared::audit::gather::{self, Audited};
use shared::audit::{
    InstanceAudit, LauncherPool, Plan, Remediation, RemediationWindow, Remedy, SweepReport,
};
use shared::facts::InstanceFacts;
use shared::findings::asff::AsffFinding;
use shared::lifecycle::Origin;
use shared::policy::Policy;
use shared::ports::{Metric, MetricUnit, MetricsPublish};

use super::{Auditor, HandlerError, findings};
use crate::alerts::{self, AuditedInstance};
use crate::event::Trigger;
use crate::limits::MAX_REMEDIATIONS_PER_SWEEP;
use crate::response::SweepSummary;
use shared::ports::Ports;

/// The sweep's trigger, for what its findings say.
static SWEEP: Trigger = Trigger::Sweep;

/// What the sweep made of the cluster's instances.
#[derive(Debug, Default)]
struct Swept {
    report: SweepReport,
    /// The Security Hub findings of the instances (Security Hub on).
    found: Vec<AsffFinding>,
    /// The instances whose audit could not be made: their findings stand.
    unchecked: BTreeSet<String>,
}

/// What limits the sweep's remediations: its own count, and the hour's.
#[derive(Debug, Default)]
struct Limits {
    /// Remediations this sweep attempted.
    attempts: usize,
    /// The cluster's remediations of the last hour (or why they could not be
    /// counted), read once, at the first remediation the sweep plans.
    window: Option<Result<RemediationWindow, String>>,
    /// The records the window was counted from, for the launcher pools'.
    records: Vec<InstanceFacts>,
    /// Each launcher pool's window (`None`: no limit per pool), counted at
    /// the pool's first planned remediation.
    pools: BTreeMap<LauncherPool, Option<RemediationWindow>>,
}

impl Limits {
    /// Counts a remediation about to be made, in the sweep's and the hour's.
    fn count_attempt(&mut self) {
        self.attempts = self.attempts.saturating_add(1);
        if let Some(Ok(window)) = &mut self.window {
            window.add();
        }
    }

    /// Whether the instance's launcher pool has room for one more
    /// remediation (always, outside any pool or without a limit per pool);
    /// counts it in the pool's window when it has.
    fn pool_takes(
        &mut self,
        policy: &Policy,
        instance: &InstanceFacts,
        audit: &InstanceAudit,
        now: SystemTime,
    ) -> bool {
        let Some(pool) = LauncherPool::of(&audit.membership, instance) else {
            return true;
        };
        let records = &self.records;
        let window = self
            .pools
            .entry(pool)
            .or_insert_with_key(|pool| pool.window(policy, records, now));
        match window {
            Some(window) if window.is_full() => false,
            Some(window) => {
                window.add();
                true
            }
            None => true,
        }
    }
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
        let swept = self.sweep_instances(read.audits(), origin).await;
        let report = swept.report.finish();
        self.publish_sweep_metrics(&report).await;
        let alert = alerts::sweep_summary(policy, self.now(), origin, &report);
        self.publish(&alert).await;
        let security_hub = self
            .sweep_findings(origin, swept.found, &swept.unchecked)
            .await;
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
        let mut summary = SweepSummary::new(policy.mode, report);
        summary.security_hub = security_hub;
        Ok(summary)
    }

    /// Counts every audited instance into the report, makes the
    /// remediations the plans call for, within the limits, and (Security Hub
    /// on) builds each instance's findings.
    async fn sweep_instances(
        &self,
        audited: impl Iterator<Item = Audited>,
        origin: &Origin,
    ) -> Swept {
        let mut swept = Swept::default();
        let mut limits = Limits::default();
        for Audited { instance, audit } in audited {
            let audit = match audit {
                Ok(audit) => audit,
                Err(reason) => {
                    swept.report.add_unchecked(&instance.instance_id, reason);
                    swept.unchecked.insert(instance.instance_id);
                    continue;
                }
            };
            swept.report.add(&instance, &audit);
            let plan = Plan::for_audit(self.policy, &audit);
            if self.policy.security_hub {
                let about = AuditedInstance {
                    policy: self.policy,
                    now: self.now(),
                    trigger: &SWEEP,
                    origin,
                    instance: &instance,
                    audit: &audit,
                };
                let alert = findings::plan_alert(&about, &plan);
                swept
                    .found
                    .extend(findings::found_on(&about, alert.as_ref()));
            }
            if let Plan::Remediate(remedy) = plan {
                let report = &mut swept.report;
                self.sweep_remediation(report, &mut limits, &remedy, &instance, &audit)
                    .await;
            }
        }
        swept
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
        let record = |error| Remediation {
            instance_id: instance.instance_id.clone(),
            action: remedy.as_str(),
            error,
        };
        let room = match self.hour_has_room(limits).await {
            Ok(room) => room && limits.pool_takes(self.policy, instance, audit, self.now()),
            Err(reason) => {
                report.failed.push(record(Some(reason)));
                return;
            }
        };
        if !room {
            report.capped = report.capped.saturating_add(1);
            return;
        }
        limits.count_attempt();
        match self.remediate(remedy, instance, audit).await {
            Ok(()) => report.remediated.push(record(None)),
            Err(err) => report.failed.push(record(Some(err.to_string()))),
        }
    }

    /// Whether the hour's cap has room for one more remediation. The window
    /// is read at the sweep's first planned remediation (or why it could
    /// not be), with the records the launcher pools are counted from.
    async fn hour_has_room(&self, limits: &mut Limits) -> Result<bool, String> {
        let window = match limits.window.take() {
            Some(window) => window,
            None => match self.records().await {
                Ok(records) => {
                    let window = RemediationWindow::count(self.policy, &records, self.now());
                    limits.records = records;
                    Ok(window)
                }
                Err(err) => Err(err.to_string()),
            },
        };
        let room = window.as_ref().map(|w| !w.is_full()).map_err(Clone::clone);
        limits.window = Some(window);
        room
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
