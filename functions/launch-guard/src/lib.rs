//! The launch guard's handler, generic over the ports so that it runs against
//! AWS in production and against in-memory fakes in tests.

mod handler;

pub use handler::{HandlerError, LaunchGuard, Summary};
pub use shared::decision::Decision;
