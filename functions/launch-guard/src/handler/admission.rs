//! What this execution environment admitted, behind one object: the ledger
//! (admissions by instance id, until EC2 shows their tag) and the snapshot
//! (the cluster as last read, with the admissions since). A budget decision
//! counts both; an admission enters both and, when it does not stand, leaves
//! both, so that they cannot drift apart.
//!
//! Not to be confused with the budget admission itself
//! (`guard_core::budget::admit`, measured by `shared::assess`): this object
//! only keeps count of the launches the guard already let in.

use std::collections::BTreeSet;
use std::time::SystemTime;

use shared::assess::Snapshot;
use shared::facts::NodeFacts;
use shared::time::format_rfc3339;
use tokio::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

use ledger::Ledger;

mod ledger;

/// This environment's admissions, and the turn to make one.
#[derive(Debug)]
pub(super) struct Admissions {
    ledger: Ledger,
    /// The cluster as last read, with this environment's admissions since:
    /// a budget decision reads the whole cluster only now and then.
    snapshot: Snapshot,
    /// Serializes admissions within this environment (also when a batch or a
    /// concurrent runtime hands it several launches at once).
    turns: Mutex<()>,
}

/// This environment's turn to admit: held from the first budget decision of
/// a batch until its admissions are recorded.
pub(super) type Turn<'a> = MutexGuard<'a, ()>;

impl Admissions {
    pub fn new(snapshot: Snapshot) -> Self {
        Self {
            ledger: Ledger::default(),
            snapshot,
            turns: Mutex::new(()),
        }
    }

    /// Waits for this environment's turn to admit, until `until`; `None`
    /// when it did not come by then (the budget is then unknown).
    pub async fn turn(&self, until: Instant) -> Option<Turn<'_>> {
        tokio::time::timeout_at(until, self.turns.lock()).await.ok()
    }

    /// The instances admitted here whose admission tag EC2 may not show yet.
    pub fn recent(&self) -> BTreeSet<String> {
        self.ledger.current()
    }

    /// The cluster as last read, with the admissions since, for the next
    /// budget decision.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Counts an admission, also one the fail mode let in, at `at`. One whose
    /// instance could not be read (`facts` is `None`) cannot be added to the
    /// snapshot: the snapshot is dropped, so that the next budget decision
    /// reads the cluster, where the ledger counts it.
    pub fn admit(&self, instance_id: &str, facts: Option<&NodeFacts>, at: SystemTime) {
        self.ledger.add(instance_id);
        match facts {
            Some(facts) => self.snapshot.admitted(&facts.instance, &format_rfc3339(at)),
            None => self.snapshot.discard(),
        }
    }

    /// Forgets an admission that did not stand (its record failed and the
    /// fail mode abandoned it), in the ledger and the snapshot alike.
    pub fn forget(&self, instance_id: &str) {
        self.ledger.forget(instance_id);
        self.snapshot.forget(instance_id);
    }
}
