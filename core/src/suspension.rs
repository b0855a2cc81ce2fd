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
//!
//! The record (issue 21) merges, never replaces
//! ([`SuspensionRecord::merged_over`]); fits a tag value whatever its alarms
//! ([`RecordedAlarms`]); and is trusted only when signed with the stack's
//! key ([`RecordKey`], [`SuspensionRecord::read`]).

mod alarms;
mod signing;

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

pub use alarms::RecordedAlarms;
pub use signing::{MIN_KEY_CHARS, RecordKey, alarm_digest};

use crate::facts::GroupFacts;
use crate::time::parse_rfc3339;
use alarms::AlarmForm;

/// The tag that marks a suspension made by the guard; its value is a
/// [`SuspensionRecord`] in JSON (tag values hold at most 256 characters).
pub const SUSPENDED_TAG: &str = "scaling-guard:suspended";
const TAG_VALUE_MAX: usize = 256;
/// A reason is cut down to this many characters before the alarms are
/// written more compactly.
const REASON_KEPT: usize = 48;
const LAUNCH: &str = "Launch";
/// Longer than any invocation of the guard's functions (Lambda's maximum
/// timeout): a record without its suspension that is younger may still be
/// being applied.
pub const SETTLE: Duration = Duration::from_secs(15 * 60);

/// Who suspended, why and when — the value of [`SUSPENDED_TAG`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuspensionRecord {
    pub reason: String,
    /// `budget_denial`, `schedule` or `alarm`.
    pub trigger: String,
    pub time: String,
    /// Alarms that must leave `ALARM` before a resume.
    pub alarms: RecordedAlarms,
    /// The MaxSize before the guard clamped it.
    pub original_max_size: Option<i32>,
    /// The MaxSize the guard set: restored only while the group still has it.
    pub clamped_to: Option<i32>,
}

/// The record as written in the tag. `mac` signs everything else with the
/// group's name; records of earlier versions have none, and name alarms only.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Wire {
    reason: String,
    trigger: String,
    time: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    alarms: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    alarm_digests: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    every_surge_alarm: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    original_max_size: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clamped_to: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
}

impl Wire {
    /// The signed content: the record as written, without its signature.
    fn content(&self) -> String {
        let mut unsigned = self.clone();
        unsigned.mac = None;
        serde_json::to_string(&unsigned).unwrap_or_default()
    }
}

/// What the guard's tag on a group is to this guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnGroup {
    /// The group carries no [`SUSPENDED_TAG`].
    Nothing,
    /// The guard's own record (signed with its key, or read without a key).
    Guards(SuspensionRecord),
    /// A tag the guard cannot show it wrote: not trusted, never lifted,
    /// never restored from.
    NotTheGuards(NotTheGuards),
}

/// A [`SUSPENDED_TAG`] that does not verify, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotTheGuards {
    pub why: &'static str,
}

impl NotTheGuards {
    /// The line a report and an alert carry about `group`.
    pub fn line(&self, group: &str) -> String {
        format!(
            "the suspension record on {group} is not the guard's ({}): it is not trusted, its suspension is not lifted and its MaxSize not restored",
            self.why
        )
    }
}

impl SuspensionRecord {
    /// A record of a suspension made now, without a clamp.
    pub fn new(reason: String, trigger: &str, time: SystemTime, alarms: Vec<String>) -> Self {
        Self {
            reason,
            trigger: trigger.to_owned(),
            time: crate::time::format_rfc3339(time),
            alarms: RecordedAlarms::named(alarms),
            original_max_size: None,
            clamped_to: None,
        }
    }

    fn wire(&self, form: AlarmForm, reason: String) -> Wire {
        let (alarms, alarm_digests, every_surge_alarm) = self.alarms.written_as(form);
        Wire {
            reason,
            trigger: self.trigger.clone(),
            time: self.time.clone(),
            alarms,
            alarm_digests,
            every_surge_alarm,
            original_max_size: self.original_max_size,
            clamped_to: self.clamped_to,
            mac: None,
        }
    }

