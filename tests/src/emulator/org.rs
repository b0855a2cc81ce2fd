//! The emulator's controls for several accounts (`scripts/emulator/`):
//! fault rules scoped to an account or a region, latency that grows with
//! the page a request asks for, and accounts whose `AssumeRole` checks the
//! role (`sts_ext.py`).

use serde::Serialize;

use super::{Control, FaultState};
use crate::error::{Error, Result};

/// A `DescribeInstances` that takes `ms_per_result` milliseconds per result
/// it asks for (`MaxResults`), in `account` only when given: a slow
/// endpoint, whose smaller pages come sooner.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowPages {
    pub ms_per_result: u64,
    pub account: Option<String>,
    pub region: Option<String>,
}

impl Control {
    /// Replaces the fault rules with one: [`SlowPages`].
    pub fn set_slow_pages(&self, slow: &SlowPages) -> Result<FaultState> {
        let mut rule = serde_json::json!({
            "operation": "DescribeInstances",
            "kind": "latency",
            "share": 1,
            "latency_per_result_ms": slow.ms_per_result,
        });
        for (key, value) in [("account", &slow.account), ("region", &slow.region)] {
            if let Some(value) = value {
                rule[key] = serde_json::Value::from(value.as_str());
            }
        }
        let body = serde_json::json!({ "rules": [rule] }).to_string();
        let answer = self.call("POST", "/_scaling_guard/faults", Some(&body))?;
        serde_json::from_str(&answer).map_err(Error::json("fault state"))
    }

    /// In `accounts`, `AssumeRole` of a role that does not exist there is
    /// `AccessDenied`, as on AWS (replaces the set; elsewhere any succeeds).
    pub fn check_roles_in(&self, accounts: &[&str]) -> Result<()> {
        let body = serde_json::json!({ "accounts": accounts }).to_string();
        self.call("POST", "/_scaling_guard/sts/checked-accounts", Some(&body))
            .map(drop)
    }
}
