//! Which cluster instances the budgets count, decided the same way for
//! launch-guard's admission, budget-guard's run and the CLI (the reads are
//! `shared::budget::measure`'s).
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

use crate::facts::{GroupFacts, InstanceFacts, InstanceTypeSpec};

use super::{Usage, UsageError, cluster_usage};

/// The instance tag that records the guard's admission (its value: when).
pub const ADMITTED_TAG: &str = "scaling-guard:admitted";
/// The tag Auto Scaling puts on every instance it launches.
pub const GROUP_NAME_TAG: &str = "aws:autoscaling:groupName";
pub use crate::facts::PENDING_WAIT;
const WARMED: &str = "Warmed:";

/// The cluster's instances and groups, as one measurement read them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterState {
    pub instances: Vec<InstanceFacts>,
    pub groups: Vec<GroupFacts>,
}

impl ClusterState {
    /// Every instance type the cluster runs, plus `extra`, sorted.
    pub fn type_names<'a>(&'a self, extra: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        // Each distinct name once (a set of borrowed names, not a String per
        // instance: at 10,000 instances the difference is the peak's).
        let mut names = BTreeSet::new();
        for name in self
            .instances
            .iter()
            .map(|i| i.instance_type.as_str())
            .chain(extra)
        {
            names.insert(name);
        }
        names.into_iter().map(str::to_owned).collect()
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
                    i.waits()
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
