//! Security Hub findings of audited instances (issue 24, point 1), when
//! `GUARD_SECURITY_HUB` is on. Every step is best effort: a Security Hub
//! failure is logged and changes no audit, remediation, alert or answer.
//!
//! - An instance event imports the instance's findings at the event that
//!   alerts them (once), `FAILED` and `SUPPRESSED`
//!   ([`shared::findings::lifecycle::found`]).
//! - The sweep reads the cluster's active findings once and imports only
//!   what changed ([`lifecycle::reconcile`]): new findings, changed ones,
//!   week-old ones, and the archive of those it no longer finds (the
//!   instance fixed, or gone). A steady cluster costs one `GetFindings` a
//!   sweep and no import; n findings to import cost ⌈n/100⌉ calls.
//! - A terminated instance's active findings are archived at its state
//!   change: one `GetFindings` for a direct event's instance, one for all
//!   the terminations of a queue's batch.

use std::collections::BTreeSet;

use shared::alerts::{Alert, Severity};
use shared::audit::Plan;
use shared::findings::asff::{AsffFinding, Context, Subject};
use shared::findings::lifecycle::{self, Judged, Reconciled, Scope};
use shared::lifecycle::Origin;
use shared::ports::{FindingsPublish, Imported, Ports};

use super::{Auditor, InstanceEvent};
use crate::alerts::{self, AuditedInstance};
use crate::response::{FindingsReport, Outcome, Summary};

/// The recommendation of an instance whose only violations are exempted.
const EXEMPTED_ADVICE: &str = "no action while the exception is in force; the check applies again when it ends \
     (GUARD_CHECK_EXCEPTIONS)";

/// The alert a sweep's `plan` for the instance stands for: its severity,
/// advice and decision go into the instance's findings.
pub(super) fn plan_alert(about: &AuditedInstance<'_>, plan: &Plan) -> Option<Alert> {
    match plan {
        Plan::Report(why) => Some(alerts::non_compliant(about, *why)),
        Plan::Remediate(remedy) => Some(alerts::remediated(about, remedy)),
        Plan::Compliant => None,
    }
}

/// The findings of one audited instance, with the severity, advice and
/// decision of its `alert` (none: its violations are all exempted); none
/// when the event names no account or region (a finding must name both).
pub(super) fn found_on(about: &AuditedInstance<'_>, alert: Option<&Alert>) -> Vec<AsffFinding> {
    let Some(scope) = scope_of(about.origin) else {
        return Vec::new();
    };
    let context = context_of(alert, about);
    let judged = Judged {
        subject: Subject {
            account: scope.account,
            region: scope.region,
            cluster: &about.policy.cluster,
            instance_id: &about.instance.instance_id,
            group: about.audit.membership.group(),
        },
        findings: &about.audit.findings,
        exempted: &about.audit.exempted,
        context,
    };
    lifecycle::found(about.policy, &judged)
}

/// The finding's context from the alert, or for exempted violations alone.
fn context_of<'a>(alert: Option<&'a Alert>, about: &AuditedInstance<'_>) -> Context<'a> {
    match alert {
        Some(alert) => Context {
            decision: &alert.decision,
            mode: about.policy.mode,
            severity: alert.severity,
            advice: &alert.advice,
            now: about.now,
        },
        None => Context {
            decision: "none",
            mode: about.policy.mode,
            // A violation is a failed control, exempted or not.
            severity: Severity::Warning,
            advice: EXEMPTED_ADVICE,
            now: about.now,
        },
    }
}

/// The account and region the event came from: the only ones whose
/// findings this function may import.
fn scope_of(origin: &Origin) -> Option<Scope<'_>> {
    match (origin.account.as_deref(), origin.region.as_deref()) {
        (Some(account), Some(region)) => Some(Scope { account, region }),
        _ => {
            tracing::warn!("the event names no account or region: no Security Hub finding");
            None
        }
    }
}

