//! SPEC §5: assess the launch (shared with `scaling-guard explain`), record
//! the decision, suspend scale-out on a budget denial, complete every owned
//! action, alert, summarise.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use shared::assess::{
    self, Assessment, Decided, LATE, Launch, OwnershipUnknown, Snapshot, Unknown,
};
use shared::budget::measure::{ADMITTED_TAG, GuardedGroups};
use shared::checks::membership::VETTED_TAG;
use shared::deadline::Deadline;
use shared::decision::{Decision, LifecycleResult, fail_result};
use shared::facts::GroupFacts;
use shared::lifecycle::{EventError, LifecycleAction, Notification, Origin, Payload};
use shared::policy::{Mode, Policy};
use shared::ports::{AwsError, Completion, InstanceTag, LifecycleComplete, Ports};
use shared::suspension::{self, OnIncomplete, SuspensionRecord, SuspensionReport};
use shared::time::format_rfc3339;

use crate::alerts;
use crate::event::Input;
use crate::response::{Response, Summary};
use ledger::Ledger;

mod ledger;

/// Why an invocation failed. The event is then retried (async invocation,
/// SQS redelivery) and, when retries run out, kept in the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Ownership(#[from] OwnershipUnknown),
    /// The AWS error is part of the message, not a `#[source]` (which
    /// would print it twice).
    #[error("lifecycle action of `{instance_id}` could not be completed: {error}")]
    Completion {
        instance_id: String,
        error: AwsError,
    },
}

/// The launch guard over its ports.
#[derive(Debug)]
pub struct LaunchGuard<'a, P> {
    policy: &'a Policy,
    aws: &'a P,
    clock: fn() -> SystemTime,
    ledger: Ledger,
    /// The cluster as last read, with this environment's admissions since:
    /// a budget decision reads the whole cluster only now and then.
    snapshot: Snapshot,
    /// Groups known to carry the guard's hook (their undecided launches wait for it).
    guarded: GuardedGroups,
    /// Serializes admissions within this environment (also when a batch or a
    /// concurrent runtime hands it several launches at once).
    admission_lock: tokio::sync::Mutex<()>,
    /// Tokens of lifecycle actions whose failed completion was alerted here.
    failed_completions: std::sync::Mutex<BTreeSet<String>>,
}

impl<'a, P: Ports> LaunchGuard<'a, P> {
    pub fn new(policy: &'a Policy, aws: &'a P) -> Self {
        Self {
            policy,
            aws,
            clock: SystemTime::now,
            ledger: Ledger::default(),
            snapshot: Snapshot::default(),
            guarded: GuardedGroups::new(&policy.hook_name),
            admission_lock: tokio::sync::Mutex::new(()),
            failed_completions: std::sync::Mutex::default(),
        }
    }

    /// Replaces the snapshot (tests choose its maximum age).
    pub fn with_snapshot(mut self, snapshot: Snapshot) -> Self {
        self.snapshot = snapshot;
        self
    }

    /// Replaces the clock (tests pin "now" for image ages).
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// Entry point: an EventBridge event, a hook message, or an SQS batch of
    /// either. A batch answers with `batchItemFailures` so that one bad
    /// message never fails its neighbours. `deadline` is the invocation's.
    pub async fn handle(&self, input: Input, deadline: Deadline) -> Result<Response, HandlerError> {
        match input.into_payload()? {
            Payload::Batch(batch) => Ok(Response::Batch(self.handle_batch(batch, deadline).await)),
            Payload::Single(notification) => {
                let summary = self.handle_notification(notification, deadline).await?;
                Ok(Response::Decision(summary))
            }
        }
    }

