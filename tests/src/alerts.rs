//! Alerts as a subscriber receives them: SQS messages carrying the SNS
//! envelope (delivery is not raw).

use std::collections::BTreeMap;

use aws_sdk_sqs::Client;
use serde_json::Value;

use crate::error::{Error, Result};

/// One alert as received from a queue subscribed to the alert topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The envelope's `Subject`.
    pub subject: Option<String>,
    /// The envelope's `Message`, parsed: the `default` body of the publish
    /// (the versioned JSON document; SQS subscribers get `default`).
    pub message: Value,
    /// The envelope's `MessageAttributes`, name → `Value`.
    pub attributes: BTreeMap<String, String>,
    /// The whole envelope.
    pub envelope: Value,
}

impl Received {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    /// A field of the JSON body (`kind`, `severity`, `instance_id`, ...).
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.message.get(name)
    }
}

/// Receives (and deletes) every message now in the queue.
pub async fn drain(sqs: &Client, queue_url: &str) -> Result<Vec<Received>> {
    let mut received = Vec::new();
    loop {
        let output = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(Error::aws("ReceiveMessage"))?;
        let messages = output.messages();
        if messages.is_empty() {
            return Ok(received);
        }
        for message in messages {
            received.push(parse(message.body().unwrap_or_default())?);
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(Error::aws("DeleteMessage"))?;
            }
        }
    }
}

/// Parses an SNS envelope delivered to SQS.
pub fn parse(body: &str) -> Result<Received> {
    let envelope: Value = serde_json::from_str(body).map_err(Error::json("sns envelope"))?;
    let text = |key: &str| envelope.get(key).and_then(Value::as_str);
    let message = text("Message")
        .ok_or_else(|| Error::Fixture(format!("no `Message` in the sns envelope {envelope}")))?;
    let message: Value = serde_json::from_str(message).map_err(Error::json("alert body"))?;
    let attributes = envelope
        .get("MessageAttributes")
        .and_then(Value::as_object)
        .map(|attributes| {
            attributes
                .iter()
                .filter_map(|(name, attribute)| {
                    let value = attribute.get("Value")?.as_str()?;
                    Some((name.clone(), value.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Received {
        subject: text("Subject").map(str::to_owned),
        message,
        attributes,
        envelope,
    })
}
