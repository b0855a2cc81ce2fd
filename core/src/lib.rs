//! The scaling-guard domain: the policy, the node checks, the budget
//! arithmetic, the decision, the suspension plans, the audit findings and
//! the alert format. Pure and synchronous; it knows no AWS SDK, Lambda
//! runtime or event envelope. `shared` holds the ports, the services that
//! call them and their AWS adapters.

pub mod alerts;
pub mod audit;
pub mod budget;
pub mod check_name;
pub mod checks;
pub mod decision;
pub mod events;
pub mod export;
pub mod facts;
pub mod findings;
#[cfg(any(test, feature = "test-util"))]
pub mod fixtures;
pub mod lifecycle;
pub mod policy;
pub mod suspension;
pub mod time;
