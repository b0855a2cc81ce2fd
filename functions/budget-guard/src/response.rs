//! What an invocation returns (and logs): one summary per run. The runtime
//! serialises it; a value that cannot be serialised fails the invocation
//! instead of answering `null`.

use std::fmt;

use serde::Serialize;
use shared::alerts::HandOver;
use shared::budget::Usage;
use shared::policy::Mode;

/// The answer to one invocation: the summary of its one run, or of each run
/// of an SNS notification that carried several alarms.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    One(Box<Summary>),
    Batch(Vec<Summary>),
}

impl From<Vec<Summary>> for Response {
    fn from(runs: Vec<Summary>) -> Self {
        match <[Summary; 1]>::try_from(runs) {
            Ok([one]) => Response::One(Box::new(one)),
            Err(runs) => Response::Batch(runs),
        }
    }
}

/// What one run did, by what started it (`"trigger": "schedule"` or `"alarm"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "trigger", rename_all = "snake_case")]
pub enum Summary {
    Schedule(ScheduleSummary),
    Alarm(AlarmSummary),
}

/// Logged as its JSON document.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_string(self) {
            Ok(json) => f.write_str(&json),
            Err(err) => write!(f, "summary cannot be written as JSON: {err}"),
        }
    }
}

/// The scheduled run: usage, what changed (or would have), what was enrolled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleSummary {
    pub mode: Mode,
    pub usage: Usage,
    pub suspended: Vec<String>,
    pub resumed: Vec<String>,
    /// Guard-suspended groups left suspended, with why.
    pub held: Vec<(String, String)>,
    /// What a person should know about a resumed group (a MaxSize kept, …).
    pub notes: Vec<(String, String)>,
    pub would_suspend: Vec<String>,
    /// Audit mode: what the off switch undid of what enforce mode made
    /// (absent when nothing).
    #[serde(skip_serializing_if = "HandOver::is_empty")]
    pub handed_over: HandOver,
    /// Groups where an AWS call failed, with the error.
    pub failed: Vec<(String, String)>,
    pub enrolled: Vec<String>,
    /// Groups whose guard hook notified elsewhere than the launch queue,
    /// put again.
    pub repaired: Vec<String>,
    /// Groups whose guard hook ended unanswered launches otherwise than the
    /// fail mode says, put again with its result (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restored: Vec<String>,
    /// `SuspendedGroups` after this run's changes.
    pub suspended_groups: usize,
    /// The launch breaker on the launcher roles (absent when untouched).
    /// Boxed: most runs leave it empty, and the summary is moved around.
    #[serde(skip_serializing_if = "untouched")]
    pub launch_breaker: Box<LaunchBreakerSummary>,
    /// Expired exceptions this run alerted (`exception_expired`), as the
    /// policy writes them (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exceptions_expired: Vec<String>,
}

fn untouched(summary: &LaunchBreakerSummary) -> bool {
    summary.is_empty()
}

/// What a run did to the launcher roles (`GUARD_LAUNCHER_ROLE_ARNS`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LaunchBreakerSummary {
    /// Roles the breaker was put on (a budget suspension).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub put: Vec<String>,
    /// Roles the breaker was removed from (resume, hand-over).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// Audit mode: the roles enforce mode would have blocked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub would_block: Vec<String>,
    /// `role: why` for each call that failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
}

impl LaunchBreakerSummary {
    pub fn is_empty(&self) -> bool {
        self.put.is_empty()
            && self.removed.is_empty()
            && self.would_block.is_empty()
            && self.failed.is_empty()
    }
}

/// An alarm's state change and what the guard did about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmSummary {
    pub alarm: String,
    #[serde(flatten)]
    pub action: AlarmAction,
}

/// What an alarm's state led to (`"action": "none"`, `"ignored"`,
/// `"resume"`, `"suspend"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AlarmAction {
    /// `INSUFFICIENT_DATA`: nothing.
    None,
    /// Not believed (not this stack's or not the guard's alarm), or not
    /// confirmed: nothing, and why.
    Ignored(Ignored),
    /// `OK`: the guard's suspensions were lifted where usage allows.
    Resume {
        resumed: Vec<String>,
        held: Vec<(String, String)>,
        notes: Vec<(String, String)>,
        /// Audit mode: what the off switch undid of what enforce mode made
        /// (absent when nothing).
        #[serde(skip_serializing_if = "HandOver::is_empty")]
        handed_over: HandOver,
    },
    /// `ALARM`: scale-out was suspended in the alarm's scope.
    Suspend {
        /// The alarm's group; none: every cluster group.
        scope: Option<String>,
        suspended: Vec<String>,
        unchanged: Vec<(String, String)>,
        failed: Vec<(String, String)>,
        /// Groups already suspended whose record now names this alarm too.
        alarm_added_to: Vec<String>,
        would_suspend: Vec<String>,
    },
}

