//! Which cluster instances the budgets count, read and decided the same way
//! by launch-guard's admission, budget-guard's run and the CLI.
//!
//! Counted: every cluster instance in `pending`/`running`, except
//! - one that waits in `Pending:Wait` for the guard's decision (its group
//!   carries the guard's launch hook) and was not admitted yet;
//! - one in a warm pool (its group does not list it among its instances, or
//!   lists it in a `Warmed:*` state): it is charged when it enters the group;
//! - the candidate of an admission, which the admission adds itself.
//!
//! An instance the guard admitted carries [`ADMITTED_TAG`], written before its
//! `CONTINUE`: it counts from then on, in every execution environment and in
//! budget-guard, also while another hook still holds it in `Pending:Wait`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::aws::TtlCache;
use crate::facts::{GroupFacts, InstanceFacts, InstanceTypeSpec};
use crate::lifecycle::LAUNCHING;
use crate::ports::{AwsError, ClusterGroupsRead, ClusterInstancesRead, InstanceTypesRead};

use super::{Usage, UsageError, cluster_usage};

/// The instance tag that records the guard's admission (its value: when).
pub const ADMITTED_TAG: &str = "scaling-guard:admitted";
/// The tag Auto Scaling puts on every instance it launches.
pub const GROUP_NAME_TAG: &str = "aws:autoscaling:groupName";
const PENDING_WAIT: &str = "Pending:Wait";
const WARMED: &str = "Warmed:";
/// How long a group's hooks are trusted (hooks change rarely; enrollment
/// marks a group at once).
const HOOKS_TTL: Duration = Duration::from_secs(600);

/// The cluster's instances and groups, as one measurement read them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterState {
    pub instances: Vec<InstanceFacts>,
    pub groups: Vec<GroupFacts>,
}

/// The measurement failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeasureError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Usage(#[from] UsageError),
}

impl ClusterState {
    /// Reads the cluster's instances and groups, in parallel.
    pub async fn read(
        tag_key: &str,
        instances: &impl ClusterInstancesRead,
        groups: &impl ClusterGroupsRead,
    ) -> Result<Self, AwsError> {
        let (instances, groups) = futures::join!(
            instances.cluster_instances(tag_key),
            groups.cluster_groups(tag_key)
        );
        Ok(Self {
            instances: instances?,
            groups: groups?,
        })
    }

    /// Every instance type the cluster runs, plus `extra`, sorted.
    pub fn type_names<'a>(&'a self, extra: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        self.instances
            .iter()
            .map(|i| i.instance_type.as_str())
            .chain(extra)
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// The group that lists `instance_id`, with its lifecycle state there.
    fn listing(&self) -> BTreeMap<&str, (&str, &str)> {
        self.groups
            .iter()
            .flat_map(|g| {
                g.instances.iter().map(|i| {
                    (
                        i.instance_id.as_str(),
                        (g.name.as_str(), i.lifecycle_state.as_str()),
                    )
                })
            })
            .collect()
    }

    /// Instances in `Pending:Wait` not admitted yet, by group.
    pub fn undecided_groups(&self, admitted: &BTreeSet<String>) -> BTreeSet<String> {
        let tagged: BTreeSet<&str> = self
            .instances
            .iter()
            .filter(|i| i.tags.contains_key(ADMITTED_TAG))
            .map(|i| i.instance_id.as_str())
            .collect();
        self.groups
            .iter()
            .filter(|g| {
                g.instances.iter().any(|i| {
                    i.lifecycle_state == PENDING_WAIT
                        && !tagged.contains(i.instance_id.as_str())
                        && !admitted.contains(&i.instance_id)
                })
            })
            .map(|g| g.name.clone())
            .collect()
    }
}

/// What a measurement needs besides the cluster itself.
#[derive(Debug, Clone, Copy)]
pub struct Counting<'a> {
    /// Groups carrying the guard's launch hook: their undecided instances in
    /// `Pending:Wait` wait for its decision.
    pub guarded_groups: &'a BTreeSet<String>,
    /// Instances this environment admitted (EC2 may not show the tag yet).
    pub admitted: &'a BTreeSet<String>,
    /// The instance being decided, if any: the admission adds it itself.
    pub candidate: Option<&'a str>,
}

/// The cluster instances the budgets do not count now (see the module docs).
pub fn not_counted(state: &ClusterState, counting: &Counting<'_>) -> BTreeSet<String> {
    let listing = state.listing();
    let cluster_groups: BTreeSet<&str> = state.groups.iter().map(|g| g.name.as_str()).collect();
    state
        .instances
        .iter()
        .filter(|instance| {
            let id = instance.instance_id.as_str();
            if counting.candidate == Some(id) {
                return true;
            }
            if instance.tags.contains_key(ADMITTED_TAG) || counting.admitted.contains(id) {
                return false;
            }
            match listing.get(id) {
                Some((group, state)) => {
                    state.starts_with(WARMED)
                        || (*state == PENDING_WAIT && counting.guarded_groups.contains(*group))
                }
                // Launched by a cluster group that does not list it: in its warm pool.
                None => instance
                    .tags
                    .get(GROUP_NAME_TAG)
                    .is_some_and(|group| cluster_groups.contains(group.as_str())),
            }
        })
        .map(|instance| instance.instance_id.clone())
        .collect()
}

