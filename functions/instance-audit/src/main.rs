//! instance-audit: finds unmanaged and non-compliant cluster instances from
//! EC2 and Auto Scaling launch events and an hourly sweep; alerts, and in
//! enforce mode stops, terminates or isolates them.

use instance_audit::Auditor;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let (policy, aws) = match shared::startup::cold_start("instance-audit").await {
        Ok(ready) => ready,
        Err(misconfigured) => return misconfigured.refuse_every_invocation().await,
    };
    let (ec2, images, asg) = (&aws.ec2, &aws.images, &aws.autoscaling);
    let (remediation, cw, sns) = (&aws.remediation, &aws.cloudwatch, &aws.sns);
    let auditor = &Auditor::new(&policy, ec2, images, asg, remediation, cw, sns);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        auditor.handle(event.payload)
    }))
    .await
}
