//! launch-guard's snapshot of the cluster (issue 13): the budget decision of
//! a launch reads the cluster's instances and groups (every page) only when
//! the snapshot is older than its [`MAX_AGE`], or when the decision would
//! deny or bring usage within [`MARGIN_PERCENT`] of a budget.
//!
//! What the snapshot holds between two reads:
//! - exact for every launch this environment admits: each admission is added
//!   as it is recorded (launch-guard decides one launch at a time);
//! - it misses instances started since the read outside this environment's
//!   admissions: launched outside any guarded group (by hand, another
//!   launcher, a group without the guard's hook), or admitted by another
//!   execution environment (reserved concurrency 1 makes that a replaced
//!   one); and it still counts instances terminated since the read.
//!
//! Why the budget still holds: a decision on the snapshot that would deny,
//! or that leaves less than [`MARGIN_PERCENT`] of any budget, is taken again
//! on a fresh read. An admission on a snapshot therefore leaves at least that
//! margin of every budget free by the snapshot's count, and the snapshot is
//! at most [`MAX_AGE`] old: a guarded launch can overrun a budget only if
//! launches the snapshot misses take more than the margin within that time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use guard_core::budget::Usage;
use guard_core::budget::cluster::{ADMITTED_TAG, ClusterState};
use guard_core::facts::InstanceFacts;
use guard_core::policy::BudgetPolicy;
use tokio::time::Instant;

/// A snapshot older than this is read again.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// A decision that leaves less than this share of any budget free is taken
/// on a fresh read.
pub const MARGIN_PERCENT: u64 = 10;

/// The cluster as last read, with the admissions made since.
#[derive(Debug)]
pub struct Snapshot {
    max_age: Duration,
    /// Shared with the decisions that read it; an admission or a forget
    /// changes it in place (copied first only while a decision still holds
    /// it: [`Arc::make_mut`]).
    taken: Mutex<Option<(Instant, Arc<ClusterState>)>>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Self::new(MAX_AGE)
    }
}

impl Snapshot {
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            taken: Mutex::new(None),
        }
    }

    /// The cluster, if read less than the maximum age ago.
    pub(crate) fn fresh(&self) -> Option<Arc<ClusterState>> {
        let taken = self.taken.lock().ok()?;
        let (at, state) = taken.as_ref()?;
        (at.elapsed() < self.max_age).then(|| Arc::clone(state))
    }

    /// Whether the cluster was read at or after `at`.
    pub(crate) fn read_since(&self, at: Instant) -> bool {
        self.taken
            .lock()
            .ok()
            .and_then(|taken| taken.as_ref().map(|(read, _)| *read >= at))
            .unwrap_or(false)
    }

    /// Forgets an admission counted by [`Snapshot::admitted`] that did not
    /// stand (its record failed and the fail mode abandoned it). Copies the
    /// read (while a decision holds it) only when there is an admission to
    /// forget.
    pub fn forget(&self, instance_id: &str) {
        if let Ok(mut taken) = self.taken.lock()
            && let Some((_, state)) = taken.as_mut()
            && let Some(index) = state
                .instances
                .iter()
                .position(|i| i.instance_id == instance_id && i.tags.contains_key(ADMITTED_TAG))
            && let Some(instance) = Arc::make_mut(state).instances.get_mut(index)
        {
            instance.tags.remove(ADMITTED_TAG);
        }
    }

    /// Drops the read: the next budget decision reads the cluster again. For
    /// an admission it cannot count (let in by the fail mode before its
    /// instance could be read): the fresh read counts it by the ledger.
    pub fn discard(&self) {
        if let Ok(mut taken) = self.taken.lock() {
            *taken = None;
        }
    }

    /// Keeps `state`, read now.
    pub(crate) fn store(&self, state: Arc<ClusterState>) {
        if let Ok(mut taken) = self.taken.lock() {
            *taken = Some((Instant::now(), state));
        }
    }

    /// Counts `instance` from now on: admitted at `time` (RFC 3339), as its
    /// admission tag says.
    pub fn admitted(&self, instance: &InstanceFacts, time: &str) {
        let Ok(mut taken) = self.taken.lock() else {
            return;
        };
        let Some((_, state)) = taken.as_mut() else {
            return;
        };
        let state = Arc::make_mut(state);
        let listed = state
            .instances
            .iter_mut()
            .find(|i| i.instance_id == instance.instance_id);
        match listed {
            Some(listed) => {
                listed.tags.insert(ADMITTED_TAG.to_owned(), time.to_owned());
            }
            None => {
                let mut instance = instance.clone();
                instance
                    .tags
                    .insert(ADMITTED_TAG.to_owned(), time.to_owned());
                state.instances.push(instance);
            }
        }
    }
}

