//! Property tests of budget-guard's event parser (`scripts/fuzz` runs them at
//! a million cases): schedules, CloudWatch alarm actions and SNS envelopes of
//! alarms never panic, refusals say what was wrong, and every alarm it
//! accepts has a name.

use std::path::{Path, PathBuf};

use budget_guard::{Input, Trigger};
use proptest::prelude::*;

#[path = "../../../shared/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use fuzz_support::{Failure, check, clear_message, inputs, samples};

const SAMPLES: &[&str] = &[
    "budget-schedule.json",
    "budget-alarm-alarm.json",
    "budget-alarm-ok.json",
    "budget-alarm-sns.json",
    "launch-sqs-batch.json",
];

const HEADS: &[&str] = &[
    "event is not a schedule or an alarm",
    "alarm event is malformed",
];

fn events() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

#[test]
fn the_budget_event_parser_never_panics_and_explains_every_refusal() -> Result<(), Failure> {
    check(
        "budget-guard event::Input",
        inputs(samples(&events(), SAMPLES)?),
        |input| {
            let Some(payload) = input.into_value() else {
                return Ok(());
            };
            match Input::from(payload).triggers() {
                Ok(triggers) => {
                    prop_assert!(!triggers.is_empty(), "no trigger at all");
                    for trigger in &triggers {
                        if let Trigger::Alarm {
                            name,
                            group,
                            checks,
                            ..
                        } = trigger
                        {
                            prop_assert!(
                                !name.trim().is_empty(),
                                "an unnamed alarm: {:?}",
                                trigger
                            );
                            prop_assert!(
                                group
                                    .as_deref()
                                    .is_none_or(|group| !group.trim().is_empty()),
                                "an alarm scoped to a blank group: {:?}",
                                trigger
                            );
                            prop_assert!(
                                checks.windows(2).all(|pair| pair[0] < pair[1]),
                                "checks not sorted and unique: {:?}",
                                trigger
                            );
                        }
                    }
                    Ok(())
                }
                Err(err) => clear_message(&err.to_string(), HEADS),
            }
        },
    )
}
