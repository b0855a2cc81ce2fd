//! Security Hub findings of decided launches (issue 24, point 1), when
//! `GUARD_SECURITY_HUB` is on: `FAILED` for each check that counts,
//! `SUPPRESSED` for each one an exception covers
//! ([`shared::findings::lifecycle::found`]).
//!
//! A launch decision never waits on Security Hub: the findings are built
//! once the lifecycle action is completed, and the invocation's findings are
//! imported together (⌈n/100⌉ calls for a batch's n), after every completion
//! and alert. An import that fails is logged; it changes no decision, no
//! completion and no answer. The instance's state change or the next sweep
//! brings the finding up to date (instance-audit archives it when the
//! abandoned instance terminates).

use shared::alerts::{Alert, Severity};
use shared::assess::Decided;
use shared::deadline::Deadline;
use shared::findings::asff::{AsffFinding, Context, Subject};
use shared::findings::lifecycle::{self, Judged};
use shared::ports::{FindingsPublish, Ports};

use super::LaunchGuard;
use super::reserves::CLOSING;
use super::stages::Finished;
use crate::alerts::DecidedLaunch;

/// The recommendation of a finding no alert speaks for: an exempted
/// violation, or a budget denial on a group the guard already suspended.
const NO_ALERT_ADVICE: &str = "see the guard's alerts for the cluster; an exempted check is \
     applied again when its exception ends (GUARD_CHECK_EXCEPTIONS)";

impl<P: Ports> LaunchGuard<'_, P> {
    /// The findings of one completed launch, with the severity, advice and
    /// decision of its alert (`decision`). None with Security Hub off, or
    /// when the event names no account or region (a finding must name both).
    pub(super) fn launch_findings(
        &self,
        launch: DecidedLaunch<'_>,
        decided: &Decided,
        decision: Option<&Alert>,
    ) -> Vec<AsffFinding> {
        let verdict = &decided.verdict;
        if !self.policy.security_hub || (verdict.findings.is_empty() && verdict.exempted.is_empty())
        {
            return Vec::new();
        }
        let (Some(account), Some(region)) = (
            launch.origin.account.as_deref(),
            launch.origin.region.as_deref(),
        ) else {
            tracing::warn!(instance_id = %launch.action.instance_id, "the event names no account or region: no Security Hub finding");
            return Vec::new();
        };
        let subject = Subject {
            account,
            region,
            cluster: &self.policy.cluster,
            instance_id: &launch.action.instance_id,
            group: Some(&launch.action.group),
        };
        let context = match decision {
            Some(alert) => Context {
                decision: &alert.decision,
                mode: self.policy.mode,
                severity: alert.severity,
                advice: &alert.advice,
                now: launch.now,
            },
            None => Context {
                decision: verdict.result.as_str(),
                mode: self.policy.mode,
                // A violation is a failed control, exempted or not: the
                // exception suppresses it, it does not pass it.
                severity: Severity::Warning,
                advice: NO_ALERT_ADVICE,
                now: launch.now,
            },
        };
        let judged = Judged {
            subject,
            findings: &verdict.findings,
            exempted: &verdict.exempted,
            context,
        };
        lifecycle::found(self.policy, &judged)
    }

    /// Imports the findings of the invocation's launches, until the closing
    /// reserve; a failure or a refusal is logged and changes nothing else.
    pub(super) async fn import_findings(&self, finished: &[Finished], deadline: Deadline) {
        let findings: Vec<AsffFinding> = finished
            .iter()
            .flat_map(|launch| launch.findings.iter().cloned())
            .collect();
        if findings.is_empty() {
            return;
        }
        let import = self.aws.findings().import(&findings);
        match deadline.run(CLOSING, import).await {
            Some(Ok(imported)) if imported.is_complete() => {
                tracing::info!(
                    findings = imported.succeeded,
                    calls = imported.calls,
                    "findings imported to Security Hub"
                );
            }
            Some(Ok(imported)) => {
                let failed: Vec<&str> = imported.failed.iter().map(|f| f.code.as_str()).collect();
                tracing::error!(
                    succeeded = imported.succeeded,
                    ?failed,
                    "Security Hub refused findings"
                );
            }
            Some(Err(err)) => {
                tracing::error!(%err, "findings could not be imported to Security Hub")
            }
            None => tracing::warn!(
                findings = findings.len(),
                "findings not imported before the deadline"
            ),
        }
    }
}
