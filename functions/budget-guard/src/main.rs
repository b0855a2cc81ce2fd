//! budget-guard: measures cluster usage against its budgets every minute and
//! on alarms, suspends scale-out during surges, resumes it safely, and puts
//! the launch hook on cluster groups that lack it.

use budget_guard::{BudgetGuard, Home, Input};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let (policy, aws) = match shared::startup::cold_start("budget-guard").await {
        Ok(ready) => ready,
        Err(misconfigured) => return misconfigured.refuse_every_invocation().await,
    };
    let guard = &BudgetGuard::new(&policy, &aws);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Input>| {
        let home = Home::of_function(&event.context.invoked_function_arn);
        guard.handle(event.payload, home)
    }))
    .await
}
