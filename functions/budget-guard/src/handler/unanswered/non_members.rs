//! The guard's hook on a group that is no longer a cluster member (its
//! cluster tag removed or changed): launch-guard ignores that group's
//! launches (`shared::assess` finds it outside the cluster), so each waits on
//! the hook, silently, until its heartbeat's DefaultResult. The schedule reads
//! only cluster groups; this look-out lists every group of the region
//! (`DescribeAutoScalingGroups`, which carries each group's instances and
//! their lifecycle states) and alerts `hook_unanswered` for a launch in
//! `Pending:Wait` there that waited more than half the heartbeat of the
//! group's launch hook named as the guard's.
//!
//! At most every [`SCAN_EVERY`] per execution environment: listing the
//! region's groups is dearer than listing the cluster's, and a group leaves
//! the cluster rarely. The last scan's time is kept in memory, so a fresh
//! environment scans on its first run. A scan whose reads fail waits for the
//! next one, logged.
//!
//! How long a launch has waited: its `LaunchTime`, read with one
//! `DescribeInstances` of the waiting instances (they lack the cluster tag,
//! so the run's cluster read does not hold them). A launch EC2 does not
//! return, or returns without a launch time, is not judged by this scan: the
//! next scan reads it again (no `DescribeScalingActivities` is needed).
//!
//! Once: budget-guard may tag only cluster instances (its `ec2:CreateTags` is
//! conditioned on the cluster tag), so the alerted launches are remembered in
//! memory, per execution environment, while they wait: a replaced
//! environment may alert a launch still waiting once more. A launch
//! launch-guard answered while its group was a member (tagged admitted,
//! vetted or unanswered) is not judged, and in audit mode a group carrying
//! another launch hook is not judged either, as for member groups.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use shared::facts::{GroupFacts, InstanceFacts};
use shared::policy::ClusterTag;
use shared::ports::{AlertPublish, ClusterGroupsRead, InstanceRead, Ports};

use super::{guard_hook, heartbeat, recorded};
use crate::alerts::{self, Unanswered};
use crate::handler::BudgetGuard;

/// The least time between two scans of one execution environment.
pub const SCAN_EVERY: Duration = Duration::from_secs(300);

/// What one execution environment remembers of its scans.
#[derive(Debug, Default)]
pub struct NonMemberScans {
    /// When the last scan began; `None` before the first.
    last: Option<SystemTime>,
    /// The launches alerted that still waited at the last scan.
    alerted: BTreeSet<String>,
}

impl NonMemberScans {
    /// Whether a scan is due at `now`; a due scan is counted as made, whatever
    /// its reads then meet. A clock set back scans at once.
    fn start(&mut self, now: SystemTime) -> bool {
        let due = match self.last.map(|last| now.duration_since(last)) {
            Some(Ok(since)) => since >= SCAN_EVERY,
            None | Some(Err(_)) => true,
        };
        if due {
            self.last = Some(now);
        }
        due
    }
}

/// A launch in `Pending:Wait` on a group outside the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Waiting<'a> {
    group: &'a str,
    instance_id: &'a str,
}

/// The launches waiting on groups that `tag` does not match.
fn waiting_outside<'a>(groups: &'a [GroupFacts], tag: &ClusterTag) -> Vec<Waiting<'a>> {
    groups
        .iter()
        .filter(|g| !tag.matches(&g.tags))
        .flat_map(|g| {
            g.instances.iter().filter(|i| i.waits()).map(|i| Waiting {
                group: g.name.as_str(),
                instance_id: i.instance_id.as_str(),
            })
        })
        .collect()
}

