//! The chat topic an operator names in `GUARD_CHAT_TOPIC_ARN` (issue 24,
//! point 3), and what AWS Chatbot would read from it: a queue subscribed
//! with raw delivery receives the published message itself, as Chatbot does.

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use crate::clients::Clients;
use crate::error::{Error, Result};

/// A chat topic and the raw-delivery queue that stands in for Chatbot.
#[derive(Debug, Clone)]
pub struct ChatTopic {
    pub topic_arn: String,
    pub queue_url: String,
}

impl ChatTopic {
    /// Creates the topic `name` and its subscribed queue.
    pub async fn create(clients: &Clients, name: &str) -> Result<Self> {
        let topic_arn = clients
            .sns
            .create_topic()
            .name(name)
            .send()
            .await
            .map_err(Error::aws("CreateTopic"))?
            .topic_arn()
            .map(str::to_owned)
            .ok_or_else(|| Error::Fixture("CreateTopic returned no TopicArn".into()))?;
        let queue_url = clients
            .sqs
            .create_queue()
            .queue_name(format!("{name}-chatbot"))
            .send()
            .await
            .map_err(Error::aws("CreateQueue"))?
            .queue_url()
            .map(str::to_owned)
            .ok_or_else(|| Error::Fixture("CreateQueue returned no QueueUrl".into()))?;
        let queue_arn = clients
            .sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(Error::aws("GetQueueAttributes"))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| Error::Fixture("no QueueArn".into()))?;
        clients
            .sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .map_err(Error::aws("Subscribe"))?;
        Ok(Self {
            topic_arn,
            queue_url,
        })
    }

    /// Every message published since the last call, parsed (each must be JSON).
    pub async fn received(&self, clients: &Clients) -> Result<Vec<Value>> {
        let mut received = Vec::new();
        loop {
            let output = clients
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .map_err(Error::aws("ReceiveMessage"))?;
            if output.messages().is_empty() {
                return Ok(received);
            }
            for message in output.messages() {
                let body = message.body().unwrap_or_default();
                received.push(serde_json::from_str(body).map_err(Error::json("chat message"))?);
                if let Some(handle) = message.receipt_handle() {
                    clients
                        .sqs
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
}
