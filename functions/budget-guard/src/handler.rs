//! SPEC §7: measure, publish, suspend during surges, resume safely, enroll.
//!
//! One run per trigger, each a list of steps: the steps live in
//! `handler/suspend.rs`, `handler/resume.rs`, `handler/metrics.rs` and
//! `handler/enroll.rs` (in audit mode, `handler/off_switch.rs` undoes what
//! enforce mode made); the alerts they send are built in [`crate::alerts`].

mod demand;
mod enroll;
mod expired_exceptions;
mod launchers;
mod metrics;
mod off_switch;
mod resume;
mod suspend;
mod unanswered;

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use shared::alerts::{Alert, HandOver};
use shared::budget::measure::{self, GuardedGroups, MeasureError, Measurement};
use shared::budget::{self, UsageError};
use shared::cache::TtlCache;
use shared::checks::CheckName;
use shared::facts::GroupFacts;
use shared::policy::{Mode, Policy};
use shared::ports::{AlarmRead, AwsError};
use shared::suspension::{SuspensionRecord, SuspensionReport};

use crate::alerts;
use crate::event::{AlarmState, EventError, Input, Trigger};
use crate::response::{
    AlarmAction, AlarmSummary, IgnoreReason, Ignored, LaunchBreakerSummary, Response,
    ScheduleSummary, Summary,
};
use crate::trust::{self, AlarmRole, Home};
use shared::ports::Ports;

/// The same error is alerted at most once in this period.
const ERROR_ALERT_QUIET: Duration = Duration::from_secs(3600);

/// The summary of an alarm's run, logged: one line, a warning when ignored.
fn alarm_handled(name: &str, action: AlarmAction) -> Summary {
    let summary = Summary::Alarm(AlarmSummary {
        alarm: name.to_owned(),
        action,
    });
    match &summary {
        Summary::Alarm(AlarmSummary {
            action: AlarmAction::Ignored(_),
            ..
        }) => tracing::warn!(summary = %summary, "alarm ignored"),
        _ => tracing::info!(summary = %summary, "alarm handled"),
    }
    summary
}

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
    /// Audit mode: what the off switch undid of what enforce mode made.
    handed_over: HandOver,
    /// The launch breaker on the launcher roles: put, removed, or (audit)
    /// what it would block.
    launch_breaker: LaunchBreakerSummary,
    /// Whether the breaker alone is worth a suspension alert (newly on, or
    /// a role failed).
    breaker_news: bool,
}

/// The would-be changes of audit mode already alerted: each condition once,
/// again only after it ended. Kept in memory: a replaced environment alerts
/// a lasting condition once more.
#[derive(Debug, Default)]
struct Alerted {
    would_suspend: BTreeSet<String>,
    /// What the off switch could not undo yet.
    handover_left: BTreeSet<String>,
    /// Whether the launch breaker is on, off, or not known here.
    launch_breaker: launchers::BreakerMemory,
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
    /// Groups whose guard hook is known not to abandon (audit mode).
    settled_hooks: TtlCache<()>,
    /// The scans for the guard's hook on groups outside the cluster.
    non_member_scans: Mutex<unanswered::NonMemberScans>,
}

impl<'a, P: Ports> BudgetGuard<'a, P> {
    pub fn new(policy: &'a Policy, ports: &'a P) -> Self {
        Self {
            policy,
            ports,
            clock: SystemTime::now,
            guarded: GuardedGroups::of(policy),
            last_error: TtlCache::new(64, ERROR_ALERT_QUIET),
            alerted: Mutex::default(),
            settled_hooks: off_switch::settled_hooks(),
            non_member_scans: Mutex::default(),
        }
    }

    /// Replaces the clock (tests pin "now").
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// Entry point: the schedule, an alarm's Lambda action, or SNS alarms;
    /// `home` is where this function runs (alarms from elsewhere are
    /// ignored). The first run that fails is alerted and fails the invocation.
    pub async fn handle(&self, input: Input, home: Home) -> Result<Response, HandlerError> {
        let mut runs = Vec::new();
        for trigger in input.triggers()? {
            match self.run(&trigger, &home).await {
                Ok(summary) => runs.push(summary),
                Err(err) => {
                    self.alert_error(&err).await;
                    return Err(err);
                }
            }
        }
        Ok(Response::from(runs))
    }

