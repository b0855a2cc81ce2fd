//! stack-guard: the stack's custom resource. Validates the policy on create
//! and update (an update to audit mode hands over at once); on delete
//! removes the guard's hooks and lifts its suspensions.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::aws::{Adapters, Destinations, load_config};
use shared::deadline::Deadline;
use shared::events::EventBus;
use shared::policy::settings::{ALERT_TOPIC_ARN, CHAT_TOPIC_ARN, EVENT_BUS, RECORD_KEY};
use shared::startup::diagnostic;
use shared::suspension::RecordKey;
use stack_guard::{HttpResponder, Input, StackGuard};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // The policy comes with each request, not from the environment. The one
    // alert stack-guard sends (an update's hand-over to audit mode) goes to
    // the topics the stack gives every function (the chat topic when set),
    // and as a decision event to its bus.
    let topic = std::env::var(ALERT_TOPIC_ARN.name).unwrap_or_default();
    let chat = std::env::var(CHAT_TOPIC_ARN.name).ok();
    let bus = std::env::var(EVENT_BUS.name)
        .ok()
        .and_then(|bus| EventBus::parse(bus.trim()));
    let destinations = Destinations::alert_topic(topic)
        .with_chat_topic(chat)
        .with_event_bus(bus.unwrap_or_default());
    let aws = &Adapters::new(&load_config().await, &destinations);
    let responder = &HttpResponder::new()?;
    // The suspension records' key is a secret: the stack hands it to this
    // function's environment, never to the request's properties.
    let record_key = std::env::var(RECORD_KEY.name)
        .ok()
        .filter(|key| !key.trim().is_empty())
        .map(|key| RecordKey::new(key.trim()));
    let guard = &StackGuard::new(aws, responder).with_record_key(record_key);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Input>| async move {
        // Boxed: the handler's future is deep (hyper, the SDK) for the
        // compiler's layout of `main`'s future.
        let deadline = Deadline::at(event.context.deadline());
        Box::pin(guard.handle(event.payload, deadline))
            .await
            .map_err(|err| diagnostic(err.error_type(), &err))
    }))
    .await
}
