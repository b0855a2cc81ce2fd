//! stack-guard: the stack's custom resource. Validates the policy on create
//! and update; on delete removes the guard's hooks and lifts its suspensions.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::aws::{Adapters, load_config};
use shared::startup::diagnostic;
use stack_guard::{HttpResponder, Input, StackGuard};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // The policy comes with each request, not from the environment; no alert
    // is ever published, so the topic is none.
    let aws = &Adapters::new(&load_config().await, "");
    let responder = &HttpResponder::new()?;
    let guard = &StackGuard::new(aws, responder);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Input>| async move {
        // Boxed: the handler's future is deep (hyper, the SDK) for the
        // compiler's layout of `main`'s future.
        Box::pin(guard.handle(event.payload))
            .await
            .map_err(|err| diagnostic(err.error_type(), &err))
    }))
    .await
}