    /// Decides message after message while a whole decision still fits before
    /// the deadline; the rest go back to the queue unprocessed.
    async fn handle_batch(&self, batch: SqsEvent, deadline: Deadline) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        let total = batch.records.len();
        for (n, record) in batch.records.into_iter().enumerate() {
            let id = record.message_id.unwrap_or_default();
            if deadline.left() < MESSAGE_MINIMUM {
                tracing::warn!(message_id = %id, left = total - n, "too close to the deadline: message returned unprocessed");
                response.batch_item_failures.push(item_failure(id));
                continue;
            }
            let body = record.body.unwrap_or_default();
            let outcome = match shared::lifecycle::parse_text(&body) {
                Ok(mut notification) => {
                    // The hook's own message format names no region; the queue's does.
                    if let Notification::Action { origin, .. } = &mut notification {
                        origin.region = origin.region.take().or_else(|| record.aws_region.clone());
                    }
                    self.handle_notification(notification, deadline)
                        .await
                        .map(drop)
                }
                Err(err) => Err(HandlerError::from(err)),
            };
            if let Err(err) = outcome {
                tracing::error!(message_id = %id, %err, "sqs message failed");
                response.batch_item_failures.push(item_failure(id));
            }
        }
        response
    }

    pub async fn handle_notification(
        &self,
        notification: Notification,
        deadline: Deadline,
    ) -> Result<Summary, HandlerError> {
        match notification {
            Notification::Test { group } => {
                Ok(self.ignored(None, group, "test notification".to_owned()))
            }
            Notification::Action { action, origin } => {
                self.handle_action(*action, origin, deadline).await
            }
        }
    }

    /// Assess and record, until the facts reserve → suspend the launch's own
    /// group on a budget denial → complete → suspend the other groups → alert.
    async fn handle_action(
        &self,
        action: LifecycleAction,
        origin: Origin,
        deadline: Deadline,
    ) -> Result<Summary, HandlerError> {
        let decided = match self.assess_and_record(&action, deadline).await? {
            Assessment::Ignored { reason } => {
                let (id, group) = (action.instance_id, action.group);
                return Ok(self.ignored(Some(id), Some(group), reason));
            }
            Assessment::Decided(decided) => *decided,
        };
        let launch = alerts::DecidedLaunch {
            policy: self.policy,
            now: (self.clock)(),
            action: &action,
            origin: &origin,
        };
        let (own, others) = self.groups_to_suspend(&action, &decided);
        let mut suspension = match own {
            Some(own) => Some(
                self.suspend(&action, &own, deadline, COMPLETION_RESERVE)
                    .await,
            ),
            None => None,
        };
        let completion = self.complete(launch, &decided, deadline).await?;
        if let Some(report) = &mut suspension {
            let rest = self
                .suspend(&action, &others, deadline, SUSPENSION_RESERVE)
                .await;
            merge(report, rest);
        }
        let summary = self.summary(&action, &decided, completion);
        // What follows the completion must not outlive the invocation.
        let closing = self.alert(launch, &decided, completion, suspension.as_ref());
        if deadline.run(CLOSING_RESERVE, closing).await.is_none() {
            tracing::warn!(instance_id = %action.instance_id, "alerts not all sent before the deadline");
        }
        Ok(summary)
    }

    /// The shared assessment, from reading usage to recording the admission
    /// one launch at a time; then the decision's record on the instance, and
    /// in this environment's ledger, before the next launch measures usage.
    async fn assess_and_record(
        &self,
        action: &LifecycleAction,
        deadline: Deadline,
    ) -> Result<Assessment, HandlerError> {
        let until = deadline.less(FACTS_RESERVE);
        let budgeted = assess::not_ours(self.policy, action).is_none()
            && assess::budgeted(self.policy, action);
        let turn = match budgeted {
            true => tokio::time::timeout_at(until, self.admission_lock.lock())
                .await
                .ok(),
            false => None,
        };
        let admitted = self.ledger.current();
        let launch = Launch {
            action,
            now: (self.clock)(),
            until,
            admitted: (!budgeted || turn.is_some()).then_some(&admitted),
        };
        let assessment = assess::assess_with(
            self.policy,
            self.aws,
            &self.guarded,
            launch,
            Some(&self.snapshot),
        )
        .await?;
        let Assessment::Decided(mut decided) = assessment else {
            return Ok(assessment);
        };
        self.record_decision(action, &mut decided, budgeted, deadline)
            .await;
        // Counted from here on in this environment too: EC2 may not show the tag yet.
        if budgeted && decided.verdict.result == LifecycleResult::Continue {
            self.ledger.record(&action.instance_id);
            if let Some(facts) = &decided.facts {
                let time = format_rfc3339((self.clock)());
                self.snapshot.admitted(&facts.instance, &time);
            }
        }
        drop(turn);
        Ok(Assessment::Decided(decided))
    }

    /// Records the decision on the instance before its `CONTINUE`: the
    /// admission, so that every execution environment and budget-guard count
    /// it from then on, and whether the checks ran, so that instance-audit
    /// knows it was vetted. Without the admission record the budget cannot
    /// hold beyond this environment, so the fail mode decides. Audit mode
    /// changes nothing, not even these tags.
    async fn record_decision(
        &self,
        action: &LifecycleAction,
        decided: &mut Decided,
        budgeted: bool,
        deadline: Deadline,
    ) {
        if decided.verdict.result != LifecycleResult::Continue || self.policy.mode != Mode::Enforce
        {
            return;
        }
        let time = format_rfc3339((self.clock)());
        let mut tags = Vec::new();
        if budgeted {
            tags.push((ADMITTED_TAG, time.as_str()));
        }
        if decided.vetted {
            tags.push((VETTED_TAG, time.as_str()));
        }
        if tags.is_empty() {
            return;
        }
        let tag = self
            .aws
            .instances()
            .tag_instance(&action.instance_id, &tags);
        let tagged = deadline
            .run(COMPLETION_RESERVE, tag)
            .await
            .unwrap_or_else(|| Err(AwsError::new("CreateTags", None, LATE)));
        let Err(err) = tagged else {
            return;
        };
        tracing::error!(instance_id = %action.instance_id, %err, "decision could not be recorded on the instance");
        // Without budgets the launch is let in unrecorded: instance-audit
        // then checks it like any unvetted instance.
        if budgeted {
            decided.verdict.result = fail_result(self.policy);
            decided.unknown.push(Unknown::Record(err));
        }
    }

    /// On a budget denial, the launch's own group (suspended before the
    /// ABANDON completes, so that it does not launch a replacement in
    /// between) and the cluster's other groups (after it, all at once).
    fn groups_to_suspend(
        &self,
        action: &LifecycleAction,
        decided: &Decided,
    ) -> (Option<Vec<GroupFacts>>, Vec<GroupFacts>) {
        match &decided.admission {
            Some(admission) if decided.denied_for_budget() => {
                let (own, others) = admission
                    .cluster
                    .groups
                    .iter()
                    .cloned()
                    .partition(|g| g.name == action.group);
                (Some(own), others)
            }
            _ => (None, Vec::new()),
        }
    }

    /// Suspends `Launch` on `groups` (all at once) so that they do not loop
    /// launch → abandon while the cluster is at its budget; stops `reserve`
    /// before the deadline, reporting what was not done as failed.
    async fn suspend(
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
        // shared::suspension), and launches stay denied meanwhile.
        let suspended = suspension::suspend(
            self.aws.groups(),
            groups,
            self.policy.budget.clamp_max_size,
            &record,
            OnIncomplete::Leave,
        );
        let report = deadline
            .run(reserve, suspended)
            .await
            .unwrap_or_else(|| SuspensionReport {
                failed: groups
                    .iter()
                    .map(|g| (g.name.clone(), LATE.to_owned()))
                    .collect(),
                ..SuspensionReport::default()
            });
        tracing::info!(changed = ?report.changed, failed = ?report.failed, "scale-out suspension after budget denial");
        report
    }

    /// Completes the lifecycle action with the verdict; a failure is alerted
    /// once and fails the invocation, for a retry.
    async fn complete(
        &self,
        launch: alerts::DecidedLaunch<'_>,
        decided: &Decided,
        deadline: Deadline,
    ) -> Result<Completion, HandlerError> {
        let action = launch.action;
        let result = decided.verdict.result;
        match self.aws.groups().complete(action, result).await {
            Ok(completion) => Ok(completion),
            Err(error) => {
                let err = HandlerError::Completion {
                    instance_id: action.instance_id.clone(),
                    error,
                };
                self.alert_failed_completion(launch, decided, &err, deadline)
                    .await;
                Err(err)
            }
        }
    }

    /// One critical alert per lifecycle action whose completion failed, also
    /// across retries in other environments: the instance is marked with the
    /// action's token, and a retry that finds the mark stays quiet.
    async fn alert_failed_completion(
        &self,
        launch: alerts::DecidedLaunch<'_>,
        decided: &Decided,
        err: &HandlerError,
        deadline: Deadline,
    ) {
        let action = launch.action;
        let marked = decided
            .facts
            .as_ref()
            .and_then(|facts| facts.instance.tags.get(COMPLETION_FAILED_TAG))
            == Some(&action.token);
        let first_here = self
            .failed_completions
            .lock()
            .map(|mut tokens| tokens.insert(action.token.clone()))
            .unwrap_or(true);
        if marked || !first_here {
            tracing::error!(instance_id = %action.instance_id, %err, "completion failed again (alerted before)");
            return;
        }
        let alert = alerts::failed_completion(launch, &decided.verdict, &err.to_string());
        let mark = async {
            let tags = [(COMPLETION_FAILED_TAG, action.token.as_str())];
            let tagged = self
                .aws
                .instances()
                .tag_instance(&action.instance_id, &tags);
            if let Err(err) = tagged.await {
                tracing::warn!(instance_id = %action.instance_id, %err, "failed completion could not be marked");
            }
            shared::alerts::publish_best_effort(self.aws.alerts(), &alert).await;
        };
        let _ = deadline.run(CLOSING_RESERVE, mark).await;
    }

    /// The decision's summary, logged.
    fn summary(
        &self,
        action: &LifecycleAction,
        decided: &Decided,
        completion: Completion,
    ) -> Summary {
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
    async fn alert(
        &self,
        launch: alerts::DecidedLaunch<'_>,
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

    fn ignored(
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

/// What the completion keeps for itself: the SDK bounds
/// `CompleteLifecycleAction` to 5 s, plus a margin.
const COMPLETION_RESERVE: Duration = Duration::from_secs(6);
/// Where fact gathering stops: the decision's record (bounded to 5 s), the
/// suspension of the launch's own group and the completion still fit after.
const FACTS_RESERVE: Duration = Duration::from_secs(14);
/// The other groups' suspension, after the completion, stops here.
const SUSPENSION_RESERVE: Duration = Duration::from_secs(2);
/// The alerts stop here: what is left must not outlive the invocation.
const CLOSING_RESERVE: Duration = Duration::from_millis(500);
/// A batch takes its next message only with this much time left: the facts
/// reserve and a few seconds to gather facts.
const MESSAGE_MINIMUM: Duration = Duration::from_secs(18);
/// Marks an instance whose lifecycle action could not be completed, with the
/// action's token: a retry in any environment finds it and alerts no more.
pub const COMPLETION_FAILED_TAG: &str = "scaling-guard:completion-failed";

fn item_failure(id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = id;
    failure
}

/// Adds a later suspension pass to the first.
fn merge(report: &mut SuspensionReport, rest: SuspensionReport) {
    report.changed.extend(rest.changed);
    report.unchanged.extend(rest.unchanged);
    report.failed.extend(rest.failed);
    report.notes.extend(rest.notes);
}

impl HandlerError {
    /// The failure's kind, as Lambda reports it.
    fn error_type(&self) -> &'static str {
        match self {
            Self::Event(_) => "MalformedEvent",
            Self::Ownership { .. } => "OwnershipUnknown",
            Self::Completion { .. } => "CompletionFailed",
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        shared::startup::diagnostic(err.error_type(), &err)
    }
}

#[cfg(test)]
mod tests;
