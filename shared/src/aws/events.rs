//! EventBridge: decision events (`PutEvents`, one entry per event).

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::aws_error;
use crate::events::{DecisionEvent, EventBus, SOURCE};
use crate::ports::{AwsError, AwsResult, EventPublish};

/// The EventBridge adapter, bound to the policy's bus (`GUARD_EVENT_BUS`).
#[derive(Debug, Clone)]
pub struct Events {
    client: Client,
    bus: EventBus,
}

impl Events {
    pub fn new(client: Client, bus: EventBus) -> Self {
        Self { client, bus }
    }
}

impl EventPublish for Events {
    async fn put_event(&self, event: &DecisionEvent) -> AwsResult<()> {
        if !self.bus.is_on() {
            return Ok(());
        }
        // No `EventBusName` for the default bus: the caller's own, in its
        // region, as the IAM grant names it.
        let entry = PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(event.detail_type.as_str())
            .detail(&event.detail)
            .set_event_bus_name(self.bus.name().map(str::to_owned))
            .build();
        let output = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|err| aws_error("PutEvents", err))?;
        accepted(&output)
    }
}

/// `PutEvents` answers 200 also when it refuses entries: `FailedEntryCount`
/// and each entry's `ErrorCode` say so.
fn accepted(output: &PutEventsOutput) -> AwsResult<()> {
    if output.failed_entry_count() == 0 {
        return Ok(());
    }
    let refused = output
        .entries()
        .iter()
        .find(|entry| entry.error_code().is_some());
    Err(AwsError::new(
        "PutEvents",
        refused.and_then(|entry| entry.error_code()),
        refused
            .and_then(|entry| entry.error_message())
            .unwrap_or("the event bus refused the event"),
    ))
}
