//! The launch guard's handler, generic over the ports so that it runs against
//! AWS in production and against in-memory fakes in tests.

mod alerts;
mod event;
mod handler;
mod response;

pub use event::Input;
pub use handler::{COMPLETION_FAILED_TAG, HandlerError, LaunchGuard};
pub use response::{Response, Summary};
pub use shared::decision::Decision;
