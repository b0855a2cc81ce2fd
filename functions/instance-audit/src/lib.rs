//! The instance audit's handler (SPEC §6), generic over the ports so that it
//! runs against AWS in production and against in-memory fakes in tests.

mod event;
mod handler;

pub use event::{Event, EventError, Trigger};
pub use handler::{Auditor, HandlerError, MAX_REMEDIATIONS_PER_SWEEP, Outcome, Summary};
