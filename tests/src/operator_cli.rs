//! The operator CLI (`scaling-guard`) as the end-to-end tests, the demo and
//! the bench run it: the real binary, with nothing inherited from the
//! environment but a `PATH`, test credentials, no instance metadata and no
//! AWS config files, so that only what a test gives it decides.

use std::process::{Command, Stdio};

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
