//! The instance audit's handler (SPEC §6), generic over the ports so that it
//! runs against AWS in production and against in-memory fakes in tests.

mod alerts;
mod event;
mod handler;
mod response;

pub use event::{Event, EventError, Input, Trigger};
pub use handler::{Auditor, HandlerError, MAX_REMEDIATIONS_PER_SWEEP};
pub use response::{Outcome, Response, Summary, SweepSummary};
pub use shared::ports::Ports;
