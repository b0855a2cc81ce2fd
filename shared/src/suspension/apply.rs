//! Applying suspension plans through [`ScaleOutControl`].
//!
//! A record merges, never replaces (issue 21, scenario 1). Each write is
//! planned on the group as read right before it, merged over the guard's
//! record found there ([`SuspensionRecord::merged_over`]), and read back
//! after it: a record that lost what this one adds (a writer that read the
//! group before this write) is merged again, once.
//!
//! The residual window (Auto Scaling tags have no conditional write): a
//! write planned on a read taken before another writer's write, that lands
//! only after that writer's read-back. Its own read-back then shows its own
//! record, and what the other wrote (an alarm, a clamp's original MaxSize)
//! is lost. The window is the time between one writer's read and its write
//! — one `CreateOrUpdateTags` round trip, longer only when that call is
//! retried — while the other completes a write and its read-back in it.
//! Within one launch-guard batch there is no such window (its denials are
//! suspended one after the other).

use std::time::SystemTime;

use serde::Serialize;

use super::{
    OnGroup, RecordKey, Restore, ResumePlan, SUSPENDED_TAG, SuspendPlan, SuspensionRecord,
    clamp_floor, launch_suspended, plan_resume, plan_suspend,
};
use crate::facts::GroupFacts;
use crate::ports::{AwsError, GroupRead, ScaleOutControl};

/// What a suspend or resume pass did, group by group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SuspensionReport {
    /// Groups changed by this pass (suspended or resumed).
    pub changed: Vec<String>,
    /// Groups already suspended by the guard whose record now also waits
    /// for this pass's alarms (not suspended again, not alerted as such).
    pub joined: Vec<String>,
    /// Groups left as they were, with why.
    pub unchanged: Vec<(String, String)>,
    /// Groups where an AWS call failed, with the error.
    pub failed: Vec<(String, String)>,
    /// What a person should know about a changed group (a MaxSize kept, …).
    pub notes: Vec<(String, String)>,
}

/// What a suspension does with a record that has no suspended `Launch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnIncomplete {
    /// Suspend `Launch` under it (budget-guard: it alone ever lifts a
    /// suspension, so the record cannot be a resume in progress of another run).
    Complete,
    /// Leave the group alone (launch-guard: budget-guard may be between its
    /// `ResumeProcesses` and `DeleteTags`; suspending now would leave `Launch`
    /// suspended once the tag is gone).
    Leave,
}

/// What one group's suspension came to.
enum Applied {
    Suspended,
    Joined,
    Unchanged(String),
}

/// Suspends `Launch` on every group that needs it, all groups at once, with
/// `record` merged over the guard's record on each. `groups` may be an older
/// read (a batch's later denials, another function's run): a group it shows
/// suspended by the guard, with a record that already waits for `record`'s
/// alarms, is left without a call; any other is read again right before it
/// is written, so that a group suspended meanwhile is neither suspended nor
/// alerted twice and its record keeps its original MaxSize. The tag goes
/// first so that a suspension is never without its record. With `clamp`,
/// MaxSize is then lowered to what the group has, read again after `Launch`
/// was suspended, so that the clamp never scales the group in.
pub async fn suspend_groups(
    control: &(impl ScaleOutControl + GroupRead),
    groups: &[GroupFacts],
    clamp: bool,
    record: &SuspensionRecord,
    incomplete: OnIncomplete,
    key: Option<&RecordKey>,
) -> SuspensionReport {
    let mut report = SuspensionReport::default();
    let mut planned = Vec::new();
    for group in groups {
        match plan_suspend(group, record.clone(), key) {
            SuspendPlan::AlreadySuspended => report.unchanged.push((
                group.name.clone(),
                "already suspended by the guard".to_owned(),
            )),
            SuspendPlan::SuspendedByOthers => report
                .unchanged
                .push((group.name.clone(), suspended_by_others(group, key))),
            _ => planned.push(group.name.as_str()),
        }
    }
    let applied = planned.into_iter().map(|name| async move {
        let outcome = apply_suspend(control, name, record, clamp, incomplete, key).await;
        (name, outcome)
    });
    for (name, outcome) in futures::future::join_all(applied).await {
        let name = name.to_owned();
        match outcome {
            Ok(Applied::Suspended) => report.changed.push(name),
            Ok(Applied::Joined) => report.joined.push(name),
            Ok(Applied::Unchanged(why)) => report.unchanged.push((name, why)),
            Err(err) => report.failed.push((name, err.to_string())),
        }
    }
    report
}

/// Why a group whose `Launch` is suspended is not the guard's.
fn suspended_by_others(group: &GroupFacts, key: Option<&RecordKey>) -> String {
    match SuspensionRecord::read(group, key) {
        OnGroup::NotTheGuards(not) => format!(
            "Launch suspended by someone else; {}",
            not.line(&group.name)
        ),
        _ => "Launch suspended by someone else".to_owned(),
    }
}

