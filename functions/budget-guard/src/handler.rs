//! SPEC §7: measure, publish, suspend during surges, resume safely, enroll.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use shared::alerts::{Alert, AlertKind, Severity};
use shared::cache::TtlCache;
use shared::budget::measure::{self, ClusterState, GuardedGroups, MeasureError};
use shared::budget::{self, Dimension, Usage};
use shared::checks::CheckName;
use shared::facts::{GroupFacts, InstanceTypeSpec};
use shared::policy::{FailMode, Mode, Policy};
use shared::ports::{
    AlarmRead, AlertPublish, AwsError, ClusterGroupsRead, ClusterInstancesRead, GroupRead,
    InstanceTypesRead, Metric, MetricUnit, MetricsPublish, ScaleOutControl,
};
use shared::suspension::{
    self, OnIncomplete, ResumePlan, SUSPENDED_TAG, SuspendPlan, SuspensionRecord, SuspensionReport,
};

use crate::event::{self, AlarmState, EventError, Trigger};

/// The heartbeat of hooks the guard puts on groups: room for launch-guard's
/// serialized admission to work through a burst (throttled async retries).
const HOOK_HEARTBEAT_SECONDS: i32 = 600;
/// The same error is alerted at most once in this period.
const ERROR_ALERT_QUIET: Duration = Duration::from_secs(3600);
/// What an unhealthy node meets while `Launch` is suspended (AWS's
/// suspend-processes documentation: ReplaceUnhealthy needs Launch).
const WHILE_SUSPENDED: &str = "only Launch is suspended: health checks and scheduled actions go on, but an \
    unhealthy node is terminated and not replaced until Launch resumes";

