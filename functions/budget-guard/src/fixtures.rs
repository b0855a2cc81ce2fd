//! What the unit tests share beyond the test world ([`shared::fixtures`]):
//! the test cluster's budget policy and where the function runs.

pub use shared::fixtures::now;
use shared::fixtures::{CLUSTER_SETTINGS, policy_of};
use shared::policy::Policy;

use crate::trust::Home;

/// Cluster `prod`, at most 10 instances and 20 vCPUs, believing the alarms
/// the template names (stack `scaling-guard`), with `extra` settings.
pub fn policy(extra: &[(&str, &str)]) -> Policy {
    let budgets = [("GUARD_MAX_INSTANCES", "10"), ("GUARD_MAX_VCPUS", "20")];
    let alarms = [
        (
            "GUARD_BUDGET_ALARM_NAMES",
            "scaling-guard-VcpuPercentOfBudget,scaling-guard-InstancesPercentOfBudget",
        ),
        ("GUARD_SURGE_ALARM_PREFIX", "scaling-guard-surge-"),
    ];
    policy_of(&[&CLUSTER_SETTINGS, &budgets, &alarms], extra)
}

/// Where the function runs: the account and region of every sample event.
pub fn home() -> Home {
    Home::of_function("arn:aws:lambda:eu-west-1:123456789012:function:scaling-guard-budget-guard")
}
