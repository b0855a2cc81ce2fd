//! Applying suspension plans through [`ScaleOutControl`].

use std::time::SystemTime;

use serde::Serialize;

use super::{
    Restore, ResumePlan, SUSPENDED_TAG, SuspendPlan, SuspensionRecord, clamp_floor,
    launch_suspended, plan_resume, plan_suspend,
};
use crate::facts::GroupFacts;
use crate::ports::{AwsError, GroupRead, ScaleOutControl};

/// What a suspend or resume pass did, group by group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SuspensionReport {
    /// Groups changed by this pass (suspended or resumed).
    pub changed: Vec<String>,
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

/// Suspends `Launch` on every group that needs it, all groups at once. The
/// tag goes first so that a suspension is never without its record. With
/// `clamp`, MaxSize is then lowered to what the group has, read again after
/// `Launch` was suspended, so that the clamp never scales the group in.
pub async fn suspend(
    control: &(impl ScaleOutControl + GroupRead),
    groups: &[GroupFacts],
    clamp: bool,
    record: &SuspensionRecord,
    incomplete: OnIncomplete,
) -> SuspensionReport {
    let mut report = SuspensionReport::default();
    let mut planned = Vec::new();
    for group in groups {
        let name = group.name.clone();
        match plan_suspend(group, record.clone()) {
            SuspendPlan::AlreadySuspended => report
                .unchanged
                .push((name, "already suspended by the guard".to_owned())),
            SuspendPlan::SuspendedByOthers => report
                .unchanged
                .push((name, "Launch suspended by someone else".to_owned())),
            SuspendPlan::Incomplete { .. } if incomplete == OnIncomplete::Leave => {
                report.unchanged.push((
                    name,
                    "the guard's record is there without a suspended Launch (being resumed or applied)"
                        .to_owned(),
                ));
            }
            SuspendPlan::Incomplete { record } | SuspendPlan::Suspend { record } => {
                planned.push((name, record));
            }
        }
    }
    let applied = planned.into_iter().map(|(name, record)| async move {
        let outcome = apply_suspend(control, &name, record, clamp).await;
        (name, outcome)
    });
    for (name, outcome) in futures::future::join_all(applied).await {
        match outcome {
            Ok(()) => report.changed.push(name),
            Err(err) => report.failed.push((name, err.to_string())),
        }
    }
    report
}

async fn apply_suspend(
    control: &(impl ScaleOutControl + GroupRead),
    group: &str,
    mut record: SuspensionRecord,
    clamp: bool,
) -> Result<(), AwsError> {
    control
        .tag_group(group, SUSPENDED_TAG, &record.to_tag_value())
        .await?;
    control.suspend_launch(group).await?;
    if !clamp {
        return Ok(());
    }
    // Read again now that nothing launches any more: the desired capacity and
    // the instances may have grown since the group was first read.
    let Some(now) = control.group(group).await? else {
        return Ok(());
    };
    if !launch_suspended(&now) || SuspensionRecord::of(&now).is_none() {
        // budget-guard lifted the suspension meanwhile: nothing to clamp.
        return Ok(());
    }
    let Some(floor) = clamp_floor(&now) else {
        return Ok(());
    };
    let original = match record.restore(&now) {
        // A clamp of an earlier, half-done run is still in place.
        Restore::To(original) => original,
        _ => now.max_size,
    };
    record.original_max_size = Some(original);
    record.clamped_to = Some(floor);
    // The record names the clamp before it is made: a MaxSize that differs
    // from it later was set by someone else and is kept on resume.
    control
        .tag_group(group, SUSPENDED_TAG, &record.to_tag_value())
        .await?;
    control.set_max_size(group, floor).await
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
    mut fits: impl FnMut(&GroupFacts) -> Result<(), String>,
) -> SuspensionReport {
    let mut report = SuspensionReport::default();
    for group in groups {
        match plan_resume(group, now, firing_alarms, &mut fits) {
            ResumePlan::NotSuspendedByGuard => {}
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
