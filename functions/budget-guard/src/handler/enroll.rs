//! Enrollment: the guard's launch hook on every cluster group that lacks it.

use serde_json::json;
use shared::facts::GroupFacts;
use shared::policy::{FailMode, Mode, Policy};
use shared::ports::ScaleOutControl;

use super::BudgetGuard;
use crate::alerts::{self, Enrolled};
use shared::ports::Ports;

/// The heartbeat of hooks the guard puts on groups: room for launch-guard's
/// serialized admission to work through a burst (throttled async retries).
const HOOK_HEARTBEAT_SECONDS: i32 = 600;

impl<P: Ports> BudgetGuard<'_, P> {
    /// Puts the guard's launch hook on every cluster group that lacks it, and
    /// alerts the groups enrolled.
    pub(super) async fn enroll(&self, groups: &[GroupFacts]) -> Vec<String> {
        if !self.policy.enroll_groups {
            return Vec::new();
        }
        let default_result = hook_default_result(self.policy);
        let metadata = json!({ "cluster": self.policy.cluster, "by": "scaling-guard" }).to_string();
        let mut enrolled = Vec::new();
        for group in groups {
            if self.enroll_group(group, default_result, &metadata).await {
                enrolled.push(group.name.clone());
            }
        }
        if !enrolled.is_empty() {
            let about = Enrolled {
                groups: &enrolled,
                default_result,
                heartbeat_seconds: HOOK_HEARTBEAT_SECONDS,
            };
            self.publish(&alerts::group_enrolled(self.policy, self.now(), about))
                .await;
        }
        enrolled
    }

    /// Puts the hook on `group` unless it carries it already; whether it did.
    async fn enroll_group(&self, group: &GroupFacts, default_result: &str, metadata: &str) -> bool {
        let groups = self.ports.groups();
        match self.guarded.carries_hook(groups, &group.name).await {
            Ok(true) => return false,
            Ok(false) => {}
            Err(err) => {
                tracing::error!(group = %group.name, %err, "hooks could not be read");
                return false;
            }
        }
        let put = groups
            .put_launch_hook(
                &group.name,
                &self.policy.hook_name,
                default_result,
                HOOK_HEARTBEAT_SECONDS,
                metadata,
            )
            .await;
        match put {
            Ok(()) => {
                self.guarded.mark(&group.name);
                true
            }
            Err(err) => {
                tracing::error!(group = %group.name, %err, "launch hook could not be put");
                false
            }
        }
    }
}

/// The hook's DefaultResult. In audit mode it is `CONTINUE`: launch-guard
/// vets and reports every launch, and a guard that cannot answer never blocks.
fn hook_default_result(policy: &Policy) -> &'static str {
    match (policy.mode, policy.fail_mode) {
        (Mode::Audit, _) | (Mode::Enforce, FailMode::Continue) => "CONTINUE",
        (Mode::Enforce, FailMode::Abandon) => "ABANDON",
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
        assert_eq!(hook_default_result(&policy), expected);
    }
}
