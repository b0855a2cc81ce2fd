//! Decision events ([`guard_core::events`]) and their sending, best effort.

pub use guard_core::events::*;

use crate::ports::EventPublish;

/// Puts `event` on the bus, best effort, as alerts are published: by then
/// the decision is made, completed and logged, and a failed `PutEvents`
/// changes none of it. A failure logs the whole event instead.
pub async fn put_best_effort(sink: &impl EventPublish, event: &DecisionEvent) {
    if let Err(err) = sink.put_event(event).await {
        tracing::error!(
            %err,
            detail_type = event.detail_type.as_str(),
            detail = %event.detail,
            "decision event could not be sent"
        );
    }
}
