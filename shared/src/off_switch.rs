//! Audit mode is the off switch (SPEC §7): a guard switched from enforce to
//! audit undoes what it made in enforce mode, and only that —
//! - the suspensions it recorded in [`SUSPENDED_TAG`] are lifted with the
//!   shared resume ([`suspension::resume`]) with nothing to wait for (no
//!   budget, no alarm: audit mode never holds a group), MaxSize restored
//!   where its clamp is still in place; a `Launch` suspended or a MaxSize
//!   set by someone else stays;
//! - its launch hook (its name, on launch) continues by default instead of
//!   abandoning, every other setting kept, so that a guard that does not
//!   answer never blocks a launch.
//!
//! budget-guard hands over on its next run in audit mode, stack-guard at
//! once when an update switches `Mode` to audit. Both report the same
//! [`HandOver`]; once nothing is left, a hand-over changes nothing.
//!
//! Back to enforce, [`hand_hooks_back`] puts the hooks' fail-mode DefaultResult
//! again (stack-guard, at once, when enrollment is on); budget-guard's
//! enrollment does the same for any hook left (`GuardHook::Outdated`).

use std::time::SystemTime;

use futures::StreamExt;

use crate::alerts::HandOver;
use crate::budget::measure::enrolled_default_result;
use crate::facts::{GroupFacts, HookFacts};
use crate::lifecycle::LAUNCHING;
use crate::policy::Policy;
use crate::ports::{AwsError, ClusterGroupsRead, GroupRead, ScaleOutControl};
use crate::release::enrolled_for;
use crate::suspension::{
    self, OnGroup, RecordKey, Restore, SUSPENDED_TAG, SuspensionRecord, SuspensionReport,
};

/// How many groups' hooks are read (and put) at once.
const GROUPS_AT_ONCE: usize = 10;

/// The default result of a hook that never blocks.
const CONTINUE: &str = "CONTINUE";

/// A hand-over, and the groups whose guard hook is now known not to abandon
/// (read, and put where needed): a caller that runs every minute need not
/// read them again for a while.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Released {
    pub done: HandOver,
    pub hooks_settled: Vec<String>,
}

/// Undoes what the guard of `policy` made on `cluster_groups`: lifts its
/// suspensions and clamps (only records its key verifies) on all of them,
/// and makes its hook continue on those named in `hook_groups` (a caller
/// that knows some already continue leaves them out).
pub async fn hand_over(
    control: &(impl ClusterGroupsRead + GroupRead + ScaleOutControl),
    cluster_groups: &[GroupFacts],
    hook_groups: &[String],
    policy: &Policy,
    now: SystemTime,
) -> Released {
    let mut done = HandOver::default();
    let key = policy.record_key.as_ref();
    let report = suspension::resume(control, cluster_groups, now, &[], key, |_| Ok(())).await;
    done.max_size_restored = max_size_restored(cluster_groups, &report, key);
    record_lifted(report, &not_the_guards(cluster_groups, key), &mut done);
    let hooks_settled = stop_abandoning(control, hook_groups, policy, &mut done).await;
    Released {
        done: done.sorted(),
        hooks_settled,
    }
}

/// `group=size` for each group of `report.changed` whose MaxSize the resume
/// set back (its clamp was still in place, and no note says it was kept),
/// as `cluster_groups` showed the group before the resume.
pub fn max_size_restored(
    cluster_groups: &[GroupFacts],
    report: &SuspensionReport,
    key: Option<&RecordKey>,
) -> Vec<String> {
    let kept: Vec<&String> = report.notes.iter().map(|(group, _)| group).collect();
    report
        .changed
        .iter()
        .filter(|name| !kept.contains(name))
        .filter_map(|name| {
            let group = cluster_groups.iter().find(|g| &g.name == name)?;
            match SuspensionRecord::of(group, key)?.restore(group) {
                Restore::To(size) => Some(format!("{name}={size}")),
                Restore::NotClamped | Restore::Kept { .. } => None,
            }
        })
        .collect()
}

/// The groups whose suspension record the guard cannot show it wrote: not
/// its to lift, like a suspension by someone else.
fn not_the_guards<'g>(cluster_groups: &'g [GroupFacts], key: Option<&RecordKey>) -> Vec<&'g str> {
    cluster_groups
        .iter()
        .filter(|g| matches!(SuspensionRecord::read(g, key), OnGroup::NotTheGuards(_)))
        .map(|g| g.name.as_str())
        .collect()
}

/// What the shared resume did, in the hand-over's words: a group it held is
/// left (retried by the next hand-over), unless its record is not the
/// guard's (`not_ours`: a note, never retried).
fn record_lifted(report: SuspensionReport, not_ours: &[&str], done: &mut HandOver) {
    done.notes
        .extend(report.notes.into_iter().map(|(_, note)| note));
    for (group, why) in report.unchanged {
        match not_ours.contains(&group.as_str()) {
            true => done.notes.push(why),
            false => done
                .left
                .push(format!("the suspension of {group} stays ({why})")),
        }
    }
    done.left
        .extend(report.failed.into_iter().map(|(group, err)| {
            format!("the suspension of {group} may remain (tag `{SUSPENDED_TAG}`): {err}")
        }));
    done.resumed = report.changed;
}

