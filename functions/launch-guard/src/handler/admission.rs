//! Budget admission (SPEC §7): usage plus the new instance must stay within
//! every budget.
//!
//! Admission is serialized by the deployment (reserved concurrency 1 on
//! launch-guard, so one execution environment decides one launch at a time).
//! Usage is measured by [`shared::budget::measure`], as budget-guard measures
//! it: admitted instances carry the admission tag, written before their
//! `CONTINUE`, and count in every environment until they are gone. This
//! environment also remembers what it admitted in a ledger, for the moment
//! between the tag write and EC2 showing the tag (EC2's reads are eventually
//! consistent).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shared::budget::measure::{self, ClusterState, GuardedGroups};
use shared::budget::{self, Usage};
use shared::checks::Violation;
use shared::facts::InstanceFacts;
use shared::policy::Policy;
use shared::ports::{ClusterGroupsRead, InstanceTypesRead};

/// How long an admitted instance stays in the ledger: far longer than EC2
/// takes to show the tag written with it.
const LEDGER_TTL: Duration = Duration::from_secs(15 * 60);

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

/// Admits or denies `candidate` against the cluster's usage.
pub(super) async fn admit(
    policy: &Policy,
    types: &impl InstanceTypesRead,
    groups: &impl ClusterGroupsRead,
    guarded: &GuardedGroups,
    ledger: &Ledger,
    cluster: ClusterState,
    candidate: &InstanceFacts,
) -> Result<(Admission, ClusterState), String> {
    let measured = measure::measure_state(
        cluster,
        types,
        groups,
        guarded,
        &ledger.current(),
        Some(candidate),
    )
    .await
    .map_err(|err| err.to_string())?;
    let candidate_usage =
        budget::instance_usage(candidate, &measured.specs).map_err(|err| err.to_string())?;
    let admission = Admission {
        violations: budget::admit(
            &policy.budget,
            measured.usage,
            candidate_usage,
            &candidate.instance_id,
        ),
        usage: measured.usage,
        candidate: candidate_usage,
    };
    Ok((admission, measured.state))
}
