//! The three triggers of SPEC §6, read from their EventBridge events: one
//! event a direct invocation, or an SQS batch of them from the stack's
//! instance-event queue (issue 20).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use serde::Deserialize;
use serde_json::Value;
use shared::invocation::{self, Decode};
use shared::lifecycle::Origin;
use shared::sqs::{self, RecordProblem};

pub const STATE_CHANGE: &str = "EC2 Instance State-change Notification";
pub const LAUNCH_SUCCESSFUL: &str = "EC2 Instance Launch Successful";
pub const SCHEDULED: &str = "Scheduled Event";

/// What started an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// An instance entered a state (`pending`, `running`, `terminated`
    /// with Security Hub on, …).
    StateChange { instance_id: String, state: String },
    /// An Auto Scaling group launched an instance: into service, or into
    /// its warm pool (`warm_pool`), from where it enters service later with
    /// another such event.
    LaunchSuccessful {
        instance_id: String,
        group: String,
        warm_pool: bool,
    },
    /// The schedule: audit every cluster instance.
    Sweep,
}

impl Trigger {
    /// `state_change`, `launch_successful`, `sweep`: for summaries and alerts.
    pub fn as_str(&self) -> &'static str {
        match self {
            Trigger::StateChange { .. } => "state_change",
            Trigger::LaunchSuccessful { .. } => "launch_successful",
            Trigger::Sweep => "sweep",
        }
    }
}

/// A trigger and where its event came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub trigger: Trigger,
    pub origin: Origin,
}

/// The event cannot be read, or is not one this function handles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event is not an EventBridge event: {0}")]
    NotEventBridge(String),
    #[error("event is not one instance-audit handles: {0}")]
    Unrecognised(String),
    #[error("`{detail_type}` event is missing a field or has a wrong one: {message}")]
    BadDetail {
        detail_type: &'static str,
        message: String,
    },
    /// A payload with `Records` that is not an SQS batch whose every record
    /// names its message: no message can be returned to the queue alone.
    #[error("event is not an SQS batch: {0}")]
    NotSqsBatch(String),
}

/// What instance-audit is invoked with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// One EventBridge event: a rule that targets the function, the schedule.
    Single(Event),
    /// An SQS batch of the instance-event queue, in order: each message one
    /// EventBridge event, read on its own so that one bad message never
    /// fails its neighbours.
    Batch(Vec<Message>),
}

/// One message of an SQS batch: its id (to return it to the queue) and the
/// event its body is, or why it is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub event: Result<Event, EventError>,
}

/// An invocation's payload: the [`Payload`] it is, or why it is none. Any
/// JSON value deserializes, through [`parse_payload`] ([`invocation::Input`]
/// says why).
pub type Input = invocation::Input<Payload>;

impl Decode for Payload {
    type Error = EventError;

    fn decode(json: Value) -> Result<Self, EventError> {
        parse_payload(json)
    }
}

/// Reads a payload: an SQS batch when it has `Records` (every record from
/// SQS and with a message id), otherwise one EventBridge event ([`parse`]).
/// A batch's bodies are parsed one by one into its [`Message`]s.
pub fn parse_payload(payload: Value) -> Result<Payload, EventError> {
    let Some(records) = payload.get("Records") else {
        return parse(payload).map(Payload::Single);
    };
    sqs::check_records(records, |_, _| None).map_err(|problem| match problem {
        RecordProblem::Source(problem) | RecordProblem::MessageId(problem) => {
            EventError::NotSqsBatch(problem)
        }
    })?;
    let batch: SqsEvent =
        serde_json::from_value(payload).map_err(|e| EventError::NotSqsBatch(e.to_string()))?;
    let messages = batch
        .records
        .into_iter()
        .map(|record| Message {
            id: record.message_id.unwrap_or_default(),
            event: parse_body(record.body.as_deref().unwrap_or_default()),
        })
        .collect();
    Ok(Payload::Batch(messages))
}

/// A message's body: the EventBridge event the rule put on the queue.
fn parse_body(body: &str) -> Result<Event, EventError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| EventError::NotEventBridge(format!("the message body is not json: {e}")))?;
    parse(value)
}

#[derive(Debug, Deserialize)]
struct StateChangeDetail {
    #[serde(rename = "instance-id")]
    instance_id: String,
    state: String,
}

#[derive(Debug, Deserialize)]
struct LaunchSuccessfulDetail {
    #[serde(rename = "EC2InstanceId")]
    instance_id: String,
    #[serde(rename = "AutoScalingGroupName")]
    group: String,
    /// `AutoScalingGroup` or `WarmPool`.
    #[serde(rename = "Destination", default)]
    destination: Option<String>,
}

