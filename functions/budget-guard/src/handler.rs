//! SPEC §7: measure, publish, suspend during surges, resume safely, enroll.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use shared::alerts::{Alert, AlertKind, Severity};
use shared::aws::TtlCache;
use shared::budget::{self, Dimension, Usage};
use shared::facts::GroupFacts;
use shared::lifecycle::LAUNCHING;
use shared::policy::{FailMode, Policy};
use shared::ports::{
    AlarmRead, AlertPublish, AwsError, ClusterGroupsRead, ClusterInstancesRead, InstanceTypesRead,
    Metric, MetricUnit, MetricsPublish, ScaleOutControl,
};
use shared::suspension::{self, SUSPENDED_TAG, SuspensionRecord, SuspensionReport};
use shared::time::format_rfc3339;

use crate::event::{self, AlarmState, EventError, Trigger};

/// How long an enrolled (or found hooked) group is not asked about again.
const HOOK_RECHECK: Duration = Duration::from_secs(600);
/// The heartbeat of hooks the guard puts on groups: room for launch-guard's
/// serialized admission to work through a burst (throttled async retries).
const HOOK_HEARTBEAT_SECONDS: i32 = 600;
/// The same error is alerted at most once in this period.
const ERROR_ALERT_QUIET: Duration = Duration::from_secs(3600);

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
    groups: Vec<GroupFacts>,
    usage: Usage,
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
    hooked: TtlCache<()>,
    last_error: TtlCache<()>,
}

