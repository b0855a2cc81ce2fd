//! Update: audit mode is the off switch (SPEC §7). An update that switches
//! `Mode` to audit hands over at once, before the functions run with the
//! new mode: the guard's suspensions and clamps are lifted and its hook
//! continues by default ([`shared::off_switch`]), on the cluster's groups,
//! and one alert says what was undone.
//!
//! The update answers `SUCCESS` also when something is left: unlike an
//! identity change, the permissions stay, and budget-guard's next run in
//! audit mode hands over what is left (the response names it).
//!
//! Back to enforce (an update from audit, or the rollback of an update to
//! audit after its hand-over), with enrollment on: the guard's hooks get the
//! fail mode's DefaultResult again at once ([`off_switch::hand_hooks_back`]), so
//! that a silent launch-guard lets no launch in; what is left budget-guard's
//! enrollment puts on its next run. Without enrollment the operator does.

use std::collections::BTreeMap;
use std::time::SystemTime;

use shared::alerts::{HandOver, audit_handover, publish_best_effort};
use shared::launch_breaker::{self, BreakerReport};
use shared::off_switch;
use shared::policy::settings::MODE;
use shared::policy::{Mode, Policy};
use shared::ports::{ClusterGroupsRead, Ports};
use tokio::time::Instant;

use super::{StackGuard, launchers};
use crate::event::Request;
use crate::respond::ResponseSend;
use crate::response::{Response, Status, left_undone};

impl<P: Ports, R: ResponseSend> StackGuard<'_, P, R> {
    /// After a successful update that switches the guard to audit mode,
    /// hands over (until `until`) and adds what it did to the `response`;
    /// after one that switches it back to enforce, hands back the hooks.
    /// A failed update rolls back to the old mode: nothing is handed over.
    pub(super) async fn hand_over_if_audit(
        &self,
        request: &Request,
        response: Response,
        now: SystemTime,
        until: Instant,
    ) -> Response {
        if response.status != Status::Success {
            return response;
        }
        let Ok(policy) = self.policy_of(request) else {
            return response;
        };
        let old = request.old_policy_vars().and_then(Result::ok);
        if switches_to_enforce(old.as_ref(), &policy) && policy.enroll_groups {
            let back = tokio::time::timeout_at(until, hand_hooks_back(self.aws, &policy)).await;
            let reason = handed_back(back.as_ref().ok());
            return Response::to(
                request,
                response.status,
                response.physical_resource_id,
                format!("{}{reason}", response.reason),
                response.data,
            );
        }
        if !switches_to_audit(old.as_ref(), &policy) {
            return response;
        }
        let (done, breaker) =
            match tokio::time::timeout_at(until, hand_over(self.aws, &policy, now)).await {
                Ok(handed) => handed,
                Err(_) => (
                    HandOver {
                        left: vec![
                            "the hand-over stopped at its time limit: budget-guard finishes it"
                                .to_owned(),
                        ],
                        ..HandOver::default()
                    },
                    BreakerReport::default(),
                ),
            };
        let mut data = response.data;
        data.extend(self::data(&done));
        data.extend(launchers::data(&policy, &breaker));
        Response::to(
            request,
            response.status,
            response.physical_resource_id,
            format!("{}{}", response.reason, reason(&done)),
            data,
        )
    }
}

/// Whether an update from the `old` settings to `new` switches the guard to
/// audit mode: the new mode is audit and the old one is not (an old policy
/// that names no mode, or one that cannot be read, may have enforced: a
/// hand-over where the guard made nothing changes nothing).
fn switches_to_audit(old: Option<&BTreeMap<String, String>>, new: &Policy) -> bool {
    new.mode == Mode::Audit && old_mode(old).as_deref() != Some(Mode::Audit.as_str())
}

/// Whether an update from the `old` settings to `new` switches the guard
/// from audit back to enforce mode (the old mode named, and audit).
fn switches_to_enforce(old: Option<&BTreeMap<String, String>>, new: &Policy) -> bool {
    new.mode == Mode::Enforce && old_mode(old).as_deref() == Some(Mode::Audit.as_str())
}