/// Makes the guard's hook continue on every group of `groups` where it
/// abandons; the groups whose hook is settled.
async fn stop_abandoning(
    control: &(impl ClusterGroupsRead + ScaleOutControl),
    groups: &[String],
    policy: &Policy,
    done: &mut HandOver,
) -> Vec<String> {
    let hook_name = &policy.hook_name;
    let mut settled = Vec::new();
    let mut puts = futures::stream::iter(groups)
        .map(|group| async move {
            let put = put_default_result(control, group, policy, CONTINUE).await;
            (group, put)
        })
        .buffer_unordered(GROUPS_AT_ONCE);
    while let Some((group, outcome)) = puts.next().await {
        match outcome {
            Ok(put) => {
                if put {
                    done.hooks_continue.push(group.clone());
                }
                settled.push(group.clone());
            }
            Err(err) => done.left.push(format!(
                "the hook `{hook_name}` of {group} may still abandon: {err}"
            )),
        }
    }
    settled.sort();
    settled
}

/// Back to enforce mode: puts the guard's hook on each of `groups` again
/// with the DefaultResult enrollment puts (the fail mode's), where it ends
/// unanswered launches otherwise, every other setting kept. The groups where
/// it was put, and what could not be done.
pub async fn hand_hooks_back(
    control: &(impl ClusterGroupsRead + ScaleOutControl),
    groups: &[String],
    policy: &Policy,
) -> (Vec<String>, Vec<String>) {
    let wanted = enrolled_default_result(policy);
    let hook_name = &policy.hook_name;
    let mut puts = futures::stream::iter(groups)
        .map(|group| async move {
            let put = put_default_result(control, group, policy, wanted).await;
            (group, put)
        })
        .buffer_unordered(GROUPS_AT_ONCE);
    let (mut put, mut left) = (Vec::new(), Vec::new());
    while let Some((group, outcome)) = puts.next().await {
        match outcome {
            Ok(true) => put.push(group.clone()),
            Ok(false) => {}
            Err(err) => left.push(format!(
                "the hook `{hook_name}` of {group} may still not {wanted}: {err}"
            )),
        }
    }
    put.sort();
    left.sort();
    (put, left)
}

/// Puts the guard's hook on `group` again with `wanted` as its default
/// result, if it carries it and it ends launches otherwise: whether it was
/// put. A hook of its name that another cluster's guard enrolled (its
/// metadata says so) is that guard's.
async fn put_default_result(
    control: &(impl ClusterGroupsRead + ScaleOutControl),
    group: &str,
    policy: &Policy,
    wanted: &str,
) -> Result<bool, AwsError> {
    let hooks = control.lifecycle_hooks(group).await?;
    let ours = hooks.iter().find(|h| {
        h.name == policy.hook_name
            && h.transition == LAUNCHING
            && enrolled_for(h).is_none_or(|cluster| cluster == policy.cluster)
    });
    match ours.and_then(|hook| ending_by(hook, wanted)) {
        Some(hook) => control.put_hook(group, &hook).await.map(|()| true),
        None => Ok(false),
    }
}

/// The hook with `wanted` as its default result, when it has another (an
/// absent default result is Auto Scaling's default, `ABANDON`); every other
/// setting is kept, so that `PutLifecycleHook` changes nothing else.
fn ending_by(hook: &HookFacts, wanted: &str) -> Option<HookFacts> {
    (hook.default_result.as_deref().unwrap_or("ABANDON") != wanted).then(|| HookFacts {
        default_result: Some(wanted.to_owned()),
        ..hook.clone()
    })
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn hook(default_result: Option<&str>) -> HookFacts {
        HookFacts {
            name: "scaling-guard-prod".into(),
            transition: LAUNCHING.into(),
            default_result: default_result.map(str::to_owned),
            heartbeat_timeout: Some(600),
            notification_target_arn: Some("arn:aws:sqs:eu-west-1:123456789012:launches".into()),
            role_arn: Some("arn:aws:iam::123456789012:role/hook".into()),
            notification_metadata: Some("{}".into()),
        }
    }

    #[test]
    fn an_abandoning_hook_continues_with_every_other_setting_kept() {
        assert_eq!(
            ending_by(&hook(Some("ABANDON")), CONTINUE),
            Some(hook(Some("CONTINUE")))
        );
    }

    #[test]
    fn a_hook_without_a_default_result_abandons_as_auto_scaling_does() {
        assert_eq!(
            ending_by(&hook(None), CONTINUE),
            Some(hook(Some("CONTINUE")))
        );
        assert_eq!(ending_by(&hook(None), "ABANDON"), None);
    }

    #[test]
    fn a_hook_that_continues_is_left_alone() {
        assert_eq!(ending_by(&hook(Some("CONTINUE")), CONTINUE), None);
    }

    #[test]
    fn back_in_enforce_a_continuing_hook_abandons_with_every_other_setting_kept() {
        assert_eq!(
            ending_by(&hook(Some("CONTINUE")), "ABANDON"),
            Some(hook(Some("ABANDON")))
        );
    }
}
