//! SNS: alert publishing, to the alert topic and, when one is set, to the
//! chat topic AWS Chatbot reads.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use guard_core::alerts::chatbot::ChatNotification;

use super::aws_error;
use crate::alerts::Alert;
use crate::ports::{AlertPublish, AwsError, AwsResult};

/// The SNS adapter, bound to the policy's alert topic (and chat topic).
#[derive(Debug, Clone)]
pub struct Sns {
    client: Client,
    topic_arn: String,
    /// `GUARD_CHAT_TOPIC_ARN`: each alert is also published here as a
    /// Chatbot custom notification.
    chat_topic_arn: Option<String>,
}

impl Sns {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
            chat_topic_arn: None,
        }
    }

    /// Each alert is also published to the chat `topic`, when there is one.
    pub fn with_chat_topic(mut self, topic: Option<String>) -> Self {
        self.chat_topic_arn = topic.filter(|topic| !topic.trim().is_empty());
        self
    }

    /// The alert topic's publish: a readable subject, the JSON and e-mail
    /// bodies (`MessageStructure: json`), attributes for filter policies.
    async fn publish_alert(&self, alert: &Alert) -> AwsResult<()> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(alert.subject())
            .message_structure("json")
            .message(alert.sns_message());
        for (name, value) in alert.attributes() {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|err| AwsError::new("Publish", None, err.to_string()))?;
            request = request.message_attributes(name, attribute);
        }
        request
            .send()
            .await
            .map_err(|err| aws_error("Publish", err))?;
        Ok(())
    }

    /// The chat topic's publish, best effort: the custom notification as the
    /// raw message (Chatbot reads the message itself, not a per-protocol
    /// body), so a failure is logged and the alert topic's result stands.
    async fn publish_chat(&self, alert: &Alert) {
        let Some(chat_topic) = &self.chat_topic_arn else {
            return;
        };
        let result = self
            .client
            .publish()
            .topic_arn(chat_topic)
            .message(ChatNotification::of(alert).json())
            .send()
            .await;
        if let Err(err) = result {
            let err = aws_error("Publish", err);
            tracing::warn!(%err, %chat_topic, kind = alert.kind.as_str(), "chat notification could not be published");
        }
    }
}

impl AlertPublish for Sns {
    /// The alert topic first, then the chat topic whatever the first did.
    async fn publish(&self, alert: &Alert) -> AwsResult<()> {
        let published = self.publish_alert(alert).await;
        self.publish_chat(alert).await;
        published
    }
}