impl<P: Ports> BudgetGuard<'_, P> {
    /// Alerts, once each per execution environment, the launches that waited
    /// on the guard's hook of a non-member group for more than half its
    /// heartbeat; returns them. Scans at most every [`SCAN_EVERY`]; read
    /// failures are logged: this look-out never fails the run.
    pub(in crate::handler) async fn alert_unanswered_on_non_members(&self) -> Vec<String> {
        let now = self.now();
        let due = self.non_member_scans().start(now);
        if !due {
            return Vec::new();
        }
        let groups = match self.ports.groups().all_groups().await {
            Ok(groups) => groups,
            Err(err) => {
                tracing::warn!(%err, "groups outside the cluster unknown: their waiting launches are judged at the next scan");
                return Vec::new();
            }
        };
        let waiting = waiting_outside(&groups, &self.policy.cluster_tag);
        let new: Vec<Waiting<'_>> = {
            let mut scans = self.non_member_scans();
            let still: BTreeSet<&str> = waiting.iter().map(|w| w.instance_id).collect();
            scans.alerted.retain(|id| still.contains(id.as_str()));
            waiting
                .into_iter()
                .filter(|w| !scans.alerted.contains(w.instance_id))
                .collect()
        };
        let unanswered = self.unanswered_outside(&new, now).await;
        if unanswered.is_empty() {
            return Vec::new();
        }
        let hook = self.policy.hook_name.as_str();
        let alert = alerts::hook_unanswered_on_non_members(self.policy, now, hook, &unanswered);
        if let Err(err) = self.ports.alerts().publish(&alert).await {
            tracing::error!(%err, alert = %alert.json(), "unanswered launches outside the cluster could not be alerted; the next scan tries again");
            return Vec::new();
        }
        let ids: Vec<String> = unanswered.into_iter().map(|u| u.instance_id).collect();
        self.non_member_scans().alerted.extend(ids.iter().cloned());
        tracing::warn!(instances = ?ids, hook, "unanswered launches outside the cluster alerted");
        ids
    }

    /// Those of `waiting` whose group carries the guard's hook and that
    /// waited more than half its heartbeat without launch-guard's records.
    async fn unanswered_outside(
        &self,
        waiting: &[Waiting<'_>],
        now: SystemTime,
    ) -> Vec<Unanswered> {
        let groups: BTreeSet<&str> = waiting.iter().map(|w| w.group).collect();
        let mut hooks = BTreeMap::new();
        for group in groups {
            match self.ports.groups().lifecycle_hooks(group).await {
                Ok(found) => {
                    if let Some(hook) = guard_hook(&found, &self.policy.hook_name, self.policy.mode)
                    {
                        hooks.insert(group, heartbeat(hook));
                    }
                }
                Err(err) => {
                    tracing::warn!(group = %group, %err, "hooks unknown: its waiting launches are judged at the next scan");
                }
            }
        }
        let hooked: Vec<&Waiting<'_>> = waiting
            .iter()
            .filter(|w| hooks.contains_key(w.group))
            .collect();
        if hooked.is_empty() {
            return Vec::new();
        }
        let ids: Vec<String> = hooked.iter().map(|w| w.instance_id.to_owned()).collect();
        let instances = match self.ports.instances().instances(&ids).await {
            Ok(instances) => instances,
            Err(err) => {
                tracing::warn!(%err, instances = ?ids, "launches outside the cluster unread: judged at the next scan");
                return Vec::new();
            }
        };
        let facts: BTreeMap<&str, &InstanceFacts> = instances
            .iter()
            .map(|i| (i.instance_id.as_str(), i))
            .collect();
        hooked
            .into_iter()
            .filter_map(|w| {
                let instance = facts.get(w.instance_id)?;
                if recorded(instance) {
                    return None;
                }
                let waited = now.duration_since(instance.launch_time?).ok()?;
                let (heartbeat, default_result) = hooks.get(w.group)?.clone();
                (waited > heartbeat / 2).then(|| Unanswered {
                    instance_id: w.instance_id.to_owned(),
                    group: w.group.to_owned(),
                    waited,
                    heartbeat,
                    default_result,
                })
            })
            .collect()
    }

    /// This environment's scans; a poisoned lock still holds them.
    fn non_member_scans(&self) -> MutexGuard<'_, NonMemberScans> {
        self.non_member_scans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use shared::facts::GroupInstance;

    use shared::fixtures::CLUSTER_TAG;

    use super::*;

    /// `seconds` after the test world's clock.
    fn at(seconds: u64) -> SystemTime {
        shared::fixtures::now() + Duration::from_secs(seconds)
    }

    #[test]
    fn a_fresh_environment_scans_then_waits_five_minutes() {
        let mut scans = NonMemberScans::default();
        assert!(scans.start(at(0)));
        assert!(!scans.start(at(60)));
        assert!(!scans.start(at(299)));
        assert!(scans.start(at(300)));
        assert!(scans.start(at(10)), "a clock set back");
    }

    fn group(name: &str, tags: &[(&str, &str)], states: &[(&str, &str)]) -> GroupFacts {
        GroupFacts {
            name: name.into(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            instances: states
                .iter()
                .map(|(id, state)| GroupInstance {
                    instance_id: (*id).into(),
                    lifecycle_state: (*state).into(),
                })
                .collect(),
            ..GroupFacts::default()
        }
    }

    #[test]
    fn only_waiting_launches_of_groups_outside_the_cluster_are_listed() {
        let tag = ClusterTag::any_value(CLUSTER_TAG);
        let groups = [
            group(
                "prod-a",
                &[(CLUSTER_TAG, "owned")],
                &[("i-1", "Pending:Wait")],
            ),
            group(
                "old-a",
                &[("kubernetes.io/cluster/staging", "owned")],
                &[("i-2", "Pending:Wait"), ("i-3", "InService")],
            ),
        ];
        assert_eq!(
            waiting_outside(&groups, &tag),
            vec![Waiting {
                group: "old-a",
                instance_id: "i-2"
            }]
        );
    }
}