/// One group's suspension, planned again on the group as it is now.
async fn apply_suspend(
    control: &(impl ScaleOutControl + GroupRead),
    group: &str,
    record: &SuspensionRecord,
    clamp: bool,
    incomplete: OnIncomplete,
    key: Option<&RecordKey>,
) -> Result<Applied, AwsError> {
    let Some(live) = control.group(group).await? else {
        return Ok(Applied::Unchanged("the group no longer exists".to_owned()));
    };
    let record = match plan_suspend(&live, record.clone(), key) {
        SuspendPlan::AlreadySuspended => {
            return Ok(Applied::Unchanged(
                "already suspended by the guard".to_owned(),
            ));
        }
        SuspendPlan::SuspendedByOthers => {
            return Ok(Applied::Unchanged(suspended_by_others(&live, key)));
        }
        SuspendPlan::Incomplete { .. } if incomplete == OnIncomplete::Leave => {
            return Ok(Applied::Unchanged(
                "the guard's record is there without a suspended Launch (being resumed or applied)"
                    .to_owned(),
            ));
        }
        SuspendPlan::Join { record } => {
            write_record(control, group, &record, key).await?;
            return Ok(Applied::Joined);
        }
        SuspendPlan::Incomplete { record } | SuspendPlan::Suspend { record } => record,
    };
    write_record(control, group, &record, key).await?;
    control.suspend_launch(group).await?;
    if clamp {
        make_clamp(control, group, key).await?;
    }
    Ok(Applied::Suspended)
}

/// Lowers MaxSize to what the group has, recording the clamp first.
async fn make_clamp(
    control: &(impl ScaleOutControl + GroupRead),
    group: &str,
    key: Option<&RecordKey>,
) -> Result<(), AwsError> {
    // Read again now that nothing launches any more: the desired capacity and
    // the instances may have grown since the group was first read.
    let Some(now) = control.group(group).await? else {
        return Ok(());
    };
    let OnGroup::Guards(live) = SuspensionRecord::read(&now, key) else {
        // budget-guard lifted the suspension meanwhile: nothing to clamp.
        return Ok(());
    };
    if !launch_suspended(&now) {
        return Ok(());
    }
    let Some(floor) = clamp_floor(&now) else {
        return Ok(());
    };
    let original = match live.restore(&now) {
        // The guard's clamp (of an earlier, half-done run) is still in place.
        Restore::To(original) => original,
        _ => now.max_size,
    };
    let clamped = SuspensionRecord {
        original_max_size: Some(original),
        clamped_to: Some(floor),
        ..live
    };
    // The record names the clamp before it is made: a MaxSize that differs
    // from it later was set by someone else and is kept on resume.
    write_record(control, group, &clamped, key).await?;
    control.set_max_size(group, floor).await
}

/// Writes `record` on `group`, then reads it back: when a write from an
/// older read replaced it meanwhile with a record that lacks some of it, the
/// two are merged and written once more (see the module's doc for what
/// remains).
async fn write_record(
    control: &(impl ScaleOutControl + GroupRead),
    group: &str,
    record: &SuspensionRecord,
    key: Option<&RecordKey>,
) -> Result<(), AwsError> {
    control
        .tag_group(group, SUSPENDED_TAG, &record.to_tag_value(group, key))
        .await?;
    let Some(after) = control.group(group).await? else {
        return Ok(());
    };
    match SuspensionRecord::read(&after, key) {
        OnGroup::Guards(live) if !record.adds_nothing_to(&live) => {
            let merged = record.clone().merged_over(&live);
            control
                .tag_group(group, SUSPENDED_TAG, &merged.to_tag_value(group, key))
                .await
        }
        // Ours (or one that says more), or gone: a resume finished
        // meanwhile, and the suspension's own read will see it.
        _ => Ok(()),
    }
}

/// Resumes every guard-suspended group whose suspension may be lifted, in
/// order. `fits` is asked last for each group that nothing else holds, and
/// may count what the groups it allowed will launch. `Launch` is lifted
/// before the tag goes, so that a half-done resume is finished by the next run.
pub async fn resume(
    control: &(impl ScaleOutControl + GroupRead),
    groups: &[GroupFacts],
    now: SystemTime,
    firing_alarms: &[String],
    key: Option<&RecordKey>,
    mut fits: impl FnMut(&GroupFacts) -> Result<(), String>,
) -> SuspensionReport {
    let mut report = SuspensionReport::default();
    for group in groups {
        match plan_resume(group, now, firing_alarms, key, &mut fits) {
            ResumePlan::NotSuspendedByGuard => {}
            ResumePlan::NotTheGuards(not) => report
                .unchanged
                .push((group.name.clone(), not.line(&group.name))),
            ResumePlan::Hold { why } => report.unchanged.push((group.name.clone(), why)),
            ResumePlan::Resume { record } => {
                match apply_resume(control, &group.name, &record).await {
                    Ok(note) => {
                        report.changed.push(group.name.clone());
                        report
                            .notes
                            .extend(note.map(|note| (group.name.clone(), note)));
                    }
                    Err(err) => report.failed.push((group.name.clone(), err.to_string())),
                }
            }
        }
    }
    report
}

/// Lifts one suspension; says so when a MaxSize changed by someone else is kept.
async fn apply_resume(
    control: &(impl ScaleOutControl + GroupRead),
    group: &str,
    record: &SuspensionRecord,
) -> Result<Option<String>, AwsError> {
    let mut note = None;
    if record.original_max_size.is_some() {
        // Read again: an operator, IaC or a node-group update may have set
        // MaxSize a moment ago.
        if let Some(now) = control.group(group).await? {
            match record.restore(&now) {
                Restore::To(original) => control.set_max_size(group, original).await?,
                Restore::Kept {
                    current,
                    set_by_guard,
                } => {
                    note = Some(format!(
                        "MaxSize of {group} was changed to {current} during the suspension (the guard had set {}), so it is kept",
                        set_by_guard.map_or_else(|| "another value".to_owned(), |v| v.to_string())
                    ));
                }
                Restore::NotClamped => {}
            }
        }
    }
    control.resume_launch(group).await?;
    control.untag_group(group, SUSPENDED_TAG).await?;
    Ok(note)
}
