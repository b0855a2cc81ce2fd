//! A real function binary behind the in-process [`RuntimeApi`], configured
//! as Lambda configures it, pointed at the emulator.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::clients::REGION;
use crate::emulator::collect;
use crate::error::{Error, Result};
use crate::runtime_api::{Outcome, RuntimeApi};
use crate::target_dir;

/// The function's timeout in the template; the deadline each invocation gets.
const DEADLINE: Duration = Duration::from_secs(30);
/// How long the init may take (policy, SDK config) before the first poll.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);
const MEMORY_MB: &str = "256";

/// Why an invocation has no response.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function posted an error (`POST /invocation/{id}/error`).
    #[error("the function answered `{error_type}`: {error_message}")]
    Function {
        error_type: String,
        error_message: String,
    },
    #[error("the function exited during the invocation ({status}); its logs:\n{logs}")]
    Exited { status: String, logs: String },
    #[error("no answer within {timeout:?}; the function's logs:\n{logs}")]
    Timeout { timeout: Duration, logs: String },
    #[error("the function's response is not json: {0}")]
    NotJson(String),
}

/// A running function process. Dropping it kills the process (and prints its
/// logs when the test is failing).
#[derive(Debug)]
pub struct Function {
    name: String,
    child: Mutex<Child>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    api: RuntimeApi,
    /// Just before the process was spawned.
    spawned: Instant,
}

impl Function {
    /// The directory of the binaries [`Self::binary`] runs:
    /// `SCALING_GUARD_BIN_DIR` when set (relative to the workspace root),
    /// else the debug profile's `target/debug`.
    pub fn binary_dir() -> PathBuf {
        match std::env::var_os("SCALING_GUARD_BIN_DIR").filter(|dir| !dir.is_empty()) {
            Some(dir) => crate::workspace_root().join(dir),
            None => target_dir().join("debug"),
        }
    }

