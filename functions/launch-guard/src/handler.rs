//! SPEC §5: assess the launch (shared with `scaling-guard explain`), record
//! the decision, suspend scale-out on a budget denial, complete every owned
//! action, alert, summarise.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use shared::assess::{
    self, Assessment, Context, Decided, LATE, Launch, OwnershipUnknown, Snapshot, Unknown,
};
use shared::budget::measure::{ADMITTED_TAG, GuardedGroups};
use shared::checks::membership::VETTED_TAG;
use shared::deadline::Deadline;
use shared::decision::{Decision, LifecycleResult, fail_result};
use shared::facts::{GroupFacts, InstanceFacts};
use shared::lifecycle::{EventError, LifecycleAction, Notification, Origin, Payload};
use shared::policy::{Mode, Policy};
use shared::ports::{AwsError, Completion, InstanceRead, InstanceTag, LifecycleComplete, Ports};
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
    /// A batch's message whose turn came too close to the deadline: it goes
    /// back to the queue undecided.
    #[error("too close to the invocation's deadline: returned unprocessed")]
    Unprocessed,
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
            guarded: GuardedGroups::of(policy),
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

    /// Decides a batch's launches in one pass: one `DescribeInstances` of
    /// their instances, the decisions in order (each admission counted
    /// before the next), one `CreateTags` of the admissions, then the
    /// completions at once. A message that cannot be parsed, or whose turn
    /// comes too close to the deadline, goes back to the queue; one bad
    /// message never fails its neighbours.
    async fn handle_batch(&self, batch: SqsEvent, deadline: Deadline) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        let mut actions = Vec::new();
        let mut ids = Vec::new();
        for record in batch.records {
            let id = record.message_id.unwrap_or_default();
            let body = record.body.unwrap_or_default();
            match shared::lifecycle::parse_text(&body) {
                Ok(Notification::Test { group }) => {
                    self.ignored(None, group, "test notification".to_owned());
                }
                Ok(Notification::Action { action, mut origin }) => {
                    // The hook's own message format names no region; the queue's does.
                    origin.region = origin.region.take().or_else(|| record.aws_region.clone());
                    actions.push((*action, origin));
                    ids.push(id);
                }
                Err(err) => {
                    let err = HandlerError::from(err);
                    tracing::error!(message_id = %id, %err, "sqs message failed");
                    response.batch_item_failures.push(item_failure(id));
                }
            }
        }
        let outcomes = self.handle_actions(actions, deadline, true).await;
        for (id, outcome) in ids.into_iter().zip(outcomes) {
            match outcome {
                Ok(_) => {}
                Err(HandlerError::Unprocessed) => {
                    tracing::warn!(message_id = %id, "too close to the deadline: message returned unprocessed");
                    response.batch_item_failures.push(item_failure(id));
                }
                Err(err) => {
                    tracing::error!(message_id = %id, %err, "sqs message failed");
                    response.batch_item_failures.push(item_failure(id));
                }
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
                let outcomes = self
                    .handle_actions(vec![(*action, origin)], deadline, false)
                    .await;
                outcomes
                    .into_iter()
                    .next()
                    .unwrap_or(Err(HandlerError::Unprocessed))
            }
        }
    }

    /// Decide and record, until the facts reserve → for each launch: suspend
    /// its own group on a budget denial → complete → suspend the other
    /// groups → alert. One outcome per action, in order. In a `batch`, a
    /// launch whose turn comes too close to the deadline is not decided.
    async fn handle_actions(
        &self,
        actions: Vec<(LifecycleAction, Origin)>,
        deadline: Deadline,
        batch: bool,
    ) -> Vec<Result<Summary, HandlerError>> {
        let decisions = self.decide_and_record(&actions, deadline, batch).await;
        let mut outcomes: Vec<Option<Result<Summary, HandlerError>>> = Vec::new();
        let mut quick = Vec::new();
        let mut suspending = Vec::new();
        for (n, ((action, origin), decision)) in actions.iter().zip(decisions).enumerate() {
            match decision {
                Err(err) => outcomes.push(Some(Err(err))),
                Ok(Assessment::Ignored { reason }) => {
                    let (id, group) = (action.instance_id.clone(), action.group.clone());
                    outcomes.push(Some(Ok(self.ignored(Some(id), Some(group), reason))));
                }
                Ok(Assessment::Decided(decided)) => {
                    outcomes.push(None);
                    let step = (n, action, origin, *decided);
                    match step.3.denied_for_budget() {
                        true => suspending.push(step),
                        false => quick.push(step),
                    }
                }
            }
        }
        // Completions that suspend nothing go at once; a budget denial
        // suspends its group before its ABANDON, one denial after another.
        let finished = futures::future::join_all(quick.into_iter().map(
            |(n, action, origin, decided)| async move {
                (n, self.finish(action, origin, &decided, deadline).await)
            },
        ))
        .await;
        for (n, outcome) in finished {
            if let Some(slot) = outcomes.get_mut(n) {
                *slot = Some(outcome);
            }
        }
        for (n, action, origin, decided) in suspending {
            let outcome = self.finish(action, origin, &decided, deadline).await;
            if let Some(slot) = outcomes.get_mut(n) {
                *slot = Some(outcome);
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Err(HandlerError::Unprocessed)))
            .collect()
    }

    /// A decided launch: suspend its own group on a budget denial →
    /// complete → suspend the other groups → alert.
    async fn finish(
        &self,
        action: &LifecycleAction,
        origin: &Origin,
        decided: &Decided,
        deadline: Deadline,
    ) -> Result<Summary, HandlerError> {
        let launch = alerts::DecidedLaunch {
            policy: self.policy,
            now: (self.clock)(),
            action,
            origin,
        };
        let (own, others) = self.groups_to_suspend(action, decided);
        let mut suspension = match own {
            Some(own) => Some(
                self.suspend(action, &own, deadline, COMPLETION_RESERVE)
                    .await,
            ),
            None => None,
        };
        let completion = self.complete(launch, decided, deadline).await?;
        if let Some(report) = &mut suspension {
            let rest = self
                .suspend(action, &others, deadline, SUSPENSION_RESERVE)
                .await;
            merge(report, rest);
        }
        let summary = self.summary(action, decided, completion);
        // What follows the completion must not outlive the invocation.
        let closing = self.alert(launch, decided, completion, suspension.as_ref());
        if deadline.run(CLOSING_RESERVE, closing).await.is_none() {
            tracing::warn!(instance_id = %action.instance_id, "alerts not all sent before the deadline");
        }
        Ok(summary)
    }

    /// The shared assessment of each launch in order, from reading usage to
    /// counting the admission here (in the ledger and the snapshot) before
    /// the next launch is measured; then the decisions' record on the
    /// instances. With budgets, this environment admits one launch at a time.
    async fn decide_and_record(
        &self,
        actions: &[(LifecycleAction, Origin)],
        deadline: Deadline,
        batch: bool,
    ) -> Vec<Result<Assessment, HandlerError>> {
        let began = tokio::time::Instant::now();
        let until = deadline.less(FACTS_RESERVE);
        let budgeted = |action: &LifecycleAction| {
            assess::not_ours(self.policy, action).is_none() && assess::budgeted(self.policy, action)
        };
        let turn = match actions.iter().any(|(action, _)| budgeted(action)) {
            true => tokio::time::timeout_at(until, self.admission_lock.lock())
                .await
                .ok(),
            false => None,
        };
        let read = match batch {
            true => self.read_launched(actions, until).await,
            false => BTreeMap::new(),
        };
        let mut decisions = Vec::with_capacity(actions.len());
        let mut to_record = Vec::new();
        for (n, (action, _)) in actions.iter().enumerate() {
            if batch && deadline.left() < MESSAGE_MINIMUM {
                decisions.push(Err(HandlerError::Unprocessed));
                continue;
            }
            let budgeted = budgeted(action);
            let admitted = self.ledger.current();
            let launch = Launch {
                action,
                now: (self.clock)(),
                until,
                admitted: (!budgeted || turn.is_some()).then_some(&admitted),
            };
            let context = Context {
                snapshot: Some(&self.snapshot),
                instance: read.get(&action.instance_id),
                batch_began: batch.then_some(began),
            };
            let assessment =
                assess::assess_with(self.policy, self.aws, &self.guarded, launch, context).await;
            if let Ok(Assessment::Decided(decided)) = &assessment
                && decided.verdict.result == LifecycleResult::Continue
            {
                // Counted from here on in this environment too: EC2 may not show the tag yet.
                if budgeted {
                    self.admit_here(action, decided);
                }
                to_record.push((n, budgeted));
            }
            decisions.push(assessment.map_err(HandlerError::from));
        }
        self.record_decisions(actions, &mut decisions, &to_record, deadline)
            .await;
        drop(turn);
        decisions
    }

    /// The instances of a batch's launches in one read; a launch its read
    /// misses (or a failed read) is read alone by its assessment.
    async fn read_launched(
        &self,
        actions: &[(LifecycleAction, Origin)],
        until: tokio::time::Instant,
    ) -> BTreeMap<String, InstanceFacts> {
        let ids: BTreeSet<String> = actions
            .iter()
            .filter(|(action, _)| assess::not_ours(self.policy, action).is_none())
            .map(|(action, _)| action.instance_id.clone())
            .collect();
        if ids.len() < 2 {
            return BTreeMap::new();
        }
        let ids: Vec<String> = ids.into_iter().collect();
        match tokio::time::timeout_at(until, self.aws.instances().instances(&ids)).await {
            Ok(Ok(instances)) => instances
                .into_iter()
                .map(|i| (i.instance_id.clone(), i))
                .collect(),
            Ok(Err(err)) => {
                tracing::warn!(%err, "the batch's instances could not be read at once: read one by one");
                BTreeMap::new()
            }
            Err(_) => BTreeMap::new(),
        }
    }

    /// Counts an admission in this environment's ledger and snapshot, also
    /// one the fail mode let in. One whose instance could not be read cannot
    /// be added to the snapshot: the snapshot is dropped, so that the next
    /// budget decision reads the cluster, where the ledger counts it.
    fn admit_here(&self, action: &LifecycleAction, decided: &Decided) {
        self.ledger.record(&action.instance_id);
        match &decided.facts {
            Some(facts) => {
                let time = format_rfc3339((self.clock)());
                self.snapshot.admitted(&facts.instance, &time);
            }
            None => self.snapshot.discard(),
        }
    }

    /// Records the decisions on the instances before their `CONTINUE`: the
    /// admission, so that every execution environment and budget-guard count
    /// it from then on, and whether the checks ran, so that instance-audit
    /// knows it was vetted. One `CreateTags` for the instances with the same
    /// tags (a batch's admissions at once); if it fails, each is tried alone.
    /// Without the admission record the budget cannot hold beyond this
    /// environment, so the fail mode decides (and the admission is no longer
    /// counted here if that abandons it). Audit mode changes nothing, not
    /// even these tags.
    async fn record_decisions(
        &self,
        actions: &[(LifecycleAction, Origin)],
        decisions: &mut [Result<Assessment, HandlerError>],
        to_record: &[(usize, bool)],
        deadline: Deadline,
    ) {
        if self.policy.mode != Mode::Enforce {
            return;
        }
        let time = format_rfc3339((self.clock)());
        // Instances by the tags they get: (admitted, vetted).
        let mut sets: BTreeMap<(bool, bool), Vec<usize>> = BTreeMap::new();
        for &(n, budgeted) in to_record {
            if let Some(Ok(Assessment::Decided(decided))) = decisions.get(n)
                && (budgeted || decided.vetted)
            {
                sets.entry((budgeted, decided.vetted)).or_default().push(n);
            }
        }
        let writes = sets.iter().map(|(&(admitted, vetted), members)| {
            let time = time.as_str();
            async move {
                let mut tags = Vec::new();
                if admitted {
                    tags.push((ADMITTED_TAG, time));
                }
                if vetted {
                    tags.push((VETTED_TAG, time));
                }
                let ids: BTreeSet<&str> = members
                    .iter()
                    .filter_map(|n| actions.get(*n))
                    .map(|(action, _)| action.instance_id.as_str())
                    .collect();
                let ids: Vec<&str> = ids.into_iter().collect();
                let failed = match self.tag(&ids, &tags, deadline).await {
                    Ok(()) => BTreeMap::new(),
                    // One tag call for many: a single unknown or
                    // unwritable instance must not fail its neighbours.
                    Err(_) if ids.len() > 1 => {
                        let alone = ids
                            .iter()
                            .map(|id| async { (*id, self.tag(&[id], &tags, deadline).await) });
                        futures::future::join_all(alone)
                            .await
                            .into_iter()
                            .filter_map(|(id, result)| result.err().map(|err| (id.to_owned(), err)))
                            .collect()
                    }
                    Err(err) => ids
                        .iter()
                        .map(|id| ((*id).to_owned(), err.clone()))
                        .collect(),
                };
                (admitted, members, failed)
            }
        });
        for (admitted, members, failed) in futures::future::join_all(writes).await {
            for &n in members {
                let (Some((action, _)), Some(Ok(Assessment::Decided(decided)))) =
                    (actions.get(n), decisions.get_mut(n))
                else {
                    continue;
                };
                let Some(err) = failed.get(&action.instance_id) else {
                    continue;
                };
                tracing::error!(instance_id = %action.instance_id, %err, "decision could not be recorded on the instance");
                // Without budgets the launch is let in unrecorded: instance-audit
                // then checks it like any unvetted instance.
                if admitted {
                    decided.verdict.result = fail_result(self.policy);
                    decided.unknown.push(Unknown::Record(err.clone()));
                    if decided.verdict.result != LifecycleResult::Continue {
                        self.ledger.forget(&action.instance_id);
                        self.snapshot.forget(&action.instance_id);
                    }
                }
            }
        }
    }

    /// One `CreateTags`, bounded so that the completion still fits.
    async fn tag(
        &self,
        ids: &[&str],
        tags: &[(&str, &str)],
        deadline: Deadline,
    ) -> Result<(), AwsError> {
        let tag = self.aws.instances().tag_instances(ids, tags);
        deadline
            .run(COMPLETION_RESERVE, tag)
            .await
            .unwrap_or_else(|| Err(AwsError::new("CreateTags", None, LATE)))
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
        // shared::suspension), and launches stay denied meanwhile. `groups`
        // is the decision's read, older than an earlier denial's suspension
        // in the same batch: each group is read again before it is written,
        // so that it is suspended (and alerted) once and its record merged.
        let suspended = suspension::suspend(
            self.aws.groups(),
            groups,
            self.policy.budget.clamp_max_size,
            &record,
            OnIncomplete::Leave,
            self.policy.record_key.as_ref(),
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
            let ids = [action.instance_id.as_str()];
            let tagged = self.aws.instances().tag_instances(&ids, &tags);
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
            Self::Unprocessed => "Unprocessed",
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
