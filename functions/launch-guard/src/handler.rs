//! SPEC §5: ignore what is not ours, gather facts, check, decide, complete
//! every owned action, alert, summarise.

use std::time::SystemTime;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde::Serialize;
use serde_json::Value;
use shared::alerts::{Alert, AlertKind, Severity};
use shared::budget;
use shared::budget::measure::{ADMITTED_TAG, ClusterState, GuardedGroups};
use shared::checks::{CheckName, Violation, check_node};
use shared::decision::{Decision, Finding, LifecycleResult, Verdict, fail_result};
use shared::facts::{GroupFacts, NodeFacts};
use shared::lifecycle::{
    self, EventError, LAUNCHING, LifecycleAction, Notification, Origin, WARM_POOL,
};
use shared::policy::{Mode, Policy};
use shared::ports::{
    AlertPublish, AwsError, ClusterGroupsRead, ClusterInstancesRead, Completion, GroupRead,
    InstanceRead, InstanceTag, InstanceTypesRead, LifecycleComplete, NetworkImageRead,
    ScaleOutControl,
};
use shared::suspension::{self, OnIncomplete, SUSPENDED_TAG, SuspensionRecord, SuspensionReport};
use shared::time::format_rfc3339;

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
}

/// The facts of a launch, or why they could not be established.
type Gathered = Result<NodeFacts, String>;

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
        }
    }

    /// Replaces the clock (tests pin "now" for image ages).
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// Entry point: an EventBridge event, a hook message, or an SQS batch of
    /// either. A batch answers with `batchItemFailures` so that one bad
    /// message never fails its neighbours.
    pub async fn handle(&self, payload: Value) -> Result<Value, HandlerError> {
        if payload.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(payload)
                .map_err(|err| EventError::BadDetail(format!("sqs batch: {err}")))?;
            return Ok(serde_json::to_value(self.handle_batch(batch).await).unwrap_or_default());
        }
        let summary = self.handle_notification(lifecycle::parse(payload)?).await?;
        Ok(serde_json::to_value(summary).unwrap_or_default())
    }

    async fn handle_batch(&self, batch: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for record in batch.records {
            let id = record.message_id.unwrap_or_default();
            let body = record.body.unwrap_or_default();
            let outcome = match lifecycle::parse_text(&body) {
                Ok(mut notification) => {
                    // The hook's own message format names no region; the queue's does.
                    if let Notification::Action { origin, .. } = &mut notification {
                        origin.region = origin.region.take().or_else(|| record.aws_region.clone());
                    }
                    self.handle_notification(notification).await.map(drop)
                }
                Err(err) => Err(HandlerError::from(err)),
            };
            if let Err(err) = outcome {
                tracing::error!(message_id = %id, %err, "sqs message failed");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    pub async fn handle_notification(
        &self,
        notification: Notification,
    ) -> Result<Summary, HandlerError> {
        match notification {
            Notification::Test { group } => {
                Ok(self.ignored(None, group, "test notification".to_owned()))
            }
            Notification::Action { action, origin } => self.handle_action(*action, origin).await,
        }
    }

    async fn handle_action(
        &self,
        action: LifecycleAction,
        origin: Origin,
    ) -> Result<Summary, HandlerError> {
        let policy = self.policy;
        let ignore = |reason: String| {
            Ok(self.ignored(
                Some(action.instance_id.clone()),
                Some(action.group.clone()),
                reason,
            ))
        };
        if action.transition != LAUNCHING {
            return ignore(format!(
                "transition `{}` is not a launch",
                action.transition
            ));
        }
        if action.hook != policy.hook_name {
            return ignore(format!(
                "hook `{}` is not the guard's hook `{}`",
                action.hook, policy.hook_name
            ));
        }
        // Entering a warm pool, a node is vetted but charges no budget: it is
        // charged, and may be denied, when it leaves the pool into the group.
        let budgeted = policy.budget.is_on() && action.destination.as_deref() != Some(WARM_POOL);
        // From reading usage to recording the admission, one launch at a time.
        let _admission = match budgeted {
            true => Some(self.admission_lock.lock().await),
            false => None,
        };
        // Membership, the instance and (with budgets) the cluster are
        // independent: ask them all at once.
        let cluster = async {
            match budgeted {
                true => ClusterState::read(&policy.cluster_tag_key, self.instances, self.groups)
                    .await
                    .map(Some)
                    .map_err(|err| err.to_string()),
                false => Ok(None),
            }
        };
        let (group, gathered, cluster) = futures::join!(
            self.groups.group(&action.group),
            self.gather(&action.instance_id),
            cluster
        );
        let group = match group {
            Ok(Some(group)) if group.is_member_of(&policy.cluster_tag_key) => group,
            Ok(Some(_)) => {
                return ignore(format!(
                    "group `{}` is not a member of cluster `{}`",
                    action.group, policy.cluster
                ));
            }
            Ok(None) => return ignore(format!("group `{}` does not exist", action.group)),
            Err(source) => {
                return Err(HandlerError::Ownership {
                    group: action.group.clone(),
                    source,
                });
            }
        };
        // Its launch reached the guard's hook: the group carries it.
        self.guarded.mark(&action.group);
        let (verdict, reason, budget) = match self.check(gathered, cluster).await {
            Ok((violations, budget)) => {
                (Verdict::from_violations(policy, violations), None, budget)
            }
            Err(reason) => (
                Verdict {
                    result: fail_result(policy),
                    findings: Vec::new(),
                },
                Some(reason),
                None,
            ),
        };

        let (verdict, reason) = self
            .record_admission(&action, verdict, reason, budget.is_some())
            .await;
        // A budget denial suspends scale-out before the ABANDON completes, so
        // that the group does not launch a replacement in between.
        let suspension = match &budget {
            Some((_, cluster)) if denied_for_budget(&verdict) => {
                Some(self.suspend_for_budget(&action, cluster).await)
            }
            _ => None,
        };
        let completion = match self.groups.complete(&action, verdict.result).await {
            Ok(completion) => completion,
            Err(source) => {
                let err = HandlerError::Completion {
                    instance_id: action.instance_id.clone(),
                    source,
                };
                let mut alert = self.alert(
                    AlertKind::GuardError,
                    Severity::Critical,
                    &action,
                    &origin,
                    &verdict,
                );
                alert.headline = format!(
                    "lifecycle action of {} could not be completed",
                    action.instance_id
                );
                alert.advice = format!(
                    "{err}. The instance waits until the hook's heartbeat timeout and then gets its DefaultResult; check the function's permissions and logs."
                );
                self.publish(&alert).await;
                return Err(err);
            }
        };
        let summary = Summary {
            decision: verdict.result.into(),
            instance_id: Some(action.instance_id.clone()),
            group: Some(action.group.clone()),
            violations: verdict.findings.clone(),
            mode: policy.mode,
            reason: reason.clone(),
            duplicate: completion == Completion::NoActiveAction,
        };
        let checks = verdict.check_names();
        tracing::info!(
            decision = ?summary.decision,
            instance_id = %action.instance_id,
            group = %action.group,
            mode = %policy.mode,
            ?checks,
            reason = reason.as_deref().unwrap_or(""),
            duplicate = summary.duplicate,
            "launch decided"
        );
        // A duplicate was alerted on when its first copy was decided.
        if completion == Completion::Completed {
            if verdict.result == LifecycleResult::Continue {
                self.ledger.record(&action.instance_id);
            }
            self.alert_decision(
                &action,
                &origin,
                &verdict,
                reason.as_deref(),
                &group,
                budget.as_ref(),
            )
            .await;
        }
        if let (Some(report), Some((admission, _))) = (suspension, &budget) {
            self.alert_suspension(&action, &origin, &verdict, &report, admission)
                .await;
        }
        Ok(summary)
    }

    /// Every node check and, with budgets, the admission. `Err` when the
    /// facts could not be established.
    async fn check(
        &self,
        gathered: Gathered,
        cluster: Result<Option<ClusterState>, String>,
    ) -> Result<(Vec<Violation>, Option<(Admission, ClusterState)>), String> {
        let facts = gathered?;
        let mut violations = check_node(self.policy, &facts, (self.clock)());
        let Some(cluster) = cluster? else {
            return Ok((violations, None));
        };
        let (admission, cluster) = admission::admit(
            self.policy,
            self.instances,
            self.groups,
            &self.guarded,
            &self.ledger,
            cluster,
            &facts.instance,
        )
        .await?;
        violations.extend(admission.violations.iter().cloned());
        violations.sort();
        Ok((violations, Some((admission, cluster))))
    }

    /// Records an admission on the instance before its `CONTINUE`, so that
    /// every execution environment and budget-guard count it from then on.
    /// Without the record the budget cannot hold beyond this environment, so
    /// the fail mode decides. Audit mode changes nothing, not even this tag.
    async fn record_admission(
        &self,
        action: &LifecycleAction,
        verdict: Verdict,
        reason: Option<String>,
        budgeted: bool,
    ) -> (Verdict, Option<String>) {
        let admitted = budgeted
            && verdict.result == LifecycleResult::Continue
            && self.policy.mode == Mode::Enforce;
        if !admitted {
            return (verdict, reason);
        }
        let time = format_rfc3339((self.clock)());
        match self
            .instances
            .tag_instance(&action.instance_id, ADMITTED_TAG, &time)
            .await
        {
            Ok(()) => (verdict, reason),
            Err(err) => {
                tracing::error!(instance_id = %action.instance_id, %err, "admission could not be recorded");
                let verdict = Verdict {
                    result: fail_result(self.policy),
                    findings: verdict.findings,
                };
                let reason = format!("the admission could not be recorded on the instance: {err}");
                (verdict, Some(reason))
            }
        }
    }

    /// Alerts on the decision; a budget-only denial on a group the guard
    /// already suspended is the same condition and is not alerted again.
    async fn alert_decision(
        &self,
        action: &LifecycleAction,
        origin: &Origin,
        verdict: &Verdict,
        fact_error: Option<&str>,
        group: &GroupFacts,
        budget: Option<&(Admission, ClusterState)>,
    ) {
        let only_budget = verdict.blocking().all(|f| is_budget(f.violation.check));
        let already_suspended = group.tags.contains_key(SUSPENDED_TAG);
        let quiet = denied_for_budget(verdict) && only_budget && already_suspended;
        let Some(mut alert) = self.decision_alert(action, origin, verdict, fact_error) else {
            return;
        };
        if quiet {
            return;
        }
        if let Some((admission, _)) = budget {
            add_usage(&mut alert, self.policy, admission);
        }
        self.publish(&alert).await;
    }

    /// Suspends `Launch` on every cluster group so that groups do not loop
    /// launch → abandon while the cluster is at its budget.
    async fn suspend_for_budget(
        &self,
        action: &LifecycleAction,
        cluster: &ClusterState,
    ) -> SuspensionReport {
        let record = SuspensionRecord::new(
            format!("launch of {} denied for budget", action.instance_id),
            "budget_denial",
            (self.clock)(),
            Vec::new(),
        );
        // A group with the guard's record but a running Launch may be in the
        // middle of budget-guard's resume: it is left alone (see
        // shared::suspension), and launches stay denied meanwhile.
        let report = suspension::suspend(
            self.groups,
            &cluster.groups,
            self.policy.budget.clamp_max_size,
            &record,
            OnIncomplete::Leave,
        )
        .await;
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

    /// Reads the instance, then its image and subnet in parallel.
    async fn gather(&self, instance_id: &str) -> Gathered {
        let instance = match self.instances.instance(instance_id).await {
            Ok(Some(instance)) => instance,
            Ok(None) => return Err(format!("instance `{instance_id}` was not found")),
            Err(err) => return Err(err.to_string()),
        };
        let subnet = async {
            match &instance.subnet_id {
                Some(id) => self.images.subnet(id).await,
                None => Ok(None),
            }
        };
        let (image, subnet) = futures::join!(self.images.image(&instance.image_id), subnet);
        Ok(NodeFacts {
            image: image.map_err(|err| err.to_string())?,
            subnet: subnet.map_err(|err| err.to_string())?,
            instance,
        })
    }

    fn decision_alert(
        &self,
        action: &LifecycleAction,
        origin: &Origin,
        verdict: &Verdict,
        fact_error: Option<&str>,
    ) -> Option<Alert> {
        let id = &action.instance_id;
        if let Some(reason) = fact_error {
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
            alert.headline = format!("launch of {id} {done} unchecked (fail mode)");
            alert.advice = format!(
                "the facts of the launch could not be established ({reason}), so GUARD_FAIL_MODE decided. \
                 Check the instance and the function's logs and permissions."
            );
            return Some(alert);
        }
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
