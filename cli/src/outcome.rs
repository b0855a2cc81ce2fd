//! Exit codes that scripts can use.

use std::process::ExitCode;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// 0: valid policy, clean cluster, or a launch that would CONTINUE (or be
    /// ignored).
    Clean,
    /// 1: violations found, or a launch that would be ABANDONed.
    Found,
    /// 2: a usage, policy, event or AWS error (clap's usage errors exit 2 too).
    Error,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Clean => 0,
            Outcome::Found => 1,
            Outcome::Error => 2,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome.code())
    }
}
