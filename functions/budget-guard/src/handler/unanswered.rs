//! Silence is alarmed (issue 21, scenario 9): a launch that waits on the
//! guard's hook for more than half the hook's heartbeat means launch-guard is
//! not answering (its rule disabled, its queue's event source mapping off, a
//! hook that notifies no target, a throttled or failing function). Nothing
//! else would say so before the hook's DefaultResult decides the launch
//! unvetted. budget-guard looks every minute and alerts once, critical.
//!
//! How long a launch has waited: its `LaunchTime`, from the `DescribeInstances`
//! read every run already makes. Auto Scaling puts a launched instance in
//! `Pending:Wait` seconds after EC2 launches it, so the launch time is the
//! wait's start to within those seconds (it errs towards alerting early, by
//! seconds, against a threshold of minutes). The scaling activity would give
//! the same moment at the price of a `DescribeScalingActivities` per group and
//! a new permission. One limit: an instance of a warm pool kept running
//! re-enters `Pending:Wait` long after its launch; launch-guard vetted it on
//! its way into the pool, so it carries the vetted tag and is not judged here.
//!
//! Once: the alerted instance is tagged [`UNANSWERED_TAG`] after the alert is
//! published, so later runs, in this execution environment or a replaced one,
//! skip it. A run that cannot publish does not tag (the next run tries again);
//! one that cannot tag alerts again a minute later rather than never.
//!
//! Answered launches are told apart by launch-guard's own records: an
//! admitted or vetted instance (the tags launch-guard writes in enforce mode
//! before its `CONTINUE`) waits on another hook, not on the guard's. In audit
//! mode launch-guard writes no tags, so a group carrying another launch hook
//! is not judged: its waiting instances may be held by that hook alone.
//!
//! A group that is no longer a cluster member but still carries the guard's
//! hook is not read here: [`non_members`] scans for it.

mod non_members;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use shared::budget::measure::{ADMITTED_TAG, ClusterState, Measurement};
use shared::checks::membership::VETTED_TAG;
use shared::facts::{HookFacts, InstanceFacts};
use shared::lifecycle::LAUNCHING;
use shared::policy::Mode;
use shared::ports::{AlertPublish, ClusterGroupsRead, InstanceTag, Ports};
use shared::time::format_rfc3339;

use super::BudgetGuard;
use crate::alerts::{self, Unanswered};

/// The instance tag that records the `hook_unanswered` alert (its value: when).
pub const UNANSWERED_TAG: &str = "scaling-guard:unanswered";

pub(super) use non_members::NonMemberScans;

/// The heartbeat Auto Scaling gives a hook put without one.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(3600);

/// The shortest heartbeat Auto Scaling accepts: no launch younger than half of
/// it is late, so its group's hooks are not read.
const SHORTEST_HEARTBEAT: Duration = Duration::from_secs(30);

/// A launch in `Pending:Wait` on a cluster group that launch-guard left no
/// record on and budget-guard has not alerted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Waiting<'a> {
    instance_id: &'a str,
    group: &'a str,
    waited: Duration,
}

/// The cluster's launches in `Pending:Wait` without launch-guard's records or
/// the alert's, and how long since each launched. An instance the run did not
/// read (no cluster tag) or without a launch time is not judged.
fn waiting(state: &ClusterState, now: SystemTime) -> Vec<Waiting<'_>> {
    let facts: BTreeMap<&str, &InstanceFacts> = state
        .instances
        .iter()
        .map(|i| (i.instance_id.as_str(), i))
        .collect();
    state
        .groups
        .iter()
        .flat_map(|g| {
            g.instances
                .iter()
                .filter(|i| i.waits())
                .map(move |i| (g, i))
        })
        .filter_map(|(group, listed)| {
            let instance = facts.get(listed.instance_id.as_str())?;
            if recorded(instance) {
                return None;
            }
            let waited = now.duration_since(instance.launch_time?).ok()?;
            Some(Waiting {
                instance_id: listed.instance_id.as_str(),
                group: group.name.as_str(),
                waited,
            })
        })
        .collect()
}

/// Whether launch-guard answered the launch (admitted or vetted it) or the
/// alert is recorded on it.
fn recorded(instance: &InstanceFacts) -> bool {
    [ADMITTED_TAG, VETTED_TAG, UNANSWERED_TAG]
        .iter()
        .any(|tag| instance.tags.contains_key(*tag))
}

/// The guard's launch hook among `hooks`, if the wait on the group can be
/// told to be on it: in audit mode, only when no other launch hook could hold
/// the instance.
fn guard_hook<'h>(hooks: &'h [HookFacts], name: &str, mode: Mode) -> Option<&'h HookFacts> {
    let launching: Vec<&HookFacts> = hooks.iter().filter(|h| h.transition == LAUNCHING).collect();
    let guard = launching.iter().copied().find(|h| h.name == name)?;
    match (mode, launching.len()) {
        (Mode::Audit, n) if n > 1 => None,
        _ => Some(guard),
    }
}

/// The hook's heartbeat, and what it decides when it ends.
fn heartbeat(hook: &HookFacts) -> (Duration, String) {
    let heartbeat = hook
        .heartbeat_timeout
        .and_then(|s| u64::try_from(s).ok())
        .map_or(DEFAULT_HEARTBEAT, Duration::from_secs);
    let result = hook
        .default_result
        .as_deref()
        .unwrap_or("ABANDON")
        .to_owned();
    (heartbeat, result)
}

