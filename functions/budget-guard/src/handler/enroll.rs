//! Enrollment: the guard's launch hook on every cluster group that lacks it,
//! and, when launches reach launch-guard through an SQS queue, on every
//! group whose guard hook notifies elsewhere (issue 20, scenario 5); in
//! enforce mode, the fail mode's DefaultResult back on the guard's hooks
//! that end unanswered launches otherwise (after audit mode's hand-over).

use serde_json::json;
use shared::budget::measure::{GuardHook, enrolled_default_result};
use shared::facts::{GroupFacts, HookFacts};
use shared::lifecycle::LAUNCHING;
use shared::policy::Policy;
use shared::ports::{ClusterGroupsRead, ScaleOutControl};
use shared::release::ENROLLED_BY;

use super::BudgetGuard;
use crate::alerts::{self, Enrolled};
use shared::ports::Ports;

/// The heartbeat of hooks the guard puts on groups: room for launch-guard's
/// serialized admission to work through a burst (throttled async retries).
const HOOK_HEARTBEAT_SECONDS: i32 = 600;

/// The groups a run put the hook on.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Enrollment {
    /// Groups that had no guard hook.
    pub enrolled: Vec<String>,
    /// Groups whose guard hook did not notify the policy's queue.
    pub repaired: Vec<String>,
    /// Groups whose guard hook had another DefaultResult than the fail
    /// mode's, in enforce mode: put again with it, every other setting kept.
    pub restored: Vec<String>,
}

impl<P: Ports> BudgetGuard<'_, P> {
    /// Puts the guard's launch hook on every cluster group that lacks it or
    /// whose hook notifies elsewhere, and alerts the groups it put it on.
    pub(super) async fn enroll(&self, groups: &[GroupFacts]) -> Enrollment {
        let mut done = Enrollment::default();
        if !self.policy.enroll_groups {
            return done;
        }
        let hook = launch_hook(self.policy);
        for group in groups {
            match self.enroll_group(group, &hook).await {
                Some(GuardHook::Missing) => done.enrolled.push(group.name.clone()),
                Some(GuardHook::Misdirected) => done.repaired.push(group.name.clone()),
                Some(GuardHook::Outdated) => done.restored.push(group.name.clone()),
                Some(GuardHook::Carried) | None => {}
            }
            // Whatever read the group's hooks (this run's enrollment or
            // measurement, or an earlier one) noted the old ones.
            self.remove_renamed(&group.name).await;
        }
        if !done.enrolled.is_empty() || !done.repaired.is_empty() || !done.restored.is_empty() {
            let about = Enrolled {
                enrolled: &done.enrolled,
                repaired: &done.repaired,
                restored: &done.restored,
                hook: &hook,
            };
            self.publish(&alerts::group_enrolled(self.policy, self.now(), about))
                .await;
        }
        done
    }

    /// Puts `hook` on `group` unless it carries it already (an outdated
    /// hook: its own settings with the fail mode's DefaultResult): what the
    /// group had when the hook was put, `None` when nothing was put.
    async fn enroll_group(&self, group: &GroupFacts, hook: &HookFacts) -> Option<GuardHook> {
        let groups = self.ports.groups();
        let found = match self.guarded.hook(groups, &group.name).await {
            Ok(GuardHook::Carried) => return None,
            Ok(found) => found,
            Err(err) => {
                tracing::error!(group = %group.name, %err, "hooks could not be read");
                return None;
            }
        };
        let put = match found {
            GuardHook::Outdated => self.restored(&group.name).await?,
            _ => hook.clone(),
        };
        match groups.put_hook(&group.name, &put).await {
            Ok(()) => {
                self.guarded.mark(&group.name);
                Some(found)
            }
            Err(err) => {
                tracing::error!(group = %group.name, %err, "launch hook could not be put");
                None
            }
        }
    }
}

impl<P: Ports> BudgetGuard<'_, P> {
    /// The guard's hook on `group`, read again, with the DefaultResult the
    /// fail mode wants and every other setting kept (heartbeat, target,
    /// role, metadata): `PutLifecycleHook` replaces the whole hook.
    async fn restored(&self, group: &str) -> Option<HookFacts> {
        let hooks = match self.ports.groups().lifecycle_hooks(group).await {
            Ok(hooks) => hooks,
            Err(err) => {
                tracing::error!(%group, %err, "hooks could not be read");
                return None;
            }
        };
        let ours = hooks
            .into_iter()
            .find(|h| h.name == self.policy.hook_name && h.transition == LAUNCHING)?;
        Some(HookFacts {
            default_result: Some(enrolled_default_result(self.policy).to_owned()),
            ..ours
        })
    }
}

impl<P: Ports> BudgetGuard<'_, P> {
    /// Deletes the launch hooks this guard enrolled under another name than
    /// its own (their metadata names its cluster, by scaling-guard), found
    /// when the group's hooks were last read: after a rename, or a
    /// stack-guard update that could not finish, nothing answers them, and
    /// each launch would wait out its heartbeat and take its default result.
    async fn remove_renamed(&self, group: &str) {
        for old in self.guarded.take_renamed(group) {
            match self.ports.groups().delete_launch_hook(group, &old).await {
                Ok(()) => {
                    tracing::info!(%group, hook = %old, "removed the guard's hook of an old name")
                }
                Err(err) => {
                    tracing::error!(%group, hook = %old, %err, "the guard's hook of an old name could not be removed")
                }
            }
        }
    }
}

/// The hook the guard puts on a group: its name, on launch, the default result
/// and heartbeat below, and the policy's notification target and role when
/// launches are delivered through SQS (`PutLifecycleHook` with neither
/// leaves EventBridge alone to hear them).
fn launch_hook(policy: &Policy) -> HookFacts {
    let notification = policy.hook_notification.as_ref();
    HookFacts {
        name: policy.hook_name.clone(),
        transition: LAUNCHING.to_owned(),
        default_result: Some(enrolled_default_result(policy).to_owned()),
        heartbeat_timeout: Some(HOOK_HEARTBEAT_SECONDS),
        notification_target_arn: notification.map(|n| n.target_arn.clone()),
        role_arn: notification.map(|n| n.role_arn.clone()),
        notification_metadata: Some(
            json!({ "cluster": policy.cluster, "by": ENROLLED_BY }).to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::fixtures::policy;

    #[rstest]
    #[case::audit_never_blocks("audit", "abandon", "CONTINUE")]
    #[case::enforce_fails_open("enforce", "continue", "CONTINUE")]
    #[case::enforce_fails_closed("enforce", "abandon", "ABANDON")]
    fn the_hook_abandons_only_when_enforcing_and_failing_closed(
        #[case] mode: &str,
        #[case] fail_mode: &str,
        #[case] expected: &str,
    ) {
        let policy = policy(&[("GUARD_MODE", mode), ("GUARD_FAIL_MODE", fail_mode)]);
        assert_eq!(enrolled_default_result(&policy), expected);
    }
}