impl<P: Ports> Auditor<'_, P> {
    /// Imports the findings of the instance an event alerted on (`alert`).
    pub(super) async fn import_instance_findings(
        &self,
        about: &AuditedInstance<'_>,
        alert: &Alert,
    ) {
        if !self.policy.security_hub {
            return;
        }
        let findings = found_on(about, Some(alert));
        if !findings.is_empty() {
            self.import(&findings).await;
        }
    }

    /// The sweep's findings against the cluster's active ones: one read, the
    /// changes imported. `None` with Security Hub off, or when the active
    /// findings could not be read (nothing is imported then: the next sweep
    /// does it all).
    pub(super) async fn sweep_findings(
        &self,
        origin: &Origin,
        found: Vec<AsffFinding>,
        unchecked: &BTreeSet<String>,
    ) -> Option<FindingsReport> {
        if !self.policy.security_hub {
            return None;
        }
        let scope = scope_of(origin)?;
        let active = match self
            .ports
            .findings()
            .active(&self.policy.cluster, None)
            .await
        {
            Ok(active) => active,
            Err(err) => {
                tracing::error!(%err, "the cluster's Security Hub findings could not be read: none imported this sweep");
                return None;
            }
        };
        let reconciled = lifecycle::reconcile(found, active, scope, unchecked, self.now());
        let imported = self.import(&reconciled.import).await;
        Some(report(&reconciled, imported.as_ref()))
    }

    /// Archives the active findings of terminated instances: one read for
    /// them all (of the one instance when there is one), one import.
    pub(super) async fn retire(&self, events: &[InstanceEvent<'_>]) -> Vec<Summary> {
        let summaries = |reason: &str| -> Vec<Summary> {
            events
                .iter()
                .map(|event| self.terminated(event).because(reason))
                .collect()
        };
        let Some(first) = events.first() else {
            return Vec::new();
        };
        if !self.policy.security_hub {
            return summaries("terminated: nothing to audit");
        }
        let Some(scope) = scope_of(first.origin) else {
            return summaries("terminated: the event names no account or region");
        };
        let one = match events {
            [only] => Some(only.instance_id),
            _ => None,
        };
        let active = match self
            .ports
            .findings()
            .active(&self.policy.cluster, one)
            .await
        {
            Ok(active) => active,
            Err(err) => {
                tracing::error!(%err, "Security Hub findings could not be read: the next sweep archives them");
                return summaries("terminated: its findings are left to the next sweep");
            }
        };
        let now = self.now();
        let mut archived = Vec::new();
        let mut summaries = Vec::with_capacity(events.len());
        for event in events {
            let retired = lifecycle::retired(&active, scope, event.instance_id, now);
            let reason = format!(
                "terminated: {} Security Hub findings archived",
                retired.len()
            );
            summaries.push(self.terminated(event).because(reason));
            archived.extend(retired);
        }
        self.import(&archived).await;
        summaries
    }

    pub(super) fn terminated(&self, event: &InstanceEvent<'_>) -> Summary {
        Summary::new(
            event.trigger,
            event.instance_id,
            self.policy.mode,
            Outcome::Terminated,
        )
    }

    /// Imports `findings` (no call for none); a failure or a refusal is
    /// logged and returned as it is.
    async fn import(&self, findings: &[AsffFinding]) -> Option<Imported> {
        if findings.is_empty() {
            return Some(Imported::default());
        }
        match self.ports.findings().import(findings).await {
            Ok(imported) => {
                if !imported.is_complete() {
                    let failed: Vec<&str> =
                        imported.failed.iter().map(|f| f.code.as_str()).collect();
                    tracing::error!(
                        succeeded = imported.succeeded,
                        ?failed,
                        "Security Hub refused findings"
                    );
                }
                Some(imported)
            }
            Err(err) => {
                tracing::error!(%err, findings = findings.len(), "findings could not be imported to Security Hub");
                None
            }
        }
    }
}

/// The sweep summary's account of its findings.
fn report(reconciled: &Reconciled, imported: Option<&Imported>) -> FindingsReport {
    FindingsReport {
        created: reconciled.created,
        updated: reconciled.updated,
        refreshed: reconciled.refreshed,
        unchanged: reconciled.unchanged,
        archived: reconciled.archived,
        failed: imported.map_or(reconciled.import.len(), |i| i.failed.len()),
        calls: imported.map_or(0, |i| i.calls),
    }
}
