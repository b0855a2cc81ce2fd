//! The test world's old address: everything is in [`crate::fixtures`]
//! (kept so that tests written against `checks::fixtures` still build).

pub use crate::fixtures::*;
