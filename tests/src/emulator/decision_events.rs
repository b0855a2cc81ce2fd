//! The guard's decision events as the emulator received them (its extension
//! 15): every `PutEvents` entry of source `scaling-guard`, with what its
//! published schema (`schemas/events/`) finds wrong. The [`Emulator`] fails
//! the test that sent an invalid one when it stops, so that every end-to-end
//! test checks the events it makes against their schemas.

use serde::Deserialize;
use serde_json::Value;

use super::{Control, Emulator};
use crate::error::{Error, Result};

/// One entry of source `scaling-guard`, as the emulator's bus received it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReceivedEvent {
    pub detail_type: String,
    pub detail: Value,
    /// `default`, or the bus the entry named.
    pub bus: String,
    /// What the detail-type's schema finds wrong; empty when it is valid.
    pub problems: Vec<String>,
}

impl Control {
    /// Every `scaling-guard` event received so far, in order.
    pub fn decision_events(&self) -> Result<Vec<ReceivedEvent>> {
        let body = self.call("GET", "/_scaling_guard/events", None)?;
        serde_json::from_str(&body).map_err(Error::json("decision events"))
    }

    /// The `scaling-guard` events their schema refuses.
    pub fn invalid_decision_events(&self) -> Result<Vec<ReceivedEvent>> {
        let body = self.call("GET", "/_scaling_guard/events/invalid", None)?;
        serde_json::from_str(&body).map_err(Error::json("invalid decision events"))
    }
}

impl Emulator {
    /// Panics, naming them, when the emulator received events their schema
    /// refuses. Called when it stops (unless the test already failed).
    pub fn assert_decision_events_valid(&self) {
        let invalid = match self.control().invalid_decision_events() {
            Ok(invalid) => invalid,
            Err(err) => panic!("the emulator's decision events could not be read: {err}"),
        };
        assert!(
            invalid.is_empty(),
            "events invalid against schemas/events (fix the event or its schema): {invalid:#?}"
        );
    }
}
