//! The instances this execution environment admitted, for the moment
//! between the admission tag's write and EC2 showing it (EC2's reads are
//! eventually consistent). Every environment and budget-guard count an
//! admitted instance by its tag ([`shared::budget::measure::ADMITTED_TAG`]);
//! the ledger covers only this environment's own, recent admissions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an admitted instance stays in the ledger: far longer than EC2
/// takes to show the tag written with it.
const LEDGER_TTL: Duration = Duration::from_secs(15 * 60);

/// Instances this environment admitted, with when.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    admitted: Mutex<BTreeMap<String, Instant>>,
}

impl Ledger {
    /// Notes an admission made now.
    pub fn add(&self, instance_id: &str) {
        if let Ok(mut admitted) = self.admitted.lock() {
            admitted.insert(instance_id.to_owned(), Instant::now());
        }
    }

    /// Forgets an admission that did not stand.
    pub fn forget(&self, instance_id: &str) {
        if let Ok(mut admitted) = self.admitted.lock() {
            admitted.remove(instance_id);
        }
    }

    /// The instances admitted within the ledger's time to live.
    pub fn current(&self) -> BTreeSet<String> {
        let Ok(mut admitted) = self.admitted.lock() else {
            return BTreeSet::new();
        };
        admitted.retain(|_, at| at.elapsed() < LEDGER_TTL);
        admitted.keys().cloned().collect()
    }
}