impl<'a, E, G, C, A> BudgetGuard<'a, E, G, C, A>
where
    E: ClusterInstancesRead + InstanceTypesRead,
    G: ClusterGroupsRead + ScaleOutControl,
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
            hooked: TtlCache::new(1024, HOOK_RECHECK),
            last_error: TtlCache::new(64, ERROR_ALERT_QUIET),
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
                Trigger::Alarm { name, state, group } => {
                    self.alarm(name, *state, group.as_deref()).await
                }
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
        let (suspended, resumed) = if over.is_empty() {
            (SuspensionReport::default(), self.resume(&measured).await?)
        } else {
            let reason = over_reason(&over);
            let record = self.record(reason, "schedule", Vec::new());
            let report = self.suspend(&measured, &measured.groups, record).await;
            (report, SuspensionReport::default())
        };
        let suspended_groups = self.count_suspended(&measured.groups, &suspended, &resumed);
        self.publish_metrics(measured.usage, suspended_groups)
            .await?;
        let enrolled = self.enroll(&measured.groups).await;
        let failed = [suspended.failed, resumed.failed].concat();
        let summary = json!({
            "trigger": "schedule",
            "usage": measured.usage,
            "suspended": suspended.changed,
            "resumed": resumed.changed,
            "held": resumed.unchanged,
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
    ) -> Result<Value, HandlerError> {
        let summary = match state {
            AlarmState::InsufficientData => {
                json!({ "trigger": "alarm", "alarm": name, "action": "none" })
            }
            AlarmState::Ok => {
                let measured = self.measure().await?;
                let resumed = self.resume(&measured).await?;
                json!({ "trigger": "alarm", "alarm": name, "action": "resume", "resumed": resumed.changed, "held": resumed.unchanged })
            }
            AlarmState::Alarm => {
                let measured = self.measure().await?;
                let scope: Vec<GroupFacts> = measured
                    .groups
                    .iter()
                    .filter(|g| group.is_none_or(|wanted| g.name == wanted))
                    .cloned()
                    .collect();
                let record = self.record(
                    format!("alarm `{name}` in ALARM"),
                    "alarm",
                    vec![name.to_owned()],
                );
                let report = self.suspend(&measured, &scope, record).await;
                let joined = self.join_alarm(&scope, &report, name).await;
                json!({ "trigger": "alarm", "alarm": name, "action": "suspend", "scope": group, "suspended": report.changed, "unchanged": report.unchanged, "failed": report.failed, "alarm_added_to": joined })
            }
        };
        tracing::info!(summary = %summary, "alarm handled");
        Ok(summary)
    }

    /// Cluster groups and usage; instances waiting in `Pending:Wait` for the
    /// launch guard are not counted.
    async fn measure(&self) -> Result<Measured, HandlerError> {
        let tag = self.policy.cluster_tag_key.as_str();
        let (instances, groups) = futures::join!(
            self.ec2.cluster_instances(tag),
            self.groups.cluster_groups(tag)
        );
        let (instances, groups) = (instances?, groups?);
        let names: Vec<String> = instances
            .iter()
            .map(|i| i.instance_type.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let specs = self.ec2.instance_types(&names).await?;
        let states = groups
            .iter()
            .flat_map(|g| &g.instances)
            .map(|i| (i.instance_id.as_str(), i.lifecycle_state.as_str()));
        let excluded = budget::waiting_for_decision(states, &BTreeSet::new());
        let usage = budget::cluster_usage(&instances, &specs, &excluded)
            .map_err(|err| HandlerError::Usage(err.to_string()))?;
        Ok(Measured { groups, usage })
    }

    async fn suspend(
        &self,
        measured: &Measured,
        scope: &[GroupFacts],
        record: SuspensionRecord,
    ) -> SuspensionReport {
        let report = suspension::suspend(
            self.groups,
            scope,
            self.policy.budget.clamp_max_size,
            &record,
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
            alert.advice = "Launch is suspended on these groups (only Launch: health checks, replacements and \
                scheduled actions go on), so the cluster stops growing. It is resumed automatically once usage is \
                below GUARD_RESUME_BELOW_PERCENT of every budget and the triggering alarm is OK. Find what is \
                scaling out; to resume by hand, run `aws autoscaling resume-processes --scaling-processes Launch` \
                and delete the `scaling-guard:suspended` tag."
                .to_owned();
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
        report
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

    async fn resume(&self, measured: &Measured) -> Result<SuspensionReport, HandlerError> {
        let below = budget::below_resume_threshold(&self.policy.budget, measured.usage);
        let alarms: Vec<String> = measured
            .groups
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
        let report = suspension::resume(self.groups, &measured.groups, below, &firing).await;
        if !report.changed.is_empty() {
            let mut alert = self.alert(
                AlertKind::ScaleOutResumed,
                Severity::Info,
                "resume",
                measured,
            );
            alert.headline = format!("scale-out resumed on {} group(s)", report.changed.len());
            alert.advice = "usage is below the resume threshold of every budget and no triggering alarm fires, so \
                Launch was resumed (and MaxSize restored where it was clamped). Nothing to do."
                .to_owned();
            alert
                .details
                .insert("groups".to_owned(), json!(report.changed));
            self.publish(&alert).await;
        }
        Ok(report)
    }

    /// `SuspendedGroups` after this run's changes.
    fn count_suspended(
        &self,
        groups: &[GroupFacts],
        suspended: &SuspensionReport,
        resumed: &SuspensionReport,
    ) -> usize {
        groups
            .iter()
            .filter(|g| {
                (g.tags.contains_key(SUSPENDED_TAG) || suspended.changed.contains(&g.name))
                    && !resumed.changed.contains(&g.name)
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

    /// Puts the guard's launch hook on every cluster group that lacks it.
    async fn enroll(&self, groups: &[GroupFacts]) -> Vec<String> {
        if !self.policy.enroll_groups {
            return Vec::new();
        }
        let policy = self.policy;
        let default_result = match policy.fail_mode {
            FailMode::Abandon => "ABANDON",
            FailMode::Continue => "CONTINUE",
        };
        let metadata = json!({ "cluster": policy.cluster, "by": "scaling-guard" }).to_string();
        let mut enrolled = Vec::new();
        for group in groups.iter().filter(|g| self.hooked.get(&g.name).is_none()) {
            let hooks = match self.groups.lifecycle_hooks(&group.name).await {
                Ok(hooks) => hooks,
                Err(err) => {
                    tracing::error!(group = %group.name, %err, "hooks could not be read");
                    continue;
                }
            };
            if hooks
                .iter()
                .any(|h| h.name == policy.hook_name && h.transition == LAUNCHING)
            {
                self.hooked.insert(&group.name, ());
                continue;
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
                    self.hooked.insert(&group.name, ());
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
        SuspensionRecord {
            reason,
            trigger: trigger.to_owned(),
            time: format_rfc3339((self.clock)()),
            alarms,
            original_max_size: None,
        }
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

#[cfg(test)]
mod tests;
