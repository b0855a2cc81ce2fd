//! launch-guard: vets every instance a cluster's Auto Scaling group launches
//! before it enters service, and completes the lifecycle hook.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use launch_guard::{Input, LaunchGuard};
use shared::deadline::Deadline;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let (policy, aws) = match shared::startup::cold_start("launch-guard").await {
        Ok(ready) => ready,
        Err(misconfigured) => return misconfigured.refuse_every_invocation().await,
    };
    let guard = LaunchGuard::new(&policy, &aws);
    let guard = &guard;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Input>| {
        guard.handle(event.payload, Deadline::at(event.context.deadline()))
    }))
    .await
}
