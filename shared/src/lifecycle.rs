//! Lifecycle action notifications: the EventBridge event and the hook's own
//! SQS message format, parsed into one [`LifecycleAction`]; and the payload
//! launch-guard is invoked with, an SQS batch of them or one ([`parse_payload`]).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use serde::Deserialize;
use serde_json::Value;

use crate::invocation::Decode;
use crate::sqs::{self, RecordProblem};

pub use guard_core::lifecycle::*;

/// What launch-guard is invoked with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// An SQS batch: every record comes from SQS (`eventSource` `aws:sqs`)
    /// and has a `messageId`; their bodies are parsed one by one
    /// ([`parse_text`]), so that one bad message never fails its neighbours.
    Batch(SqsEvent),
    /// One EventBridge event or hook message.
    Single(Notification),
}

/// The `eventSource` of every record of an SQS batch.
pub use crate::sqs::SQS_EVENT_SOURCE;
/// The `EventSource` of every record of an SNS envelope.
pub const SNS_EVENT_SOURCE: &str = "aws:sns";

/// The flat test notification that Auto Scaling sends to a hook's target.
#[derive(Debug, Deserialize)]
struct TestMessage {
    #[serde(rename = "Event")]
    event: String,
    #[serde(rename = "AutoScalingGroupName", default)]
    group: Option<String>,
}

/// The hook's own notification format: the action's fields, flat, plus these.
#[derive(Debug, Deserialize)]
struct HookMessage {
    #[serde(flatten)]
    action: LifecycleAction,
    #[serde(rename = "AccountId", default)]
    account: Option<String>,
}

/// Parses an EventBridge event (`detail-type` `EC2 Instance-launch Lifecycle
/// Action`, or the test notification's detail) or a hook's native message.
pub fn parse(value: Value) -> Result<Notification, EventError> {
    if value.get("detail-type").is_some() {
        return parse_eventbridge(value);
    }
    if value.get("Event").and_then(Value::as_str) == Some(TEST_NOTIFICATION) {
        let test: TestMessage =
            serde_json::from_value(value).map_err(|e| EventError::BadDetail(e.to_string()))?;
        debug_assert_eq!(test.event, TEST_NOTIFICATION);
        return Ok(Notification::Test { group: test.group });
    }
    if value.get("LifecycleActionToken").is_some() {
        let message: HookMessage =
            serde_json::from_value(value).map_err(|e| EventError::BadDetail(e.to_string()))?;
        return Ok(Notification::Action {
            action: Box::new(message.action.validated()?),
            origin: Origin {
                account: message.account,
                region: None,
            },
        });
    }
    Err(EventError::Unrecognised(
        "expected an EventBridge event or an Auto Scaling lifecycle hook message".into(),
    ))
}

/// Parses what launch-guard is invoked with: an SQS batch (a `Records` list
/// whose every record has `eventSource` `aws:sqs` and a `messageId`), or one
/// notification ([`parse`]). Any other `Records` list, an SNS envelope in
/// particular, is refused as a whole: answering it as an SQS batch would
/// report its failures with no message id.
pub fn parse_payload(payload: Value) -> Result<Payload, EventError> {
    let Some(records) = payload.get("Records") else {
        return parse(payload).map(Payload::Single);
    };
    sqs::check_records(records, sns_envelope).map_err(|problem| match problem {
        RecordProblem::Source(problem) => EventError::Unrecognised(problem),
        RecordProblem::MessageId(problem) => EventError::BadDetail(format!("sqs batch: {problem}")),
    })?;
    serde_json::from_value(payload)
        .map(Payload::Batch)
        .map_err(|e| EventError::BadDetail(format!("sqs batch: {e}")))
}

/// launch-guard's invocation ([`crate::invocation::Input`]) reads with [`parse_payload`].
impl Decode for Payload {
    type Error = EventError;

    fn decode(json: Value) -> Result<Self, EventError> {
        parse_payload(json)
    }
}

