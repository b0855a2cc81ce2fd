//! SPEC §5: ignore what is not ours, gather facts, check, decide, complete
//! every owned action, alert, summarise.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde::Serialize;
use serde_json::Value;
use shared::alerts::{Alert, AlertKind, Severity};
use shared::budget;
use shared::budget::measure::{ADMITTED_TAG, ClusterState, GuardedGroups};
use shared::checks::membership::VETTED_TAG;
use shared::checks::{CheckName, Unread, check_known};
use shared::deadline::Deadline;
use shared::decision::{Decision, Finding, LifecycleResult, Verdict, fail_result};
use shared::facts::{GroupFacts, InstanceFacts, NodeFacts};
use shared::lifecycle::{
    self, EventError, LAUNCHING, LifecycleAction, Notification, Origin, Payload, WARM_POOL,
};
use shared::policy::{Mode, Policy};
use shared::ports::{
    AlertPublish, AwsError, ClusterGroupsRead, ClusterInstancesRead, Completion, GroupRead,
    InstanceRead, InstanceTag, InstanceTypesRead, LifecycleComplete, NetworkImageRead,
    ScaleOutControl,
};
use shared::suspension::{self, OnIncomplete, SUSPENDED_TAG, SuspensionRecord, SuspensionReport};
use shared::time::format_rfc3339;
use tokio::time::Instant;

use admission::{Admission, Ledger};

mod admission;

/// Why an invocation failed. The event is then retried (async invocation,
/// SQS redelivery) and, when retries run out, kept in the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("cannot tell whether group `{group}` belongs to the cluster: {source}")]
    Ownership {
        group: String,
        #[source]
        source: AwsError,
    },
    #[error("lifecycle action of `{instance_id}` could not be completed: {source}")]
    Completion {
        instance_id: String,
        #[source]
        source: AwsError,
    },
}

/// The JSON summary an invocation returns (and logs) per notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub decision: Decision,
    pub instance_id: Option<String>,
    pub group: Option<String>,
    pub violations: Vec<Finding>,
    pub mode: Mode,
    /// Why the notification was ignored or decided without facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The action was already completed or timed out (a duplicate event).
    pub duplicate: bool,
}

/// The launch guard over its ports.
#[derive(Debug)]
pub struct LaunchGuard<'a, E, N, G, A> {
    policy: &'a Policy,
    instances: &'a E,
    images: &'a N,
    groups: &'a G,
    alerts: &'a A,
    clock: fn() -> SystemTime,
    ledger: Ledger,
    /// Groups known to carry the guard's hook (their undecided launches wait for it).
    guarded: GuardedGroups,
    /// Serializes admissions within this environment (also when a batch or a
    /// concurrent runtime hands it several launches at once).
    admission_lock: tokio::sync::Mutex<()>,
    /// Tokens of lifecycle actions whose failed completion was alerted here.
    failed_completions: std::sync::Mutex<BTreeSet<String>>,
}