/// Reads an EventBridge event: its `detail-type` and `source` say which
/// trigger it is (AWS reserves the `aws.*` sources for its own events).
pub fn parse(value: Value) -> Result<Event, EventError> {
    if value.get("detail-type").is_none() {
        return Err(EventError::NotEventBridge(
            "expected `detail-type`, `source` and `detail`".into(),
        ));
    }
    let event: EventBridgeEvent<Value> =
        serde_json::from_value(value).map_err(|e| EventError::NotEventBridge(e.to_string()))?;
    let origin = Origin {
        account: event.account.clone(),
        region: event.region.clone(),
    };
    let trigger = match (event.detail_type.as_str(), event.source.as_str()) {
        (STATE_CHANGE, "aws.ec2") => {
            let detail: StateChangeDetail = detail(STATE_CHANGE, event.detail)?;
            filled(
                STATE_CHANGE,
                &[
                    ("instance-id", &detail.instance_id),
                    ("state", &detail.state),
                ],
            )?;
            Trigger::StateChange {
                instance_id: detail.instance_id,
                state: detail.state,
            }
        }
        (LAUNCH_SUCCESSFUL, "aws.autoscaling") => {
            let detail: LaunchSuccessfulDetail = detail(LAUNCH_SUCCESSFUL, event.detail)?;
            filled(
                LAUNCH_SUCCESSFUL,
                &[
                    ("EC2InstanceId", &detail.instance_id),
                    ("AutoScalingGroupName", &detail.group),
                ],
            )?;
            Trigger::LaunchSuccessful {
                instance_id: detail.instance_id,
                group: detail.group,
                warm_pool: detail.destination.as_deref() == Some("WarmPool"),
            }
        }
        (SCHEDULED, "aws.events") => Trigger::Sweep,
        (detail_type, source) => {
            return Err(EventError::Unrecognised(format!(
                "detail-type `{detail_type}` from source `{source}`"
            )));
        }
    };
    Ok(Event { trigger, origin })
}

fn detail<T: for<'de> Deserialize<'de>>(
    detail_type: &'static str,
    detail: Value,
) -> Result<T, EventError> {
    serde_json::from_value(detail).map_err(|e| EventError::BadDetail {
        detail_type,
        message: e.to_string(),
    })
}

