//! Surge suspension (SPEC §7): plans (pure) and their application over the
//! Auto Scaling port.
//!
//! The guard suspends only `Launch`, records who/why/when in the tag
//! [`SUSPENDED_TAG`] on the group, and resumes only groups carrying that tag.
//! A group whose `Launch` someone else suspended is left alone.

mod apply;

use serde::{Deserialize, Serialize};

pub use apply::{SuspensionReport, resume, suspend};

use crate::facts::GroupFacts;

/// The tag that marks a suspension made by the guard; its value is a
/// [`SuspensionRecord`] in JSON (tag values hold at most 256 characters).
pub const SUSPENDED_TAG: &str = "scaling-guard:suspended";
const TAG_VALUE_MAX: usize = 256;
const LAUNCH: &str = "Launch";

/// Who suspended, why and when — the value of [`SUSPENDED_TAG`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspensionRecord {
    pub reason: String,
    /// `budget_denial`, `schedule` or `alarm`.
    pub trigger: String,
    pub time: String,
    /// Alarms that must leave `ALARM` before a resume.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<String>,
    /// The MaxSize before the guard clamped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_max_size: Option<i32>,
}

impl SuspensionRecord {
    /// The tag value, shortened to fit: the reason is cut first.
    pub fn to_tag_value(&self) -> String {
        let mut record = self.clone();
        loop {
            let text = serde_json::to_string(&record).unwrap_or_default();
            if text.len() <= TAG_VALUE_MAX || record.reason.is_empty() {
                return text;
            }
            let keep = record.reason.chars().count().saturating_sub(16);
            record.reason = record.reason.chars().take(keep).collect();
        }
    }

    /// The record on a group, if the guard suspended it. An unreadable value
    /// still marks the group as the guard's (it only ever writes this tag).
    pub fn of(group: &GroupFacts) -> Option<SuspensionRecord> {
        let value = group.tags.get(SUSPENDED_TAG)?;
        Some(
            serde_json::from_str(value).unwrap_or_else(|_| SuspensionRecord {
                reason: "unreadable suspension tag".to_owned(),
                trigger: "unknown".to_owned(),
                time: String::new(),
                alarms: Vec::new(),
                original_max_size: None,
            }),
        )
    }
}

/// What suspending one group takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuspendPlan {
    /// Tag, suspend `Launch`, and set MaxSize to `clamp_to` when given.
    Suspend {
        record: SuspensionRecord,
        clamp_to: Option<i32>,
    },
    /// The guard's suspension is in place: nothing to do, nothing to alert.
    AlreadySuspended,
    /// Someone else suspended `Launch`: not the guard's to own or lift.
    SuspendedByOthers,
}

fn launch_suspended(group: &GroupFacts) -> bool {
    group.suspended_processes.iter().any(|p| p == LAUNCH)
}

/// Plans a suspension. A tagged group whose `Launch` is not suspended (an
/// earlier run stopped half-way) is suspended again, keeping its record's
/// original MaxSize.
pub fn plan_suspend(group: &GroupFacts, clamp: bool, mut record: SuspensionRecord) -> SuspendPlan {
    match (SuspensionRecord::of(group), launch_suspended(group)) {
        (Some(_), true) => SuspendPlan::AlreadySuspended,
        (None, true) => SuspendPlan::SuspendedByOthers,
        (existing, false) => {
            let clamp_to = (clamp && group.desired_capacity < group.max_size)
                .then_some(group.desired_capacity);
            record.original_max_size = existing
                .and_then(|r| r.original_max_size)
                .or(clamp_to.map(|_| group.max_size));
            SuspendPlan::Suspend { record, clamp_to }
        }
    }
}

/// What resuming one group takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumePlan {
    /// Resume `Launch`, restore MaxSize when recorded, remove the tag.
    Resume { restore_max_size: Option<i32> },
    /// The group carries no guard suspension: never touched.
    NotSuspendedByGuard,
    /// Suspended by the guard, but not yet: usage or an alarm holds it.
    Hold { why: String },
}

/// Plans a resume: only guard-suspended groups, only when usage is below the
/// resume threshold and none of the alarms that triggered it still fires.
pub fn plan_resume(
    group: &GroupFacts,
    usage_below_resume: bool,
    firing_alarms: &[String],
) -> ResumePlan {
    let Some(record) = SuspensionRecord::of(group) else {
        return ResumePlan::NotSuspendedByGuard;
    };
    if !usage_below_resume {
        return ResumePlan::Hold {
            why: "usage is not yet below the resume threshold".to_owned(),
        };
    }
    if let Some(alarm) = record.alarms.iter().find(|a| firing_alarms.contains(a)) {
        return ResumePlan::Hold {
            why: format!("alarm `{alarm}` is still in ALARM"),
        };
    }
    ResumePlan::Resume {
        restore_max_size: record.original_max_size,
    }
}

#[cfg(test)]
mod tests;