/// Why an invocation failed (it is then retried, and kept in the DLQ).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("cluster usage cannot be measured: {0}")]
    Usage(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl From<MeasureError> for HandlerError {
    fn from(err: MeasureError) -> Self {
        match err {
            MeasureError::Aws(err) => Self::Aws(err),
            MeasureError::Usage(err) => Self::Usage(err.to_string()),
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        let error_type = match &err {
            HandlerError::Event(_) => "MalformedEvent",
            HandlerError::Usage(_) => "UsageUnknown",
            HandlerError::Aws(_) => "AwsError",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// The cluster measured once per run.
#[derive(Debug, Clone)]
struct Measured {
    state: ClusterState,
    specs: BTreeMap<String, InstanceTypeSpec>,
    usage: Usage,
}

impl Measured {
    fn groups(&self) -> &[GroupFacts] {
        &self.state.groups
    }
}

/// What this run changes, or (audit) would change.
#[derive(Debug, Default)]
struct Outcome {
    suspended: SuspensionReport,
    resumed: SuspensionReport,
    would_suspend: Vec<String>,
    would_resume: Vec<String>,
}

/// The would-be changes of audit mode already alerted: each condition once,
/// again only after it ended. Kept in memory: a replaced environment alerts
/// a lasting condition once more.
#[derive(Debug, Default)]
struct Alerted {
    would_suspend: BTreeSet<String>,
    would_resume: BTreeSet<String>,
}

/// The budget guard over its ports.
#[derive(Debug)]
pub struct BudgetGuard<'a, E, G, C, A> {
    policy: &'a Policy,
    ec2: &'a E,
    groups: &'a G,
    cloudwatch: &'a C,
    alerts: &'a A,
    clock: fn() -> SystemTime,
    guarded: GuardedGroups,
    last_error: TtlCache<()>,
    alerted: Mutex<Alerted>,
}

impl<'a, E, G, C, A> BudgetGuard<'a, E, G, C, A>
where
    E: ClusterInstancesRead + InstanceTypesRead,
    G: ClusterGroupsRead + GroupRead + ScaleOutControl,
    C: MetricsPublish + AlarmRead,
    A: AlertPublish,
{
    pub fn new(
        policy: &'a Policy,
        ec2: &'a E,
        groups: &'a G,
        cloudwatch: &'a C,
        alerts: &'a A,
    ) -> Self {
        Self {
            policy,
            ec2,
            groups,
            cloudwatch,
            alerts,
            clock: SystemTime::now,
            guarded: GuardedGroups::new(&policy.hook_name),
            last_error: TtlCache::new(64, ERROR_ALERT_QUIET),
            alerted: Mutex::default(),
        }
    }

    /// Replaces the clock (tests pin "now").
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// Entry point: the schedule, an alarm's Lambda action, or SNS alarms.
    pub async fn handle(&self, payload: Value) -> Result<Value, HandlerError> {
        let mut runs = Vec::new();
        for trigger in event::parse(payload)? {
            let outcome = match &trigger {
                Trigger::Schedule => self.scheduled().await,
                Trigger::Alarm {
                    name,
                    state,
                    group,
                    checks,
                } => self.alarm(name, *state, group.as_deref(), checks).await,
            };
            match outcome {
                Ok(summary) => runs.push(summary),
                Err(err) => {
                    self.alert_error(&err).await;
                    return Err(err);
                }
            }
        }
        Ok(match runs.len() {
            1 => runs.pop().unwrap_or_default(),
            _ => Value::Array(runs),
        })
    }

    /// Every minute: measure, suspend or resume, publish, enroll.
    async fn scheduled(&self) -> Result<Value, HandlerError> {
        let measured = self.measure().await?;
        let over = budget::over_suspend_threshold(&self.policy.budget, measured.usage);
        let mut outcome = Outcome::default();
        if over.is_empty() {
            self.resume(&measured, &mut outcome).await?;
        } else {
            let checks: Vec<CheckName> = over.iter().map(|d| d.check).collect();
            let record = self.record(over_reason(&over), "schedule", Vec::new());
            self.suspend(&measured, measured.groups(), record, &checks, &mut outcome)
                .await;
        }
        let suspended_groups = self.count_suspended(measured.groups(), &outcome);
        self.publish_metrics(measured.usage, suspended_groups)
            .await?;
        let enrolled = self.enroll(measured.groups()).await;
        let Outcome {
            suspended,
            resumed,
            would_suspend,
            would_resume,
        } = outcome;
        let failed = [suspended.failed, resumed.failed].concat();
        let summary = json!({
            "trigger": "schedule",
            "mode": self.policy.mode,
            "usage": measured.usage,
            "suspended": suspended.changed,
            "resumed": resumed.changed,
            "held": resumed.unchanged,
            "notes": resumed.notes,
            "would_suspend": would_suspend,
            "would_resume": would_resume,
            "failed": failed,
            "enrolled": enrolled,
            "suspended_groups": suspended_groups,
        });
        tracing::info!(summary = %summary, "budget run");
        Ok(summary)
    }

    /// An alarm changed state: `ALARM` suspends its scope, `OK` tries to resume.
    async fn alarm(
        &self,
        name: &str,
        state: AlarmState,
        group: Option<&str>,
        checks: &[CheckName],
    ) -> Result<Value, HandlerError> {
        let mut outcome = Outcome::default();
        let summary = match state {
            AlarmState::InsufficientData => {
                json!({ "trigger": "alarm", "alarm": name, "action": "none" })
            }
            AlarmState::Ok => {
                let measured = self.measure().await?;
                self.resume(&measured, &mut outcome).await?;
                json!({ "trigger": "alarm", "alarm": name, "action": "resume", "resumed": outcome.resumed.changed, "held": outcome.resumed.unchanged, "notes": outcome.resumed.notes, "would_resume": outcome.would_resume })
            }
            AlarmState::Alarm => {
                let measured = self.measure().await?;
                let scope: Vec<GroupFacts> = measured
                    .groups()
                    .iter()
                    .filter(|g| group.is_none_or(|wanted| g.name == wanted))
                    .cloned()
                    .collect();
                let record = self.record(
                    format!("alarm `{name}` in ALARM"),
                    "alarm",
                    vec![name.to_owned()],
                );
                self.suspend(&measured, &scope, record, checks, &mut outcome)
                    .await;
                let report = &outcome.suspended;
                let joined = match self.enforces(checks) {
                    true => self.join_alarm(&scope, report, name).await,
                    false => Vec::new(),
                };
                json!({ "trigger": "alarm", "alarm": name, "action": "suspend", "scope": group, "suspended": report.changed, "unchanged": report.unchanged, "failed": report.failed, "alarm_added_to": joined, "would_suspend": outcome.would_suspend })
            }
        };
        tracing::info!(summary = %summary, "alarm handled");
        Ok(summary)
    }

    /// Cluster groups and usage, counted as launch-guard's admission counts.
    async fn measure(&self) -> Result<Measured, HandlerError> {
        let measurement = measure::measure(
            &self.policy.cluster_tag_key,
            self.ec2,
            self.groups,
            &self.guarded,
            &BTreeSet::new(),
            None,
        )
        .await?;
        Ok(Measured {
            state: measurement.state,
            specs: measurement.specs,
            usage: measurement.usage,
        })
    }

    /// Whether budget-guard may change groups for a trigger about `checks`
    /// (no checks: a surge alarm): enforce mode, and at least one of the
    /// checks is not audit-only.
    fn enforces(&self, checks: &[CheckName]) -> bool {
        match checks.is_empty() {
            true => self.policy.mode == Mode::Enforce,
            false => checks.iter().any(|check| self.policy.blocks(*check)),
        }
    }

    async fn suspend(
        &self,
        measured: &Measured,
        scope: &[GroupFacts],
        record: SuspensionRecord,
        checks: &[CheckName],
        outcome: &mut Outcome,
    ) {
        if !self.enforces(checks) {
            let would: Vec<String> = scope
                .iter()
                .filter(|g| {
                    matches!(
                        suspension::plan_suspend(g, record.clone()),
                        SuspendPlan::Suspend { .. } | SuspendPlan::Incomplete { .. }
                    )
                })
                .map(|g| g.name.clone())
                .collect();
            if self.first_time(|a| &mut a.would_suspend, &would) {
                let mut alert = self.alert(
                    AlertKind::ScaleOutSuspended,
                    Severity::Warning,
                    "would_suspend",
                    measured,
                );
                alert.headline = format!(
                    "would suspend scale-out on {} group(s): {}",
                    would.len(),
                    record.reason
                );
                alert.advice = format!(
                    "{}, so budget-guard changed nothing. In enforce mode it would suspend Launch on these \
                     groups ({WHILE_SUSPENDED}). Find what is scaling out.",
                    self.why_audit(checks)
                );
                alert
                    .details
                    .insert("would_suspend".to_owned(), json!(would));
                self.publish(&alert).await;
            }
            outcome.would_suspend = would;
            return;
        }
        let report = suspension::suspend(
            self.groups,
            scope,
            self.policy.budget.clamp_max_size,
            &record,
            OnIncomplete::Complete,
        )
        .await;
        if !report.changed.is_empty() || !report.failed.is_empty() {
            let mut alert = self.alert(
                AlertKind::ScaleOutSuspended,
                Severity::Critical,
                "suspend",
                measured,
            );
            alert.headline = format!(
                "scale-out suspended on {} group(s): {}",
                report.changed.len(),
                record.reason
            );
            alert.advice = format!(
                "the cluster stops growing: {WHILE_SUSPENDED}. It is resumed automatically once usage, with what \
                 each group will launch at once, is below GUARD_RESUME_BELOW_PERCENT of every budget and the \
                 triggering alarm is OK. Find what is scaling out; to resume by hand, run `aws autoscaling \
                 resume-processes --scaling-processes Launch` and delete the `scaling-guard:suspended` tag."
            );
            alert
                .details
                .insert("groups".to_owned(), json!(report.changed));
            if !report.failed.is_empty() {
                alert
                    .details
                    .insert("failed".to_owned(), json!(report.failed));
            }
            self.publish(&alert).await;
        }
        outcome.suspended = report;
    }

    /// Why a would-be change was not made.
    fn why_audit(&self, checks: &[CheckName]) -> &'static str {
        match self.policy.mode {
            Mode::Audit => "the guard runs in audit mode",
            Mode::Enforce if checks.is_empty() => "the guard runs in audit mode",
            Mode::Enforce => "these budget checks are listed in GUARD_AUDIT_ONLY_CHECKS",
        }
    }

    /// Whether `groups` holds a group not alerted in this condition yet; the
    /// condition is remembered (and forgotten once `groups` is empty).
    fn first_time(
        &self,
        condition: impl FnOnce(&mut Alerted) -> &mut BTreeSet<String>,
        groups: &[String],
    ) -> bool {
        let Ok(mut alerted) = self.alerted.lock() else {
            return !groups.is_empty();
        };
        let seen = condition(&mut alerted);
        let now: BTreeSet<String> = groups.iter().cloned().collect();
        let new = now.difference(seen).next().is_some();
        *seen = now;
        new
    }

    /// An alarm firing on a group the guard already suspended joins its record,
    /// so that the resume also waits for this alarm.
    async fn join_alarm(
        &self,
        scope: &[GroupFacts],
        report: &SuspensionReport,
        alarm: &str,
    ) -> Vec<String> {
        let mut joined = Vec::new();
        for group in scope.iter().filter(|g| !report.changed.contains(&g.name)) {
            let Some(mut record) = SuspensionRecord::of(group) else {
                continue;
            };
            if record.alarms.iter().any(|a| a == alarm) {
                continue;
            }
            record.alarms.push(alarm.to_owned());
            match self
                .groups
                .tag_group(&group.name, SUSPENDED_TAG, &record.to_tag_value())
                .await
            {
                Ok(()) => joined.push(group.name.clone()),
                Err(err) => {
                    tracing::error!(group = %group.name, %err, "alarm could not join the suspension record")
                }
            }
        }
        joined
    }

    /// Lifts guard suspensions, group by group, while usage plus what the
    /// groups resumed so far and this one will launch at once stays below the
    /// resume threshold, and no alarm that triggered it fires.
    async fn resume(&self, measured: &Measured, outcome: &mut Outcome) -> Result<(), HandlerError> {
        let alarms: Vec<String> = measured
            .groups()
            .iter()
            .filter_map(SuspensionRecord::of)
            .flat_map(|r| r.alarms)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let firing = if alarms.is_empty() {
            Vec::new()
        } else {
            self.cloudwatch.alarms_in_alarm(&alarms).await?
        };
        let now = (self.clock)();
        let budget = &self.policy.budget;
        let mut committed = measured.usage;
        let mut fits = |group: &GroupFacts| -> Result<(), String> {
            let demand = budget::resume_demand(group, &measured.state, &measured.specs);
            let total = committed
                .checked_add(demand)
                .ok_or("cluster usage overflows")?;
            if budget::below_resume_threshold(budget, total) {
                committed = total;
                return Ok(());
            }
            Err(hold_reason(budget, total, demand))
        };
        if self.policy.mode == Mode::Audit {
            let would: Vec<String> = measured
                .groups()
                .iter()
                .filter(|g| {
                    matches!(
                        suspension::plan_resume(g, now, &firing, &mut fits),
                        ResumePlan::Resume { .. }
                    )
                })
                .map(|g| g.name.clone())
                .collect();
            if self.first_time(|a| &mut a.would_resume, &would) {
                let mut alert = self.alert(
                    AlertKind::ScaleOutResumed,
                    Severity::Info,
                    "would_resume",
                    measured,
                );
                alert.headline = format!("would resume scale-out on {} group(s)", would.len());
                alert.advice = "these groups carry a suspension by the guard that usage and alarms would now let it \
                    lift; in audit mode budget-guard changes nothing. Resume them by hand, or switch to enforce mode."
                    .to_owned();
                alert
                    .details
                    .insert("would_resume".to_owned(), json!(would));
                self.publish(&alert).await;
            }
            outcome.would_resume = would;
            return Ok(());
        }
        let report = suspension::resume(self.groups, measured.groups(), now, &firing, fits).await;
        if !report.changed.is_empty() {
            let mut alert = self.alert(
                AlertKind::ScaleOutResumed,
                Severity::Info,
                "resume",
                measured,
            );
            alert.headline = format!("scale-out resumed on {} group(s)", report.changed.len());
            alert.advice = "usage, with what these groups launch at once, is below the resume threshold of every \
                budget and no triggering alarm fires, so Launch was resumed (and MaxSize restored where the guard's \
                clamp was still in place). Nothing to do."
                .to_owned();
            alert
                .details
                .insert("groups".to_owned(), json!(report.changed));
            if !report.notes.is_empty() {
                let notes: Vec<&str> = report.notes.iter().map(|(_, n)| n.as_str()).collect();
                alert.advice = format!("{} {}.", alert.advice, notes.join("; "));
                alert.details.insert("notes".to_owned(), json!(notes));
            }
            self.publish(&alert).await;
        }
        outcome.resumed = report;
        Ok(())
    }

    /// `SuspendedGroups` after this run's changes.
    fn count_suspended(&self, groups: &[GroupFacts], outcome: &Outcome) -> usize {
        groups
            .iter()
            .filter(|g| {
                (g.tags.contains_key(SUSPENDED_TAG) || outcome.suspended.changed.contains(&g.name))
                    && !outcome.resumed.changed.contains(&g.name)
            })
            .count()
    }

    /// Every SPEC §7 metric in one `PutMetricData`.
    async fn publish_metrics(
        &self,
        usage: Usage,
        suspended_groups: usize,
    ) -> Result<(), HandlerError> {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^53
        let count = |n: u64| n as f64;
        let mut metrics = vec![
            Metric {
                name: "ClusterVcpus",
                value: count(usage.vcpus),
                unit: MetricUnit::Count,
            },
            Metric {
                name: "ClusterMemoryMiB",
                value: count(usage.memory_mib),
                unit: MetricUnit::Megabytes,
            },
            Metric {
                name: "ClusterInstances",
                value: count(usage.instances),
                unit: MetricUnit::Count,
            },
        ];
        for dim in budget::dimensions(&self.policy.budget, usage) {
            let name = match dim.name {
                "vcpus" => "VcpuPercentOfBudget",
                "memory_mib" => "MemoryPercentOfBudget",
                _ => "InstancesPercentOfBudget",
            };
            metrics.push(Metric {
                name,
                value: dim.percent(),
                unit: MetricUnit::Percent,
            });
        }
        let suspended = u64::try_from(suspended_groups).unwrap_or(u64::MAX);
        metrics.push(Metric {
            name: "SuspendedGroups",
            value: count(suspended),
            unit: MetricUnit::Count,
        });
        self.cloudwatch
            .put_metrics(&self.policy.cluster, &metrics)
            .await?;
        Ok(())
    }

    /// Puts the guard's launch hook on every cluster group that lacks it. In
    /// audit mode the hook's DefaultResult is `CONTINUE`: launch-guard vets
    /// and reports every launch, and a guard that cannot answer never blocks.
    async fn enroll(&self, groups: &[GroupFacts]) -> Vec<String> {
        if !self.policy.enroll_groups {
            return Vec::new();
        }
        let policy = self.policy;
        let default_result = match (policy.mode, policy.fail_mode) {
            (Mode::Audit, _) | (Mode::Enforce, FailMode::Continue) => "CONTINUE",
            (Mode::Enforce, FailMode::Abandon) => "ABANDON",
        };
        let metadata = json!({ "cluster": policy.cluster, "by": "scaling-guard" }).to_string();
        let mut enrolled = Vec::new();
        for group in groups {
            match self.guarded.carries_hook(self.groups, &group.name).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(err) => {
                    tracing::error!(group = %group.name, %err, "hooks could not be read");
                    continue;
                }
            }
            let put = self
                .groups
                .put_launch_hook(
                    &group.name,
                    &policy.hook_name,
                    default_result,
                    HOOK_HEARTBEAT_SECONDS,
                    &metadata,
                )
                .await;
            match put {
                Ok(()) => {
                    self.guarded.mark(&group.name);
                    enrolled.push(group.name.clone());
                }
                Err(err) => {
                    tracing::error!(group = %group.name, %err, "launch hook could not be put")
                }
            }
        }
        if !enrolled.is_empty() {
            let mut alert = Alert::new(
                AlertKind::GroupEnrolled,
                Severity::Info,
                policy,
                (self.clock)(),
                format!("launch hook put on {} group(s)", enrolled.len()),
            );
            alert.decision = "enroll".to_owned();
            alert.advice = format!(
                "these cluster groups had no `{}` launch hook, so their launches were not vetted. The guard put it \
                 on them (DefaultResult {default_result}, heartbeat {HOOK_HEARTBEAT_SECONDS} s); from now on every \
                 launch is checked before it serves.",
                policy.hook_name
            );
            alert.details.insert("groups".to_owned(), json!(enrolled));
            self.publish(&alert).await;
        }
        enrolled
    }

    fn record(&self, reason: String, trigger: &str, alarms: Vec<String>) -> SuspensionRecord {
        SuspensionRecord::new(reason, trigger, (self.clock)(), alarms)
    }

    fn alert(
        &self,
        kind: AlertKind,
        severity: Severity,
        decision: &str,
        measured: &Measured,
    ) -> Alert {
        let mut alert = Alert::new(kind, severity, self.policy, (self.clock)(), "");
        alert.decision = decision.to_owned();
        let figures: BTreeMap<String, Value> =
            budget::dimensions(&self.policy.budget, measured.usage)
                .into_iter()
                .map(|d| {
                    (
                        format!("usage_{}", d.name),
                        json!(format!("{} of {} ({:.1}%)", d.used, d.max, d.percent())),
                    )
                })
                .collect();
        alert.details.extend(figures);
        alert
    }

    async fn alert_error(&self, err: &HandlerError) {
        let text = err.to_string();
        if self.last_error.get(&text).is_some() {
            return;
        }
        self.last_error.insert(&text, ());
        let mut alert = Alert::new(
            AlertKind::GuardError,
            Severity::Critical,
            self.policy,
            (self.clock)(),
            "budget run failed",
        );
        alert.advice = format!(
            "{text}. Budgets are not enforced by the schedule while this lasts (launch-guard still admits launches \
             strictly). Check the function's logs and permissions."
        );
        self.publish(&alert).await;
    }

    async fn publish(&self, alert: &Alert) {
        shared::alerts::publish_best_effort(self.alerts, alert).await;
    }
}

fn over_reason(over: &[Dimension]) -> String {
    let parts: Vec<String> = over
        .iter()
        .map(|d| format!("{} {:.0}%", d.name, d.percent()))
        .collect();
    format!("{} of budget", parts.join(", "))
}

/// Why a group stays suspended: usage with its demand is not below the
/// resume threshold.
fn hold_reason(budget: &shared::policy::BudgetPolicy, total: Usage, demand: Usage) -> String {
    let over: Vec<String> = budget::dimensions(budget, total)
        .into_iter()
        .filter(|d| d.at_or_above(budget.resume_below_percent))
        .map(|d| format!("{} {} of {} ({:.1}%)", d.name, d.used, d.max, d.percent()))
        .collect();
    match demand.instances {
        0 => "usage is not yet below the resume threshold".to_owned(),
        n => format!(
            "it would launch {n} instance(s) at once, taking the cluster to {}: not below {}%",
            over.join(", "),
            budget.resume_below_percent
        ),
    }
}

#[cfg(test)]
mod tests;