    /// The path of a workspace binary in [`Self::binary_dir`] (the debug
    /// profile unless `SCALING_GUARD_BIN_DIR` says otherwise); an error
    /// telling how to build it when it is missing.
    pub fn binary(name: &str) -> Result<PathBuf> {
        let path = Self::binary_dir().join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(Error::Setup(format!(
                "the function binary `{}` is missing: run `cargo build -p {name}` first",
                path.display()
            )))
        }
    }

    /// Starts `target/debug/launch-guard` against the emulator at `endpoint`
    /// with the given policy.
    pub async fn launch_guard<K, V>(
        endpoint: &str,
        policy: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Self::start(&Self::binary("launch-guard")?, endpoint, policy).await
    }

    /// Starts `target/debug/budget-guard` against the emulator at `endpoint`
    /// with the given policy.
    pub async fn budget_guard<K, V>(
        endpoint: &str,
        policy: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Self::start(&Self::binary("budget-guard")?, endpoint, policy).await
    }

    /// Starts `target/debug/instance-audit` against the emulator at
    /// `endpoint` with the given policy.
    pub async fn instance_audit<K, V>(
        endpoint: &str,
        policy: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Self::start(&Self::binary("instance-audit")?, endpoint, policy).await
    }

    /// Spawns `binary` with the environment Lambda gives a function
    /// (`AWS_LAMBDA_RUNTIME_API` pointing here, the function's name, memory,
    /// version, JSON logs, region, credentials), `AWS_ENDPOINT_URL` pointing
    /// at the emulator, and `env` (the policy). Nothing is inherited from the
    /// test's own environment. Returns once the function polls for its first
    /// event; if it exits first, the error carries its init error and logs.
    pub async fn start<K, V>(
        binary: &Path,
        endpoint: &str,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "function".to_owned());
        let api = RuntimeApi::start(&name)?;
        let mut command = lambda_command(binary, &name, &api.address(), endpoint);
        for (key, value) in env {
            command.env(key.as_ref(), value.as_ref());
        }
        let spawned = Instant::now();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(Error::io(format!("cannot start `{}`", binary.display())))?;
        let (stdout, stderr) = collect_output(&mut child);
        let function = Function {
            name,
            child: Mutex::new(child),
            stdout,
            stderr,
            api,
            spawned,
        };
        function.wait_until_ready().await?;
        Ok(function)
    }

    async fn wait_until_ready(&self) -> Result<()> {
        let started = Instant::now();
        loop {
            if self.api.polls() > 0 {
                return Ok(());
            }
            if let Some(status) = self.exit_status() {
                // Let the pipes drain so the logs hold the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let reported = self
                    .api
                    .init_error()
                    .map(|body| format!("init error: {body}\n"))
                    .unwrap_or_default();
                return Err(Error::Init {
                    function: self.name.clone(),
                    status: status.to_string(),
                    output: format!("{reported}{}", self.logs()),
                });
            }
            if started.elapsed() > INIT_TIMEOUT {
                return Err(Error::Function(format!(
                    "`{}` did not poll for an event within {INIT_TIMEOUT:?}; its logs:\n{}",
                    self.name,
                    self.logs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        self.child
            .lock()
            .ok()
            .and_then(|mut child| child.try_wait().ok().flatten())
    }

    /// Invokes the function with `event` and returns its response body.
    pub async fn invoke(&self, event: &Value) -> Result<Value, InvokeError> {
        self.invoke_within(event, DEADLINE).await
    }

    /// Invokes the function with `event` and waits at most `timeout` for its
    /// answer, time in the queue included. The function itself gets the
    /// template's deadline from the moment it takes the event; a longer
    /// `timeout` is for events queued behind many others (one execution
    /// environment, as with reserved concurrency 1, takes them one by one).
    pub async fn invoke_within(
        &self,
        event: &Value,
        timeout: Duration,
    ) -> Result<Value, InvokeError> {
        self.invoke_given(event, DEADLINE, timeout).await
    }

    /// Invokes the function with `event`, giving it `deadline` instead of
    /// the template's: for a step a test sets up but does not measure (a new
    /// environment's first read of a 10,000-instance cluster on a busy
    /// machine). The test waits as long.
    pub async fn invoke_with_deadline(
        &self,
        event: &Value,
        deadline: Duration,
    ) -> Result<Value, InvokeError> {
        self.invoke_given(event, deadline, deadline).await
    }

    async fn invoke_given(
        &self,
        event: &Value,
        deadline: Duration,
        timeout: Duration,
    ) -> Result<Value, InvokeError> {
        let (request_id, mut outcome) = self.api.submit(event, deadline);
        let started = Instant::now();
        let outcome = loop {
            tokio::select! {
                outcome = &mut outcome => match outcome {
                    Ok(outcome) => break outcome,
                    Err(_) => return Err(InvokeError::Exited {
                        status: "the runtime api stopped".to_owned(),
                        logs: self.logs(),
                    }),
                },
                () = tokio::time::sleep(Duration::from_millis(50)) => {
                    if let Some(status) = self.exit_status() {
                        self.api.cancel(&request_id);
                        return Err(InvokeError::Exited { status: status.to_string(), logs: self.logs() });
                    }
                    if started.elapsed() > timeout {
                        self.api.cancel(&request_id);
                        return Err(InvokeError::Timeout { timeout, logs: self.logs() });
                    }
                }
            }
        };
        match outcome {
            Outcome::Response(body) => {
                serde_json::from_str(&body).map_err(|_| InvokeError::NotJson(body))
            }
            Outcome::Error(body) => {
                let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let field = |key: &str| {
                    parsed
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                Err(InvokeError::Function {
                    error_type: field("errorType"),
                    error_message: field("errorMessage"),
                })
            }
        }
    }

    /// Everything the function wrote, stdout (its JSON log lines) then stderr.
    pub fn logs(&self) -> String {
        let read = |buffer: &Mutex<String>| buffer.lock().map(|s| s.clone()).unwrap_or_default();
        let (stdout, stderr) = (read(&self.stdout), read(&self.stderr));
        if stderr.is_empty() {
            stdout
        } else {
            format!("{stdout}{stderr}")
        }
    }

    /// The function's JSON log records (lines of stdout that parse).
    pub fn log_records(&self) -> Vec<Value> {
        self.stdout
            .lock()
            .map(|s| {
                s.lines()
                    .filter_map(|line| serde_json::from_str(line).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cold start as Lambda sees it: from the spawn of the process to
    /// its first `GET /runtime/invocation/next`.
    pub fn cold_start(&self) -> Option<Duration> {
        self.api
            .first_poll()
            .map(|polled| polled.saturating_duration_since(self.spawned))
    }

    /// The process id, while the process runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.lock().ok().map(|child| child.id())
    }

    /// The process's peak resident set so far (`VmHWM` of
    /// `/proc/<pid>/status`), in KiB; `None` where there is no `/proc`.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status.lines().find_map(|line| {
            line.strip_prefix("VmHWM:")?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- {} logs ---\n{}", self.name, self.logs());
        }
    }
}

/// The command that runs `binary` as Lambda would run function `name`: a
/// clear environment with the Runtime API at `api`, the function's name,
/// memory, version, JSON logs, region, test credentials, and
/// `AWS_ENDPOINT_URL` pointing at the emulator's `endpoint`.
fn lambda_command(binary: &Path, name: &str, api: &str, endpoint: &str) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("TZ", ":UTC")
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_MB)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "e2e")
        .env("AWS_REGION", REGION)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_SESSION_TOKEN", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", endpoint);
    command
}

/// Collects the child's stdout and stderr, each into a shared string, in
/// background threads.
fn collect_output(child: &mut Child) -> (Arc<Mutex<String>>, Arc<Mutex<String>>) {
    let stdout = Arc::new(Mutex::new(String::new()));
    let stderr = Arc::new(Mutex::new(String::new()));
    if let Some(pipe) = child.stdout.take() {
        collect(pipe, Arc::clone(&stdout));
    }
    if let Some(pipe) = child.stderr.take() {
        collect(pipe, Arc::clone(&stderr));
    }
    (stdout, stderr)
}
