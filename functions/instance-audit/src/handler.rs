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
//!   Instance Launch Successful`; at a state change or in the sweep when its
//!   group lists it past its launch, e.g. `InService` — the first nodes of a
//!   new EKS managed node group, launched before enrollment put the hook on;
//!   otherwise by the sweep once the hook's heartbeat timeout is over), never
//!   while launch-guard may still be deciding it;
//! - every remediation is first recorded on the instance
//!   (`scaling-guard:remediated`); events and sweeps together change at most
//!   `GUARD_MAX_REMEDIATIONS_PER_HOUR` instances an hour, counted from those
//!   records, so the cap holds across execution environments. A remediation
//!   the cap holds back waits for a later sweep; the first one held in an
//!   hour is alerted (`remediation_capped`);
//! - within that, at most `GUARD_MAX_REMEDIATIONS_PER_POOL` instances of one
//!   launcher pool (a Karpenter NodePool) an hour, counted from the same
//!   records: the launcher relaunches what is removed, so past the limit the
//!   pool's remediations are held and the first hold is alerted once
//!   (`launcher_loop`, see `pool`);
//! - the sweep audits everything and sends one summary.

use std::time::{Duration, SystemTime};

use shared::alerts::Alert;
use shared::audit::gather;
use shared::audit::{
    InstanceAudit, Plan, REMEDIATED_TAG, REMEDIATION_HELD_TAG, RemediationWindow, Remedy,
    ReportOnly, isolation_tags,
};
use shared::cache::TtlCache;
use shared::checks::membership::{GROUP_NAME_TAG, Membership, Vetting};
use shared::facts::{InstanceFacts, InstanceState};
use shared::lifecycle::Origin;
use shared::node_facts::gather_node_facts;
use shared::policy::Policy;
use shared::ports::{AwsError, InstanceRead, InstanceRemediate, InstanceTag};
use shared::time::format_rfc3339;

use crate::alerts::{self, AuditedInstance};
use crate::event::{Event, EventError, Input, Payload, Trigger};
// For the handler tests (`use super::*`); the sweep imports it itself.
#[cfg(test)]
use crate::limits::MAX_REMEDIATIONS_PER_SWEEP;
use crate::response::{Outcome, Response, Summary};
use shared::ports::Ports;

mod batch;
mod findings;
mod pool;
mod sweep;

pub use batch::INSTANCES_PER_CALL;

/// The state of a state change whose instance's findings are archived.
const TERMINATED: &str = "terminated";

/// How long a reported finding is not reported again by the same environment
/// (the sweep's summary still lists it every run).
const REPORTED_TTL: Duration = Duration::from_secs(6 * 3600);

/// Why an invocation failed. The event is then retried (asynchronous
/// invocation) and, when retries run out, kept in the dead-letter queue.
///
/// The AWS error is part of each message, the only text of the invocation's
/// error report, so it is not also given as the error's `source`.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("cannot audit instance `{instance_id}`: {error}")]
    Facts {
        instance_id: String,
        error: AwsError,
    },
    #[error("cannot list the cluster's instances: {error}")]
    Sweep { error: AwsError },
    /// Without the count, no remediation is made: the event is retried.
    #[error("cannot count the cluster's remediations of the last hour: {error}")]
    Cap { error: AwsError },
}

impl HandlerError {
    /// The failure's kind, as Lambda reports it.
    fn error_type(&self) -> &'static str {
        match self {
            Self::Event(_) => "MalformedEvent",
            Self::Facts { .. } => "FactsUnavailable",
            Self::Sweep { .. } => "SweepFailed",
            Self::Cap { .. } => "CapUnavailable",
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        shared::startup::diagnostic(err.error_type(), &err)
    }
}

/// The instance audit over its ports.
#[derive(Debug)]
pub struct Auditor<'a, P> {
    policy: &'a Policy,
    ports: &'a P,
    clock: fn() -> SystemTime,
    /// Findings already reported by this environment: at-least-once delivery
    /// and the several events of one launch alert a finding once.
    reported: TtlCache<()>,
}