/// Every named field of the detail has a value: a blank instance id or group
/// would be looked up as "nothing there".
fn filled(detail_type: &'static str, fields: &[(&str, &String)]) -> Result<(), EventError> {
    match fields.iter().find(|(_, value)| value.trim().is_empty()) {
        Some((field, _)) => Err(EventError::BadDetail {
            detail_type,
            message: format!("`{field}` is empty"),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use rstest::rstest;

    use super::*;

    const PENDING: &str = include_str!("../../../events/state-change-pending.json");
    const RUNNING: &str = include_str!("../../../events/state-change-running.json");
    const LAUNCHED: &str = include_str!("../../../events/launch-successful.json");
    const TERMINATED: &str = include_str!("../../../events/state-change-terminated.json");
    const SWEEP: &str = include_str!("../../../events/audit-sweep.json");
    const BATCH: &str = include_str!("../../../events/audit-sqs-batch.json");

    fn parsed(text: &str) -> Result<Event, EventError> {
        parse(serde_json::from_str(text).unwrap())
    }

    #[rstest]
    #[case::pending(PENDING, Trigger::StateChange { instance_id: "i-0d1e2f3a4b5c60789".into(), state: "pending".into() })]
    #[case::running(RUNNING, Trigger::StateChange { instance_id: "i-0d1e2f3a4b5c60789".into(), state: "running".into() })]
    #[case::terminated(TERMINATED, Trigger::StateChange { instance_id: "i-0d1e2f3a4b5c60789".into(), state: "terminated".into() })]
    #[case::launch_successful(LAUNCHED, Trigger::LaunchSuccessful { instance_id: "i-0e1f2a3b4c5d60718".into(), group: "prod-legacy".into(), warm_pool: false })]
    #[case::sweep(SWEEP, Trigger::Sweep)]
    fn every_sample_event_is_its_trigger(#[case] text: &str, #[case] trigger: Trigger) {
        let event = parsed(text).unwrap();
        assert_eq!(event.trigger, trigger);
        assert_eq!(event.origin.account.as_deref(), Some("123456789012"));
        assert_eq!(event.origin.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn a_launch_lifecycle_action_is_not_ours() {
        let lifecycle = include_str!("../../../events/launch-lifecycle-action.json");
        assert_eq!(
            parsed(lifecycle).unwrap_err().to_string(),
            "event is not one instance-audit handles: detail-type `EC2 Instance-launch Lifecycle Action` from source `aws.autoscaling`"
        );
    }

    #[test]
    fn a_state_change_from_a_custom_source_is_not_trusted() {
        let mut event: Value = serde_json::from_str(RUNNING).unwrap();
        event["source"] = "my.app".into();
        assert_eq!(
            parse(event).unwrap_err(),
            EventError::Unrecognised(
                "detail-type `EC2 Instance State-change Notification` from source `my.app`".into()
            )
        );
    }

    #[test]
    fn a_state_change_without_an_instance_id_gets_a_clear_error() {
        let mut event: Value = serde_json::from_str(RUNNING).unwrap();
        event["detail"] = serde_json::json!({ "state": "running" });
        assert_eq!(
            parse(event).unwrap_err().to_string(),
            "`EC2 Instance State-change Notification` event is missing a field or has a wrong one: missing field `instance-id`"
        );
    }

    #[test]
    fn a_state_change_with_a_blank_instance_id_gets_a_clear_error() {
        let mut event: Value = serde_json::from_str(PENDING).unwrap();
        event["detail"]["instance-id"] = " ".into();
        assert_eq!(
            parse(event).unwrap_err().to_string(),
            "`EC2 Instance State-change Notification` event is missing a field or has a wrong one: `instance-id` is empty"
        );
    }

    #[test]
    fn a_launch_with_an_empty_group_gets_a_clear_error() {
        let mut event: Value = serde_json::from_str(LAUNCHED).unwrap();
        event["detail"]["AutoScalingGroupName"] = "".into();
        assert_eq!(
            parse(event).unwrap_err().to_string(),
            "`EC2 Instance Launch Successful` event is missing a field or has a wrong one: `AutoScalingGroupName` is empty"
        );
    }

    #[test]
    fn an_input_is_the_event_it_decodes_to() {
        let input: Input = serde_json::from_str(LAUNCHED).unwrap();
        assert_eq!(input.into_payload(), parsed(LAUNCHED).map(Payload::Single));
    }

    #[test]
    fn an_input_that_is_no_trigger_still_deserializes_and_carries_the_refusal() {
        let input: Input = serde_json::from_str("[1, 2]").unwrap();
        assert_eq!(
            input.into_payload().unwrap_err().to_string(),
            "event is not an EventBridge event: expected `detail-type`, `source` and `detail`"
        );
    }

    #[test]
    fn the_sample_batch_is_its_messages_in_order_each_an_event() {
        let input: Input = serde_json::from_str(BATCH).unwrap();
        let Ok(Payload::Batch(messages)) = input.into_payload() else {
            panic!("not a batch");
        };
        let ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "5d8e2b1c-3f4a-4b6c-9d0e-1f2a3b4c5d60",
                "5d8e2b1c-3f4a-4b6c-9d0e-1f2a3b4c5d61",
                "5d8e2b1c-3f4a-4b6c-9d0e-1f2a3b4c5d62"
            ]
        );
        let events: Vec<Event> = messages.into_iter().map(|m| m.event.unwrap()).collect();
        assert_eq!(
            events,
            [parsed(PENDING), parsed(RUNNING), parsed(LAUNCHED)]
                .into_iter()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_body_that_is_not_json_is_that_messages_refusal_alone() {
        let mut batch: Value = serde_json::from_str(BATCH).unwrap();
        batch["Records"][1]["body"] = "{not json".into();
        let Ok(Payload::Batch(messages)) = parse_payload(batch) else {
            panic!("not a batch");
        };
        assert!(messages[0].event.is_ok());
        assert_eq!(
            messages[1].event.as_ref().unwrap_err().to_string(),
            "event is not an EventBridge event: the message body is not json: key must be a string at line 1 column 2"
        );
        assert!(messages[2].event.is_ok());
    }

    #[test]
    fn an_sns_envelope_is_no_sqs_batch() {
        let sns = include_str!("../../../events/budget-alarm-sns.json");
        assert_eq!(
            parsed_payload(sns).unwrap_err().to_string(),
            "event is not an SQS batch: Records[0] without eventSource `aws:sqs`"
        );
    }

    fn parsed_payload(text: &str) -> Result<Payload, EventError> {
        parse_payload(serde_json::from_str(text).unwrap())
    }

    #[test]
    fn something_that_is_not_an_eventbridge_event_is_refused() {
        assert_eq!(
            parse(serde_json::json!({ "hello": "world" }))
                .unwrap_err()
                .to_string(),
            "event is not an EventBridge event: expected `detail-type`, `source` and `detail`"
        );
    }
}
