//! The fake's event bus: what `PutEvents` received, in order, for handler
//! tests to assert ("a clean launch sends its decision event").

use super::FakeAws;
use crate::events::DecisionEvent;
use crate::ports::{AwsResult, EventPublish};

impl EventPublish for FakeAws {
    async fn put_event(&self, event: &DecisionEvent) -> AwsResult<()> {
        self.pace("PutEvents").await;
        self.call("PutEvents")?.events_sent.push(event.clone());
        Ok(())
    }
}

impl FakeAws {
    /// Every decision event put on the bus so far, in order.
    pub fn events_sent(&self) -> Vec<DecisionEvent> {
        self.state().events_sent.clone()
    }
}
