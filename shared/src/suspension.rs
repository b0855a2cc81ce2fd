//! Surge suspension (SPEC §7): the plans ([`guard_core::suspension`]) applied
//! over the Auto Scaling port.

mod apply;

pub use apply::{OnIncomplete, SuspensionReport, resume, suspend_groups};
pub use guard_core::suspension::*;

#[cfg(test)]
mod tests;
