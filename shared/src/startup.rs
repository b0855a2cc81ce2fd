//! The cold start every function shares: read the policy once, log which
//! checks are on, build the AWS adapters once.

use crate::aws::{Adapters, load_config};
use crate::policy::Policy;

/// Reads and validates the policy and builds the adapters. A bad policy is
/// logged with every problem and ends the process (the function's init
/// fails with that message, not with a debug dump).
pub async fn cold_start(function: &str) -> (Policy, Adapters) {
    let policy = match Policy::from_env() {
        Ok(policy) => policy,
        Err(err) => {
            tracing::error!(%err, function, "policy rejected");
            std::process::exit(1);
        }
    };
    let checks: Vec<&str> = policy.enabled_checks().iter().map(|c| c.as_str()).collect();
    tracing::info!(
        function,
        cluster = %policy.cluster,
        mode = %policy.mode,
        audit_action = %policy.audit_action,
        ?checks,
        "policy loaded"
    );
    let adapters = Adapters::new(&load_config().await, &policy.alert_topic_arn);
    (policy, adapters)
}