/// Why an alarm led to nothing (`"reason"`), in words (`"detail"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ignored {
    pub reason: IgnoreReason,
    pub detail: String,
}

/// Why an alarm was ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IgnoreReason {
    /// This function's own ARN does not name its account and region.
    UnknownHome,
    /// The event does not say the alarm's account and region.
    UnknownSource,
    /// The alarm lives in another account.
    ForeignAccount,
    /// The alarm lives in another region.
    ForeignRegion,
    /// Neither one of the guard's budget alarms nor named with its surge prefix.
    UnknownAlarm,
    /// A budget alarm in `ALARM` that the guard's own fresh measurement does
    /// not confirm: usage is below the suspend threshold of every budget.
    BudgetNotReached,
    /// A surge alarm that `DescribeAlarms` does not show in `ALARM`.
    NotInAlarm,
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use serde_json::{Value, json};
    use shared::fixtures::at;

    use super::*;

    fn json_of(response: &Response) -> Value {
        serde_json::to_value(response).unwrap()
    }

    fn alarm(name: &str, action: AlarmAction) -> Summary {
        Summary::Alarm(AlarmSummary {
            alarm: name.to_owned(),
            action,
        })
    }

    #[test]
    fn a_schedule_summary_names_its_trigger_first_and_every_figure() {
        let summary = Summary::Schedule(ScheduleSummary {
            mode: Mode::Enforce,
            usage: Usage {
                vcpus: 8,
                memory_mib: 32768,
                instances: 4,
            },
            suspended: vec!["prod-a".into()],
            resumed: vec![],
            held: vec![("prod-b".into(), "an alarm fires".into())],
            notes: vec![],
            would_suspend: vec![],
            handed_over: HandOver::default(),
            failed: vec![],
            enrolled: vec!["prod-new".into()],
            repaired: vec!["prod-b".into()],
            restored: vec![],
            suspended_groups: 2,
            launch_breaker: Box::default(),
            exceptions_expired: vec![],
        });

        let text = serde_json::to_string(&Response::One(Box::new(summary))).unwrap();

        assert_eq!(
            text,
            concat!(
                r#"{"trigger":"schedule","mode":"enforce","#,
                r#""usage":{"vcpus":8,"memory_mib":32768,"instances":4},"#,
                r#""suspended":["prod-a"],"resumed":[],"held":[["prod-b","an alarm fires"]],"#,
                r#""notes":[],"would_suspend":[],"failed":[],"#,
                r#""enrolled":["prod-new"],"repaired":["prod-b"],"suspended_groups":2}"#
            )
        );
    }

    #[test]
    fn alarm_summaries_carry_the_fields_of_their_action() {
        let none = Response::from(vec![alarm("surge", AlarmAction::None)]);
        let suspend = Response::from(vec![alarm(
            "surge",
            AlarmAction::Suspend {
                scope: None,
                suspended: vec!["prod-a".into()],
                unchanged: vec![],
                failed: vec![],
                alarm_added_to: vec![],
                would_suspend: vec![],
            },
        )]);

        assert_eq!(
            json_of(&none),
            json!({"trigger": "alarm", "alarm": "surge", "action": "none"})
        );
        assert_eq!(
            json_of(&suspend),
            json!({
                "trigger": "alarm",
                "alarm": "surge",
                "action": "suspend",
                "scope": null,
                "suspended": ["prod-a"],
                "unchanged": [],
                "failed": [],
                "alarm_added_to": [],
                "would_suspend": [],
            })
        );
    }

    #[test]
    fn an_ignored_alarm_says_why_in_a_code_and_in_words() {
        let ignored = Response::from(vec![alarm(
            "rds-cpu-high",
            AlarmAction::Ignored(Ignored {
                reason: IgnoreReason::UnknownAlarm,
                detail: "not the guard's".into(),
            }),
        )]);

        assert_eq!(
            json_of(&ignored),
            json!({
                "trigger": "alarm",
                "alarm": "rds-cpu-high",
                "action": "ignored",
                "reason": "unknown_alarm",
                "detail": "not the guard's",
            })
        );
    }

    #[test]
    fn one_run_answers_its_summary_and_several_runs_a_list() {
        let resume = || {
            alarm(
                "ok",
                AlarmAction::Resume {
                    resumed: vec![],
                    held: vec![],
                    notes: vec![],
                    handed_over: HandOver::default(),
                },
            )
        };

        let one = Response::from(vec![resume()]);
        let two = Response::from(vec![resume(), resume()]);

        assert_eq!(*at(&json_of(&one), "action"), "resume");
        assert_eq!(json_of(&two).as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn a_summary_is_logged_as_its_json() {
        let summary = alarm("surge", AlarmAction::None);
        assert_eq!(
            summary.to_string(),
            r#"{"trigger":"alarm","alarm":"surge","action":"none"}"#
        );
    }
}
