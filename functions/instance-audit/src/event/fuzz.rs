//! Property tests of the event parser (`scripts/fuzz` runs them at a million
//! cases): it never panics, refuses with a message that says what was wrong,
//! and every trigger it accepts, alone or in an SQS batch, names its
//! instance (and group). In the crate because `parse_payload` is not part of
//! the library's interface.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::{Event, EventError, LAUNCH_SUCCESSFUL, Payload, STATE_CHANGE, Trigger, parse_payload};

#[path = "../../../../shared/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use fuzz_support::{Failure, check, clear_message, inputs, samples};

const SAMPLES: &[&str] = &[
    "state-change-pending.json",
    "state-change-running.json",
    "launch-successful.json",
    "audit-sweep.json",
    "launch-lifecycle-action.json",
    "audit-sqs-batch.json",
];

fn events() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

#[test]
fn the_audit_event_parser_never_panics_and_explains_every_refusal() -> Result<(), Failure> {
    let state_change = format!("`{STATE_CHANGE}` event is missing a field or has a wrong one");
    let launch = format!("`{LAUNCH_SUCCESSFUL}` event is missing a field or has a wrong one");
    let heads = [
        "event is not an EventBridge event",
        "event is not one instance-audit handles",
        "event is not an SQS batch",
        &state_change,
        &launch,
    ];
    let judge = |parsed: Result<Event, EventError>| -> Result<(), TestCaseError> {
        match parsed {
            Ok(event) => {
                match &event.trigger {
                    Trigger::StateChange { instance_id, state } => {
                        prop_assert!(!instance_id.trim().is_empty(), "{:?}", event);
                        prop_assert!(!state.trim().is_empty(), "{:?}", event);
                    }
                    Trigger::LaunchSuccessful {
                        instance_id, group, ..
                    } => {
                        prop_assert!(!instance_id.trim().is_empty(), "{:?}", event);
                        prop_assert!(!group.trim().is_empty(), "{:?}", event);
                    }
                    Trigger::Sweep => {}
                }
                Ok(())
            }
            Err(err) => clear_message(&err.to_string(), &heads),
        }
    };
    check(
        "instance-audit event::parse_payload",
        inputs(samples(&events(), SAMPLES)?),
        |input| {
            let Some(payload) = input.into_value() else {
                return Ok(());
            };
            match parse_payload(payload) {
                Ok(Payload::Single(event)) => judge(Ok(event)),
                Ok(Payload::Batch(messages)) => {
                    for message in messages {
                        prop_assert!(!message.id.trim().is_empty(), "{:?}", message);
                        judge(message.event)?;
                    }
                    Ok(())
                }
                Err(err) => judge(Err(err)),
            }
        },
    )
}
