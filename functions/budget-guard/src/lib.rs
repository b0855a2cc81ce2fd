//! The budget guard's handler, generic over the ports so that it runs against
//! AWS in production and against in-memory fakes in tests.

mod event;
mod handler;

pub use event::{AlarmState, Trigger, parse};
pub use handler::{BudgetGuard, HandlerError};
