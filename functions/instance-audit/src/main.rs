//! instance-audit: finds unmanaged and non-compliant cluster instances from
//! EC2 and Auto Scaling launch events and an hourly sweep; alerts, and in
//! enforce mode stops, terminates or isolates them.

use instance_audit::{Auditor, Input};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let (policy, aws) = match shared::startup::cold_start("instance-audit").await {
        Ok(ready) => ready,
        Err(misconfigured) => return misconfigured.refuse_every_invocation().await,
    };
    let auditor = &Auditor::new(&policy, &aws);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Input>| {
        auditor.handle(event.payload)
    }))
    .await
}
