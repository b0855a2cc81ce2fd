//! The operator CLI (`scaling-guard`) as the end-to-end tests, the demo and
//! the bench run it: the real binary, with nothing inherited from the
//! environment but a `PATH`, test credentials, no instance metadata and no
//! AWS config files, so that only what a test gives it decides.

use std::process::{Command, Output, Stdio};

use crate::{Function, REGION, Result};

/// A `scaling-guard` command with a clean environment, pointed at the
/// emulator at `endpoint` (with the tests' region) when given. The caller
/// adds the policy (`envs`), the arguments, and how it is run.
pub fn operator_cli(endpoint: Option<&str>) -> Result<Command> {
    let mut command = Command::new(Function::binary("scaling-guard")?);
    command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(Stdio::null());
    if let Some(endpoint) = endpoint {
        command
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_REGION", REGION);
    }
    Ok(command)
}

/// One run of the CLI, ended: its exit code, standard output and error.
#[derive(Debug)]
pub struct CliRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    /// Runs `command` to its end, its output captured (standard input as
    /// the command has it: closed, unless the caller said otherwise).
    pub fn of(mut command: Command) -> Self {
        let output = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("the cli runs");
        Self::from(output)
    }

    /// Standard output as one JSON document; a test fails, with the whole
    /// run, when it is not one.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|err| panic!("stdout is not json ({err}): {self:#?}"))
    }
}

impl From<Output> for CliRun {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().expect("the cli exits, not killed"),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}
