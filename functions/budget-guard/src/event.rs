//! What wakes the budget guard: the schedule, a CloudWatch alarm's Lambda
//! action, or an alarm delivered through SNS. Every payload is decoded here,
//! once, into an [`Input`].

use aws_lambda_events::cloudwatch_alarms::{CloudWatchAlarm, CloudWatchAlarmStateValue};
use serde::Deserialize;
use serde_json::Value;
use shared::aws::NAMESPACE;
use shared::checks::CheckName;

/// The state an alarm entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmState {
    Alarm,
    Ok,
    InsufficientData,
}

/// The account and region of a resource, from its ARN
/// (`arn:aws:cloudwatch:eu-west-1:123456789012:alarm:…`): where an alarm
/// lives, or where this function runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRegion {
    pub account: String,
    pub region: String,
}

impl AccountRegion {
    /// The account and region of `arn`; none when it is not an ARN that
    /// names both.
    pub fn of_arn(arn: &str) -> Option<Self> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", _partition, _service, region, account, _resource] => Self::of(account, region),
            _ => None,
        }
    }

    /// Both, when neither is blank.
    fn of(account: &str, region: &str) -> Option<Self> {
        if account.trim().is_empty() || region.trim().is_empty() {
            return None;
        }
        Some(Self {
            account: account.to_owned(),
            region: region.to_owned(),
        })
    }
}

/// One reason to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The every-minute schedule.
    Schedule,
    /// An alarm changed state; `group` is its `AutoScalingGroupName` dimension.
    Alarm {
        name: String,
        state: AlarmState,
        group: Option<String>,
        /// The budget checks the alarm watches, when it watches only the
        /// guard's own budget metrics; empty for any other (surge) alarm.
        checks: Vec<CheckName>,
        /// Where the alarm lives, from its ARN; none when the event does not
        /// say (such an alarm is never believed).
        source: Option<AccountRegion>,
    },
}

/// The event is not one the budget guard knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event is not a schedule or an alarm: {0}")]
    Unrecognised(String),
    #[error("alarm event is malformed: {0}")]
    BadAlarm(String),
}

/// An invocation's payload, by the envelope it came in.
///
/// It deserializes from any JSON value, so that a payload that is none of
/// these reaches the handler and is refused with the function's own error
/// (`MalformedEvent` and the messages of [`EventError`]), not with the
/// runtime's deserialization error.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "Value")]
pub enum Input {
    /// EventBridge's `Scheduled Event`.
    Schedule,
    /// A CloudWatch alarm's Lambda action: the state change of one alarm
    /// (always a [`Trigger::Alarm`]).
    AlarmAction(Trigger),
    /// CloudWatch alarm notifications delivered through SNS: one
    /// [`Trigger::Alarm`] per record, at least one.
    SnsAlarms(Vec<Trigger>),
    /// Not an event the budget guard handles, or an alarm it cannot read.
    Refused(EventError),
}

impl Input {
    /// The runs the payload asks for, in order, or why it is refused.
    pub fn triggers(self) -> Result<Vec<Trigger>, EventError> {
        match self {
            Input::Schedule => Ok(vec![Trigger::Schedule]),
            Input::AlarmAction(alarm) => Ok(vec![alarm]),
            Input::SnsAlarms(alarms) => Ok(alarms),
            Input::Refused(err) => Err(err),
        }
    }
}

impl From<Value> for Input {
    fn from(payload: Value) -> Self {
        decode(payload).unwrap_or_else(Input::Refused)
    }
}

/// Tells the envelopes apart by what only each has: the schedule's
/// `detail-type`, the Lambda action's `alarmData`, SNS's `Records`.
fn decode(payload: Value) -> Result<Input, EventError> {
    if payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
        return Ok(Input::Schedule);
    }
    if payload.get("alarmData").is_some() {
        return lambda_action(payload).map(Input::AlarmAction);
    }
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        return sns_records(records).map(Input::SnsAlarms);
    }
    Err(EventError::Unrecognised(
        "expected a `Scheduled Event`, a CloudWatch alarm action or an SNS alarm notification"
            .to_owned(),
    ))
}

