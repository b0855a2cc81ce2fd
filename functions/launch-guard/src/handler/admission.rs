//! Budget admission (SPEC §7): usage plus the new instance must stay within
//! every budget.
//!
//! Admission is serialized by the deployment (reserved concurrency 1 on
//! launch-guard, so one execution environment decides one launch at a time).
//! This environment remembers what it admitted in a ledger and counts those
//! instances even while Auto Scaling still reports them in `Pending:Wait`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shared::budget::{self, Usage};
use shared::checks::Violation;
use shared::facts::{GroupFacts, InstanceFacts, InstanceTypeSpec};
use shared::policy::Policy;
use shared::ports::{ClusterGroupsRead, ClusterInstancesRead, InstanceTypesRead};

/// How long an admitted instance stays in the ledger: long past the moment
/// Auto Scaling reports it `InService`.
const LEDGER_TTL: Duration = Duration::from_secs(15 * 60);

/// The cluster as the admission sees it.
#[derive(Debug, Clone)]
pub(super) struct ClusterState {
    pub instances: Vec<InstanceFacts>,
    pub groups: Vec<GroupFacts>,
}

/// The result of one admission.
#[derive(Debug, Clone)]
pub(super) struct Admission {
    pub usage: Usage,
    pub candidate: Usage,
    pub violations: Vec<Violation>,
}

/// Instances this environment admitted, with when.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    admitted: Mutex<BTreeMap<String, Instant>>,
}

impl Ledger {
    pub fn record(&self, instance_id: &str) {
        if let Ok(mut admitted) = self.admitted.lock() {
            admitted.insert(instance_id.to_owned(), Instant::now());
        }
    }

    fn current(&self) -> BTreeSet<String> {
        let Ok(mut admitted) = self.admitted.lock() else {
            return BTreeSet::new();
        };
        admitted.retain(|_, at| at.elapsed() < LEDGER_TTL);
        admitted.keys().cloned().collect()
    }
}

/// Reads the cluster's instances and groups, in parallel.
pub(super) async fn cluster_state(
    policy: &Policy,
    instances: &impl ClusterInstancesRead,
    groups: &impl ClusterGroupsRead,
) -> Result<ClusterState, String> {
    let tag = policy.cluster_tag_key.as_str();
    let (instances, groups) =
        futures::join!(instances.cluster_instances(tag), groups.cluster_groups(tag));
    Ok(ClusterState {
        instances: instances.map_err(|err| err.to_string())?,
        groups: groups.map_err(|err| err.to_string())?,
    })
}

/// Admits or denies `candidate` against the cluster's usage.
pub(super) async fn admit(
    policy: &Policy,
    types: &impl InstanceTypesRead,
    ledger: &Ledger,
    cluster: &ClusterState,
    candidate: &InstanceFacts,
) -> Result<Admission, String> {
    let names: Vec<String> = cluster
        .instances
        .iter()
        .chain([candidate])
        .map(|i| i.instance_type.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let specs: BTreeMap<String, InstanceTypeSpec> = types
        .instance_types(&names)
        .await
        .map_err(|err| err.to_string())?;
    let states = cluster
        .groups
        .iter()
        .flat_map(|g| &g.instances)
        .map(|i| (i.instance_id.as_str(), i.lifecycle_state.as_str()));
    let mut excluded = budget::waiting_for_decision(states, &ledger.current());
    excluded.insert(candidate.instance_id.clone());
    let usage = budget::cluster_usage(&cluster.instances, &specs, &excluded)
        .map_err(|err| err.to_string())?;
    let candidate_usage =
        budget::instance_usage(candidate, &specs).map_err(|err| err.to_string())?;
    Ok(Admission {
        violations: budget::admit(
            &policy.budget,
            usage,
            candidate_usage,
            &candidate.instance_id,
        ),
        usage,
        candidate: candidate_usage,
    })
}
