//! SQS batches as Lambda's event source mapping delivers them: what launch-guard
//! (the hooks' queue) and instance-audit (the stack's state-change queue) both
//! check of each record before they read its body.

use serde_json::Value;

/// The `eventSource` of every record of an SQS batch.
pub const SQS_EVENT_SOURCE: &str = "aws:sqs";

/// Why a payload's `Records`, or one of them, is not an SQS batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordProblem {
    /// Not a non-empty list, or a record that does not say it comes from SQS.
    Source(String),
    /// It names no message, so it cannot be reported as a batch item failure.
    MessageId(String),
}

/// Checks the `Records` of a payload meant as an SQS batch: a non-empty
/// list whose every record comes from SQS and names its message. `refuse`
/// may turn a record away first (launch-guard refuses SNS envelopes with
/// advice of its own).
pub fn check_records(
    records: &Value,
    refuse: impl Fn(usize, &Value) -> Option<RecordProblem>,
) -> Result<(), RecordProblem> {
    let records = records.as_array().ok_or_else(|| {
        RecordProblem::Source(format!("`Records` is {}, not a list", kind(records)))
    })?;
    if records.is_empty() {
        return Err(RecordProblem::Source("`Records` is empty".into()));
    }
    for (index, record) in records.iter().enumerate() {
        if let Some(problem) = refuse(index, record).or_else(|| record_problem(index, record)) {
            return Err(problem);
        }
    }
    Ok(())
}

/// The JSON type of a value, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// What is wrong with record `index` of an SQS batch, if anything: it must
/// come from SQS (`eventSource` `aws:sqs`) and name its message.
pub fn record_problem(index: usize, record: &Value) -> Option<RecordProblem> {
    match record.get("eventSource").and_then(Value::as_str) {
        Some(SQS_EVENT_SOURCE) => {}
        Some(source) => {
            return Some(RecordProblem::Source(format!(
                "Records[{index}] has eventSource `{source}`, not `{SQS_EVENT_SOURCE}`"
            )));
        }
        None => {
            return Some(RecordProblem::Source(format!(
                "Records[{index}] without eventSource `{SQS_EVENT_SOURCE}`"
            )));
        }
    }
    match record.get("messageId").and_then(Value::as_str) {
        Some(id) if !id.trim().is_empty() => None,
        _ => Some(RecordProblem::MessageId(format!(
            "Records[{index}] has no messageId"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn records_must_be_a_non_empty_list_and_may_be_refused_first() {
        let good = json!([{"eventSource": "aws:sqs", "messageId": "m-1"}]);
        assert_eq!(check_records(&good, |_, _| None), Ok(()));
        assert_eq!(
            check_records(&json!({}), |_, _| None),
            Err(RecordProblem::Source(
                "`Records` is an object, not a list".into()
            ))
        );
        assert_eq!(
            check_records(&json!([]), |_, _| None),
            Err(RecordProblem::Source("`Records` is empty".into()))
        );
        let refused = check_records(&good, |i, _| Some(RecordProblem::Source(format!("no {i}"))));
        assert_eq!(refused, Err(RecordProblem::Source("no 0".into())));
    }

    #[test]
    fn a_record_must_come_from_sqs_and_name_its_message() {
        let good = json!({"eventSource": "aws:sqs", "messageId": "m-1"});
        assert_eq!(record_problem(0, &good), None);
        assert_eq!(
            record_problem(2, &json!({"eventSource": "aws:sns", "messageId": "m-1"})),
            Some(RecordProblem::Source(
                "Records[2] has eventSource `aws:sns`, not `aws:sqs`".into()
            ))
        );
        assert_eq!(
            record_problem(1, &json!({"messageId": "m-1"})),
            Some(RecordProblem::Source(
                "Records[1] without eventSource `aws:sqs`".into()
            ))
        );
        assert_eq!(
            record_problem(3, &json!({"eventSource": "aws:sqs", "messageId": " "})),
            Some(RecordProblem::MessageId(
                "Records[3] has no messageId".into()
            ))
        );
    }
}
