//! What the unit tests share: a pinned "now" and the test cluster's policy.

use std::time::{Duration, SystemTime};

use shared::policy::Policy;

/// 2026-11-26T14:00:00Z.
pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_687_200)
}

/// Cluster `prod`, at most 10 instances and 20 vCPUs, with `extra` settings.
pub fn policy(extra: &[(&str, &str)]) -> Policy {
    let base = [
        ("GUARD_CLUSTER", "prod"),
        (
            "GUARD_ALERT_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:123456789012:alerts",
        ),
        ("GUARD_MAX_INSTANCES", "10"),
        ("GUARD_MAX_VCPUS", "20"),
    ];
    shared::fakes::test_policy(&base, extra).unwrap()
}
