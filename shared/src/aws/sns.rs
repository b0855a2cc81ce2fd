//! SNS: alert publishing.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use super::aws_error;
use crate::alerts::Alert;
use crate::ports::{AlertPublish, AwsError, AwsResult};

/// The SNS adapter, bound to the policy's alert topic.
#[derive(Debug, Clone)]
pub struct Sns {
    client: Client,
    topic_arn: String,
}

impl Sns {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

impl AlertPublish for Sns {
    async fn publish(&self, alert: &Alert) -> AwsResult<()> {
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
}