/// The alarm notification CloudWatch sends to SNS (the fields the guard reads).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsAlarm {
    alarm_name: String,
    new_state_value: String,
    /// Where the alarm lives. The notification's `Region` is a display name
    /// (`EU (Ireland)`), so the ARN is the only source of the region.
    #[serde(default)]
    alarm_arn: Option<String>,
    #[serde(default)]
    trigger: Option<SnsTrigger>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsTrigger {
    #[serde(default)]
    dimensions: Vec<SnsDimension>,
    #[serde(default)]
    metric_name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SnsDimension {
    #[serde(alias = "Name")]
    name: String,
    #[serde(alias = "Value")]
    value: String,
}

const GROUP_DIMENSION: &str = "AutoScalingGroupName";

/// The budget check behind one of the guard's own metrics.
fn budget_check(namespace: &str, metric: &str) -> Option<CheckName> {
    if namespace != NAMESPACE {
        return None;
    }
    match metric {
        "VcpuPercentOfBudget" | "ClusterVcpus" => Some(CheckName::BudgetVcpus),
        "MemoryPercentOfBudget" | "ClusterMemoryMiB" => Some(CheckName::BudgetMemory),
        "InstancesPercentOfBudget" | "ClusterInstances" => Some(CheckName::BudgetInstances),
        _ => None,
    }
}

/// The budget checks of an alarm's metrics, when every one is a guard budget
/// metric; otherwise none (the alarm is about something else).
fn budget_checks<'a>(metrics: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<CheckName> {
    let mut checks = Vec::new();
    for (namespace, name) in metrics {
        match budget_check(namespace, name) {
            Some(check) => checks.push(check),
            None => return Vec::new(),
        }
    }
    checks.sort();
    checks.dedup();
    checks
}

/// An alarm trigger, when the alarm has a name and a group dimension, if
/// any, has a value (an empty one would scope the alarm to no group).
fn alarm_trigger(
    name: String,
    state: AlarmState,
    group: Option<String>,
    checks: Vec<CheckName>,
    source: Option<AccountRegion>,
) -> Result<Trigger, EventError> {
    if name.trim().is_empty() {
        return Err(EventError::BadAlarm("the alarm name is empty".to_owned()));
    }
    if group
        .as_deref()
        .is_some_and(|group| group.trim().is_empty())
    {
        return Err(EventError::BadAlarm(format!(
            "the alarm's `{GROUP_DIMENSION}` dimension is empty"
        )));
    }
    Ok(Trigger::Alarm {
        name,
        state,
        group,
        checks,
        source,
    })
}

fn lambda_action(payload: Value) -> Result<Trigger, EventError> {
    let alarm: CloudWatchAlarm<Value, Value> =
        serde_json::from_value(payload).map_err(|e| EventError::BadAlarm(e.to_string()))?;
    // The alarm's ARN, else the envelope's own account and region fields.
    let source = alarm
        .alarm_arn
        .as_deref()
        .and_then(AccountRegion::of_arn)
        .or_else(|| AccountRegion::of(alarm.account_id.as_deref()?, alarm.region.as_deref()?));
    let data = alarm.alarm_data;
    let state = match data.state.map(|s| s.value) {
        Some(CloudWatchAlarmStateValue::Alarm) => AlarmState::Alarm,
        Some(CloudWatchAlarmStateValue::Ok) => AlarmState::Ok,
        _ => AlarmState::InsufficientData,
    };
    let metrics: Vec<&Value> = data
        .configuration
        .get("metrics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let checks = budget_checks(metrics.iter().filter_map(|m| {
        let metric = m.pointer("/metricStat/metric")?;
        Some((
            metric.get("namespace")?.as_str()?,
            metric.get("name")?.as_str()?,
        ))
    }));
    // Metric alarms name their dimensions per metric; the first group wins.
    let group = metrics
        .iter()
        .find_map(|m| {
            m.pointer("/metricStat/metric/dimensions")?
                .get(GROUP_DIMENSION)?
                .as_str()
        })
        .map(str::to_owned);
    alarm_trigger(data.alarm_name, state, group, checks, source)
}

