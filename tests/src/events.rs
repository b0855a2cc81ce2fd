//! Events as AWS delivers them, built from the samples in `events/` (the
//! files users invoke with `cargo lambda invoke` and `sam local invoke`), so
//! the end-to-end tests prove those shapes.

use serde_json::{Map, Value, json};

use crate::clients::REGION;
use crate::emulator::{ACCOUNT, PendingAction};
use crate::error::{Error, Result};

const LAUNCH: &str = include_str!("../../events/launch-lifecycle-action.json");
const TEST_NOTIFICATION: &str = include_str!("../../events/test-notification.json");
const SQS_BATCH: &str = include_str!("../../events/launch-sqs-batch.json");
const BUDGET_SCHEDULE: &str = include_str!("../../events/budget-schedule.json");
const BUDGET_ALARM: &str = include_str!("../../events/budget-alarm-alarm.json");
const BUDGET_OK: &str = include_str!("../../events/budget-alarm-ok.json");
const BUDGET_ALARM_SNS: &str = include_str!("../../events/budget-alarm-sns.json");
const STATE_CHANGE_PENDING: &str = include_str!("../../events/state-change-pending.json");
const STATE_CHANGE_RUNNING: &str = include_str!("../../events/state-change-running.json");
const LAUNCH_SUCCESSFUL: &str = include_str!("../../events/launch-successful.json");
const AUDIT_SWEEP: &str = include_str!("../../events/audit-sweep.json");

fn sample(text: &str, name: &'static str) -> Result<Value> {
    serde_json::from_str(text).map_err(Error::json(name))
}

fn object<'a>(value: &'a mut Value, what: &str) -> Result<&'a mut Map<String, Value>> {
    value
        .as_object_mut()
        .ok_or_else(|| Error::Fixture(format!("{what} is not a json object")))
}

fn group_arn(action: &PendingAction) -> String {
    format!(
        "arn:aws:autoscaling:{}:{}:autoScalingGroup:00000000-0000-4000-8000-000000000000:autoScalingGroupName/{}",
        action.region, action.account, action.group
    )
}

/// The EventBridge `EC2 Instance-launch Lifecycle Action` event AWS sends for
/// `action` (`events/launch-lifecycle-action.json`, filled in).
pub fn lifecycle_event(action: &PendingAction) -> Result<Value> {
    let mut event = sample(LAUNCH, "events/launch-lifecycle-action.json")?;
    let top = object(&mut event, "the sample event")?;
    top.insert("id".into(), json!(action.token));
    top.insert("account".into(), json!(action.account));
    top.insert("region".into(), json!(action.region));
    top.insert("time".into(), json!(action.time));
    top.insert("resources".into(), json!([group_arn(action)]));
    let detail = top
        .get_mut("detail")
        .ok_or_else(|| Error::Fixture("the sample event has no detail".into()))?;
    *detail = Value::Object(hook_fields(action));
    Ok(event)
}

/// The detail / hook message fields of an action.
fn hook_fields(action: &PendingAction) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("LifecycleActionToken".into(), json!(action.token));
    fields.insert("AutoScalingGroupName".into(), json!(action.group));
    fields.insert("LifecycleHookName".into(), json!(action.hook));
    fields.insert("EC2InstanceId".into(), json!(action.instance_id));
    fields.insert("LifecycleTransition".into(), json!(action.transition));
    if let Some(metadata) = &action.notification_metadata {
        fields.insert("NotificationMetadata".into(), json!(metadata));
    }
    fields.insert("Origin".into(), json!(action.origin));
    fields.insert("Destination".into(), json!(action.destination));
    fields
}

/// The message a hook with an SQS notification target sends (the flat
/// format of the first record of `events/launch-sqs-batch.json`).
pub fn hook_message(action: &PendingAction) -> String {
    let mut fields = hook_fields(action);
    fields.insert("AccountId".into(), json!(action.account));
    fields.insert("RequestId".into(), json!(format!("req-{}", action.token)));
    fields.insert("Service".into(), json!("AWS Auto Scaling"));
    fields.insert("Time".into(), json!(action.time));
    Value::Object(fields).to_string()
}

/// `events/test-notification.json`: what Auto Scaling sends when a hook's
/// notification target is set.
pub fn test_notification() -> Result<Value> {
    sample(TEST_NOTIFICATION, "events/test-notification.json")
}

/// An SQS event whose records carry `bodies` (shaped like
/// `events/launch-sqs-batch.json`); message ids are `msg-0`, `msg-1`, ...
pub fn sqs_batch(bodies: &[String]) -> Result<Value> {
    let mut batch = sample(SQS_BATCH, "events/launch-sqs-batch.json")?;
    let template = batch
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .cloned()
        .ok_or_else(|| Error::Fixture("the sample sqs batch has no record".into()))?;
    let mut records = Vec::new();
    for (n, body) in bodies.iter().enumerate() {
        let mut record = template.clone();
        let fields = object(&mut record, "a sample sqs record")?;
        fields.insert("messageId".into(), json!(message_id(n)));
        fields.insert("receiptHandle".into(), json!(format!("AQEB{n}==")));
        fields.insert("body".into(), json!(body));
        records.push(record);
    }
    object(&mut batch, "the sample sqs batch")?.insert("Records".into(), Value::Array(records));
    Ok(batch)
}