    /// The tag value for `group`, signed with `key` when there is one, within
    /// the 256 characters of a tag value whatever the alarms: the reason is
    /// cut first (down to 48 characters, `REASON_KEPT`), then the alarms are
    /// written as digests, then as "every surge alarm" with no reason left.
    /// The alarms are never dropped; each step waits for more, not less.
    pub fn to_tag_value(&self, group: &str, key: Option<&RecordKey>) -> String {
        let mut text = String::new();
        for form in AlarmForm::ALL {
            let floor = match form {
                AlarmForm::EverySurgeAlarm => 0,
                _ => REASON_KEPT,
            };
            let mut reason = self.reason.clone();
            loop {
                let mut wire = self.wire(form, reason.clone());
                wire.mac = key.map(|key| key.sign(group, &wire.content()));
                text = serde_json::to_string(&wire).unwrap_or_default();
                let length = reason.chars().count();
                if text.len() <= TAG_VALUE_MAX || length <= floor {
                    break;
                }
                let keep = length.saturating_sub(16).max(floor);
                reason = reason.chars().take(keep).collect();
            }
            if text.len() <= TAG_VALUE_MAX {
                return text;
            }
        }
        text
    }

    /// The guard's record on `group`, if it has one the guard trusts (see
    /// [`SuspensionRecord::read`]).
    pub fn of(group: &GroupFacts, key: Option<&RecordKey>) -> Option<SuspensionRecord> {
        match Self::read(group, key) {
            OnGroup::Guards(record) => Some(record),
            OnGroup::Nothing | OnGroup::NotTheGuards(_) => None,
        }
    }

    /// What [`SUSPENDED_TAG`] on `group` is. With a key, only a record signed
    /// with it for this group is the guard's: an unsigned one (written by a
    /// version before issue 21, or by anyone who may tag) or one whose
    /// signature does not verify is not. Without a key (a guard run outside
    /// its stack) every record is taken as the guard's, unverified, as
    /// earlier versions did; an unreadable one too, since only the guard
    /// writes this tag there.
    pub fn read(group: &GroupFacts, key: Option<&RecordKey>) -> OnGroup {
        let Some(value) = group.tags.get(SUSPENDED_TAG) else {
            return OnGroup::Nothing;
        };
        let wire = serde_json::from_str::<Wire>(value);
        let not_the_guards = |why| OnGroup::NotTheGuards(NotTheGuards { why });
        let wire = match (wire, key) {
            (Ok(wire), None) => wire,
            (Err(_), None) => return OnGroup::Guards(Self::unreadable()),
            (Err(_), Some(_)) => return not_the_guards("unreadable"),
            (Ok(wire), Some(key)) => match &wire.mac {
                None => return not_the_guards("not signed"),
                Some(mac) if !key.verifies(&group.name, &wire.content(), mac) => {
                    return not_the_guards("its signature does not verify");
                }
                Some(_) => wire,
            },
        };
        OnGroup::Guards(SuspensionRecord {
            reason: wire.reason,
            trigger: wire.trigger,
            time: wire.time,
            alarms: RecordedAlarms::from_parts(
                wire.alarms,
                wire.alarm_digests,
                wire.every_surge_alarm,
            ),
            original_max_size: wire.original_max_size,
            clamped_to: wire.clamped_to,
        })
    }

    fn unreadable() -> Self {
        SuspensionRecord {
            reason: "unreadable suspension tag".to_owned(),
            trigger: "unknown".to_owned(),
            time: String::new(),
            alarms: RecordedAlarms::default(),
            original_max_size: None,
            clamped_to: None,
        }
    }

