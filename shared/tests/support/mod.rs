//! Helpers shared by the adapter tests (`tests/adapters.rs`,
//! `tests/remediation_adapters.rs`): the retry bound of the mocked clients,
//! request recording for `match_requests`, AWS error metadata.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_smithy_types::error::ErrorMetadata;

/// The standard retry strategy, bounded like production (three attempts), with
/// a 1 ms backoff so that retried tests stay fast.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(1))
}

/// The requests a rule was asked to answer, in order.
pub type Seen<I> = Arc<Mutex<Vec<I>>>;

/// A `match_requests` filter that matches everything and records it, so that
/// the test can compare the whole request with the expected one.
pub fn recorder<I>() -> (Seen<I>, impl Fn(&I) -> bool + Send + Sync + 'static)
where
    I: Clone + Send + 'static,
{
    let seen: Seen<I> = Arc::default();
    let sink = Arc::clone(&seen);
    let record = move |request: &I| {
        // A poisoned lock still holds what was recorded.
        sink.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request.clone());
        true
    };
    (seen, record)
}

pub fn taken<I: Clone>(seen: &Seen<I>) -> Vec<I> {
    seen.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// An error as AWS's query protocols report it: a code and a message.
pub fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}
