//! launch-guard: vets every instance a cluster's Auto Scaling group launches
//! before it enters service, and completes the lifecycle hook.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use launch_guard::LaunchGuard;
use serde_json::Value;
use shared::aws::{Adapters, load_config};
use shared::policy::Policy;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let Ok(policy) = Policy::from_env().inspect_err(|err| tracing::error!(%err, "policy rejected"))
    else {
        // Init fails with the message above, not with a Rust debug dump.
        std::process::exit(1);
    };
    let checks: Vec<_> = policy.enabled_checks().iter().map(|c| c.as_str()).collect();
    tracing::info!(cluster = %policy.cluster, mode = %policy.mode, ?checks, "policy loaded");
    let aws = Adapters::new(&load_config().await, &policy.alert_topic_arn);
    let guard = LaunchGuard::new(&policy, &aws.ec2, &aws.images, &aws.autoscaling, &aws.sns);
    let guard = &guard;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        guard.handle(event.payload)
    }))
    .await
}