/// One instance event: its trigger, its instance, the group it names and
/// where it came from.
#[derive(Debug, Clone, Copy)]
struct InstanceEvent<'e> {
    trigger: &'e Trigger,
    instance_id: &'e str,
    /// The group of an `EC2 Instance Launch Successful` event.
    group: Option<&'e str>,
    origin: &'e Origin,
}

impl InstanceEvent<'_> {
    fn facts_error(&self, error: AwsError) -> HandlerError {
        HandlerError::Facts {
            instance_id: self.instance_id.to_owned(),
            error,
        }
    }
}

/// What an event asks of the audit, known before anything is read.
#[derive(Debug)]
enum TakenUp<'e> {
    /// The schedule: audit every cluster instance.
    Sweep,
    /// Its instance is read and audited.
    Audit(InstanceEvent<'e>),
    /// Its instance is terminated: its Security Hub findings are archived
    /// (`findings.rs`), nothing is read from EC2.
    Retire(InstanceEvent<'e>),
    /// Nothing to read: the summary says why.
    Done(Summary),
}

impl<'a, P: Ports> Auditor<'a, P> {
    pub fn new(policy: &'a Policy, ports: &'a P) -> Self {
        Self {
            policy,
            ports,
            clock: SystemTime::now,
            reported: TtlCache::new(4096, REPORTED_TTL),
        }
    }

    /// Replaces the clock (tests pin "now" for image ages and tags).
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// Entry point: an EventBridge event of one of the three triggers, or
    /// an SQS batch of them from the stack's instance-event queue. A batch
    /// answers with `batchItemFailures`, so that one bad message never fails
    /// its neighbours.
    pub async fn handle(&self, input: Input) -> Result<Response, HandlerError> {
        match input.into_payload()? {
            Payload::Single(event) => self.handle_event(event).await,
            Payload::Batch(messages) => Ok(Response::Batch(self.handle_batch(messages).await)),
        }
    }

    /// One event: its instance read alone (or the sweep).
    async fn handle_event(&self, event: Event) -> Result<Response, HandlerError> {
        let summary = match self.take_up(&event) {
            TakenUp::Sweep => return Ok(Response::Sweep(self.sweep(&event.origin).await?)),
            TakenUp::Done(summary) => summary,
            TakenUp::Retire(event) => {
                let summary = self.retire(&[event]).await.pop();
                summary.unwrap_or_else(|| self.terminated(&event))
            }
            TakenUp::Audit(event) => {
                let instance = self.read_instance(&event).await?;
                self.audit_instance(&event, instance).await?
            }
        };
        self.log(&summary);
        Ok(Response::Instance(summary))
    }

    /// Whether the event's instance is to be read and audited: only those
    /// of a state change to `pending` or `running` and of a launch into
    /// service are. A terminated instance's findings are archived (with
    /// Security Hub on; the rule delivers `terminated` only then).
    fn take_up<'e>(&self, event: &'e Event) -> TakenUp<'e> {
        let Event { trigger, origin } = event;
        match trigger {
            Trigger::Sweep => TakenUp::Sweep,
            Trigger::StateChange { instance_id, state } => {
                let event = InstanceEvent {
                    trigger,
                    instance_id,
                    group: None,
                    origin,
                };
                if InstanceState::of(state).is_live() {
                    TakenUp::Audit(event)
                } else if state == TERMINATED && self.policy.security_hub {
                    TakenUp::Retire(event)
                } else {
                    TakenUp::Done(self.ignored(
                        &event,
                        format!("state `{state}` is neither pending nor running"),
                    ))
                }
            }
            Trigger::LaunchSuccessful {
                instance_id,
                group,
                warm_pool,
            } => {
                let event = InstanceEvent {
                    trigger,
                    instance_id,
                    group: Some(group.as_str()),
                    origin,
                };
                if *warm_pool {
                    TakenUp::Done(self.ignored(
                        &event,
                        format!(
                            "launched into the warm pool of group `{group}`: audited when it enters service"
                        ),
                    ))
                } else {
                    TakenUp::Audit(event)
                }
            }
        }
    }

    /// One instance event, step by step, once its instance is read (`None`:
    /// EC2 does not know it): is the instance the cluster's and in a state
    /// to audit, how it came in, whether it is launch-guard's, what it
    /// breaks, and what the plan for that is.
    async fn audit_instance(
        &self,
        event: &InstanceEvent<'_>,
        instance: Option<InstanceFacts>,
    ) -> Result<Summary, HandlerError> {
        let Some(instance) = instance else {
            // Terminated instances stay visible for about an hour; one that is
            // not found at all cannot be shown to be the cluster's.
            let reason = format!("instance `{}` was not found", event.instance_id);
            return Ok(self.ignored(event, reason));
        };
        if let Some(ignored) = self.outside_audit(event, &instance) {
            return Ok(ignored);
        }
        let instance = with_event_group(instance, event.group);
        let (instance, membership) = self.membership(event, instance).await?;
        if let Some(left) = self.left_to_launch_guard(event, &instance, &membership) {
            return Ok(left);
        }
        let (instance, audit) = self.audit(event, instance, membership).await?;
        match Plan::for_audit(self.policy, &audit) {
            Plan::Compliant => Ok(self.audited(event, &instance, &audit, Outcome::Compliant)),
            Plan::Report(why) => Ok(self.report(event, &instance, &audit, why).await),
            Plan::Remediate(remedy) => {
                self.remediate_on_event(event, &instance, &audit, &remedy)
                    .await
            }
        }
    }

    async fn read_instance(
        &self,
        event: &InstanceEvent<'_>,
    ) -> Result<Option<InstanceFacts>, HandlerError> {
        self.ports
            .instances()
            .instance(event.instance_id)
            .await
            .map_err(|error| event.facts_error(error))
    }

    /// The summary of an instance the audit leaves alone: not the cluster's
    /// (never alerted on, never changed), or no longer pending or running.
    fn outside_audit(
        &self,
        event: &InstanceEvent<'_>,
        instance: &InstanceFacts,
    ) -> Option<Summary> {
        let (policy, id) = (self.policy, event.instance_id);
        if !policy.cluster_tag.matches(&instance.tags) {
            let reason = format!(
                "instance `{id}` is not a member of cluster `{}`",
                policy.cluster
            );
            return Some(self.ignored(event, reason));
        }
        if !gather::is_audited(policy, instance) {
            let reason = format!("instance `{id}` is `{}` now", instance.state);
            return Some(self.ignored(event, reason));
        }
        None
    }

    /// How the instance came in, with the instance as last read. Auto
    /// Scaling reports a launch successful once its hooks let it go; at a
    /// state change, the group says whether its launch is over (a launch
    /// before the hook was put on: see [`gather::event_membership`]).
    async fn membership(
        &self,
        event: &InstanceEvent<'_>,
        instance: InstanceFacts,
    ) -> Result<(InstanceFacts, Membership), HandlerError> {
        let (policy, groups, now) = (self.policy, self.ports.groups(), self.now());
        let read = match event.trigger {
            Trigger::LaunchSuccessful { .. } => gather::membership(policy, groups, &instance, now)
                .await
                .map(|membership| (instance, membership.launch_completed())),
            _ => {
                gather::event_membership(policy, self.ports.instances(), groups, instance, now)
                    .await
            }
        };
        read.map_err(|error| event.facts_error(error))
    }

    /// The summary of an instance launch-guard decided (vetted: the sweep
    /// reports its drift) or may still be deciding (undecided: audited once
    /// its launch completes); `None` for any other instance.
    fn left_to_launch_guard(
        &self,
        event: &InstanceEvent<'_>,
        instance: &InstanceFacts,
        membership: &Membership,
    ) -> Option<Summary> {
        let Membership::GuardedGroup { group, vetting } = membership else {
            return None;
        };
        let (outcome, reason) = match vetting {
            Vetting::Vetted => (
                Outcome::Vetted,
                format!(
                    "group `{group}` carries the launch hook `{}` and launch-guard recorded its decision on this instance; the sweep reports drift",
                    self.policy.hook_name
                ),
            ),
            Vetting::Undecided => (
                Outcome::Deferred,
                format!(
                    "launch-guard has not decided it yet: audited when group `{group}` reports the launch successful"
                ),
            ),
            Vetting::Unvetted => return None,
        };
        let summary = self.summary(event, instance, outcome);
        Some(summary.in_group(group).because(reason))
    }

    /// Reads the instance's image, subnet (and, when their checks are on,
    /// volumes and AWS's recommended images) and runs every check.
    async fn audit(
        &self,
        event: &InstanceEvent<'_>,
        instance: InstanceFacts,
        membership: Membership,
    ) -> Result<(InstanceFacts, InstanceAudit), HandlerError> {
        let facts = gather_node_facts(
            self.policy,
            self.ports.instances(),
            self.ports.images(),
            instance,
            None,
        )
        .await
        .all_read()
        .map_err(|error| event.facts_error(error))?;
        let audit = InstanceAudit::of(self.policy, &facts, membership, self.now());
        Ok((facts.instance, audit))
    }

    /// Alerts findings nothing remediates, at the one event that reports
    /// them and once per environment (see the module documentation).
    async fn report(
        &self,
        event: &InstanceEvent<'_>,
        instance: &InstanceFacts,
        audit: &InstanceAudit,
        why: ReportOnly,
    ) -> Summary {
        if let Some(later) = report_later(event.trigger, &audit.membership) {
            return self
                .audited(event, instance, audit, Outcome::Deferred)
                .because(later);
        }
        let summary = self.audited(event, instance, audit, Outcome::Reported);
        let key = format!("{}|{}", instance.instance_id, audit.check_list());
        if self.reported.get(&key).is_some() {
            return summary.because("already reported");
        }
        self.reported.insert(&key, ());
        let about = self.about(event, instance, audit);
        let alert = alerts::non_compliant(&about, why);
        self.publish(&alert).await;
        self.import_instance_findings(&about, &alert).await;
        summary
    }

    /// Makes the remedy now, unless it is done already, EC2 cannot make it
    /// yet, or the hour's cap holds it back; alerts what it did.
    async fn remediate_on_event(
        &self,
        event: &InstanceEvent<'_>,
        instance: &InstanceFacts,
        audit: &InstanceAudit,
        remedy: &Remedy,
    ) -> Result<Summary, HandlerError> {
        let summary = |outcome| {
            self.audited(event, instance, audit, outcome)
                .with_action(remedy.as_str())
        };
        if remedy.is_done(instance) {
            return Ok(summary(Outcome::AlreadyRemediated));
        }
        if !remedy.applies_now(instance) {
            return Ok(summary(Outcome::Deferred).because(format!(
                "a `{}` instance cannot be stopped yet: stopped when it is running",
                instance.state
            )));
        }
        let records = self.records().await?;
        if let Some(held) = self
            .hold_pool(event, instance, audit, remedy, &records)
            .await
        {
            return Ok(summary(Outcome::Capped).because(held));
        }
        // The cluster's remediations of the last hour, from the records on
        // its instances: the same count in every execution environment.
        let window = RemediationWindow::count(self.policy, &records, self.now());
        if window.is_full() {
            let held = self.hold(event, instance, audit, remedy, &window).await;
            return Ok(summary(Outcome::Capped).because(held));
        }
        let result = self.remediate(remedy, instance, audit).await;
        let about = self.about(event, instance, audit);
        let (outcome, alert) = match result {
            Ok(()) => (Outcome::Remediated, alerts::remediated(&about, remedy)),
            Err(err) => (
                Outcome::RemediationFailed,
                alerts::remediation_failed(&about, remedy, &err),
            ),
        };
        self.publish(&alert).await;
        self.import_instance_findings(&about, &alert).await;
        Ok(summary(outcome))
    }

    /// Holds a remediation back at the hourly cap: records the hold on the
    /// instance and alerts the first hold of the window. Returns why.
    async fn hold(
        &self,
        event: &InstanceEvent<'_>,
        instance: &InstanceFacts,
        audit: &InstanceAudit,
        remedy: &Remedy,
        window: &RemediationWindow,
    ) -> String {
        let (value, alert_now) = window.hold(self.now());
        let recorded = self
            .ports
            .instances()
            .tag_instances(&[&instance.instance_id], &[(REMEDIATION_HELD_TAG, &value)])
            .await;
        if let Err(err) = recorded {
            tracing::warn!(%err, instance_id = %instance.instance_id, "the hold could not be recorded");
        }
        if alert_now {
            let about = self.about(event, instance, audit);
            let alert = alerts::remediation_capped(&about, remedy, window);
            self.publish(&alert).await;
        }
        format!(
            "{} instances remediated in the last hour reach GUARD_MAX_REMEDIATIONS_PER_HOUR ({}): left to a later sweep",
            window.remediated, window.cap
        )
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
        let now = format_rfc3339(self.now());
        self.ports
            .instances()
            .tag_instances(&[id], &[(REMEDIATED_TAG, &now)])
            .await?;
        let remediation = self.ports.remediation();
        match remedy {
            Remedy::Stop => remediation.stop(id).await,
            Remedy::Terminate => remediation.terminate(id).await,
            Remedy::Isolate { security_group_id } => {
                let tags = isolation_tags(audit, instance, self.now());
                remediation.isolate(id, security_group_id, &tags).await
            }
        }
    }

    async fn publish(&self, alert: &Alert) {
        shared::alerts::publish_best_effort(self.ports.alerts(), alert).await;
    }

    /// One structured line per instance event.
    fn log(&self, summary: &Summary) {
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
    }

    fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// What the alerts about the audited instance name.
    fn about<'e>(
        &'e self,
        event: &InstanceEvent<'e>,
        instance: &'e InstanceFacts,
        audit: &'e InstanceAudit,
    ) -> AuditedInstance<'e> {
        AuditedInstance {
            policy: self.policy,
            now: self.now(),
            trigger: event.trigger,
            origin: event.origin,
            instance,
            audit,
        }
    }

    fn summary(
        &self,
        event: &InstanceEvent<'_>,
        instance: &InstanceFacts,
        outcome: Outcome,
    ) -> Summary {
        Summary::new(
            event.trigger,
            &instance.instance_id,
            self.policy.mode,
            outcome,
        )
    }

    /// The summary of an audited instance: with its group and findings.
    fn audited(
        &self,
        event: &InstanceEvent<'_>,
        instance: &InstanceFacts,
        audit: &InstanceAudit,
        outcome: Outcome,
    ) -> Summary {
        self.summary(event, instance, outcome).with_audit(audit)
    }

    fn ignored(&self, event: &InstanceEvent<'_>, reason: String) -> Summary {
        Summary::new(
            event.trigger,
            event.instance_id,
            self.policy.mode,
            Outcome::Ignored,
        )
        .because(reason)
    }
}

/// The instance with the group its launch event names, which counts before
/// the instance's own group tag is visible.
fn with_event_group(mut instance: InstanceFacts, group: Option<&str>) -> InstanceFacts {
    if let Some(group) = group {
        instance
            .tags
            .entry(GROUP_NAME_TAG.to_owned())
            .or_insert_with(|| group.to_owned());
    }
    instance
}

/// `None` when this event is the one that reports findings nothing
/// remediates; otherwise which event will.
fn report_later(trigger: &Trigger, membership: &Membership) -> Option<String> {
    match (trigger, membership.group()) {
        (Trigger::StateChange { state, .. }, None)
            if InstanceState::of(state) == InstanceState::Running =>
        {
            None
        }
        (Trigger::LaunchSuccessful { .. }, Some(_)) => None,
        (_, None) => Some("reported once, when the instance is running".to_owned()),
        (_, Some(group)) => Some(format!(
            "reported once, when group `{group}` reports the launch successful"
        )),
    }
}

#[cfg(test)]
mod tests;
