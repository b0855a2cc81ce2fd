//! Property tests of the event parser (`scripts/fuzz` runs them at a million
//! cases): it never panics, refuses with a message that says what was wrong,
//! and every trigger it accepts names its instance (and group). In the crate
//! because `parse` is not part of the library's interface.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::{LAUNCH_SUCCESSFUL, STATE_CHANGE, Trigger, parse};

#[path = "../../../../shared/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use fuzz_support::{check, clear_message, inputs, samples};

const SAMPLES: &[&str] = &[
    "state-change-pending.json",
    "state-change-running.json",
    "launch-successful.json",
    "audit-sweep.json",
    "launch-lifecycle-action.json",
];

fn events() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

#[test]
fn the_audit_event_parser_never_panics_and_explains_every_refusal() {
    let state_change = format!("`{STATE_CHANGE}` event is missing a field or has a wrong one");
    let launch = format!("`{LAUNCH_SUCCESSFUL}` event is missing a field or has a wrong one");
    let heads = [
        "event is not an EventBridge event",
        "event is not one instance-audit handles",
        &state_change,
        &launch,
    ];
    check(
        "instance-audit event::parse",
        inputs(samples(&events(), SAMPLES)),
        |input| {
            let Some(payload) = input.into_value() else {
                return Ok(());
            };
            match parse(payload) {
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
        },
    );
}
