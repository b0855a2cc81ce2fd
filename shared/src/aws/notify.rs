//! Alerts, composed: each alert goes to the SNS topic and, as a decision
//! event ([`DecisionEvent::of`]), to the event bus. The SNS adapter stays
//! as it is; this wraps it, so every caller of the alert port (whatever it
//! does with the result) sends both.

use super::{Events, Sns};
use crate::alerts::Alert;
use crate::events::DecisionEvent;
use crate::ports::{AlertPublish, AwsResult, EventPublish};

/// The alert port of the functions: the topic, then the bus.
#[derive(Debug, Clone)]
pub struct Notifier {
    pub sns: Sns,
    pub events: Events,
}

impl Notifier {
    pub fn new(sns: Sns, events: Events) -> Self {
        Self { sns, events }
    }
}

impl AlertPublish for Notifier {
    /// The result is the topic's: the event is best effort (logged when it
    /// fails), so that a caller that alerts once per condition counts on the
    /// publish it has always counted on.
    async fn publish(&self, alert: &Alert) -> AwsResult<()> {
        let event = DecisionEvent::of(alert);
        let (published, sent) =
            futures::join!(self.sns.publish(alert), self.events.put_event(&event));
        if let Err(err) = sent {
            tracing::error!(%err, detail_type = event.detail_type.as_str(), "alert's decision event could not be sent");
        }
        published
    }
}

impl EventPublish for Notifier {
    async fn put_event(&self, event: &DecisionEvent) -> AwsResult<()> {
        self.events.put_event(event).await
    }
}