/// The mode the old settings name, as written (trimmed, lower case): read
/// from the raw variables, since an old policy may be one today's rules refuse.
fn old_mode(old: Option<&BTreeMap<String, String>>) -> Option<String> {
    old.and_then(|vars| vars.get(MODE.name))
        .map(|mode| mode.trim().to_ascii_lowercase())
}

/// Back to enforce: the guard's hooks on the cluster's groups get the fail
/// mode's DefaultResult again. The groups where it was put, and what is
/// left (budget-guard's enrollment retries).
async fn hand_hooks_back(aws: &impl Ports, policy: &Policy) -> (Vec<String>, Vec<String>) {
    let groups = aws.groups();
    match groups.cluster_groups(&policy.cluster_tag).await {
        Ok(cluster_groups) => {
            let names: Vec<String> = cluster_groups.into_iter().map(|g| g.name).collect();
            off_switch::hand_hooks_back(groups, &names, policy).await
        }
        Err(err) => (
            Vec::new(),
            vec![format!("the cluster's groups could not be listed: {err}")],
        ),
    }
}

/// What to add to the update's reason after a hand-back (`None`: it
/// stopped at its time limit).
fn handed_back(back: Option<&(Vec<String>, Vec<String>)>) -> String {
    let Some((put, left)) = back else {
        return "; back to enforce: the hooks' DefaultResult was not all put back in time, budget-guard's enrollment does".to_owned();
    };
    let mut reason = String::new();
    if !put.is_empty() {
        reason.push_str(&format!(
            "; back to enforce: the hook's fail-mode DefaultResult put again on {}",
            put.join(", ")
        ));
    }
    if !left.is_empty() {
        reason.push_str(&format!(
            "; HOOKS NOT PUT BACK YET ({}), budget-guard's enrollment retries: {}",
            left.len(),
            left.join("; ")
        ));
    }
    reason
}

/// Hands the cluster of `policy` over to audit mode, alerting what it undid
/// (or could not): the groups, and the launch breaker on the launcher roles.
async fn hand_over(
    aws: &impl Ports,
    policy: &Policy,
    now: SystemTime,
) -> (HandOver, BreakerReport) {
    let breaker = launchers::remove_breaker(aws, policy).await;
    let groups = aws.groups();
    let mut done = match groups.cluster_groups(&policy.cluster_tag).await {
        Ok(cluster_groups) => {
            let names: Vec<String> = cluster_groups.iter().map(|g| g.name.clone()).collect();
            off_switch::hand_over(groups, &cluster_groups, &names, policy, now)
                .await
                .done
        }
        Err(err) => HandOver {
            left: vec![format!("the cluster's groups could not be listed: {err}")],
            ..HandOver::default()
        },
    };
    done.left.extend(launchers::leftovers(&breaker));
    if !done.is_empty() || !breaker.is_empty() {
        let mut alert = audit_handover(policy, now, "the stack update", &done);
        if !breaker.is_empty() {
            launch_breaker::annotate_removed(&mut alert, &breaker);
        }
        publish_best_effort(aws.alerts(), &alert).await;
    }
    (done, breaker)
}

/// What to add to the update's reason: nothing when nothing was undone or left.
fn reason(done: &HandOver) -> String {
    let mut reason = String::new();
    if done.changed_anything() {
        reason.push_str(&format!(
            "; handed over to audit mode: Launch resumed on {} group(s), MaxSize restored on {}, hook continues by default on {}",
            done.resumed.len(),
            done.max_size_restored.len(),
            done.hooks_continue.len()
        ));
    }
    for note in &done.notes {
        reason.push_str(&format!("; {note}"));
    }
    reason.push_str(&left_undone(
        "NOT HANDED OVER YET",
        ", budget-guard retries",
        &done.left,
    ));
    reason
}

