//! The budget guard's handler, generic over the ports so that it runs against
//! AWS in production and against in-memory fakes in tests.

mod alerts;
mod event;
#[cfg(test)]
mod fixtures;
mod handler;
mod response;

pub use event::{AlarmState, EventError, Input, Trigger};
pub use handler::{BudgetGuard, HandlerError};
pub use response::{AlarmAction, AlarmSummary, Response, ScheduleSummary, Summary};
pub use shared::ports::Ports;
