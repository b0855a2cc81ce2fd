//! The finish stage: for each decided launch, suspend its own group on a
//! budget denial → complete the lifecycle action → suspend the cluster's
//! other groups → summarise → alert. What follows the completion must not
//! outlive the invocation.

use futures::future::join_all;
use shared::assess::{Assessment, Decided};
use shared::deadline::Deadline;
use shared::decision::Decision;
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
        let outcome = match assessment {
            Err(err) => Err(err),
            Ok(Assessment::Ignored { reason }) => {
                let action = &arrival.action;
                let (id, group) = (action.instance_id.clone(), action.group.clone());
                Ok(self.ignored(Some(id), Some(group), reason))
            }
            Ok(Assessment::Decided(decided)) => {
                self.finish_decided(&arrival, &decided, deadline).await
            }
        };
        Finished { arrival, outcome }
    }

    /// A decided launch: suspend its own group on a budget denial →
    /// complete → suspend the other groups → alert.
    async fn finish_decided(
        &self,
        arrival: &Arrival,
        decided: &Decided,
        deadline: Deadline,
    ) -> Result<Summary, HandlerError> {
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
        let closing = self.publish_alerts(launch, decided, completion, suspension.as_ref());
        if deadline.run(CLOSING, closing).await.is_none() {
            tracing::warn!(instance_id = %action.instance_id, "alerts not all sent before the deadline");
        }
        Ok(summary)
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

    /// The decision's alert (a duplicate was alerted on when its first copy
    /// was decided) and the suspension's.
    async fn publish_alerts(
        &self,
        launch: DecidedLaunch<'_>,
        decided: &Decided,
        completion: Completion,
        suspension: Option<&SuspensionReport>,
    ) {
        let decision = match completion {
            Completion::Completed => alerts::decision(launch, decided),
            Completion::NoActiveAction => None,
        };
        let suspended = match (suspension, &decided.admission) {
            (Some(report), Some(admission)) => {
                alerts::suspension(launch, &decided.verdict, report, admission)
            }
            _ => None,
        };
        for alert in decision.iter().chain(&suspended) {
            shared::alerts::publish_best_effort(self.aws.alerts(), alert).await;
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
