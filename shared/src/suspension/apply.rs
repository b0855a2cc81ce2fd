//! Applying suspension plans through [`ScaleOutControl`].

use serde::Serialize;

use super::{ResumePlan, SUSPENDED_TAG, SuspendPlan, SuspensionRecord, plan_resume, plan_suspend};
use crate::facts::GroupFacts;
use crate::ports::{AwsError, ScaleOutControl};

/// What a suspend or resume pass did, group by group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SuspensionReport {
    /// Groups changed by this pass (suspended or resumed).
    pub changed: Vec<String>,
    /// Groups left as they were, with why.
    pub unchanged: Vec<(String, String)>,
    /// Groups where an AWS call failed, with the error.
    pub failed: Vec<(String, String)>,
}

/// Suspends `Launch` on every group that needs it. The tag goes first so that
/// a suspension is never without its record; a run that stopped half-way is
/// completed by the next one.
pub async fn suspend(
    control: &impl ScaleOutControl,
    groups: &[GroupFacts],
    clamp: bool,
    record: &SuspensionRecord,
) -> SuspensionReport {
    let mut report = SuspensionReport::default();
    for group in groups {
        match plan_suspend(group, clamp, record.clone()) {
            SuspendPlan::AlreadySuspended => {
                report.unchanged.push((
                    group.name.clone(),
                    "already suspended by the guard".to_owned(),
                ));
            }
            SuspendPlan::SuspendedByOthers => {
                report.unchanged.push((
                    group.name.clone(),
                    "Launch suspended by someone else".to_owned(),
                ));
            }
            SuspendPlan::Suspend { record, clamp_to } => {
                match apply_suspend(control, &group.name, &record, clamp_to).await {
                    Ok(()) => report.changed.push(group.name.clone()),
                    Err(err) => report.failed.push((group.name.clone(), err.to_string())),
                }
            }
        }
    }
    report
}

async fn apply_suspend(
    control: &impl ScaleOutControl,
    group: &str,
    record: &SuspensionRecord,
    clamp_to: Option<i32>,
) -> Result<(), AwsError> {
    control
        .tag_group(group, SUSPENDED_TAG, &record.to_tag_value())
        .await?;
    control.suspend_launch(group).await?;
    if let Some(max_size) = clamp_to {
        control.set_max_size(group, max_size).await?;
    }
    Ok(())
}

/// Resumes every guard-suspended group whose suspension may be lifted. The
/// tag goes last, so that a half-done resume is finished by the next run.
pub async fn resume(
    control: &impl ScaleOutControl,
    groups: &[GroupFacts],
    usage_below_resume: bool,
    firing_alarms: &[String],
) -> SuspensionReport {
    let mut report = SuspensionReport::default();
    for group in groups {
        match plan_resume(group, usage_below_resume, firing_alarms) {
            ResumePlan::NotSuspendedByGuard => {}
            ResumePlan::Hold { why } => report.unchanged.push((group.name.clone(), why)),
            ResumePlan::Resume { restore_max_size } => {
                match apply_resume(control, &group.name, restore_max_size).await {
                    Ok(()) => report.changed.push(group.name.clone()),
                    Err(err) => report.failed.push((group.name.clone(), err.to_string())),
                }
            }
        }
    }
    report
}

async fn apply_resume(
    control: &impl ScaleOutControl,
    group: &str,
    restore_max_size: Option<i32>,
) -> Result<(), AwsError> {
    if let Some(max_size) = restore_max_size {
        control.set_max_size(group, max_size).await?;
    }
    control.resume_launch(group).await?;
    control.untag_group(group, SUSPENDED_TAG).await
}
