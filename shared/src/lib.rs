//! The library every scaling-guard function uses: the policy, the checks, the
//! decision, the alert format, the ports the handlers need and their AWS
//! adapters.

pub mod alerts;
pub mod audit;
pub mod aws;
pub mod budget;
pub mod checks;
pub mod deadline;
pub mod decision;
pub mod facts;
#[cfg(any(test, feature = "test-util"))]
pub mod fakes;
pub mod lifecycle;
pub mod policy;
pub mod ports;
pub mod startup;
pub mod suspension;
pub mod time;
