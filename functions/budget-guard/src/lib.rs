//! The budget guard's handler, generic over the ports so that it runs against
//! AWS in production and against in-memory fakes in tests.

mod alerts;
mod event;
#[cfg(test)]
mod fixtures;
mod handler;
mod response;
mod trust;

pub use event::{AccountRegion, AlarmState, EventError, Input, Trigger};
pub use handler::{BudgetGuard, HandlerError};
pub use response::{
    AlarmAction, AlarmSummary, IgnoreReason, Ignored, Response, ScheduleSummary, Summary,
};
pub use shared::ports::Ports;
pub use trust::Home;
