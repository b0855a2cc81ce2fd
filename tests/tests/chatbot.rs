//! Chat messages end to end (issue 24, point 3): with `GUARD_CHAT_TOPIC_ARN`
//! set, the real launch-guard binary publishes each alert to the chat topic
//! too, as an AWS Chatbot custom notification that the vendored schema
//! (`schemas/chatbot/custom-notification.json`) accepts; and the SNS adapter
//! publishes to both topics, the alert topic's publish standing when the chat
//! topic's fails.
//!
//! Build the binary first: `cargo build -p launch-guard`.

use scaling_guard_e2e::chat::ChatTopic;
use scaling_guard_e2e::{ACCOUNT, REGION};
use serde_json::Value;
use shared::alerts::{Alert, AlertKind, Severity};
use shared::aws::Sns;
use shared::policy::Policy;
use shared::ports::AlertPublish;

mod support;

use support::Bed;

const SCHEMA: &str = include_str!("../../schemas/chatbot/custom-notification.json");

/// What the schema finds wrong with `message` (nothing: Chatbot can read it).
fn schema_errors(message: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator
        .iter_errors(message)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

#[tokio::test]
async fn a_denied_launch_puts_a_custom_notification_on_the_chat_topic() {
    // Given: a chat topic that a raw-delivery queue reads, as Chatbot would,
    // and launch-guard told to publish there too.
    let bed = Bed::new().await;
    let chat = ChatTopic::create(&bed.clients, "team-chat").await.unwrap();
    let policy = bed.policy_with(&[("GUARD_CHAT_TOPIC_ARN", &chat.topic_arn)]);
    let guard = bed.launch_guard(&policy).await;
    let group = bed.cluster.groups[0].clone();
    let action = bed
        .cluster
        .launch_with(&group, &bed.cluster.templates.denied_type)
        .await
        .unwrap();

    // When: the guard denies the launch.
    let summary = support::decide(&guard, &action).await;
    assert_eq!(summary["decision"], "ABANDON", "{summary}");

    // Then: the alert topic has its alert, and the chat topic one custom
    // notification of it that the schema accepts.
    let alerts = bed.archived().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let messages = chat.received(&bed.clients).await.unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(schema_errors(message), Vec::<String>::new(), "{message}");
    assert_eq!(
        message["content"]["keywords"],
        serde_json::json!(["prod", "warning", "launch_denied"])
    );
    assert_eq!(
        message["metadata"]["threadId"],
        format!("scaling-guard/prod/group/{group}")
    );
    assert_eq!(
        message["metadata"]["additionalContext"]["instance_id"],
        action.instance_id
    );
    let description = message["content"]["description"].as_str().unwrap();
    assert!(
        description.contains("`instance_type.allowed` (blocking)"),
        "{description}"
    );
    assert_eq!(
        message["metadata"]["summary"],
        alerts[0].subject.clone().unwrap()
    );
}

fn alert(bed: &Bed) -> Alert {
    let policy = Policy::from_vars(bed.cluster.policy_env()).unwrap();
    let mut alert = Alert::new(
        AlertKind::ScaleOutSuspended,
        Severity::Critical,
        &policy,
        std::time::SystemTime::now(),
        "scale-out suspended on 1 group(s): budget reached",
    );
    alert.decision = "suspend".into();
    alert
}

#[tokio::test]
async fn the_sns_adapter_publishes_each_alert_to_both_topics() {
    let bed = Bed::new().await;
    let chat = ChatTopic::create(&bed.clients, "team-chat").await.unwrap();
    let client = aws_sdk_sns::Client::new(&bed.sdk_config().await);
    let sns =
        Sns::new(client, &bed.cluster.topic_arn).with_chat_topic(Some(chat.topic_arn.clone()));

    sns.publish(&alert(&bed)).await.unwrap();

    let alerts = bed.archived().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].attribute("kind"), Some("scale_out_suspended"));
    let messages = chat.received(&bed.clients).await.unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(schema_errors(&messages[0]), Vec::<String>::new());
    assert_eq!(
        messages[0]["metadata"]["threadId"],
        "scaling-guard/prod/scale-out"
    );
}

#[tokio::test]
async fn a_chat_topic_that_fails_does_not_stop_the_alert() {
    let bed = Bed::new().await;
    let missing = format!("arn:aws:sns:{REGION}:{ACCOUNT}:no-such-chat-topic");
    let client = aws_sdk_sns::Client::new(&bed.sdk_config().await);
    let sns = Sns::new(client, &bed.cluster.topic_arn).with_chat_topic(Some(missing));

    let published = sns.publish(&alert(&bed)).await;

    assert!(published.is_ok(), "{published:?}");
    assert_eq!(
        bed.archived().await.len(),
        1,
        "the alert topic has its alert"
    );
}

#[tokio::test]
async fn without_a_chat_topic_only_the_alert_topic_is_published_to() {
    let bed = Bed::new().await;
    let chat = ChatTopic::create(&bed.clients, "team-chat").await.unwrap();
    let guard = bed.launch_guard(&bed.cluster.policy_env()).await;
    let group = bed.cluster.groups[0].clone();
    let action = bed
        .cluster
        .launch_with(&group, &bed.cluster.templates.denied_type)
        .await
        .unwrap();

    let summary = support::decide(&guard, &action).await;

    assert_eq!(summary["decision"], "ABANDON", "{summary}");
    assert_eq!(bed.archived().await.len(), 1);
    assert_eq!(
        chat.received(&bed.clients).await.unwrap(),
        Vec::<Value>::new()
    );
}