/// The message id `sqs_batch` gives the record at `index`.
pub fn message_id(index: usize) -> String {
    format!("msg-{index}")
}

/// `events/budget-schedule.json`: the every-minute EventBridge schedule.
pub fn budget_schedule() -> Result<Value> {
    sample(BUDGET_SCHEDULE, "events/budget-schedule.json")
}

/// `events/budget-alarm-alarm.json`: the Lambda action of a CloudWatch alarm
/// entering `ALARM` (its account and region are the emulator's).
pub fn budget_alarm() -> Result<Value> {
    sample(BUDGET_ALARM, "events/budget-alarm-alarm.json")
}

/// `events/budget-alarm-ok.json`: the same alarm returning to `OK`.
pub fn budget_alarm_ok() -> Result<Value> {
    sample(BUDGET_OK, "events/budget-alarm-ok.json")
}

/// `events/budget-alarm-sns.json`: an alarm delivered through SNS.
pub fn budget_alarm_sns() -> Result<Value> {
    sample(BUDGET_ALARM_SNS, "events/budget-alarm-sns.json")
}

/// A Lambda-action alarm event (`budget_alarm`, `budget_alarm_ok`) of the
/// alarm `name` instead, in the emulator's account and region: its
/// `alarmArn` and `alarmData.alarmName`.
pub fn renamed_alarm(mut event: Value, name: &str) -> Result<Value> {
    let fields = object(&mut event, "the alarm event")?;
    fields.insert(
        "alarmArn".into(),
        json!(format!(
            "arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
        )),
    );
    let data = fields
        .get_mut("alarmData")
        .ok_or_else(|| Error::Fixture("the alarm event has no alarmData".into()))?;
    object(data, "the alarm event's alarmData")?.insert("alarmName".into(), json!(name));
    Ok(event)
}

/// `events/budget-alarm-sns.json` carrying the alarm `name` instead (in the
/// emulator's account and region), without a group dimension.
pub fn sns_alarm(name: &str) -> Result<Value> {
    let mut event = budget_alarm_sns()?;
    let text = event
        .pointer("/Records/0/Sns/Message")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Fixture("the sns sample has no message".into()))?;
    let mut message: Value = serde_json::from_str(text).map_err(Error::json("the sns message"))?;
    let fields = object(&mut message, "the sns message")?;
    fields.insert("AlarmName".into(), json!(name));
    fields.insert(
        "AlarmArn".into(),
        json!(format!(
            "arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
        )),
    );
    if let Some(trigger) = fields.get_mut("Trigger") {
        object(trigger, "the sns message's Trigger")?.insert("Dimensions".into(), json!([]));
    }
    let sns = event
        .pointer_mut("/Records/0/Sns")
        .ok_or_else(|| Error::Fixture("the sns sample has no record".into()))?;
    object(sns, "the sns record")?.insert("Message".into(), json!(message.to_string()));
    Ok(event)
}

/// The alarm name of a Lambda-action alarm event (`alarmData.alarmName`).
pub fn alarm_name(event: &Value) -> Result<String> {
    event
        .pointer("/alarmData/alarmName")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::Fixture("the alarm event has no alarmData.alarmName".into()))
}

fn instance_arn(instance_id: &str) -> String {
    format!("arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance_id}")
}

/// The EventBridge `EC2 Instance State-change Notification` for
/// `instance_id` entering `state` (`events/state-change-running.json` for
/// `running`, else `events/state-change-pending.json`, filled in).
pub fn state_change(instance_id: &str, state: &str) -> Result<Value> {
    let (text, name) = if state == "running" {
        (STATE_CHANGE_RUNNING, "events/state-change-running.json")
    } else {
        (STATE_CHANGE_PENDING, "events/state-change-pending.json")
    };
    let mut event = sample(text, name)?;
    let top = object(&mut event, "the sample event")?;
    top.insert("resources".into(), json!([instance_arn(instance_id)]));
    top.insert(
        "detail".into(),
        json!({ "instance-id": instance_id, "state": state }),
    );
    Ok(event)
}

/// The EventBridge `EC2 Instance Launch Successful` event of `group`
/// launching `instance_id` into service (`events/launch-successful.json`,
/// filled in).
pub fn launch_successful(instance_id: &str, group: &str) -> Result<Value> {
    let mut event = sample(LAUNCH_SUCCESSFUL, "events/launch-successful.json")?;
    let top = object(&mut event, "the sample event")?;
    top.insert(
        "resources".into(),
        json!([
            format!(
                "arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:00000000-0000-4000-8000-000000000000:autoScalingGroupName/{group}"
            ),
            instance_arn(instance_id),
        ]),
    );
    let detail = top
        .get_mut("detail")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| Error::Fixture("the sample event has no detail".into()))?;
    detail.insert("AutoScalingGroupName".into(), json!(group));
    detail.insert("EC2InstanceId".into(), json!(instance_id));
    detail.insert(
        "Description".into(),
        json!(format!("Launching a new EC2 instance: {instance_id}")),
    );
    Ok(event)
}

/// `events/audit-sweep.json`: instance-audit's scheduled sweep.
pub fn audit_sweep() -> Result<Value> {
    sample(AUDIT_SWEEP, "events/audit-sweep.json")
}