    /// This record written over `live`, the record on the group now: a
    /// record merges, never replaces. The suspension keeps the reason and
    /// time it began with and the clamp of the first record that made one
    /// (the only one that saw the original MaxSize); the alarms are joined.
    pub fn merged_over(self, live: &SuspensionRecord) -> SuspensionRecord {
        let mut alarms = live.alarms.clone();
        alarms.join(&self.alarms);
        let clamp_known = live.original_max_size.is_some();
        SuspensionRecord {
            alarms,
            original_max_size: match clamp_known {
                true => live.original_max_size,
                false => self.original_max_size,
            },
            clamped_to: match clamp_known {
                true => live.clamped_to,
                false => self.clamped_to,
            },
            ..live.clone()
        }
    }

    /// Whether `live` already says everything this record would add: its
    /// alarms and, when this record names a clamp, a clamp.
    pub fn adds_nothing_to(&self, live: &SuspensionRecord) -> bool {
        live.alarms.covers(&self.alarms)
            && (self.original_max_size.is_none() || live.original_max_size.is_some())
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
        if group.max_size == original {
            // Nothing to set back (a resume that stopped after restoring it,
            // or someone set it back): nothing kept either.
            return Restore::NotClamped;
        }
        let ours = match self.clamped_to {
            Some(clamped) => group.max_size == clamped,
            // Records of earlier versions name no clamp: restore only upwards.
            None => group.max_size < original,
        };
        match ours {
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
    /// The guard's suspension is in place, but its record does not wait for
    /// every alarm of this one yet: the record is rewritten, merged (nothing
    /// is suspended, nothing alerted).
    Join { record: SuspensionRecord },
    /// The guard's suspension is in place: nothing to do, nothing to alert.
    AlreadySuspended,
    /// Someone else suspended `Launch` (also under a record that is not the
    /// guard's): not the guard's to own or lift.
    SuspendedByOthers,
}

pub fn launch_suspended(group: &GroupFacts) -> bool {
    group.suspended_processes.iter().any(|p| p == LAUNCH)
}

/// Plans a suspension of `group` with `record`, merged over the guard's
/// record already there. A record that is not the guard's is never merged
/// from: on a group whose `Launch` runs, the guard writes its own.
pub fn plan_suspend(
    group: &GroupFacts,
    record: SuspensionRecord,
    key: Option<&RecordKey>,
) -> SuspendPlan {
    match (SuspensionRecord::read(group, key), launch_suspended(group)) {
        (OnGroup::Guards(live), true) if record.adds_nothing_to(&live) => {
            SuspendPlan::AlreadySuspended
        }
        (OnGroup::Guards(live), true) => SuspendPlan::Join {
            record: record.merged_over(&live),
        },
        (OnGroup::Guards(live), false) => SuspendPlan::Incomplete {
            record: record.merged_over(&live),
        },
        (OnGroup::Nothing | OnGroup::NotTheGuards(_), true) => SuspendPlan::SuspendedByOthers,
        (OnGroup::Nothing | OnGroup::NotTheGuards(_), false) => SuspendPlan::Suspend { record },
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
    /// The group's record is not the guard's: never touched, and said so.
    NotTheGuards(NotTheGuards),
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
    key: Option<&RecordKey>,
    fits: impl FnOnce(&GroupFacts) -> Result<(), String>,
) -> ResumePlan {
    let record = match SuspensionRecord::read(group, key) {
        OnGroup::Guards(record) => record,
        OnGroup::Nothing => return ResumePlan::NotSuspendedByGuard,
        OnGroup::NotTheGuards(not) => return ResumePlan::NotTheGuards(not),
    };
    if !launch_suspended(group) && record.is_settling(now) {
        return ResumePlan::Hold {
            why: format!(
                "a suspension recorded at {} is still being applied",
                record.time
            ),
        };
    }
    if let Some(alarm) = record.alarms.holding(firing_alarms) {
        return ResumePlan::Hold {
            why: format!("alarm `{alarm}` is still in ALARM"),
        };
    }
    match fits(group) {
        Ok(()) => ResumePlan::Resume { record },
        Err(why) => ResumePlan::Hold { why },
    }
}
