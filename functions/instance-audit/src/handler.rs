//! SPEC §6: ignore what is not the cluster's, establish how an instance came
//! in and what it breaks, remediate per the policy, alert once.
//!
//! Which event does what, so that each launch is reported once although EC2
//! and Auto Scaling send up to three events for it:
//!
//! - a remediation (enforce mode, a blocking finding, an instance launch-guard
//!   did not vet, `GUARD_AUDIT_ACTION` other than `alert`) happens at the first
//!   event that can make it: `terminate` and `isolate` at `pending`, before
//!   the node takes work; `stop` at `running` (EC2 cannot stop a pending
//!   instance). Later events find it done and stay quiet;
//! - findings that are only reported are alerted once: for an instance outside
//!   any group at `running`, for a group's instance at `EC2 Instance Launch
//!   Successful`;
//! - an instance whose group carries the guard's hook and that launch-guard
//!   recorded (`scaling-guard:vetted`) was decided before it entered service:
//!   events leave it alone, the sweep reports its drift (never remediates
//!   it). One without that record was let in by no one's check (the hook's
//!   `DefaultResult`, the fail mode, a launch before the hook): it is audited
//!   like any unvetted instance, once its launch is complete (at `EC2
//!   Instance Launch Successful`, or by the sweep once the hook's heartbeat
//!   timeout is over), never while launch-guard may still be deciding it;
//! - every remediation is first recorded on the instance
//!   (`scaling-guard:remediated`); events and sweeps together change at most
//!   `GUARD_MAX_REMEDIATIONS_PER_HOUR` instances an hour, counted from those
//!   records, so the cap holds across execution environments. A remediation
//!   the cap holds back waits for a later sweep; the first one held in an
//!   hour is alerted (`remediation_capped`);
//! - the sweep audits everything and sends one summary.

use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::{Value, json};
use shared::alerts::{Alert, AlertKind, Severity};
use shared::audit::gather::{self, Audited};
use shared::audit::{
    InstanceAudit, Plan, REMEDIATED_TAG, REMEDIATION_HELD_TAG, Remediation, RemediationWindow,
    Remedy, SweepReport, isolation_tags,
};
use shared::cache::TtlCache;
use shared::checks::membership::{GROUP_NAME_TAG, Membership, UNVETTED_REASON, Vetting};
use shared::decision::Finding;
use shared::facts::InstanceFacts;
use shared::lifecycle::Origin;
use shared::policy::{Mode, Policy};
use shared::ports::{
    AlertPublish, AwsError, ClusterGroupsRead, ClusterInstancesRead, InstanceRead,
    InstanceRemediate, InstanceTag, Metric, MetricUnit, MetricsPublish, NetworkImageRead,
    TaggedInstancesRead,
};
use shared::time::format_rfc3339;

use crate::event::{self, Event, EventError, Trigger};

/// At most this many instances are changed per sweep; the rest wait for the
/// next sweep. A policy change (or a mistake in it) must not stop or
/// terminate a whole cluster within one run.
pub const MAX_REMEDIATIONS_PER_SWEEP: usize = 20;

/// How long a reported finding is not reported again by the same environment
/// (the sweep's summary still lists it every run).
const REPORTED_TTL: Duration = Duration::from_secs(6 * 3600);

/// Why an invocation failed. The event is then retried (asynchronous
/// invocation) and, when retries run out, kept in the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("cannot audit instance `{instance_id}`: {source}")]
    Facts {
        instance_id: String,
        #[source]
        source: AwsError,
    },
    #[error("cannot list the cluster's instances: {source}")]
    Sweep {
        #[source]
        source: AwsError,
    },
    /// Without the count, no remediation is made: the event is retried.
    #[error("cannot count the cluster's remediations of the last hour: {source}")]
    Cap {
        #[source]
        source: AwsError,
    },
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        let error_type = match &err {
            HandlerError::Event(_) => "MalformedEvent",
            HandlerError::Facts { .. } => "FactsUnavailable",
            HandlerError::Sweep { .. } => "SweepFailed",
            HandlerError::Cap { .. } => "CapUnavailable",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// What happened to one instance event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Not the cluster's, not found, or not pending/running.
    Ignored,
    Compliant,
    /// Launch-guard decided it at launch: its group carries the hook and it
    /// carries launch-guard's record.
    Vetted,
    /// Non-compliant, alerted, nothing changed.
    Reported,
    /// Left to a later event (see the module documentation).
    Deferred,
    Remediated,
    /// An earlier event or sweep already remediated it: nothing to do.
    AlreadyRemediated,
    /// Held back by `GUARD_MAX_REMEDIATIONS_PER_HOUR`: a later sweep tries
    /// again when the hour's count allows.
    Capped,
    /// The remediation failed: alerted; the next sweep tries again.
    RemediationFailed,
}

