//! Property tests of launch-guard's event parsers (`scripts/fuzz` runs them
//! at a million cases each): `lifecycle::parse`/`parse_text` and
//! `lifecycle::parse_payload` (SQS batches, SNS envelopes) never panic, refuse
//! with a message that says what was wrong, and accept only what they promise.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;
use shared::lifecycle::{
    EventError, Notification, Payload, SNS_EVENT_SOURCE, SQS_EVENT_SOURCE, parse, parse_payload,
    parse_text,
};

mod fuzz_support;

use fuzz_support::{Failure, Input, check, clear_message, inputs, samples};

const SAMPLES: &[&str] = &[
    "launch-lifecycle-action.json",
    "launch-from-warm-pool.json",
    "launch-into-warm-pool.json",
    "test-notification.json",
    "launch-sqs-batch.json",
    "budget-alarm-sns.json",
    "launch-successful.json",
];

const HEADS: &[&str] = &[
    "event is not json",
    "event is not a lifecycle notification",
    "lifecycle notification is missing a field or has a wrong one",
];

fn events() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// An action names everything `CompleteLifecycleAction` needs; a refusal says why.
fn consistent(parsed: &Result<Notification, EventError>) -> Result<(), TestCaseError> {
    match parsed {
        Ok(Notification::Action { action, .. }) => {
            for (field, value) in [
                ("LifecycleActionToken", &action.token),
                ("AutoScalingGroupName", &action.group),
                ("LifecycleHookName", &action.hook),
                ("EC2InstanceId", &action.instance_id),
                ("LifecycleTransition", &action.transition),
            ] {
                prop_assert!(
                    !value.trim().is_empty(),
                    "an action with a blank `{field}`: {action:?}"
                );
            }
            Ok(())
        }
        Ok(Notification::Test { .. }) => Ok(()),
        Err(err) => clear_message(&err.to_string(), HEADS),
    }
}

#[test]
fn the_lifecycle_parser_never_panics_and_explains_every_refusal() -> Result<(), Failure> {
    check(
        "launch-guard lifecycle::parse/parse_text",
        inputs(samples(&events(), SAMPLES)?),
        |input| match input {
            Input::Value(value) => {
                let text = value.to_string();
                let parsed = parse(value);
                consistent(&parsed)?;
                // The text of a value parses into the same notification, or
                // is refused for the same reason (the message may differ in
                // the last digit of a float: serde_json parses floats fast,
                // not exactly).
                match (parse_text(&text), parsed) {
                    (Ok(again), Ok(parsed)) => prop_assert_eq!(again, parsed),
                    (again, parsed) => prop_assert_eq!(
                        again.as_ref().err().map(std::mem::discriminant),
                        parsed.as_ref().err().map(std::mem::discriminant)
                    ),
                }
                Ok(())
            }
            Input::Text(text) => consistent(&parse_text(&text)),
        },
    )
}

#[test]
fn the_payload_parser_never_panics_and_refuses_what_is_not_an_sqs_batch() -> Result<(), Failure> {
    check(
        "launch-guard lifecycle::parse_payload",
        inputs(samples(&events(), SAMPLES)?),
        |input| {
            let Some(payload) = input.into_value() else {
                return Ok(());
            };
            let first = payload
                .get("Records")
                .and_then(Value::as_array)
                .and_then(|records| records.first())
                .cloned();
            let has_records = payload.get("Records").is_some();
            match parse_payload(payload) {
                Ok(Payload::Batch(batch)) => {
                    prop_assert!(!batch.records.is_empty(), "an empty batch");
                    for record in &batch.records {
                        prop_assert_eq!(record.event_source.as_deref(), Some(SQS_EVENT_SOURCE));
                        prop_assert!(
                            record
                                .message_id
                                .as_deref()
                                .is_some_and(|id| !id.trim().is_empty()),
                            "a batch record without a message id: {:?}",
                            record
                        );
                        // The handler parses every body on its own.
                        consistent(&parse_text(record.body.as_deref().unwrap_or_default()))?;
                    }
                }
                Ok(Payload::Single(notification)) => {
                    prop_assert!(!has_records, "`Records` taken for one notification");
                    consistent(&Ok(notification))?;
                }
                Err(err) => {
                    let message = err.to_string();
                    clear_message(&message, HEADS)?;
                    let sns = first.as_ref().is_some_and(|record| {
                        record.get("EventSource").and_then(Value::as_str) == Some(SNS_EVENT_SOURCE)
                    });
                    if sns {
                        prop_assert!(message.contains("an SNS envelope"), "{}", message);
                    }
                }
            }
            Ok(())
        },
    )
}
