//! The library every scaling-guard function uses: the policy, the checks, the
//! decision, the alert format, the ports the handlers need and their AWS
//! adapters.

pub mod checks;
pub mod decision;
pub mod facts;
pub mod policy;
pub mod time;
