//! SPEC §7: measure, publish, suspend during surges, resume safely, enroll.
//!
//! One run per trigger, each a list of steps: the steps live in
//! `handler/suspend.rs`, `handler/resume.rs`, `handler/metrics.rs` and
//! `handler/enroll.rs`; the alerts they send are built in [`crate::alerts`].

mod enroll;
mod metrics;
mod resume;
mod suspend;

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use shared::alerts::Alert;
use shared::budget::measure::{self, GuardedGroups, MeasureError, Measurement};
use shared::budget::{self, UsageError};
use shared::cache::TtlCache;
use shared::checks::CheckName;
use shared::facts::GroupFacts;
use shared::policy::{Mode, Policy};
use shared::ports::AwsError;
use shared::suspension::{SuspensionRecord, SuspensionReport};

use crate::alerts;
use crate::event::{AlarmState, EventError, Input, Trigger};
use crate::response::{AlarmAction, AlarmSummary, Response, ScheduleSummary, Summary};
use shared::ports::Ports;

/// The same error is alerted at most once in this period.
const ERROR_ALERT_QUIET: Duration = Duration::from_secs(3600);

/// Why an invocation failed (it is then retried, and kept in the DLQ).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    /// The usage error is part of the message, not a `#[source]` (which
    /// would print it twice).
    #[error("cluster usage cannot be measured: {0}")]
    Usage(UsageError),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl From<MeasureError> for HandlerError {
    fn from(err: MeasureError) -> Self {
        match err {
            MeasureError::Aws(err) => Self::Aws(err),
            MeasureError::Usage(err) => Self::Usage(err),
        }
    }
}

impl HandlerError {
    /// The failure's kind, as Lambda reports it.
    fn error_type(&self) -> &'static str {
        match self {
            Self::Event(_) => "MalformedEvent",
            Self::Usage(_) => "UsageUnknown",
            Self::Aws(_) => "AwsError",
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        shared::startup::diagnostic(err.error_type(), &err)
    }
}

/// What this run changes, or (audit) would change.
#[derive(Debug, Default)]
struct Changes {
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
pub struct BudgetGuard<'a, P> {
    policy: &'a Policy,
    ports: &'a P,
    clock: fn() -> SystemTime,
    guarded: GuardedGroups,
    last_error: TtlCache<()>,
    alerted: Mutex<Alerted>,
}