/// An SNS envelope is no SQS batch: the hook's queue, not a topic, must be
/// subscribed.
fn sns_envelope(index: usize, record: &Value) -> Option<RecordProblem> {
    let is_sns = record.get("EventSource").and_then(Value::as_str) == Some(SNS_EVENT_SOURCE)
        || record.get("Sns").is_some();
    is_sns.then(|| {
        RecordProblem::Source(format!(
            "an SNS envelope (Records[{index}].EventSource `{SNS_EVENT_SOURCE}`); subscribe the hook's queue, not a topic"
        ))
    })
}

/// Parses the text of an SQS message body.
pub fn parse_text(body: &str) -> Result<Notification, EventError> {
    let value = serde_json::from_str(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    parse(value)
}

fn parse_eventbridge(value: Value) -> Result<Notification, EventError> {
    let event: EventBridgeEvent<Value> =
        serde_json::from_value(value).map_err(|e| EventError::BadDetail(e.to_string()))?;
    if event.detail.get("Event").and_then(Value::as_str) == Some(TEST_NOTIFICATION) {
        let group = event
            .detail
            .get("AutoScalingGroupName")
            .and_then(Value::as_str)
            .map(str::to_owned);
        return Ok(Notification::Test { group });
    }
    if event.detail_type != LAUNCH_DETAIL_TYPE {
        return Err(EventError::Unrecognised(format!(
            "detail-type `{}`",
            event.detail_type
        )));
    }
    let action: LifecycleAction =
        serde_json::from_value(event.detail).map_err(|e| EventError::BadDetail(e.to_string()))?;
    Ok(Notification::Action {
        action: Box::new(action.validated()?),
        origin: Origin {
            account: event.account,
            region: event.region,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAUNCH: &str = include_str!("../../events/launch-lifecycle-action.json");
    const WARM_POOL: &str = include_str!("../../events/launch-from-warm-pool.json");
    const TEST: &str = include_str!("../../events/test-notification.json");
    const SQS: &str = include_str!("../../events/launch-sqs-batch.json");

    #[test]
    fn the_sample_eventbridge_launch_parses_into_an_action() {
        let Notification::Action { action, origin } = parse_text(LAUNCH).unwrap() else {
            panic!("not an action");
        };
        assert_eq!(action.transition, LAUNCHING);
        assert_eq!(action.hook, "scaling-guard-prod");
        assert_eq!(action.instance_id, "i-0a1b2c3d4e5f60718");
        assert_eq!(action.origin.as_deref(), Some("EC2"));
        assert_eq!(origin.account.as_deref(), Some("123456789012"));
        assert_eq!(origin.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn the_warm_pool_variant_keeps_origin_and_destination() {
        let Notification::Action { action, .. } = parse_text(WARM_POOL).unwrap() else {
            panic!("not an action");
        };
        assert_eq!(action.origin.as_deref(), Some("WarmPool"));
        assert_eq!(action.destination.as_deref(), Some("AutoScalingGroup"));
    }

    #[test]
    fn the_sample_test_notification_is_recognised() {
        assert!(matches!(
            parse_text(TEST).unwrap(),
            Notification::Test { .. }
        ));
    }

    #[test]
    fn every_sqs_sample_body_parses() {
        let batch: aws_lambda_events::sqs::SqsEvent = serde_json::from_str(SQS).unwrap();
        let parsed: Vec<_> = batch
            .records
            .iter()
            .map(|r| parse_text(r.body.as_deref().unwrap_or_default()))
            .collect();
        assert!(
            matches!(parsed[0], Ok(Notification::Action { .. })),
            "hook format: {:?}",
            parsed[0]
        );
        assert!(
            matches!(parsed[1], Ok(Notification::Action { .. })),
            "eventbridge: {:?}",
            parsed[1]
        );
        assert!(
            matches!(parsed[2], Ok(Notification::Test { .. })),
            "test: {:?}",
            parsed[2]
        );
    }

    #[test]
    fn an_action_with_an_empty_instance_id_is_refused() {
        let mut event: Value = serde_json::from_str(LAUNCH).unwrap();
        event["detail"]["EC2InstanceId"] = "".into();
        assert_eq!(
            parse(event).unwrap_err().to_string(),
            "lifecycle notification is missing a field or has a wrong one: `EC2InstanceId` is empty"
        );
    }

    #[test]
    fn a_hook_message_with_a_blank_token_and_group_is_refused() {
        let batch: SqsEvent = serde_json::from_str(SQS).unwrap();
        let mut message: Value =
            serde_json::from_str(batch.records[0].body.as_deref().unwrap()).unwrap();
        message["LifecycleActionToken"] = "".into();
        message["AutoScalingGroupName"] = " ".into();
        assert_eq!(
            parse(message).unwrap_err(),
            EventError::BadDetail(
                "`LifecycleActionToken`, `AutoScalingGroupName` are empty".into()
            )
        );
    }

    #[test]
    fn an_sqs_batch_is_a_batch() {
        let Payload::Batch(batch) = parse_payload(serde_json::from_str(SQS).unwrap()).unwrap()
        else {
            panic!("not a batch");
        };
        assert_eq!(batch.records.len(), 3);
    }

    #[test]
    fn a_bare_event_is_a_single_notification() {
        assert_eq!(
            parse_payload(serde_json::from_str(LAUNCH).unwrap()).unwrap(),
            Payload::Single(parse_text(LAUNCH).unwrap())
        );
    }

    #[test]
    fn an_sns_envelope_is_refused_with_advice() {
        let envelope = serde_json::json!({"Records": [{
            "EventSource": "aws:sns",
            "Sns": {"Type": "Notification", "Message": LAUNCH},
        }]});
        assert_eq!(
            parse_payload(envelope).unwrap_err().to_string(),
            "event is not a lifecycle notification: an SNS envelope (Records[0].EventSource `aws:sns`); subscribe the hook's queue, not a topic"
        );
    }

    #[test]
    fn records_that_do_not_come_from_sqs_are_refused() {
        let mut batch: Value = serde_json::from_str(SQS).unwrap();
        batch["Records"][1]
            .as_object_mut()
            .unwrap()
            .remove("eventSource");
        assert_eq!(
            parse_payload(batch.clone()).unwrap_err().to_string(),
            "event is not a lifecycle notification: Records[1] without eventSource `aws:sqs`"
        );
        batch["Records"][1]["eventSource"] = "aws:s3".into();
        assert_eq!(
            parse_payload(batch).unwrap_err().to_string(),
            "event is not a lifecycle notification: Records[1] has eventSource `aws:s3`, not `aws:sqs`"
        );
        assert_eq!(
            parse_payload(serde_json::json!({"Records": []}))
                .unwrap_err()
                .to_string(),
            "event is not a lifecycle notification: `Records` is empty"
        );
    }

    #[test]
    fn a_batch_record_without_a_message_id_is_refused() {
        // Its failure could not be reported: an empty `itemIdentifier` fails the whole batch.
        let mut batch: Value = serde_json::from_str(SQS).unwrap();
        batch["Records"][2]["messageId"] = "".into();
        assert_eq!(
            parse_payload(batch).unwrap_err(),
            EventError::BadDetail("sqs batch: Records[2] has no messageId".into())
        );
    }

    #[test]
    fn malformed_input_gets_a_clear_error() {
        assert!(matches!(
            parse_text("{not json"),
            Err(EventError::NotJson(_))
        ));
        assert_eq!(
            parse_text(r#"{"hello":"world"}"#).unwrap_err().to_string(),
            "event is not a lifecycle notification: expected an EventBridge event or an Auto Scaling lifecycle hook message"
        );
        let missing_token = r#"{"detail-type":"EC2 Instance-launch Lifecycle Action","source":"aws.autoscaling","detail":{"AutoScalingGroupName":"g"}}"#;
        assert!(matches!(
            parse_text(missing_token),
            Err(EventError::BadDetail(_))
        ));
        let other = r#"{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}"#;
        assert_eq!(
            parse_text(other).unwrap_err().to_string(),
            "event is not a lifecycle notification: detail-type `EC2 Instance State-change Notification`"
        );
    }
}
