//! Exit codes that scripts can use.

use std::process::ExitCode;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// 0: valid policy, clean cluster, or a launch that would CONTINUE (or be
    /// ignored).
    Clean,
    /// 1: violations found, or a launch that would be ABANDONed.
    Found,
    /// 2: a usage, policy, event or AWS error (clap's usage errors exit 2 too).
    Error,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Clean => 0,
            ExitStatus::Found => 1,
            ExitStatus::Error => 2,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}