impl<P: Ports> BudgetGuard<'_, P> {
    /// Alerts, once each, the launches that waited on the guard's hook for
    /// more than half its heartbeat; returns them. Read failures are logged:
    /// this look-out never fails the run.
    pub(super) async fn alert_unanswered(&self, measured: &Measurement) -> Vec<String> {
        let now = self.now();
        let late: Vec<Waiting<'_>> = waiting(&measured.state, now)
            .into_iter()
            .filter(|w| w.waited > SHORTEST_HEARTBEAT / 2)
            .collect();
        let unanswered = self.past_half_heartbeat(&late).await;
        if unanswered.is_empty() {
            return Vec::new();
        }
        let ids: Vec<&str> = unanswered.iter().map(|u| u.instance_id.as_str()).collect();
        let alert = alerts::hook_unanswered(self.policy, now, &self.policy.hook_name, &unanswered);
        if let Err(err) = self.ports.alerts().publish(&alert).await {
            tracing::error!(%err, alert = %alert.json(), "unanswered launches could not be alerted; next run tries again");
            return Vec::new();
        }
        let stamp = format_rfc3339(now);
        if let Err(err) = self
            .ports
            .instances()
            .tag_instances(&ids, &[(UNANSWERED_TAG, stamp.as_str())])
            .await
        {
            tracing::error!(%err, instances = ?ids, "unanswered launches alerted but not tagged; the next run alerts them again");
        }
        tracing::warn!(instances = ?ids, hook = %self.policy.hook_name, "unanswered launches alerted");
        ids.into_iter().map(str::to_owned).collect()
    }

    /// Those of `late` whose group's guard hook is more than half through its
    /// heartbeat; each group's hooks are read once.
    async fn past_half_heartbeat(&self, late: &[Waiting<'_>]) -> Vec<Unanswered> {
        let groups: BTreeSet<&str> = late.iter().map(|w| w.group).collect();
        let mut hooks = BTreeMap::new();
        for group in groups {
            match self.ports.groups().lifecycle_hooks(group).await {
                Ok(found) => {
                    hooks.insert(group, found);
                }
                Err(err) => {
                    tracing::warn!(group = %group, %err, "hooks unknown: its waiting launches are not judged this run");
                }
            }
        }
        late.iter()
            .filter_map(|w| {
                let hook = guard_hook(
                    hooks.get(w.group)?,
                    &self.policy.hook_name,
                    self.policy.mode,
                )?;
                let (heartbeat, default_result) = heartbeat(hook);
                (w.waited > heartbeat / 2).then(|| Unanswered {
                    instance_id: w.instance_id.to_owned(),
                    group: w.group.to_owned(),
                    waited: w.waited,
                    heartbeat,
                    default_result,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use shared::facts::{GroupFacts, GroupInstance};

    use shared::fixtures::{HOOK, now};

    use super::*;

    fn state(tags: &[(&str, &str)], lifecycle: &str, launched_ago: u64) -> ClusterState {
        ClusterState {
            instances: vec![InstanceFacts {
                instance_id: "i-1".into(),
                launch_time: Some(now() - Duration::from_secs(launched_ago)),
                tags: tags
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                ..InstanceFacts::default()
            }],
            groups: vec![GroupFacts {
                name: "prod-a".into(),
                instances: vec![GroupInstance {
                    instance_id: "i-1".into(),
                    lifecycle_state: lifecycle.into(),
                }],
                ..GroupFacts::default()
            }],
        }
    }

    #[test]
    fn a_launch_waiting_without_records_is_judged_by_its_launch_time() {
        let state = state(&[], "Pending:Wait", 400);
        assert_eq!(
            waiting(&state, now()),
            vec![Waiting {
                instance_id: "i-1",
                group: "prod-a",
                waited: Duration::from_secs(400)
            }]
        );
    }

    #[test]
    fn answered_alerted_or_serving_launches_are_not_waiting() {
        for tag in [ADMITTED_TAG, VETTED_TAG, UNANSWERED_TAG] {
            assert_eq!(
                waiting(&state(&[(tag, "t")], "Pending:Wait", 400), now()),
                vec![],
                "{tag}"
            );
        }
        assert_eq!(waiting(&state(&[], "InService", 400), now()), vec![]);
        assert_eq!(
            waiting(&state(&[], "Warmed:Pending:Wait", 400), now()),
            vec![]
        );
    }

    fn hook(name: &str) -> HookFacts {
        HookFacts {
            name: name.into(),
            transition: LAUNCHING.into(),
            ..HookFacts::default()
        }
    }

    #[test]
    fn in_audit_mode_another_launch_hook_makes_the_wait_ambiguous() {
        let hooks = [hook(HOOK), hook("node-bootstrap")];
        assert!(guard_hook(&hooks, HOOK, Mode::Enforce).is_some());
        assert!(guard_hook(&hooks, HOOK, Mode::Audit).is_none());
        assert!(guard_hook(&hooks[..1], HOOK, Mode::Audit).is_some());
        assert!(guard_hook(&hooks[1..], HOOK, Mode::Enforce).is_none());
    }

    #[test]
    fn a_hook_without_heartbeat_has_aws_default_of_an_hour() {
        assert_eq!(
            heartbeat(&hook("h")),
            (DEFAULT_HEARTBEAT, "ABANDON".to_owned())
        );
    }
}
