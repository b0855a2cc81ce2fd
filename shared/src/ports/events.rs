//! The EventBridge port (issue 24, point 2): decision events on the bus
//! `GUARD_EVENT_BUS` names. Every alert is also an event: the alert port's
//! adapter sends it ([`crate::aws::Notifier`]); this port sends the
//! decisions no alert carries (a launch let in clean, a budget denial on a
//! group already suspended). With the bus `none` the adapter makes no call.

use std::future::Future;

use guard_core::events::DecisionEvent;

use super::AwsResult;

/// Puts one decision event on the bus (`PutEvents`, source `scaling-guard`).
pub trait EventPublish: Send + Sync {
    /// An entry EventBridge refuses (`FailedEntryCount` > 0) is an error
    /// with the entry's code, as a failed call is.
    fn put_event(&self, event: &DecisionEvent) -> impl Future<Output = AwsResult<()>> + Send;
}
