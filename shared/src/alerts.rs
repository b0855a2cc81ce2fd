//! The alert format ([`guard_core::alerts`]) and its publication. This
//! module uses the port ([`AlertPublish`]); the port names the domain's
//! [`Alert`] directly, so the dependency runs one way.

pub use guard_core::alerts::*;

use crate::ports::AlertPublish;

/// Publishes `alert`, best effort: by then the decision or change is made and
/// logged, and failing the invocation would not bring the alert back (a
/// retry finds the work done). A failed publish logs the whole alert instead.
pub async fn publish_best_effort(sink: &impl AlertPublish, alert: &Alert) {
    if let Err(err) = sink.publish(alert).await {
        tracing::error!(%err, alert = %alert.json(), "alert could not be published");
    }
}
