//! Surge suspension (SPEC §7): the plans, pure. `shared::suspension`
//! applies them over the Auto Scaling port.
//!
//! The guard suspends only `Launch`, records who/why/when in the tag
//! [`SUSPENDED_TAG`] on the group, and resumes only groups carrying that tag.
//! A group whose `Launch` someone else suspended is left alone.
//!
//! launch-guard (suspending after a budget denial) and budget-guard (suspending
//! and resuming) are not serialized with each other. Every interleaving of the
//! two leaves a suspension with its record, or neither:
//! - a suspension writes the record first, then suspends `Launch`;
//! - a resume lifts `Launch` first, then deletes the record;
//! - so a record without a suspended `Launch` is either a suspension being
//!   applied or a resume being finished. launch-guard never touches such a
//!   group; budget-guard leaves a young one (younger than [`SETTLE`]) alone,
//!   and settles an older one, which only a run that stopped half-way leaves.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::facts::GroupFacts;
use crate::time::parse_rfc3339;

/// The tag that marks a suspension made by the guard; its value is a
/// [`SuspensionRecord`] in JSON (tag values hold at most 256 characters).
pub const SUSPENDED_TAG: &str = "scaling-guard:suspended";
const TAG_VALUE_MAX: usize = 256;
const LAUNCH: &str = "Launch";
/// Longer than any invocation of the guard's functions (Lambda's maximum
/// timeout): a record without its suspension that is younger may still be
/// being applied.
pub const SETTLE: Duration = Duration::from_secs(15 * 60);

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
    /// The MaxSize the guard set: restored only while the group still has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clamped_to: Option<i32>,
}

impl SuspensionRecord {
    /// A record of a suspension made now, without a clamp.
    pub fn new(reason: String, trigger: &str, time: SystemTime, alarms: Vec<String>) -> Self {
        Self {
            reason,
            trigger: trigger.to_owned(),
            time: crate::time::format_rfc3339(time),
            alarms,
            original_max_size: None,
            clamped_to: None,
        }
    }

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
                clamped_to: None,
            }),
        )
    }

    /// Whether the record was written less than [`SETTLE`] before `now`. An
    /// unreadable time is old.
    fn is_settling(&self, now: SystemTime) -> bool {
        parse_rfc3339(&self.time)
            .is_some_and(|written| now.duration_since(written).map_or(true, |age| age < SETTLE))
    }

    /// The MaxSize to restore on `group`, or why it is kept.
    pub fn restore(&self, group: &GroupFacts) -> Restore {
        let Some(original) = self.original_max_size else {
            return Restore::NotClamped;
        };
        let ours = match self.clamped_to {
            Some(clamped) => group.max_size == clamped,
            // Records of earlier versions name no clamp: restore only upwards.
            None => group.max_size < original,
        };
        match ours {
            true if group.max_size == original => Restore::NotClamped,
            true => Restore::To(original),
            false => Restore::Kept {
                current: group.max_size,
                set_by_guard: self.clamped_to,
            },
        }
    }
}

/// What resuming does with a clamped MaxSize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restore {
    /// Nothing was clamped (or the value is already the original).
    NotClamped,
    /// Set MaxSize back to this value.
    To(i32),
    /// Someone changed MaxSize during the suspension: it stays theirs.
    Kept {
        current: i32,
        set_by_guard: Option<i32>,
    },
}

/// What suspending one group takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuspendPlan {
    /// Tag, then suspend `Launch` (then clamp, when asked).
    Suspend { record: SuspensionRecord },
    /// The guard's record is there but `Launch` is not suspended: a
    /// suspension being applied, a resume being finished, or a run that
    /// stopped half-way. Completing it keeps the record's clamp.
    Incomplete { record: SuspensionRecord },
    /// The guard's suspension is in place: nothing to do, nothing to alert.
    AlreadySuspended,
    /// Someone else suspended `Launch`: not the guard's to own or lift.
    SuspendedByOthers,
}

pub fn launch_suspended(group: &GroupFacts) -> bool {
    group.suspended_processes.iter().any(|p| p == LAUNCH)
}

/// Plans a suspension of `group` with `record`.
pub fn plan_suspend(group: &GroupFacts, record: SuspensionRecord) -> SuspendPlan {
    match (SuspensionRecord::of(group), launch_suspended(group)) {
        (Some(_), true) => SuspendPlan::AlreadySuspended,
        (None, true) => SuspendPlan::SuspendedByOthers,
        (Some(existing), false) => SuspendPlan::Incomplete {
            record: SuspensionRecord {
                original_max_size: existing.original_max_size,
                clamped_to: existing.clamped_to,
                ..record
            },
        },
        (None, false) => SuspendPlan::Suspend { record },
    }
}

/// The MaxSize a clamp may set on `group` (read after `Launch` was
/// suspended): never below its desired capacity nor below the instances it
/// has, so that `UpdateAutoScalingGroup` cannot scale it in. `None` when
/// that is not below its MaxSize.
pub fn clamp_floor(group: &GroupFacts) -> Option<i32> {
    let instances = group
        .instances
        .iter()
        .filter(|i| !i.lifecycle_state.starts_with("Terminat"))
        .count();
    let floor = group
        .desired_capacity
        .max(i32::try_from(group.instances.len().max(instances)).unwrap_or(i32::MAX));
    (floor < group.max_size).then_some(floor)
}

/// What resuming one group takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumePlan {
    /// Resume `Launch`, restore MaxSize when the guard's clamp is still there,
    /// remove the tag.
    Resume { record: SuspensionRecord },
    /// The group carries no guard suspension: never touched.
    NotSuspendedByGuard,
    /// Suspended by the guard, but not yet: usage, an alarm or a suspension
    /// being applied holds it.
    Hold { why: String },
}

/// Plans a resume: only guard-suspended groups, never one whose suspension is
/// being applied, only when none of the alarms that triggered it still fires
/// and `fits` (usage with what the group will launch at once) allows.
pub fn plan_resume(
    group: &GroupFacts,
    now: SystemTime,
    firing_alarms: &[String],
    fits: impl FnOnce(&GroupFacts) -> Result<(), String>,
) -> ResumePlan {
    let Some(record) = SuspensionRecord::of(group) else {
        return ResumePlan::NotSuspendedByGuard;
    };
    if !launch_suspended(group) && record.is_settling(now) {
        return ResumePlan::Hold {
            why: format!(
                "a suspension recorded at {} is still being applied",
                record.time
            ),
        };
    }
    if let Some(alarm) = record.alarms.iter().find(|a| firing_alarms.contains(a)) {
        return ResumePlan::Hold {
            why: format!("alarm `{alarm}` is still in ALARM"),
        };
    }
    match fits(group) {
        Ok(()) => ResumePlan::Resume { record },
        Err(why) => ResumePlan::Hold { why },
    }
}