/// Whether an admission, with `usage` counted and `candidate` added, denies
/// or leaves less than [`MARGIN_PERCENT`] of a budget.
pub(crate) fn near_budget(budget: &BudgetPolicy, after: Usage, denies: bool) -> bool {
    let near = |used: u64, max: Option<u64>| {
        max.is_some_and(|max| used.saturating_mul(100) > max.saturating_mul(100 - MARGIN_PERCENT))
    };
    denies
        || near(after.vcpus, budget.max_vcpus)
        || near(after.memory_mib, budget.max_memory_mib)
        || near(after.instances, budget.max_instances)
}

#[cfg(test)]
mod tests {
    use guard_core::fixtures::strict_policy;

    use super::*;

    fn instances(n: u64) -> Usage {
        Usage {
            vcpus: 0,
            memory_mib: 0,
            instances: n,
        }
    }

    #[test]
    fn within_the_margin_of_any_budget_or_denied_is_near() {
        let budget = strict_policy(&[("GUARD_MAX_INSTANCES", "50")]).budget;
        assert!(!near_budget(&budget, instances(45), false));
        assert!(near_budget(&budget, instances(46), false));
        assert!(near_budget(&budget, instances(3), true));
        let none = strict_policy(&[]).budget;
        assert!(!near_budget(&none, instances(1_000_000), false));
    }

    #[tokio::test]
    async fn an_admission_counts_in_the_snapshot_and_an_old_snapshot_is_not_used() {
        let snapshot = Snapshot::default();
        assert_eq!(snapshot.fresh(), None);
        snapshot.store(Arc::new(ClusterState::default()));
        let instance = InstanceFacts {
            instance_id: "i-1".into(),
            ..InstanceFacts::default()
        };
        snapshot.admitted(&instance, "2026-12-01T12:00:00Z");
        snapshot.admitted(&instance, "2026-12-01T12:00:01Z");
        let state = snapshot.fresh().unwrap();
        assert_eq!(state.instances.len(), 1);
        assert_eq!(
            state.instances[0].tags[ADMITTED_TAG],
            "2026-12-01T12:00:01Z"
        );

        let expired = Snapshot::new(Duration::ZERO);
        expired.store(Arc::new(ClusterState::default()));
        assert_eq!(expired.fresh(), None);
    }

    /// A snapshot holding a read of one instance, `i-0`, and that read.
    fn holding_one_instance() -> (Snapshot, Arc<ClusterState>) {
        let snapshot = Snapshot::default();
        let read = Arc::new(ClusterState {
            instances: vec![InstanceFacts {
                instance_id: "i-0".into(),
                ..InstanceFacts::default()
            }],
            ..ClusterState::default()
        });
        snapshot.store(Arc::clone(&read));
        (snapshot, read)
    }

    #[tokio::test]
    async fn decisions_share_the_read_and_an_admission_copies_it_only_while_one_holds_it() {
        let (snapshot, read) = holding_one_instance();
        let held = snapshot.fresh().unwrap();
        assert!(
            Arc::ptr_eq(&held, &read),
            "a decision gets the read, not a copy"
        );
        drop(read);

        let admitted = InstanceFacts {
            instance_id: "i-1".into(),
            ..InstanceFacts::default()
        };
        snapshot.admitted(&admitted, "2026-12-01T12:00:00Z");
        assert_eq!(
            held.instances.len(),
            1,
            "what a decision holds does not change"
        );
        let after = snapshot.fresh().unwrap();
        assert_eq!(after.instances.len(), 2);
        assert!(
            !Arc::ptr_eq(&held, &after),
            "copied once, because a decision held it"
        );

        drop((held, after));
        let before = Arc::as_ptr(&snapshot.fresh().unwrap());
        snapshot.admitted(
            &InstanceFacts {
                instance_id: "i-2".into(),
                ..InstanceFacts::default()
            },
            "2026-12-01T12:00:01Z",
        );
        snapshot.forget("i-1");
        let unshared = snapshot.fresh().unwrap();
        assert_eq!(
            Arc::as_ptr(&unshared),
            before,
            "changed in place when no decision holds it"
        );
        assert_eq!(unshared.instances.len(), 3);
        assert!(!unshared.instances[1].tags.contains_key(ADMITTED_TAG));
    }

    #[test]
    fn forgetting_what_was_not_admitted_leaves_a_held_read_uncopied() {
        let (snapshot, read) = holding_one_instance();

        snapshot.forget("i-0");
        snapshot.forget("i-9");

        assert!(
            Arc::ptr_eq(&snapshot.fresh().unwrap(), &read),
            "nothing to forget: the read a decision holds is not copied"
        );
    }
}
