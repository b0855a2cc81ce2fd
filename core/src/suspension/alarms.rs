//! The alarms a suspension waits for (issue 21, scenario 2).
//!
//! A tag value holds 256 characters, and an alarm name up to 255: a record
//! keeps the names while they fit, else fixed-width digests of them
//! ([`alarm_digest`]), and when even those do not fit, a flag that makes the
//! resume wait for every surge alarm of the cluster. Each step only ever
//! waits for more, never for less: no alarm is dropped.

use std::collections::BTreeSet;

use super::signing::alarm_digest;

/// The alarms that must leave `ALARM` before a resume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordedAlarms {
    /// Alarms known by name.
    names: BTreeSet<String>,
    /// Alarms known by digest only (a record written too long for names).
    digests: BTreeSet<String>,
    /// Every surge alarm of the cluster holds the resume (a record written
    /// too long even for digests).
    every_surge_alarm: bool,
}

/// How a record writes its alarms, from the most to the least precise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AlarmForm {
    Names,
    Digests,
    EverySurgeAlarm,
}

impl AlarmForm {
    pub(super) const ALL: [AlarmForm; 3] = [Self::Names, Self::Digests, Self::EverySurgeAlarm];
}

impl RecordedAlarms {
    /// The alarms `names`.
    pub fn named(names: impl IntoIterator<Item = String>) -> Self {
        Self {
            names: names.into_iter().collect(),
            ..Self::default()
        }
    }

    pub(super) fn from_parts(names: Vec<String>, digests: Vec<String>, every: bool) -> Self {
        Self {
            names: names.into_iter().collect(),
            digests: digests.into_iter().collect(),
            every_surge_alarm: every,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.digests.is_empty() && !self.every_surge_alarm
    }

    /// Whether the resume already waits for `alarm`.
    pub fn waits_for(&self, alarm: &str) -> bool {
        self.every_surge_alarm
            || self.names.contains(alarm)
            || self.digests.contains(&alarm_digest(alarm))
    }

    /// Adds `alarm`; whether it was not waited for yet.
    pub fn insert(&mut self, alarm: &str) -> bool {
        if self.waits_for(alarm) {
            return false;
        }
        self.names.insert(alarm.to_owned())
    }

    /// Adds every alarm `other` waits for.
    pub fn join(&mut self, other: &RecordedAlarms) {
        self.names.extend(other.names.iter().cloned());
        self.digests.extend(other.digests.iter().cloned());
        self.every_surge_alarm |= other.every_surge_alarm;
    }

    /// Whether every alarm `other` waits for is waited for here too.
    pub fn covers(&self, other: &RecordedAlarms) -> bool {
        self.every_surge_alarm
            || (!other.every_surge_alarm
                && other.names.iter().all(|name| self.waits_for(name))
                && other.digests.iter().all(|d| self.digests.contains(d)))
    }

    /// The alarms known by name: their state is asked by name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Whether some alarm is known only by digest or by the flag: the resume
    /// must then ask which of the cluster's surge alarms are in `ALARM`.
    pub fn needs_surge_alarms(&self) -> bool {
        !self.digests.is_empty() || self.every_surge_alarm
    }

    /// The first alarm of `firing` this record waits for.
    pub fn holding<'f>(&self, firing: &'f [String]) -> Option<&'f str> {
        firing
            .iter()
            .find(|alarm| self.waits_for(alarm))
            .map(String::as_str)
    }

    /// The names, digests and flag of this record written in `form`.
    pub(super) fn written_as(&self, form: AlarmForm) -> (Vec<String>, Vec<String>, bool) {
        match form {
            AlarmForm::Names => (
                self.names.iter().cloned().collect(),
                self.digests.iter().cloned().collect(),
                self.every_surge_alarm,
            ),
            AlarmForm::Digests => {
                let mut digests = self.digests.clone();
                digests.extend(self.names.iter().map(|name| alarm_digest(name)));
                (
                    Vec::new(),
                    digests.into_iter().collect(),
                    self.every_surge_alarm,
                )
            }
            AlarmForm::EverySurgeAlarm => (Vec::new(), Vec::new(), !self.is_empty()),
        }
    }
}