    async fn run(&self, trigger: &Trigger, home: &Home) -> Result<Summary, HandlerError> {
        match trigger {
            Trigger::Schedule => self.scheduled().await,
            Trigger::Alarm {
                name,
                state,
                group,
                checks,
                source,
            } => {
                let action = match trust::believe(&self.policy.alarms, home, name, source.as_ref())
                {
                    Ok(role) => {
                        self.alarm(name, role, *state, group.as_deref(), checks)
                            .await?
                    }
                    Err(ignored) => AlarmAction::Ignored(ignored),
                };
                Ok(alarm_handled(name, action))
            }
        }
    }

    /// Every minute: measure, suspend or resume, publish, enroll.
    async fn scheduled(&self) -> Result<Summary, HandlerError> {
        let measured = self.measure().await?;
        let over = budget::over_suspend_threshold(&self.policy.budget, measured.usage);
        let mut outcome = Changes::default();
        match (self.policy.mode, over.is_empty()) {
            // Audit mode is the off switch, whatever the usage: what enforce
            // mode made is undone (and the suspension below only says what
            // it would do).
            (Mode::Audit, _) => {
                outcome.handed_over = self.hand_over(&measured, &mut outcome.launch_breaker).await;
            }
            (Mode::Enforce, true) => self.resume(&measured, &mut outcome).await?,
            (Mode::Enforce, false) => {}
        }
        if !over.is_empty() {
            let checks: Vec<CheckName> = over.iter().map(|d| d.check).collect();
            let record = self.record(suspend::over_reason(&over), "schedule", Vec::new());
            self.break_launchers(&checks, &mut outcome).await;
            self.suspend_or_say_so(&measured, measured.groups(), record, &checks, &mut outcome)
                .await;
        }
        let suspended_groups = metrics::count_suspended(measured.groups(), &outcome);
        self.publish_metrics(measured.usage, suspended_groups)
            .await?;
        let enroll::Enrollment {
            enrolled,
            repaired,
            restored,
        } = self.enroll(measured.groups()).await;
        let exceptions_expired = self.look_out(&measured).await;
        let Changes {
            suspended,
            resumed,
            would_suspend,
            handed_over,
            launch_breaker,
            breaker_news: _,
        } = outcome;
        let summary = Summary::Schedule(ScheduleSummary {
            mode: self.policy.mode,
            usage: measured.usage,
            suspended: suspended.changed,
            resumed: resumed.changed,
            held: resumed.unchanged,
            notes: resumed.notes,
            would_suspend,
            handed_over,
            failed: [suspended.failed, resumed.failed].concat(),
            enrolled,
            repaired,
            restored,
            suspended_groups,
            launch_breaker: Box::new(launch_breaker),
            exceptions_expired,
        });
        tracing::info!(summary = %summary, "budget run");
        Ok(summary)
    }

    /// What the schedule watches besides the budgets, each alerted once
    /// (and logged): launches left waiting on the guard's hook, and
    /// exceptions past their `until=` (returned for the summary).
    async fn look_out(&self, measured: &Measurement) -> Vec<String> {
        self.alert_unanswered(measured).await;
        self.alert_unanswered_on_non_members().await;
        self.alert_expired_exceptions(measured.groups()).await
    }

    /// A believed alarm changed state: `ALARM` suspends its scope once
    /// confirmed, `OK` tries to resume.
    async fn alarm(
        &self,
        name: &str,
        role: AlarmRole,
        state: AlarmState,
        group: Option<&str>,
        checks: &[CheckName],
    ) -> Result<AlarmAction, HandlerError> {
        match (state, role) {
            (AlarmState::InsufficientData, _) => Ok(AlarmAction::None),
            (AlarmState::Ok, _) => self.alarm_ok().await,
            (AlarmState::Alarm, AlarmRole::Budget) => self.budget_alarm_fires(name, group).await,
            (AlarmState::Alarm, AlarmRole::Surge) => {
                self.surge_alarm_fires(name, group, checks).await
            }
        }
    }

