//! What the scaling-guard functions and the CLI share beyond the domain:
//! the ports the handlers need ([`ports::ReadPorts`] for callers that only
//! look, [`ports::Ports`] for those that also change), the services that
//! call them (the launch assessment, the one gatherer of node facts, the
//! usage measurement, the audit's reads, the suspension's application,
//! alert publication) and their AWS adapters.
//!
//! The domain itself (policy, checks, budget arithmetic, decision,
//! suspension plans, audit findings, alerts) is [`guard_core`], which has no
//! AWS dependency; its modules are re-exported here under the same names.

pub mod alerts;
pub mod assess;
pub mod audit;
pub mod aws;
pub mod budget;
pub mod cache;
pub mod deadline;
pub mod events;
#[cfg(any(test, feature = "test-util"))]
pub mod fakes;
pub mod invocation;
pub mod launch_breaker;
pub mod leftovers;
pub mod lifecycle;
pub mod node_facts;
pub mod off_switch;
pub mod ports;
pub mod release;
pub mod sqs;
pub mod startup;
pub mod suspension;

/// The test world (one clock, one cluster, one compliant node): [`guard_core::fixtures`].
#[cfg(any(test, feature = "test-util"))]
pub use guard_core::fixtures;
pub use guard_core::{check_name, checks, decision, export, facts, findings, policy, time};