/// The entries of the update's `Data`: `HandedOverResumed`,
/// `HandedOverMaxSizeRestored`, `HandedOverHooksContinue` (groups,
/// comma-separated) and `NotHandedOver` (`; `-separated).
fn data(done: &HandOver) -> [(String, String); 4] {
    [
        ("HandedOverResumed".to_owned(), done.resumed.join(", ")),
        (
            "HandedOverMaxSizeRestored".to_owned(),
            done.max_size_restored.join(", "),
        ),
        (
            "HandedOverHooksContinue".to_owned(),
            done.hooks_continue.join(", "),
        ),
        ("NotHandedOver".to_owned(), done.left.join("; ")),
    ]
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use shared::facts::{GroupFacts, HookFacts};
    use shared::fakes::FakeAws;
    use shared::fixtures::{CLUSTER_SETTINGS, policy_of};
    use shared::lifecycle::LAUNCHING;

    use super::*;

    #[rstest]
    #[case::enforce_to_audit(Some("enforce"), "audit", true)]
    #[case::spelled_loosely(Some(" Enforce "), "audit", true)]
    #[case::no_old_mode(None, "audit", true)]
    #[case::audit_to_audit(Some("audit"), "audit", false)]
    #[case::audit_to_enforce(Some("audit"), "enforce", false)]
    #[case::enforce_to_enforce(Some("enforce"), "enforce", false)]
    fn only_a_switch_to_audit_hands_over(
        #[case] old: Option<&str>,
        #[case] new: &str,
        #[case] hands_over: bool,
    ) {
        let old: BTreeMap<String, String> = old
            .map(|mode| [("GUARD_MODE".to_owned(), mode.to_owned())].into())
            .unwrap_or_default();
        let new = policy_of(&[&CLUSTER_SETTINGS], &[("GUARD_MODE", new)]);
        assert_eq!(switches_to_audit(Some(&old), &new), hands_over);
    }

    #[rstest]
    #[case::audit_to_enforce(Some("audit"), "enforce", true)]
    #[case::spelled_loosely(Some(" Audit "), "enforce", true)]
    #[case::no_old_mode(None, "enforce", false)]
    #[case::enforce_to_enforce(Some("enforce"), "enforce", false)]
    #[case::enforce_to_audit(Some("enforce"), "audit", false)]
    fn only_a_switch_from_audit_to_enforce_hands_back(
        #[case] old: Option<&str>,
        #[case] new: &str,
        #[case] hands_back: bool,
    ) {
        let old: BTreeMap<String, String> = old
            .map(|mode| [("GUARD_MODE".to_owned(), mode.to_owned())].into())
            .unwrap_or_default();
        let new = policy_of(&[&CLUSTER_SETTINGS], &[("GUARD_MODE", new)]);
        assert_eq!(switches_to_enforce(Some(&old), &new), hands_back);
    }

    /// The guard's hook as the audit hand-over left it, enrolled by the
    /// guard of `cluster`.
    fn continuing(cluster: &str) -> HookFacts {
        HookFacts {
            name: "scaling-guard-prod".into(),
            transition: LAUNCHING.into(),
            default_result: Some("CONTINUE".into()),
            heartbeat_timeout: Some(300),
            notification_metadata: Some(format!(
                r#"{{"cluster":"{cluster}","by":"scaling-guard"}}"#
            )),
            ..HookFacts::default()
        }
    }

    #[tokio::test]
    async fn back_in_enforce_the_guards_hooks_abandon_again_at_once() {
        // Given prod-a with the guard's hook as the hand-over left it, prod-b
        // with a hook of that name staging's guard enrolled.
        let policy = policy_of(&[&CLUSTER_SETTINGS], &[("GUARD_MODE", "enforce")]);
        let aws = FakeAws::new();
        for (name, cluster) in [("prod-a", "prod"), ("prod-b", "staging")] {
            aws.add_group(GroupFacts {
                name: name.into(),
                tags: [(policy.cluster_tag.key.clone(), "owned".to_owned())].into(),
                ..GroupFacts::default()
            });
            aws.add_hook(name, continuing(cluster));
        }

        // When
        let (put, left) = hand_hooks_back(&aws, &policy).await;

        // Then only the guard's own hook abandons again, its settings kept.
        assert_eq!((put, left), (vec!["prod-a".to_owned()], Vec::new()));
        let hooks = aws.lifecycle_hooks("prod-a").await.unwrap();
        let restored = HookFacts {
            default_result: Some("ABANDON".into()),
            ..continuing("prod")
        };
        assert_eq!(hooks, vec![restored]);
        let hooks = aws.lifecycle_hooks("prod-b").await.unwrap();
        assert_eq!(hooks, vec![continuing("staging")]);
    }
}