/// The cluster's usage as the budgets count it.
pub fn usage(
    state: &ClusterState,
    specs: &BTreeMap<String, InstanceTypeSpec>,
    counting: &Counting<'_>,
) -> Result<Usage, UsageError> {
    cluster_usage(&state.instances, specs, &not_counted(state, counting))
}

/// Which groups carry the guard's launch hook, asked once per group and
/// remembered for a while (a group enrolled by budget-guard is marked at once).
#[derive(Debug)]
pub struct GuardedGroups {
    hook_name: String,
    known: TtlCache<bool>,
}

impl GuardedGroups {
    pub fn new(hook_name: &str) -> Self {
        Self {
            hook_name: hook_name.to_owned(),
            known: TtlCache::new(1024, HOOKS_TTL),
        }
    }

    /// Records that `group` carries the hook (it just triggered it, or was enrolled).
    pub fn mark(&self, group: &str) {
        self.known.insert(group, true);
    }

    /// Whether `group` is known to carry the hook; `None` when not asked yet.
    pub fn known(&self, group: &str) -> Option<bool> {
        self.known.get(group)
    }

    /// Whether `group` carries the hook, asking Auto Scaling when not known.
    pub async fn carries_hook(
        &self,
        reader: &impl ClusterGroupsRead,
        group: &str,
    ) -> Result<bool, AwsError> {
        if let Some(known) = self.known(group) {
            return Ok(known);
        }
        let hooks = reader.lifecycle_hooks(group).await?;
        let hooked = hooks
            .iter()
            .any(|h| h.name == self.hook_name && h.transition == LAUNCHING);
        self.known.insert(group, hooked);
        Ok(hooked)
    }

    /// The groups among `groups` that carry the hook, asked in parallel. A
    /// group whose hooks cannot be read counts as unguarded: its waiting
    /// instances are then counted, which can only deny, never overrun.
    pub async fn among(
        &self,
        reader: &impl ClusterGroupsRead,
        groups: &BTreeSet<String>,
    ) -> BTreeSet<String> {
        let asked = futures::future::join_all(groups.iter().map(|group| async move {
            match self.carries_hook(reader, group).await {
                Ok(true) => Some(group.clone()),
                Ok(false) => None,
                Err(err) => {
                    tracing::warn!(group = %group, %err, "hooks unknown: its waiting instances are counted");
                    None
                }
            }
        }))
        .await;
        asked.into_iter().flatten().collect()
    }
}

/// One measurement: the cluster read, the type specs, and the usage.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub state: ClusterState,
    pub specs: BTreeMap<String, InstanceTypeSpec>,
    pub usage: Usage,
}

/// Reads the cluster and measures its usage. `known_guarded` names a group
/// known to carry the hook without asking (the group of the launch being decided).
pub async fn measure(
    tag_key: &str,
    ec2: &(impl ClusterInstancesRead + InstanceTypesRead),
    groups: &impl ClusterGroupsRead,
    guarded: &GuardedGroups,
    admitted: &BTreeSet<String>,
    candidate: Option<&InstanceFacts>,
) -> Result<Measurement, MeasureError> {
    let state = ClusterState::read(tag_key, ec2, groups).await?;
    measure_state(state, ec2, groups, guarded, admitted, candidate).await
}

/// [`measure`] of a cluster already read.
pub async fn measure_state(
    state: ClusterState,
    ec2: &impl InstanceTypesRead,
    groups: &impl ClusterGroupsRead,
    guarded: &GuardedGroups,
    admitted: &BTreeSet<String>,
    candidate: Option<&InstanceFacts>,
) -> Result<Measurement, MeasureError> {
    let names = state.type_names(
        candidate
            .map(|c| c.instance_type.as_str())
            .into_iter()
            .chain(
                state
                    .groups
                    .iter()
                    .flat_map(|g| g.instance_types.iter().map(String::as_str)),
            ),
    );
    let undecided = state.undecided_groups(admitted);
    let (specs, guarded_groups) = futures::join!(
        ec2.instance_types(&names),
        guarded.among(groups, &undecided)
    );
    let specs = specs?;
    let counting = Counting {
        guarded_groups: &guarded_groups,
        admitted,
        candidate: candidate.map(|c| c.instance_id.as_str()),
    };
    let usage = usage(&state, &specs, &counting)?;
    Ok(Measurement {
        state,
        specs,
        usage,
    })
}

#[cfg(test)]
mod tests;