/// The JSON summary an instance event returns (and logs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub trigger: &'static str,
    pub outcome: Outcome,
    pub instance_id: String,
    pub group: Option<String>,
    /// The remediation made, planned or found done.
    pub action: Option<&'static str>,
    pub violations: Vec<Finding>,
    pub mode: Mode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The instance audit over its ports.
#[derive(Debug)]
pub struct Auditor<'a, E, N, G, R, M, A> {
    policy: &'a Policy,
    instances: &'a E,
    images: &'a N,
    groups: &'a G,
    remediate: &'a R,
    metrics: &'a M,
    alerts: &'a A,
    clock: fn() -> SystemTime,
    /// Findings already reported by this environment: at-least-once delivery
    /// and the several events of one launch alert a finding once.
    reported: TtlCache<()>,
}

impl<'a, E, N, G, R, M, A> Auditor<'a, E, N, G, R, M, A>
where
    E: InstanceRead + ClusterInstancesRead + TaggedInstancesRead + InstanceTag,
    N: NetworkImageRead,
    G: ClusterGroupsRead,
    R: InstanceRemediate,
    M: MetricsPublish,
    A: AlertPublish,
{
    pub fn new(
        policy: &'a Policy,
        instances: &'a E,
        images: &'a N,
        groups: &'a G,
        remediate: &'a R,
        metrics: &'a M,
        alerts: &'a A,
    ) -> Self {
        Self {
            policy,
            instances,
            images,
            groups,
            remediate,
            metrics,
            alerts,
            clock: SystemTime::now,
            reported: TtlCache::new(4096, REPORTED_TTL),
        }
    }

    /// Replaces the clock (tests pin "now" for image ages and tags).
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// Entry point: an EventBridge event of one of the three triggers.
    pub async fn handle(&self, payload: Value) -> Result<Value, HandlerError> {
        let Event { trigger, origin } = event::parse(payload)?;
        let summary = match &trigger {
            Trigger::Sweep => return self.sweep(&origin).await,
            Trigger::StateChange { instance_id, state } => {
                if matches!(state.as_str(), "pending" | "running") {
                    self.audit_instance(&trigger, instance_id, None, &origin)
                        .await?
                } else {
                    self.ignored(
                        &trigger,
                        instance_id,
                        format!("state `{state}` is neither pending nor running"),
                    )
                }
            }
            Trigger::LaunchSuccessful {
                instance_id,
                group,
                warm_pool: true,
            } => self.ignored(
                &trigger,
                instance_id,
                format!(
                    "launched into the warm pool of group `{group}`: audited when it enters service"
                ),
            ),
            Trigger::LaunchSuccessful {
                instance_id,
                group,
                warm_pool: false,
            } => {
                self.audit_instance(&trigger, instance_id, Some(group), &origin)
                    .await?
            }
        };
        let checks: Vec<&str> = summary
            .violations
            .iter()
            .map(|f| f.violation.check.as_str())
            .collect();
        tracing::info!(
            trigger = summary.trigger,
            outcome = ?summary.outcome,
            instance_id = %summary.instance_id,
            group = summary.group.as_deref().unwrap_or(""),
            action = summary.action.unwrap_or(""),
            mode = %self.policy.mode,
            ?checks,
            reason = summary.reason.as_deref().unwrap_or(""),
            "instance audited"
        );
        Ok(serde_json::to_value(summary).unwrap_or_default())
    }

    async fn audit_instance(
        &self,
        trigger: &Trigger,
        instance_id: &str,
        event_group: Option<&str>,
        origin: &Origin,
    ) -> Result<Summary, HandlerError> {
        let policy = self.policy;
        let facts_error = |source| HandlerError::Facts {
            instance_id: instance_id.to_owned(),
            source,
        };
        let mut instance = match self.instances.instance(instance_id).await {
            Ok(Some(instance)) => instance,
            // Terminated instances stay visible for about an hour; one that is
            // not found at all cannot be shown to be the cluster's.
            Ok(None) => {
                return Ok(self.ignored(
                    trigger,
                    instance_id,
                    format!("instance `{instance_id}` was not found"),
                ));
            }
            Err(source) => return Err(facts_error(source)),
        };
        if !instance.tags.contains_key(&policy.cluster_tag_key) {
            return Ok(self.ignored(
                trigger,
                instance_id,
                format!(
                    "instance `{instance_id}` is not a member of cluster `{}`",
                    policy.cluster
                ),
            ));
        }
        if !gather::is_audited(policy, &instance) {
            return Ok(self.ignored(
                trigger,
                instance_id,
                format!("instance `{instance_id}` is `{}` now", instance.state),
            ));
        }
        if let Some(group) = event_group {
            instance
                .tags
                .entry(GROUP_NAME_TAG.to_owned())
                .or_insert_with(|| group.to_owned());
        }
        let mut membership = gather::membership(policy, self.groups, &instance, (self.clock)())
            .await
            .map_err(facts_error)?;
        if matches!(trigger, Trigger::LaunchSuccessful { .. }) {
            // Auto Scaling reports a launch successful once its hooks let it go.
            membership = membership.launch_completed();
        }
        if let Membership::GuardedGroup { group, vetting } = &membership {
            let (outcome, reason) = match vetting {
                Vetting::Vetted => (
                    Outcome::Vetted,
                    format!(
                        "group `{group}` carries the launch hook `{}` and launch-guard recorded its decision on this instance; the sweep reports drift",
                        policy.hook_name
                    ),
                ),
                Vetting::Undecided => (
                    Outcome::Deferred,
                    format!(
                        "launch-guard has not decided it yet: audited when group `{group}` reports the launch successful"
                    ),
                ),
                Vetting::Unvetted => (Outcome::Compliant, String::new()),
            };
            if outcome != Outcome::Compliant {
                let mut summary = self.summary(trigger, &instance, outcome, None, None);
                summary.group = Some(group.clone());
                summary.reason = Some(reason);
                return Ok(summary);
            }
        }
        let facts = gather::node_facts(self.images, instance)
            .await
            .map_err(facts_error)?;
        let audit = InstanceAudit::of(policy, &facts, membership, (self.clock)());
        let instance = facts.instance;

        match Plan::for_audit(policy, &audit) {
            Plan::Compliant => {
                Ok(self.summary(trigger, &instance, Outcome::Compliant, None, Some(&audit)))
            }
            Plan::Report(why) => {
                if let Some(later) = report_later(trigger, &audit.membership) {
                    let mut summary =
                        self.summary(trigger, &instance, Outcome::Deferred, None, Some(&audit));
                    summary.reason = Some(later);
                    return Ok(summary);
                }
                let key = format!("{}|{}", instance.instance_id, audit.check_list());
                if self.reported.get(&key).is_some() {
                    let mut summary =
                        self.summary(trigger, &instance, Outcome::Reported, None, Some(&audit));
                    summary.reason = Some("already reported".to_owned());
                    return Ok(summary);
                }
                self.reported.insert(&key, ());
                let mut alert = self.instance_alert(
                    AlertKind::InstanceNonCompliant,
                    Severity::Warning,
                    trigger,
                    &instance,
                    &audit,
                    origin,
                );
                alert.decision = "alert".to_owned();
                alert.headline = format!(
                    "instance {} non-compliant ({})",
                    instance.instance_id,
                    audit.check_list()
                );
                alert.advice = format!("{} {}.", what_to_fix(&audit.membership), why.explain());
                self.publish(&alert).await;
                Ok(self.summary(trigger, &instance, Outcome::Reported, None, Some(&audit)))
            }
            Plan::Remediate(remedy) => {
                let action = Some(remedy.as_str());
                if remedy.is_done(&instance) {
                    return Ok(self.summary(
                        trigger,
                        &instance,
                        Outcome::AlreadyRemediated,
                        action,
                        Some(&audit),
                    ));
                }
                if !remedy.applies_now(&instance) {
                    let mut summary =
                        self.summary(trigger, &instance, Outcome::Deferred, action, Some(&audit));
                    summary.reason = Some(format!(
                        "a `{}` instance cannot be stopped yet: stopped when it is running",
                        instance.state
                    ));
                    return Ok(summary);
                }
                let window = self.window().await?;
                if window.is_full() {
                    return Ok(self
                        .hold(trigger, &remedy, &instance, &audit, &window, origin)
                        .await);
                }
                let outcome = match self.remediate(&remedy, &instance, &audit).await {
                    Ok(()) => {
                        let alert =
                            self.remediated_alert(trigger, &remedy, &instance, &audit, origin);
                        self.publish(&alert).await;
                        Outcome::Remediated
                    }
                    Err(err) => {
                        let alert =
                            self.failed_alert(trigger, &remedy, &instance, &audit, origin, &err);
                        self.publish(&alert).await;
                        Outcome::RemediationFailed
                    }
                };
                Ok(self.summary(trigger, &instance, outcome, action, Some(&audit)))
            }
        }
    }

    /// The cluster's remediations of the last hour, from the records on its
    /// instances: the same count in every execution environment.
    async fn window(&self) -> Result<RemediationWindow, HandlerError> {
        let recorded = self
            .instances
            .tagged_instances(&[REMEDIATED_TAG, REMEDIATION_HELD_TAG])
            .await
            .map_err(|source| HandlerError::Cap { source })?;
        Ok(RemediationWindow::count(
            self.policy,
            &recorded,
            (self.clock)(),
        ))
    }

    /// Holds a remediation back at the hourly cap: records the hold on the
    /// instance and alerts the first hold of the window.
    async fn hold(
        &self,
        trigger: &Trigger,
        remedy: &Remedy,
        instance: &InstanceFacts,
        audit: &InstanceAudit,
        window: &RemediationWindow,
        origin: &Origin,
    ) -> Summary {
        let (value, alert_now) = window.hold((self.clock)());
        let recorded = self
            .instances
            .tag_instance(&instance.instance_id, &[(REMEDIATION_HELD_TAG, &value)])
            .await;
        if let Err(err) = recorded {
            tracing::warn!(%err, instance_id = %instance.instance_id, "the hold could not be recorded");
        }
        if alert_now {
            let alert = self.capped_alert(trigger, remedy, instance, audit, window, origin);
            self.publish(&alert).await;
        }
        let mut summary = self.summary(
            trigger,
            instance,
            Outcome::Capped,
            Some(remedy.as_str()),
            Some(audit),
        );
        summary.reason = Some(format!(
            "{} instances remediated in the last hour reach GUARD_MAX_REMEDIATIONS_PER_HOUR ({}): left to a later sweep",
            window.remediated, window.cap
        ));
        summary
    }

    /// Records the remediation on the instance, then makes it: a change
    /// whose record cannot be written is not made (it would escape the cap).
    async fn remediate(
        &self,
        remedy: &Remedy,
        instance: &InstanceFacts,
        audit: &InstanceAudit,
    ) -> Result<(), AwsError> {
        let id = &instance.instance_id;
        let now = format_rfc3339((self.clock)());
        self.instances
            .tag_instance(id, &[(REMEDIATED_TAG, &now)])
            .await?;
        match remedy {
            Remedy::Stop => self.remediate.stop(id).await,
            Remedy::Terminate => self.remediate.terminate(id).await,
            Remedy::Isolate { security_group_id } => {
                let tags = isolation_tags(audit, instance, (self.clock)());
                self.remediate.isolate(id, security_group_id, &tags).await
            }
        }
    }

    /// Audits every cluster instance, remediates within the per-sweep limit,
    /// publishes `NonCompliantInstances` and one summary alert.
    async fn sweep(&self, origin: &Origin) -> Result<Value, HandlerError> {
        let policy = self.policy;
        let audited = gather::audit_cluster(
            policy,
            self.instances,
            self.images,
            self.groups,
            (self.clock)(),
        )
        .await
        .map_err(|source| HandlerError::Sweep { source })?;

        let mut report = SweepReport::default();
        let mut attempts = 0_usize;
        // Read once, at the first remediation the sweep plans.
        let mut window: Option<Result<RemediationWindow, String>> = None;
        for Audited { instance, audit } in audited {
            let audit = match audit {
                Ok(audit) => audit,
                Err(reason) => {
                    report.add_unchecked(&instance.instance_id, reason);
                    continue;
                }
            };
            report.add(&instance, &audit);
            let Plan::Remediate(remedy) = Plan::for_audit(policy, &audit) else {
                continue;
            };
            if remedy.is_done(&instance) {
                report.already_remediated = report.already_remediated.saturating_add(1);
                continue;
            }
            if !remedy.applies_now(&instance) || attempts >= MAX_REMEDIATIONS_PER_SWEEP {
                report.deferred = report.deferred.saturating_add(1);
                continue;
            }
            if window.is_none() {
                window = Some(self.window().await.map_err(|err| err.to_string()));
            }
            let counted = match window.as_mut() {
                Some(Ok(counted)) => counted,
                Some(Err(reason)) => {
                    report.failed.push(Remediation {
                        instance_id: instance.instance_id.clone(),
                        action: remedy.as_str(),
                        error: Some(reason.clone()),
                    });
                    continue;
                }
                None => continue,
            };
            if counted.is_full() {
                report.capped = report.capped.saturating_add(1);
                continue;
            }
            counted.add();
            attempts = attempts.saturating_add(1);
            let result = self.remediate(&remedy, &instance, &audit).await;
            let record = Remediation {
                instance_id: instance.instance_id.clone(),
                action: remedy.as_str(),
                error: result.err().map(|err| err.to_string()),
            };
            if record.error.is_some() {
                report.failed.push(record);
            } else {
                report.remediated.push(record);
            }
        }
        let report = report.finish();

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
        if let Err(err) = self.metrics.put_metrics(&policy.cluster, &metrics).await {
            tracing::error!(%err, "sweep metrics could not be published");
        }
        self.publish(&self.sweep_alert(&report, origin)).await;
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
        let mut summary = serde_json::to_value(&report).unwrap_or_default();
        if let Value::Object(fields) = &mut summary {
            fields.insert("trigger".into(), json!("sweep"));
            fields.insert("mode".into(), json!(policy.mode));
        }
        Ok(summary)
    }

    fn sweep_alert(&self, report: &SweepReport, origin: &Origin) -> Alert {
        let severity = if !report.failed.is_empty() {
            Severity::Critical
        } else if report.non_compliant > 0 || !report.unchecked.is_empty() {
            Severity::Warning
        } else {
            Severity::Info
        };
        let mut alert = Alert::new(
            AlertKind::SweepSummary,
            severity,
            self.policy,
            (self.clock)(),
            report.headline(),
        );
        alert.account = origin.account.clone();
        alert.region = origin.region.clone();
        let listed = |items: Vec<String>| Value::from(items);
        let details = [
            ("instances", json!(report.instances)),
            ("non_compliant", json!(report.non_compliant)),
            ("counts", json!(report.counts)),
            (
                "worst",
                listed(report.worst.iter().map(ToString::to_string).collect()),
            ),
            (
                "remediated",
                listed(
                    report
                        .remediated
                        .iter()
                        .map(|r| format!("{} {}", r.instance_id, r.action))
                        .collect(),
                ),
            ),
            (
                "remediation_failed",
                listed(
                    report
                        .failed
                        .iter()
                        .map(|r| {
                            format!(
                                "{} {}: {}",
                                r.instance_id,
                                r.action,
                                r.error.as_deref().unwrap_or_default()
                            )
                        })
                        .collect(),
                ),
            ),
            ("already_remediated", json!(report.already_remediated)),
            ("deferred", json!(report.deferred)),
            ("capped", json!(report.capped)),
            (
                "unchecked",
                listed(
                    report
                        .unchecked
                        .iter()
                        .take(shared::audit::WORST_LISTED)
                        .map(|u| format!("{}: {}", u.instance_id, u.reason))
                        .collect(),
                ),
            ),
        ];
        alert.details = details
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
        alert.advice = if report.non_compliant == 0 && report.unchecked.is_empty() {
            "nothing to do.".to_owned()
        } else {
            let mut advice = "`counts` says how many instances break each check, `worst` names the worst ones. \
                Instances of groups with the guard's launch hook are reported, never remediated: roll those groups once \
                their launch templates comply. Unmanaged instances and groups without the hook are remediated per \
                GUARD_AUDIT_ACTION in enforce mode"
                .to_owned();
            advice.push_str(&format!(
                ", at most {MAX_REMEDIATIONS_PER_SWEEP} per sweep and {} an hour with the events' \
                 (GUARD_MAX_REMEDIATIONS_PER_HOUR).",
                self.policy.max_remediations_per_hour
            ));
            if report.capped > 0 {
                advice.push_str(&format!(
                    " The hourly cap held {} remediations back (`capped`): later sweeps make them as the hour \
                     allows. Many at once may mean a policy mistake: check the findings before raising the cap.",
                    report.capped
                ));
            }
            if !report.unchecked.is_empty() {
                advice.push_str(" Unchecked instances could not be audited (see `unchecked`); check the function's permissions and logs.");
            }
            advice
        };
        alert
    }

    fn instance_alert(
        &self,
        kind: AlertKind,
        severity: Severity,
        trigger: &Trigger,
        instance: &InstanceFacts,
        audit: &InstanceAudit,
        origin: &Origin,
    ) -> Alert {
        let mut alert = Alert::new(kind, severity, self.policy, (self.clock)(), "");
        alert.instance_id = Some(instance.instance_id.clone());
        alert.group = audit.membership.group().map(str::to_owned);
        alert.violations = audit.findings.clone();
        alert.account = origin.account.clone();
        alert.region = origin.region.clone();
        alert
            .details
            .insert("trigger".into(), json!(trigger.as_str()));
        alert
            .details
            .insert("membership".into(), json!(audit.membership.to_string()));
        alert.details.insert("state".into(), json!(instance.state));
        alert
    }

    fn capped_alert(
        &self,
        trigger: &Trigger,
        remedy: &Remedy,
        instance: &InstanceFacts,
        audit: &InstanceAudit,
        window: &RemediationWindow,
        origin: &Origin,
    ) -> Alert {
        let mut alert = self.instance_alert(
            AlertKind::RemediationCapped,
            Severity::Critical,
            trigger,
            instance,
            audit,
            origin,
        );
        alert.decision = "none".to_owned();
        alert.headline = format!(
            "remediation capped: {} instances in the last hour, {} of {} held",
            window.remediated,
            remedy.as_str(),
            instance.instance_id
        );
        alert
            .details
            .insert("remediated_last_hour".into(), json!(window.remediated));
        alert
            .details
            .insert("max_remediations_per_hour".into(), json!(window.cap));
        alert
            .details
            .insert("held_action".into(), json!(remedy.as_str()));
        alert.advice = format!(
            "The guard remediated {} cluster instances within the last hour, the limit of \
             GUARD_MAX_REMEDIATIONS_PER_HOUR ({}), so it left instance {} ({}) as it is; later sweeps remediate \
             it as the hour allows. Remediations at this rate often mean a policy mistake or a loop (a group or \
             Karpenter relaunching what the guard terminates): check the findings and the policy before raising \
             the limit. Instances held back carry the tag `{REMEDIATION_HELD_TAG}`; this alert is sent at most \
             once an hour while the limit holds. {}",
            window.remediated,
            window.cap,
            instance.instance_id,
            audit.check_list(),
            what_to_fix(&audit.membership)
        );
        alert
    }

    fn remediated_alert(
        &self,
        trigger: &Trigger,
        remedy: &Remedy,
        instance: &InstanceFacts,
        audit: &InstanceAudit,
        origin: &Origin,
    ) -> Alert {
        let mut alert = self.instance_alert(
            AlertKind::InstanceRemediated,
            Severity::Critical,
            trigger,
            instance,
            audit,
            origin,
        );
        alert.decision = remedy.as_str().to_owned();
        alert.headline = format!(
            "instance {} {} ({})",
            instance.instance_id,
            remedy.past_tense(),
            audit.check_list()
        );
        let done = match remedy {
            Remedy::Stop => "The instance was stopped; its volumes are kept for investigation. \
                Find out how it got into the cluster, then terminate it, or fix it and start it again."
                .to_owned(),
            Remedy::Terminate => "The instance is being terminated. If a group launched it, the group \
                launches a replacement: fix the group's launch template (and give the group the guard's \
                launch hook), or the replacements are terminated too."
                .to_owned(),
            Remedy::Isolate { security_group_id } => {
                alert
                    .details
                    .insert("quarantine_security_group".into(), json!(security_group_id));
                alert.details.insert(
                    "previous_security_groups".into(),
                    json!(instance.security_group_ids),
                );
                format!(
                    "Every security group of the instance was replaced with `{security_group_id}`; the former \
                     groups are in its tag `{}`. Investigate it, then terminate it, or restore its groups once \
                     it complies.",
                    shared::audit::PREVIOUS_GROUPS_TAG
                )
            }
        };
        alert.advice = format!("{done} {}", what_to_fix(&audit.membership));
        alert
    }

    fn failed_alert(
        &self,
        trigger: &Trigger,
        remedy: &Remedy,
        instance: &InstanceFacts,
        audit: &InstanceAudit,
        origin: &Origin,
        err: &AwsError,
    ) -> Alert {
        let mut alert = self.instance_alert(
            AlertKind::GuardError,
            Severity::Critical,
            trigger,
            instance,
            audit,
            origin,
        );
        alert.decision = remedy.as_str().to_owned();
        alert.headline = format!(
            "{} of non-compliant instance {} failed",
            remedy.as_str(),
            instance.instance_id
        );
        alert.advice = format!(
            "{err}. The instance stays non-compliant and the next sweep tries again. Check that the \
             function's role may call this on instances that carry the cluster tag `{}`.",
            self.policy.cluster_tag_key
        );
        alert
    }

    async fn publish(&self, alert: &Alert) {
        shared::alerts::publish_best_effort(self.alerts, alert).await;
    }

    fn summary(
        &self,
        trigger: &Trigger,
        instance: &InstanceFacts,
        outcome: Outcome,
        action: Option<&'static str>,
        audit: Option<&InstanceAudit>,
    ) -> Summary {
        Summary {
            trigger: trigger.as_str(),
            outcome,
            instance_id: instance.instance_id.clone(),
            group: audit.and_then(|a| a.membership.group().map(str::to_owned)),
            action,
            violations: audit.map(|a| a.findings.clone()).unwrap_or_default(),
            mode: self.policy.mode,
            reason: None,
        }
    }

    fn ignored(&self, trigger: &Trigger, instance_id: &str, reason: String) -> Summary {
        Summary {
            trigger: trigger.as_str(),
            outcome: Outcome::Ignored,
            instance_id: instance_id.to_owned(),
            group: None,
            action: None,
            violations: Vec::new(),
            mode: self.policy.mode,
            reason: Some(reason),
        }
    }
}

