//! The harness's one error type: what failed, in words a test failure or the
//! demo can print as is.

use std::fmt::Debug;

use aws_smithy_types::error::display::DisplayErrorContext;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something the machine lacks: the virtualenv, a built binary.
    #[error("{0}")]
    Setup(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// An AWS call against the emulator failed.
    #[error("{operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
    /// The emulator or its control endpoint misbehaved.
    #[error("emulator: {0}")]
    Emulator(String),
    /// The function exited before polling for its first event: its init
    /// failed (a bad policy, for example). `output` has its logs.
    #[error("`{function}` failed its init ({status}):\n{output}")]
    Init {
        function: String,
        status: String,
        output: String,
    },
    /// The Lambda function or the Runtime API misbehaved.
    #[error("function: {0}")]
    Function(String),
    /// A fixture or event could not be built.
    #[error("{0}")]
    Fixture(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }

    /// Maps an SDK error, keeping the service's code and message.
    pub(crate) fn aws<E>(operation: &'static str) -> impl FnOnce(E) -> Error
    where
        E: std::error::Error + 'static,
    {
        move |err| Error::Aws {
            operation,
            message: DisplayErrorContext(&err).to_string(),
        }
    }

    pub(crate) fn json(context: &'static str) -> impl FnOnce(serde_json::Error) -> Error {
        move |err| Error::Fixture(format!("{context}: {err}"))
    }
}
