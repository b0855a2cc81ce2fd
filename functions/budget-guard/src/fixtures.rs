//! What the unit tests share: a pinned "now" and the test cluster's policy.

use std::time::{Duration, SystemTime};

use shared::checks::fixtures::{CLUSTER_SETTINGS, policy_of};
use shared::policy::Policy;

/// 2026-11-26T14:00:00Z.
pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_687_200)
}

/// Cluster `prod`, at most 10 instances and 20 vCPUs, with `extra` settings.
pub fn policy(extra: &[(&str, &str)]) -> Policy {
    let budgets = [("GUARD_MAX_INSTANCES", "10"), ("GUARD_MAX_VCPUS", "20")];
    policy_of(&[&CLUSTER_SETTINGS, &budgets], extra)
}