impl<'a, E, N, G, A> LaunchGuard<'a, E, N, G, A>
where
    E: InstanceRead + ClusterInstancesRead + InstanceTypesRead + InstanceTag,
    N: NetworkImageRead,
    G: GroupRead + LifecycleComplete + ClusterGroupsRead + ScaleOutControl,
    A: AlertPublish,
{
    pub fn new(
        policy: &'a Policy,
        instances: &'a E,
        images: &'a N,
        groups: &'a G,
        alerts: &'a A,
    ) -> Self {
        Self {
            policy,
            instances,
            images,
            groups,
            alerts,
            clock: SystemTime::now,
            ledger: Ledger::default(),
            guarded: GuardedGroups::new(&policy.hook_name),
            admission_lock: tokio::sync::Mutex::new(()),
            failed_completions: std::sync::Mutex::default(),
        }
    }

    /// Replaces the clock (tests pin "now" for image ages).
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// Entry point: an EventBridge event, a hook message, or an SQS batch of
    /// either. A batch answers with `batchItemFailures` so that one bad
    /// message never fails its neighbours. `deadline` is the invocation's.
    pub async fn handle(&self, payload: Value, deadline: Deadline) -> Result<Value, HandlerError> {
        match lifecycle::parse_payload(payload)? {
            Payload::Batch(batch) => {
                let response = self.handle_batch(batch, deadline).await;
                Ok(serde_json::to_value(response).unwrap_or_default())
            }
            Payload::Single(notification) => {
                let summary = self.handle_notification(notification, deadline).await?;
                Ok(serde_json::to_value(summary).unwrap_or_default())
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
            let outcome = match lifecycle::parse_text(&body) {
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

    /// Ignore what is not ours → gather facts and assess, until the facts
    /// reserve → record the decision → suspend the launch's own group on a
    /// budget denial → complete → suspend the other groups → alert.
    async fn handle_action(
        &self,
        action: LifecycleAction,
        origin: Origin,
        deadline: Deadline,
    ) -> Result<Summary, HandlerError> {
        if let Some(reason) = self.not_ours(&action) {
            return Ok(self.ignored(
                Some(action.instance_id.clone()),
                Some(action.group.clone()),
                reason,
            ));
        }
        // Entering a warm pool, a node is vetted but charges no budget: it is
        // charged, and may be denied, when it leaves the pool into the group.
        let budgeted =
            self.policy.budget.is_on() && action.destination.as_deref() != Some(WARM_POOL);
        let until = deadline.less(FACTS_RESERVE);
        // From reading usage to recording the admission, one launch at a time.
        let admission = match budgeted {
            true => Some(tokio::time::timeout_at(until, self.admission_lock.lock()).await),
            false => None,
        };
        let locked = matches!(admission, Some(Ok(_)));
        // Membership, the instance and (with budgets) the cluster are
        // independent: ask them all at once.
        let cluster = async {
            match (budgeted, locked) {
                (false, _) => None,
                (true, false) => Some(Err(LATE.to_owned())),
                (true, true) => Some(
                    shared::budget::measure::read_cluster(
                        &self.policy.cluster_tag_key,
                        self.instances,
                        self.groups,
                    )
                    .await
                    .map_err(|err| err.to_string()),
                ),
            }
        };
        let (group, gathered, cluster) = futures::join!(
            tokio::time::timeout_at(until, self.groups.group(&action.group)),
            tokio::time::timeout_at(until, self.gather(&action.instance_id)),
            tokio::time::timeout_at(until, cluster),
        );
        let group = match group {
            Ok(Ok(Some(group))) if group.is_member_of(&self.policy.cluster_tag_key) => group,
            Ok(Ok(Some(_))) => {
                let reason = format!(
                    "group `{}` is not a member of cluster `{}`",
                    action.group, self.policy.cluster
                );
                return Ok(self.ignored(Some(action.instance_id), Some(action.group), reason));
            }
            Ok(Ok(None)) => {
                let reason = format!("group `{}` does not exist", action.group);
                return Ok(self.ignored(Some(action.instance_id), Some(action.group), reason));
            }
            Ok(Err(source)) => return Err(HandlerError::ownership(&action, source)),
            Err(_) => {
                let source = AwsError::new("DescribeAutoScalingGroups", None, LATE);
                return Err(HandlerError::ownership(&action, source));
            }
        };
        // Its launch reached the guard's hook: the group carries it.
        self.guarded.mark(&action.group);
        let gathered = gathered.unwrap_or_else(|_| Err(LATE.to_owned()));
        let cluster = cluster.unwrap_or_else(|_| Some(Err(LATE.to_owned())));
        let assessment = self.assess(gathered, cluster, until).await;
        let assessment = self
            .record_decision(&action, assessment, budgeted, deadline)
            .await;
        // Counted from here on in this environment too, before the next
        // launch may measure usage: EC2 may not show the tag yet.
        if budgeted && assessment.verdict.result == LifecycleResult::Continue {
            self.ledger.record(&action.instance_id);
        }
        drop(admission);

        // A budget denial suspends scale-out of the launch's own group before
        // the ABANDON completes, so that it does not launch a replacement in
        // between; the other groups follow, all at once, after it.
        let denied_for_budget =
            assessment.budget.is_some() && denied_for_budget(&assessment.verdict);
        let (own, others): (Vec<GroupFacts>, Vec<GroupFacts>) = match &assessment.budget {
            Some((_, cluster)) if denied_for_budget => cluster
                .groups
                .iter()
                .cloned()
                .partition(|g| g.name == action.group),
            _ => (Vec::new(), Vec::new()),
        };
        let mut suspension = match denied_for_budget {
            true => Some(
                self.suspend_for_budget(&action, &own, deadline, COMPLETION_RESERVE)
                    .await,
            ),
            false => None,
        };
        let verdict = &assessment.verdict;
        let completion = match self.groups.complete(&action, verdict.result).await {
            Ok(completion) => completion,
            Err(source) => {
                let err = HandlerError::Completion {
                    instance_id: action.instance_id.clone(),
                    source,
                };
                self.alert_failed_completion(&action, &origin, &assessment, &err, deadline)
                    .await;
                return Err(err);
            }
        };
        if let Some(report) = &mut suspension {
            let rest = self
                .suspend_for_budget(&action, &others, deadline, SUSPENSION_RESERVE)
                .await;
            report.changed.extend(rest.changed);
            report.unchanged.extend(rest.unchanged);
            report.failed.extend(rest.failed);
            report.notes.extend(rest.notes);
        }
        let summary = Summary {
            decision: verdict.result.into(),
            instance_id: Some(action.instance_id.clone()),
            group: Some(action.group.clone()),
            violations: verdict.findings.clone(),
            mode: self.policy.mode,
            reason: assessment.unknown(),
            duplicate: completion == Completion::NoActiveAction,
        };
        let checks = verdict.check_names();
        tracing::info!(
            decision = ?summary.decision,
            instance_id = %action.instance_id,
            group = %action.group,
            mode = %self.policy.mode,
            ?checks,
            reason = summary.reason.as_deref().unwrap_or(""),
            duplicate = summary.duplicate,
            "launch decided"
        );
        // What follows the completion must not outlive the invocation.
        let closing = async {
            // A duplicate was alerted on when its first copy was decided.
            if completion == Completion::Completed {
                self.alert_decision(&action, &origin, &assessment, &group)
                    .await;
            }
            if let (Some(report), Some((admission, _))) = (&suspension, &assessment.budget) {
                self.alert_suspension(&action, &origin, verdict, report, admission)
                    .await;
            }
        };
        if deadline.run(CLOSING_RESERVE, closing).await.is_none() {
            tracing::warn!(instance_id = %action.instance_id, "alerts not all sent before the deadline");
        }
        Ok(summary)
    }

    /// Why the notification is not the guard's to decide, if it is not.
    fn not_ours(&self, action: &LifecycleAction) -> Option<String> {
        if action.transition != LAUNCHING {
            return Some(format!(
                "transition `{}` is not a launch",
                action.transition
            ));
        }
        if action.hook != self.policy.hook_name {
            return Some(format!(
                "hook `{}` is not the guard's hook `{}`",
                action.hook, self.policy.hook_name
            ));
        }
        None
    }

    /// Every node check on what could be read and, with budgets, the
    /// admission. What is known decides first; the fail mode decides only
    /// when nothing known blocks and something is unknown.
    async fn assess(
        &self,
        gathered: Gathered,
        cluster: Option<Result<ClusterState, String>>,
        until: Instant,
    ) -> Assessment {
        let policy = self.policy;
        let known = match gathered {
            Ok(known) => known,
            Err(reason) => {
                return Assessment {
                    verdict: Verdict::with_unknown(policy, Vec::new(), true),
                    unknown: vec![format!("the instance: {reason}")],
                    budget: None,
                    facts: None,
                    vetted: false,
                };
            }
        };
        let mut violations = check_known(policy, &known.facts, known.unread, (self.clock)());
        let mut unknown = known.unknown;
        let budget = match cluster {
            None => None,
            Some(Err(reason)) => {
                unknown.push(format!("the budget: {reason}"));
                None
            }
            Some(Ok(cluster)) => {
                let admitted = admission::admit(
                    policy,
                    self.instances,
                    self.groups,
                    &self.guarded,
                    &self.ledger,
                    cluster,
                    &known.facts.instance,
                );
                match tokio::time::timeout_at(until, admitted).await {
                    Ok(Ok((admission, cluster))) => {
                        violations.extend(admission.violations.iter().cloned());
                        Some((admission, cluster))
                    }
                    Ok(Err(reason)) => {
                        unknown.push(format!("the budget: {reason}"));
                        None
                    }
                    Err(_) => {
                        unknown.push(format!("the budget: {LATE}"));
                        None
                    }
                }
            }
        };
        violations.sort();
        Assessment {
            verdict: Verdict::with_unknown(policy, violations, !unknown.is_empty()),
            unknown,
            budget,
            vetted: known.unread == Unread::default(),
            facts: Some(known.facts),
        }
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
        mut assessment: Assessment,
        budgeted: bool,
        deadline: Deadline,
    ) -> Assessment {
        if assessment.verdict.result != LifecycleResult::Continue
            || self.policy.mode != Mode::Enforce
        {
            return assessment;
        }
        let time = format_rfc3339((self.clock)());
        let mut tags = Vec::new();
        if budgeted {
            tags.push((ADMITTED_TAG, time.as_str()));
        }
        if assessment.vetted {
            tags.push((VETTED_TAG, time.as_str()));
        }
        if tags.is_empty() {
            return assessment;
        }
        let tagged = deadline
            .run(
                COMPLETION_RESERVE,
                self.instances.tag_instance(&action.instance_id, &tags),
            )
            .await
            .unwrap_or_else(|| Err(AwsError::new("CreateTags", None, LATE)));
        let Err(err) = tagged else {
            return assessment;
        };
        tracing::error!(instance_id = %action.instance_id, %err, "decision could not be recorded on the instance");
        if budgeted {
            assessment.verdict.result = fail_result(self.policy);
            assessment.unknown.push(format!(
                "the admission could not be recorded on the instance: {err}"
            ));
        }
        // Without budgets the launch is let in unrecorded: instance-audit
        // then checks it like any unvetted instance.
        assessment
    }

    /// Alerts on the decision; a budget-only denial on a group the guard
    /// already suspended is the same condition and is not alerted again.
    async fn alert_decision(
        &self,
        action: &LifecycleAction,
        origin: &Origin,
        assessment: &Assessment,
        group: &GroupFacts,
    ) {
        let verdict = &assessment.verdict;
        let only_budget = verdict.blocking().all(|f| is_budget(f.violation.check));
        let already_suspended = group.tags.contains_key(SUSPENDED_TAG);
        let quiet = denied_for_budget(verdict) && only_budget && already_suspended;
        let unknown = assessment.unknown();
        let Some(mut alert) = self.decision_alert(action, origin, verdict, unknown.as_deref())
        else {
            return;
        };
        if quiet {
            return;
        }
        if let Some((admission, _)) = &assessment.budget {
            add_usage(&mut alert, self.policy, admission);
        }
        self.publish(&alert).await;
    }

    /// One critical alert per lifecycle action whose completion failed, also
    /// across retries in other environments: the instance is marked with the
    /// action's token, and a retry that finds the mark stays quiet.
    async fn alert_failed_completion(
        &self,
        action: &LifecycleAction,
        origin: &Origin,
        assessment: &Assessment,
        err: &HandlerError,
        deadline: Deadline,
    ) {
        let marked = assessment
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
        let mut alert = self.alert(
            AlertKind::GuardError,
            Severity::Critical,
            action,
            origin,
            &assessment.verdict,
        );
        alert.headline = format!(
            "lifecycle action of {} could not be completed",
            action.instance_id
        );
        alert.advice = format!(
            "{err}. The event is retried; if no retry completes it, the instance waits until the hook's heartbeat \
             timeout and then gets its DefaultResult. Check the function's permissions and logs."
        );
        let mark = async {
            let tags = [(COMPLETION_FAILED_TAG, action.token.as_str())];
            if let Err(err) = self
                .instances
                .tag_instance(&action.instance_id, &tags)
                .await
            {
                tracing::warn!(instance_id = %action.instance_id, %err, "failed completion could not be marked");
            }
            self.publish(&alert).await;
        };
        let _ = deadline.run(CLOSING_RESERVE, mark).await;
    }

    /// Suspends `Launch` on `groups` (all at once) so that they do not loop
    /// launch → abandon while the cluster is at its budget; stops `reserve`
    /// before the deadline, reporting what was not done as failed.
    async fn suspend_for_budget(
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
            self.groups,
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

    /// One `scale_out_suspended` alert when the suspension changed a group.
    async fn alert_suspension(
        &self,
        action: &LifecycleAction,
        origin: &Origin,
        verdict: &Verdict,
        report: &SuspensionReport,
        admission: &Admission,
    ) {
        if report.changed.is_empty() && report.failed.is_empty() {
            return;
        }
        let mut alert = self.alert(
            AlertKind::ScaleOutSuspended,
            Severity::Critical,
            action,
            origin,
            verdict,
        );
        alert.decision = "suspend".to_owned();
        alert.group = None;
        alert.headline = format!(
            "scale-out suspended on {} group(s): budget reached",
            report.changed.len()
        );
        alert.advice = "the cluster reached its budget, so new launches are abandoned and Launch is suspended on \
            the cluster's groups. Only Launch is suspended: health checks and scheduled actions go on, but an \
            unhealthy node is terminated and not replaced until Launch resumes. budget-guard resumes it when usage, \
            with what each group will launch at once, falls below GUARD_RESUME_BELOW_PERCENT. Look for what is \
            scaling out."
            .to_owned();
        alert
            .details
            .insert("groups".to_owned(), serde_json::json!(report.changed));
        if !report.failed.is_empty() {
            alert
                .details
                .insert("failed".to_owned(), serde_json::json!(report.failed));
        }
        add_usage(&mut alert, self.policy, admission);
        self.publish(&alert).await;
    }

    /// Reads the instance, then its image and subnet in parallel. An image or
    /// subnet that cannot be read leaves the rest of the facts known.
    async fn gather(&self, instance_id: &str) -> Gathered {
        let instance = self.find_instance(instance_id).await?;
        let subnet = async {
            match &instance.subnet_id {
                Some(id) => self.images.subnet(id).await,
                None => Ok(None),
            }
        };
        let (image, subnet) = futures::join!(self.images.image(&instance.image_id), subnet);
        let mut unread = Unread::default();
        let mut unknown = Vec::new();
        let image = image.unwrap_or_else(|err| {
            unread.image = true;
            unknown.push(format!("the image: {err}"));
            None
        });
        let subnet = subnet.unwrap_or_else(|err| {
            unread.subnet = true;
            unknown.push(format!("the subnet: {err}"));
            None
        });
        Ok(Known {
            facts: NodeFacts {
                instance,
                image,
                subnet,
            },
            unread,
            unknown,
        })
    }

    /// The launched instance. EC2's reads are eventually consistent: right
    /// after a launch it may not know the instance yet, so it is asked again
    /// a few times before the instance counts as missing.
    async fn find_instance(&self, instance_id: &str) -> Result<InstanceFacts, String> {
        let mut waits = NOT_FOUND_WAITS.iter();
        loop {
            match self.instances.instance(instance_id).await {
                Ok(Some(instance)) => return Ok(instance),
                Ok(None) => match waits.next() {
                    Some(wait) => tokio::time::sleep(*wait).await,
                    None => return Err(format!("instance `{instance_id}` was not found")),
                },
                Err(err) => return Err(err.to_string()),
            }
        }
    }

    fn decision_alert(
        &self,
        action: &LifecycleAction,
        origin: &Origin,
        verdict: &Verdict,
        unknown: Option<&str>,
    ) -> Option<Alert> {
        let id = &action.instance_id;
        match unknown {
            // Nothing known blocks: the fail mode decided.
            Some(reason) if !verdict.is_blocked() => {
                let mut alert = self.alert(
                    AlertKind::GuardError,
                    Severity::Critical,
                    action,
                    origin,
                    verdict,
                );
                let done = match verdict.result {
                    LifecycleResult::Continue => "let in",
                    LifecycleResult::Abandon => "abandoned",
                };
                alert.headline = format!("launch of {id} {done} by the fail mode");
                alert.advice = format!(
                    "part of the launch could not be established ({reason}), so GUARD_FAIL_MODE decided; what \
                     could be checked blocks nothing. Check the instance and the function's logs and permissions."
                );
                alert
                    .details
                    .insert("unknown".to_owned(), serde_json::json!(reason));
                Some(alert)
            }
            _ => {
                let mut alert = self.verdict_alert(action, origin, verdict)?;
                if let Some(reason) = unknown {
                    alert.advice.push_str(&format!(
                        " Part of the launch could not be established ({reason}); what was known decided."
                    ));
                    alert
                        .details
                        .insert("unknown".to_owned(), serde_json::json!(reason));
                }
                Some(alert)
            }
        }
    }

    /// The alert on a decision the checks made, if it needs one.
    fn verdict_alert(
        &self,
        action: &LifecycleAction,
        origin: &Origin,
        verdict: &Verdict,
    ) -> Option<Alert> {
        let id = &action.instance_id;
        let checks = verdict.check_names().join(", ");
        match verdict.result {
            LifecycleResult::Abandon => {
                let mut alert = self.alert(
                    AlertKind::LaunchDenied,
                    Severity::Warning,
                    action,
                    origin,
                    verdict,
                );
                alert.headline = format!("launch of {id} denied ({checks})");
                alert.advice = "the instance was abandoned and is being terminated. Fix the group's launch \
                    template (or the policy, if it is wrong) so that new nodes comply; the group keeps \
                    launching replacements until then."
                    .to_owned();
                Some(alert)
            }
            LifecycleResult::Continue if !verdict.findings.is_empty() => {
                let mut alert = self.alert(
                    AlertKind::LaunchViolationReported,
                    Severity::Info,
                    action,
                    origin,
                    verdict,
                );
                alert.headline = format!("launch of {id} let in with violations ({checks})");
                alert.advice = format!(
                    "these checks only report ({}). Fix the launch template before they are enforced.",
                    if self.policy.mode == Mode::Audit {
                        "audit mode"
                    } else {
                        "GUARD_AUDIT_ONLY_CHECKS"
                    }
                );
                Some(alert)
            }
            LifecycleResult::Continue => None,
        }
    }

    fn alert(
        &self,
        kind: AlertKind,
        severity: Severity,
        action: &LifecycleAction,
        origin: &Origin,
        verdict: &Verdict,
    ) -> Alert {
        let mut alert = Alert::new(kind, severity, self.policy, (self.clock)(), "");
        alert.decision = verdict.result.as_str().to_owned();
        alert.instance_id = Some(action.instance_id.clone());
        alert.group = Some(action.group.clone());
        alert.violations = verdict.findings.clone();
        alert.account = origin.account.clone();
        alert.region = origin.region.clone();
        alert
    }

    async fn publish(&self, alert: &Alert) {
        shared::alerts::publish_best_effort(self.alerts, alert).await;
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
/// How long to wait before asking EC2 again for an instance it does not
/// know yet (`InvalidInstanceID.NotFound` right after a launch).
const NOT_FOUND_WAITS: [Duration; 3] = [
    Duration::from_millis(250),
    Duration::from_millis(750),
    Duration::from_secs(2),
];
/// What a step that ran out of time says.
const LATE: &str = "not established before the invocation's deadline";
/// Marks an instance whose lifecycle action could not be completed, with the
/// action's token: a retry in any environment finds it and alerts no more.
pub const COMPLETION_FAILED_TAG: &str = "scaling-guard:completion-failed";

/// What is known of a launch: its facts, and which could not be read.
struct Known {
    facts: NodeFacts,
    unread: Unread,
    unknown: Vec<String>,
}

/// The facts of a launch, or why its instance could not be established.
type Gathered = Result<Known, String>;

/// What the launch guard concluded about one launch.
struct Assessment {
    verdict: Verdict,
    /// What could not be established: the instance, image, subnet, budget.
    unknown: Vec<String>,
    /// The admission and the cluster read for it, with budgets.
    budget: Option<(Admission, ClusterState)>,
    facts: Option<NodeFacts>,
    /// Every node check ran on read facts.
    vetted: bool,
}

impl Assessment {
    /// What could not be established, in one line.
    fn unknown(&self) -> Option<String> {
        (!self.unknown.is_empty()).then(|| self.unknown.join("; "))
    }
}

fn item_failure(id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = id;
    failure
}

/// Whether a budget check blocks this launch.
fn denied_for_budget(verdict: &Verdict) -> bool {
    verdict.blocking().any(|f| is_budget(f.violation.check))
}

fn is_budget(check: CheckName) -> bool {
    matches!(
        check,
        CheckName::BudgetVcpus | CheckName::BudgetMemory | CheckName::BudgetInstances
    )
}

/// Usage and budget figures, in the JSON and the e-mail of an alert.
fn add_usage(alert: &mut Alert, policy: &Policy, admission: &Admission) {
    for dim in budget::dimensions(&policy.budget, admission.usage) {
        alert.details.insert(
            format!("usage_{}", dim.name),
            serde_json::json!(format!(
                "{} of {} ({:.1}%)",
                dim.used,
                dim.max,
                dim.percent()
            )),
        );
    }
    alert.details.insert(
        "launch_would_add".to_owned(),
        serde_json::json!(admission.candidate),
    );
}

impl HandlerError {
    fn ownership(action: &LifecycleAction, source: AwsError) -> Self {
        HandlerError::Ownership {
            group: action.group.clone(),
            source,
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        let error_type = match &err {
            HandlerError::Event(_) => "MalformedEvent",
            HandlerError::Ownership { .. } => "OwnershipUnknown",
            HandlerError::Completion { .. } => "CompletionFailed",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
