//! The instance audit's handler (SPEC §6), generic over the ports so that it
//! runs against AWS in production and against in-memory fakes in tests.

mod alerts;
mod event;
mod handler;
mod limits;
mod response;

pub use event::{Event, EventError, Input, Message, Payload, Trigger};
pub use handler::{Auditor, HandlerError, INSTANCES_PER_CALL};
pub use limits::MAX_REMEDIATIONS_PER_SWEEP;
pub use response::{Outcome, Response, Summary, SweepSummary};
pub use shared::ports::Ports;
