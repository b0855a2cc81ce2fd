//! The finish stage: for each decided launch, suspend its own group on a
//! budget denial → complete the lifecycle action → suspend the cluster's
//! other groups → summarise → alert. What follows the completion must not
//! outlive the invocation.

use futures::future::join_all;
use shared::alerts::Alert;
use shared::assess::{Assessment, Decided};
use shared::deadline::Deadline;
use shared::decision::Decision;
use shared::findings::asff::AsffFinding;
use shared::ports::{Completion, Ports};
use shared::suspension::SuspensionReport;

use super::reserves::{CLOSING, COMPLETION, OTHER_GROUPS};
use super::stages::{Arrival, Finished, Recorded};
use super::suspend::merge;
use super::{HandlerError, LaunchGuard};
use crate::alerts::{self, DecidedLaunch};
use crate::response::Summary;

impl<P: Ports> LaunchGuard<'_, P> {
    /// Completions that suspend nothing go at once; then each budget denial,
    /// one after another, so that each suspends its group before its
    /// ABANDON and reads what the denial before it left. The launches keep
    /// their arrival order.
    pub(super) async fn finish_all(
        &self,
        launches: Vec<Recorded>,
        deadline: Deadline,
    ) -> Vec<Finished> {
        let (denials, others): (Vec<_>, Vec<_>) =
            launches.into_iter().partition(Recorded::denied_for_budget);
        let mut finished = join_all(others.into_iter().map(|l| self.finish(l, deadline))).await;
        for launch in denials {
            finished.push(self.finish(launch, deadline).await);
        }
        finished.sort_by_key(|launch| launch.arrival.place);
        finished
    }

    /// One launch's outcome: an ignored one's summary, a decided one
    /// finished, or why it has none.
    async fn finish(&self, launch: Recorded, deadline: Deadline) -> Finished {
        let Recorded {
            arrival,
            assessment,
        } = launch;
        let (outcome, findings) = match assessment {
            Err(err) => (Err(err), Vec::new()),
            Ok(Assessment::Ignored { reason }) => {
                let action = &arrival.action;
                let (id, group) = (action.instance_id.clone(), action.group.clone());
                (Ok(self.ignored(Some(id), Some(group), reason)), Vec::new())
            }
            Ok(Assessment::Decided(decided)) => {
                match self.finish_decided(&arrival, &decided, deadline).await {
                    Ok((summary, findings)) => (Ok(summary), findings),
                    Err(err) => (Err(err), Vec::new()),
                }
            }
        };
        Finished {
            arrival,
            outcome,
            findings,
        }
    }

    /// A decided launch: suspend its own group on a budget denial →
    /// complete → suspend the other groups → alert; with its Security Hub
    /// findings, imported later (`findings.rs`).
    async fn finish_decided(
        &self,
        arrival: &Arrival,
        decided: &Decided,
        deadline: Deadline,
    ) -> Result<(Summary, Vec<AsffFinding>), HandlerError> {
        let action = &arrival.action;
        let launch = DecidedLaunch {
            policy: self.policy,
            now: (self.clock)(),
            action,
            origin: &arrival.origin,
        };
        let (own, others) = self.groups_to_suspend_for_denial(action, decided);
        let mut suspension = match own {
            Some(own) => Some(
                self.suspend_groups_for_denial(action, &own, deadline, COMPLETION)
                    .await,
            ),
            None => None,
        };
        let completion = self.complete_action(launch, decided, deadline).await?;
        if let Some(report) = &mut suspension {
            let rest = self
                .suspend_groups_for_denial(action, &others, deadline, OTHER_GROUPS)
                .await;
            merge(report, rest);
        }
        let summary = self.summary(arrival, decided, completion);
        // A duplicate was alerted on, and its findings made, when its first
        // copy was decided.
        let (decision, findings) = match completion {
            Completion::Completed => {
                let decision = alerts::decision(launch, decided);
                let findings = self.launch_findings(launch, decided, decision.as_ref());
                (decision, findings)
            }
            Completion::NoActiveAction => (None, Vec::new()),
        };
        let closing =
            self.publish_alerts(launch, decided, completion, decision, suspension.as_ref());
        if deadline.run(CLOSING, closing).await.is_none() {
            tracing::warn!(instance_id = %action.instance_id, "alerts not all sent before the deadline");
        }
        Ok((summary, findings))
    }

    /// The decision's summary, logged.
    fn summary(&self, arrival: &Arrival, decided: &Decided, completion: Completion) -> Summary {
        let action = &arrival.action;
        let verdict = &decided.verdict;
        let summary = Summary {
            decision: verdict.result.into(),
            instance_id: Some(action.instance_id.clone()),
            group: Some(action.group.clone()),
            violations: verdict.findings.clone(),
            exempted: verdict.exempted.clone(),
            mode: self.policy.mode,
            reason: decided.unknown_line(),
            duplicate: completion == Completion::NoActiveAction,
        };
        tracing::info!(
            decision = ?summary.decision,
            instance_id = %action.instance_id,
            group = %action.group,
            mode = %self.policy.mode,
            checks = ?verdict.check_names(),
            exempted = verdict.exempted.len(),
            reason = summary.reason.as_deref().unwrap_or(""),
            duplicate = summary.duplicate,
            "launch decided"
        );
        summary
    }

    /// The decision's alert, if it has one, and the suspension's; then the
    /// decision's event, when no alert carried it (each alert is an event).
    async fn publish_alerts(
        &self,
        launch: DecidedLaunch<'_>,
        decided: &Decided,
        completion: Completion,
        decision: Option<Alert>,
        suspension: Option<&SuspensionReport>,
    ) {
        let suspended = match (suspension, &decided.admission) {
            (Some(report), Some(admission)) => {
                alerts::suspension(launch, &decided.verdict, report, admission)
            }
            _ => None,
        };
        for alert in decision.iter().chain(&suspended) {
            shared::alerts::publish_best_effort(self.aws.alerts(), alert).await;
        }
        // A duplicate's event went when its first copy was decided.
        let event = match completion {
            Completion::Completed => alerts::decision_event(launch, decided, decision.as_ref()),
            Completion::NoActiveAction => None,
        };
        if let Some(event) = event {
            shared::events::put_best_effort(self.aws.alerts(), &event).await;
        }
    }

    /// The summary of a notification that is not the guard's to decide.
    pub(super) fn ignored(
        &self,
        instance_id: Option<String>,
        group: Option<String>,
        reason: String,
    ) -> Summary {
        tracing::info!(reason = %reason, instance_id = instance_id.as_deref().unwrap_or(""), "ignored");
        Summary {
            decision: Decision::Ignored,
            instance_id,
            group,
            violations: Vec::new(),
            exempted: Vec::new(),
            mode: self.policy.mode,
            reason: Some(reason),
            duplicate: false,
        }
    }
}
