//! A rule on the default event bus matching the guard's decision events
//! (`source: ["scaling-guard"]`), with an SQS queue as its target: the
//! documented way to automate on the guard, as the tests and the demo use it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::error::{Error, Result};

/// The source every guard event carries (core/src/events.rs).
pub const SOURCE: &str = "scaling-guard";

/// The rule and its queue.
#[derive(Debug, Clone)]
pub struct DecisionRule {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl DecisionRule {
    /// Creates queue `name` and rule `name` on the default bus, the queue
    /// its one target.
    pub async fn create(config: &aws_config::SdkConfig, name: &str) -> Result<Self> {
        Self::on_bus(config, name, "default").await
    }

    /// Creates queue `name` and rule `name` on the bus `bus` (a name in the
    /// config's account), the queue its one target: a hub's view of the
    /// organisation bus.
    pub async fn on_bus(config: &aws_config::SdkConfig, name: &str, bus: &str) -> Result<Self> {
        let sqs = aws_sdk_sqs::Client::new(config);
        let events = aws_sdk_eventbridge::Client::new(config);
        let queue_url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .map_err(Error::aws("CreateQueue"))?
            .queue_url
            .unwrap_or_default();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(Error::aws("GetQueueAttributes"))?
            .attributes
            .and_then(|mut attributes| {
                attributes.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            })
            .unwrap_or_default();
        events
            .put_rule()
            .name(name)
            .event_bus_name(bus)
            .event_pattern(pattern().to_string())
            .send()
            .await
            .map_err(Error::aws("PutRule"))?;
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("queue")
            .arn(queue_arn)
            .build()
            .map_err(|err| Error::Fixture(err.to_string()))?;
        events
            .put_targets()
            .rule(name)
            .event_bus_name(bus)
            .targets(target)
            .send()
            .await
            .map_err(Error::aws("PutTargets"))?;
        Ok(Self { sqs, queue_url })
    }

    /// The events the queue holds now, each as EventBridge delivered it
    /// (`detail-type`, `source`, `detail`, …), removed from the queue.
    pub async fn drain(&self) -> Result<Vec<Value>> {
        let mut events = Vec::new();
        loop {
            let answer = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .map_err(Error::aws("ReceiveMessage"))?;
            let messages = answer.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(events);
            }
            for message in messages {
                let body = message.body.unwrap_or_default();
                events.push(serde_json::from_str(&body).map_err(Error::json("delivered event"))?);
                if let Some(handle) = message.receipt_handle {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .map_err(Error::aws("DeleteMessage"))?;
                }
            }
        }
    }

    /// Drains the queue until an event of `detail_type` arrived (or `wait`
    /// passed): every event drained, in order.
    pub async fn until(&self, detail_type: &str, wait: Duration) -> Result<Vec<Value>> {
        let started = Instant::now();
        let mut events = Vec::new();
        loop {
            events.extend(self.drain().await?);
            let arrived = events
                .iter()
                .any(|event| event["detail-type"] == detail_type);
            if arrived || started.elapsed() > wait {
                return Ok(events);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The rule's event pattern.
pub fn pattern() -> Value {
    json!({ "source": [SOURCE] })
}
