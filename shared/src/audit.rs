//! instance-audit's domain ([`guard_core::audit`]) and the reads that gather
//! its facts.

pub mod gather;

pub use guard_core::audit::*;
