//! Cluster usage and budgets: the arithmetic ([`guard_core::budget`]) and
//! the measurement that reads the cluster for it.

pub mod measure;

pub use guard_core::budget::*;