/// One trigger per record of an SNS notification (there is at least one).
fn sns_records(records: &[Value]) -> Result<Vec<Trigger>, EventError> {
    if records.is_empty() {
        return Err(EventError::Unrecognised(
            "an SNS notification without records".to_owned(),
        ));
    }
    records.iter().map(sns_record).collect()
}

fn sns_record(record: &Value) -> Result<Trigger, EventError> {
    let message = record
        .pointer("/Sns/Message")
        .and_then(Value::as_str)
        .ok_or_else(|| EventError::Unrecognised("sns record without a message".to_owned()))?;
    let alarm: SnsAlarm =
        serde_json::from_str(message).map_err(|e| EventError::BadAlarm(e.to_string()))?;
    let state = match alarm.new_state_value.as_str() {
        "ALARM" => AlarmState::Alarm,
        "OK" => AlarmState::Ok,
        _ => AlarmState::InsufficientData,
    };
    let checks = alarm
        .trigger
        .as_ref()
        .and_then(|t| Some((t.namespace.as_deref()?, t.metric_name.as_deref()?)))
        .map(|metric| budget_checks([metric]))
        .unwrap_or_default();
    let group = alarm
        .trigger
        .into_iter()
        .flat_map(|t| t.dimensions)
        .find(|d| d.name == GROUP_DIMENSION)
        .map(|d| d.value);
    let source = alarm.alarm_arn.as_deref().and_then(AccountRegion::of_arn);
    alarm_trigger(alarm.alarm_name, state, group, checks, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(payload: Value) -> Result<Vec<Trigger>, EventError> {
        Input::from(payload).triggers()
    }

    fn load(text: &str) -> Vec<Trigger> {
        parse(serde_json::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn the_sample_events_parse() {
        assert_eq!(
            load(include_str!("../../../events/budget-schedule.json")),
            vec![Trigger::Schedule]
        );
        assert_eq!(
            load(include_str!("../../../events/budget-alarm-alarm.json")),
            vec![Trigger::Alarm {
                name: "scaling-guard-VcpuPercentOfBudget".into(),
                state: AlarmState::Alarm,
                group: None,
                checks: vec![CheckName::BudgetVcpus],
                source: Some(home()),
            }]
        );
        assert_eq!(
            load(include_str!("../../../events/budget-alarm-ok.json")),
            vec![Trigger::Alarm {
                name: "scaling-guard-VcpuPercentOfBudget".into(),
                state: AlarmState::Ok,
                group: None,
                checks: vec![CheckName::BudgetVcpus],
                source: Some(home()),
            }]
        );
        assert_eq!(
            load(include_str!("../../../events/budget-alarm-sns.json")),
            vec![Trigger::Alarm {
                name: "scaling-guard-surge-requests".into(),
                state: AlarmState::Alarm,
                group: Some("prod-general".into()),
                checks: vec![],
                source: Some(home()),
            }]
        );
    }

    /// The account and region of every sample.
    fn home() -> AccountRegion {
        AccountRegion {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
        }
    }

    #[test]
    fn an_arn_gives_its_account_and_region() {
        assert_eq!(
            AccountRegion::of_arn("arn:aws:lambda:eu-west-1:123456789012:function:budget-guard"),
            Some(home())
        );
        assert_eq!(
            AccountRegion::of_arn("arn:aws-cn:cloudwatch:cn-north-1:111122223333:alarm:a:b"),
            Some(AccountRegion {
                account: "111122223333".into(),
                region: "cn-north-1".into(),
            })
        );
        for not_both in [
            "",
            "budget-guard",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:role/r",
            "arn:aws:cloudwatch:eu-west-1:123456789012",
        ] {
            assert_eq!(AccountRegion::of_arn(not_both), None, "{not_both}");
        }
    }

    #[test]
    fn a_lambda_action_without_an_alarm_arn_has_its_envelopes_account_and_region() {
        let mut event: Value =
            serde_json::from_str(include_str!("../../../events/budget-alarm-alarm.json")).unwrap();
        event.as_object_mut().unwrap().remove("alarmArn");
        event["region"] = "us-east-1".into();
        let Trigger::Alarm { source, .. } = &parse(event).unwrap()[0] else {
            panic!()
        };
        assert_eq!(
            source.as_ref().map(|s| s.region.as_str()),
            Some("us-east-1")
        );
    }

    #[test]
    fn an_sns_alarm_without_an_alarm_arn_does_not_say_where_it_lives() {
        let message = r#"{"AlarmName": "surge", "AWSAccountId": "123456789012", "Region": "EU (Ireland)", "NewStateValue": "ALARM"}"#;
        let event = serde_json::json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": message}}]});
        let Trigger::Alarm { source, .. } = &parse(event).unwrap()[0] else {
            panic!()
        };
        assert_eq!(source, &None);
    }

    #[test]
    fn a_group_dimension_scopes_a_lambda_action_alarm() {
        let mut event: Value =
            serde_json::from_str(include_str!("../../../events/budget-alarm-alarm.json")).unwrap();
        event["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] =
            serde_json::json!({ "AutoScalingGroupName": "prod-gpu" });
        let Trigger::Alarm { group, .. } = &parse(event).unwrap()[0] else {
            panic!()
        };
        assert_eq!(group.as_deref(), Some("prod-gpu"));
    }

    #[test]
    fn unknown_and_malformed_events_get_clear_errors() {
        assert_eq!(
            parse(serde_json::json!({"hello": 1}))
                .unwrap_err()
                .to_string(),
            "event is not a schedule or an alarm: expected a `Scheduled Event`, a CloudWatch alarm action or an SNS alarm notification"
        );
        let bad = serde_json::json!({"Records": [{"Sns": {"Message": "not json"}}]});
        assert!(matches!(parse(bad), Err(EventError::BadAlarm(_))));
    }

    #[test]
    fn an_sns_envelope_without_records_is_refused() {
        assert_eq!(
            parse(serde_json::json!({"Records": []}))
                .unwrap_err()
                .to_string(),
            "event is not a schedule or an alarm: an SNS notification without records"
        );
    }

    #[test]
    fn an_alarm_with_an_empty_name_is_refused() {
        let mut event: Value =
            serde_json::from_str(include_str!("../../../events/budget-alarm-alarm.json")).unwrap();
        event["alarmData"]["alarmName"] = "".into();
        assert_eq!(
            parse(event).unwrap_err().to_string(),
            "alarm event is malformed: the alarm name is empty"
        );
    }

    #[test]
    fn an_alarm_scoped_to_an_empty_group_is_refused() {
        let message = r#"{"AlarmName": "surge", "NewStateValue": "ALARM", "Trigger": {"Dimensions": [{"name": "AutoScalingGroupName", "value": ""}]}}"#;
        let event = serde_json::json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": message}}]});
        assert_eq!(
            parse(event).unwrap_err().to_string(),
            "alarm event is malformed: the alarm's `AutoScalingGroupName` dimension is empty"
        );
    }

    #[test]
    fn each_envelope_decodes_into_its_input() {
        let input = |text: &str| serde_json::from_str::<Input>(text).unwrap();
        assert_eq!(
            input(include_str!("../../../events/budget-schedule.json")),
            Input::Schedule
        );
        assert!(matches!(
            input(include_str!("../../../events/budget-alarm-ok.json")),
            Input::AlarmAction(Trigger::Alarm {
                state: AlarmState::Ok,
                ..
            })
        ));
        assert!(matches!(
            input(include_str!("../../../events/budget-alarm-sns.json")),
            Input::SnsAlarms(alarms) if alarms.len() == 1
        ));
    }

    #[test]
    fn any_other_json_deserializes_into_a_refusal_for_the_handler() {
        let input: Input = serde_json::from_str(r#"{"detail-type": "Something Else"}"#).unwrap();
        assert!(matches!(input, Input::Refused(EventError::Unrecognised(_))));
        let input: Input = serde_json::from_str("[1, 2]").unwrap();
        assert!(input.triggers().is_err());
    }
}