impl<'a, P: Ports> BudgetGuard<'a, P> {
    pub fn new(policy: &'a Policy, ports: &'a P) -> Self {
        Self {
            policy,
            ports,
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
    /// The first run that fails is alerted and fails the invocation.
    pub async fn handle(&self, input: Input) -> Result<Response, HandlerError> {
        let mut runs = Vec::new();
        for trigger in input.triggers()? {
            match self.run(&trigger).await {
                Ok(summary) => runs.push(summary),
                Err(err) => {
                    self.alert_error(&err).await;
                    return Err(err);
                }
            }
        }
        Ok(Response::from(runs))
    }

    async fn run(&self, trigger: &Trigger) -> Result<Summary, HandlerError> {
        match trigger {
            Trigger::Schedule => self.scheduled().await,
            Trigger::Alarm {
                name,
                state,
                group,
                checks,
            } => self.alarm(name, *state, group.as_deref(), checks).await,
        }
    }

    /// Every minute: measure, suspend or resume, publish, enroll.
    async fn scheduled(&self) -> Result<Summary, HandlerError> {
        let measured = self.measure().await?;
        let over = budget::over_suspend_threshold(&self.policy.budget, measured.usage);
        let mut outcome = Changes::default();
        if over.is_empty() {
            self.resume(&measured, &mut outcome).await?;
        } else {
            let checks: Vec<CheckName> = over.iter().map(|d| d.check).collect();
            let record = self.record(suspend::over_reason(&over), "schedule", Vec::new());
            self.suspend(&measured, measured.groups(), record, &checks, &mut outcome)
                .await;
        }
        let suspended_groups = metrics::count_suspended(measured.groups(), &outcome);
        self.publish_metrics(measured.usage, suspended_groups)
            .await?;
        let enrolled = self.enroll(measured.groups()).await;
        let Changes {
            suspended,
            resumed,
            would_suspend,
            would_resume,
        } = outcome;
        let summary = Summary::Schedule(ScheduleSummary {
            mode: self.policy.mode,
            usage: measured.usage,
            suspended: suspended.changed,
            resumed: resumed.changed,
            held: resumed.unchanged,
            notes: resumed.notes,
            would_suspend,
            would_resume,
            failed: [suspended.failed, resumed.failed].concat(),
            enrolled,
            suspended_groups,
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
    ) -> Result<Summary, HandlerError> {
        let action = match state {
            AlarmState::InsufficientData => AlarmAction::None,
            AlarmState::Ok => self.alarm_ok().await?,
            AlarmState::Alarm => self.alarm_fires(name, group, checks).await?,
        };
        let summary = Summary::Alarm(AlarmSummary {
            alarm: name.to_owned(),
            action,
        });
        tracing::info!(summary = %summary, "alarm handled");
        Ok(summary)
    }

    /// `OK`: resume where usage allows.
    async fn alarm_ok(&self) -> Result<AlarmAction, HandlerError> {
        let measured = self.measure().await?;
        let mut outcome = Changes::default();
        self.resume(&measured, &mut outcome).await?;
        Ok(AlarmAction::Resume {
            resumed: outcome.resumed.changed,
            held: outcome.resumed.unchanged,
            notes: outcome.resumed.notes,
            would_resume: outcome.would_resume,
        })
    }

    /// `ALARM`: suspend the alarm's group, or every cluster group; groups
    /// already suspended by the guard wait for this alarm too.
    async fn alarm_fires(
        &self,
        name: &str,
        group: Option<&str>,
        checks: &[CheckName],
    ) -> Result<AlarmAction, HandlerError> {
        let measured = self.measure().await?;
        let scope: Vec<GroupFacts> = measured
            .groups()
            .iter()
            .filter(|g| group.is_none_or(|wanted| g.name == wanted))
            .cloned()
            .collect();
        let reason = format!("alarm `{name}` in ALARM");
        let record = self.record(reason, "alarm", vec![name.to_owned()]);
        let mut outcome = Changes::default();
        self.suspend(&measured, &scope, record, checks, &mut outcome)
            .await;
        let report = outcome.suspended;
        let alarm_added_to = match self.enforces(checks) {
            true => self.join_alarm(&scope, &report, name).await,
            false => Vec::new(),
        };
        Ok(AlarmAction::Suspend {
            scope: group.map(str::to_owned),
            suspended: report.changed,
            unchanged: report.unchanged,
            failed: report.failed,
            alarm_added_to,
            would_suspend: outcome.would_suspend,
        })
    }

    /// Cluster groups and usage, counted as launch-guard's admission counts.
    async fn measure(&self) -> Result<Measurement, HandlerError> {
        let measurement = measure::measure(
            &self.policy.cluster_tag_key,
            self.ports.instances(),
            self.ports.groups(),
            &self.guarded,
            &BTreeSet::new(),
            None,
        )
        .await?;
        Ok(measurement)
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

    fn record(&self, reason: String, trigger: &str, alarms: Vec<String>) -> SuspensionRecord {
        SuspensionRecord::new(reason, trigger, self.now(), alarms)
    }

    fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// Alerts a failed run, the same error at most once an hour.
    async fn alert_error(&self, err: &HandlerError) {
        let text = err.to_string();
        if self.last_error.get(&text).is_some() {
            return;
        }
        self.last_error.insert(&text, ());
        self.publish(&alerts::guard_error(self.policy, self.now(), &text))
            .await;
    }

    async fn publish(&self, alert: &Alert) {
        shared::alerts::publish_best_effort(self.ports.alerts(), alert).await;
    }
}

#[cfg(test)]
mod tests;