/// `None` when this event is the one that reports findings nothing
/// remediates; otherwise which event will.
fn report_later(trigger: &Trigger, membership: &Membership) -> Option<String> {
    match (trigger, membership.group()) {
        (Trigger::StateChange { state, .. }, None) if state == "running" => None,
        (Trigger::LaunchSuccessful { .. }, Some(_)) => None,
        (_, None) => Some("reported once, when the instance is running".to_owned()),
        (_, Some(group)) => Some(format!(
            "reported once, when group `{group}` reports the launch successful"
        )),
    }
}

/// The first sentence of an instance alert's advice: what to fix so that it
/// does not happen again.
fn what_to_fix(membership: &Membership) -> String {
    match membership {
        Membership::Unmanaged => "The instance joined the cluster outside any Auto Scaling group: find who \
            launched it (CloudTrail `RunInstances`), and launch nodes only through guarded groups or an \
            allowed launcher."
            .to_owned(),
        Membership::UnguardedGroup(group) => format!(
            "Group `{group}` launches nodes without the guard's launch hook: add the hook (or let budget-guard \
             enroll the group, GUARD_ENROLL_GROUPS) so that its launches are vetted, and fix its launch template."
        ),
        Membership::Launcher(tag) => format!(
            "A launcher (tag `{tag}`) started a non-compliant node: fix the launcher's node configuration."
        ),
        Membership::GuardedGroup {
            group,
            vetting: Vetting::Unvetted,
        } => format!(
            "The instance is treated as unvetted: {UNVETTED_REASON}. Fix the launch template of group \
             `{group}`, and find why launch-guard did not decide the launch (its logs and errors, the hook's \
             heartbeat timeout, GUARD_FAIL_MODE)."
        ),
        Membership::GuardedGroup { group, .. } => {
            format!("Fix the launch template of group `{group}` and roll the group.")
        }
    }
}

/// Metric values are counts far below 2^52: exact as `f64`.
fn count(n: usize) -> f64 {
    u32::try_from(n).map(f64::from).unwrap_or(f64::MAX)
}

#[cfg(test)]
mod tests;