    /// `OK`: resume where usage allows. Whoever sent it, the resume itself
    /// checks usage, what the groups would launch, and the surge alarms that
    /// hold them, so an early or forged `OK` lifts nothing the schedule
    /// would not.
    async fn alarm_ok(&self) -> Result<AlarmAction, HandlerError> {
        let measured = self.measure().await?;
        let mut outcome = Changes::default();
        self.resume(&measured, &mut outcome).await?;
        Ok(AlarmAction::Resume {
            resumed: outcome.resumed.changed,
            held: outcome.resumed.unchanged,
            notes: outcome.resumed.notes,
            handed_over: outcome.handed_over,
        })
    }

    /// A budget alarm in `ALARM` suspends only when the guard's own fresh
    /// measurement is at or over the suspend threshold of a budget: anyone
    /// who may put metric data can push the alarm's metric. The record names
    /// no alarm, so that the resume also follows the measurement alone.
    async fn budget_alarm_fires(
        &self,
        name: &str,
        group: Option<&str>,
    ) -> Result<AlarmAction, HandlerError> {
        let measured = self.measure().await?;
        let over = budget::over_suspend_threshold(&self.policy.budget, measured.usage);
        if over.is_empty() {
            return Ok(AlarmAction::Ignored(Ignored {
                reason: IgnoreReason::BudgetNotReached,
                detail: suspend::not_reached(name, &self.policy.budget, measured.usage),
            }));
        }
        let checks: Vec<CheckName> = over.iter().map(|d| d.check).collect();
        let reason = format!(
            "alarm `{name}` in ALARM, measured {}",
            suspend::over_reason(&over)
        );
        let record = self.record(reason, "alarm", Vec::new());
        let mut outcome = Changes::default();
        self.break_launchers(&checks, &mut outcome).await;
        Ok(self
            .alarm_suspends(&measured, group, record, &checks, None, outcome)
            .await)
    }

    /// A surge alarm in `ALARM` suspends only when `DescribeAlarms` shows it
    /// in `ALARM`: a notification can be forged by anyone who may publish to
    /// the topic. Its record names it, so the resume waits for it.
    async fn surge_alarm_fires(
        &self,
        name: &str,
        group: Option<&str>,
        checks: &[CheckName],
    ) -> Result<AlarmAction, HandlerError> {
        let firing = self
            .ports
            .metrics()
            .alarms_in_alarm(&[name.to_owned()])
            .await?;
        if !firing.iter().any(|alarm| alarm == name) {
            return Ok(AlarmAction::Ignored(Ignored {
                reason: IgnoreReason::NotInAlarm,
                detail: format!("surge alarm `{name}` is not in ALARM in CloudWatch"),
            }));
        }
        let measured = self.measure().await?;
        let reason = format!("alarm `{name}` in ALARM");
        let record = self.record(reason, "alarm", vec![name.to_owned()]);
        Ok(self
            .alarm_suspends(
                &measured,
                group,
                record,
                checks,
                Some(name),
                Changes::default(),
            )
            .await)
    }

    /// Suspends the alarm's group, or every cluster group; groups already
    /// suspended by the guard wait for `joining` too, if given. `outcome`
    /// holds what the run did before (the launch breaker of a budget alarm).
    async fn alarm_suspends(
        &self,
        measured: &Measurement,
        group: Option<&str>,
        record: SuspensionRecord,
        checks: &[CheckName],
        joining: Option<&str>,
        mut outcome: Changes,
    ) -> AlarmAction {
        let scope: Vec<GroupFacts> = measured
            .groups()
            .iter()
            .filter(|g| group.is_none_or(|wanted| g.name == wanted))
            .cloned()
            .collect();
        self.suspend_or_say_so(measured, &scope, record, checks, &mut outcome)
            .await;
        let report = outcome.suspended;
        let alarm_added_to = match joining {
            Some(_) if self.enforces(checks) => report.joined.clone(),
            _ => Vec::new(),
        };
        AlarmAction::Suspend {
            scope: group.map(str::to_owned),
            suspended: report.changed,
            unchanged: report.unchanged,
            failed: report.failed,
            alarm_added_to,
            would_suspend: outcome.would_suspend,
        }
    }

    /// Cluster groups and usage, counted as launch-guard's admission counts.
    async fn measure(&self) -> Result<Measurement, HandlerError> {
        let measurement = measure::measure(
            &self.policy.cluster_tag,
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
