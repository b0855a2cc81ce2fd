//! The local AWS: `scripts/emulator/server.py` (moto plus the project's
//! documented extensions) as a child process, one per test, and its control
//! endpoint.

use std::fmt::Write as _;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::http;
use crate::workspace_root;

mod decision_events;
mod managed;
mod org;

pub use decision_events::ReceivedEvent;
pub use org::SlowPages;

/// moto's account: every resource the emulator creates belongs to it.
pub const ACCOUNT: &str = "123456789012";

/// How long the emulator may take to import moto and listen. It takes about a
/// second alone; tests start several at once on two cores.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);

/// A running emulator. Dropping it kills the process, so a failing test
/// leaves nothing running.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    port: u16,
    port_file: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Emulator {
    /// Starts `.venv/bin/python scripts/emulator/server.py --port 0` and waits
    /// until it listens.
    pub fn start() -> Result<Self> {
        let root = workspace_root();
        let python = root.join(".venv/bin/python");
        if !python.is_file() {
            return Err(Error::Setup(format!(
                "the emulator's virtualenv is missing (`{}`): run `scripts/bootstrap` first",
                python.display()
            )));
        }
        let port_file = unique_port_file();
        let mut child = Command::new(&python)
            .arg(root.join("scripts/emulator/server.py"))
            .args(["--port", "0", "--port-file"])
            .arg(&port_file)
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(Error::io(format!("cannot start `{}`", python.display())))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = child.stderr.take() {
            collect(pipe, Arc::clone(&stderr));
        }
        let mut emulator = Emulator {
            child,
            port: 0,
            port_file,
            stderr,
        };
        emulator.port = emulator.wait_for_port()?;
        Ok(emulator)
    }

    fn wait_for_port(&mut self) -> Result<u16> {
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.port_file)
                && let Ok(port) = text.trim().parse()
            {
                return Ok(port);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::Emulator(format!(
                    "exited before listening ({status}): {}",
                    self.logs()
                )));
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(Error::Emulator(format!(
                    "not listening after {START_TIMEOUT:?}: {}",
                    self.logs()
                )));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `http://127.0.0.1:PORT`, for `endpoint_url` / `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address())
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn control(&self) -> Control {
        Control {
            address: self.address(),
        }
    }

    /// What the emulator wrote to stderr (moto logs errors there).
    pub fn logs(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Emulator {
    /// Fails the test, unless it failed already, when an event it made is
    /// invalid against its schema (`decision_events.rs`); then stops.
    fn drop(&mut self) {
        if !std::thread::panicking() && self.child.try_wait().is_ok_and(|exited| exited.is_none()) {
            let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.assert_decision_events_valid();
            }));
            self.stop();
            if let Err(failure) = checked {
                std::panic::resume_unwind(failure);
            }
            return;
        }
        self.stop();
    }
}

impl Emulator {
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.port_file);
        let logs = self.logs();
        if std::thread::panicking() && !logs.trim().is_empty() {
            eprintln!("--- emulator stderr ---\n{logs}");
        }
    }
}

fn unique_port_file() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("scaling-guard-e2e-{}-{n}.port", std::process::id()))
}

/// Appends everything `pipe` yields to `sink`, in a thread, until it closes.
pub(crate) fn collect(mut pipe: impl Read + Send + 'static, sink: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buffer = [0_u8; 4096];
        while let Ok(n) = pipe.read(&mut buffer) {
            let Some(chunk) = buffer.get(..n).filter(|c| !c.is_empty()) else {
                break;
            };
            if let Ok(mut sink) = sink.lock() {
                sink.push_str(&String::from_utf8_lossy(chunk));
            }
        }
    });
}

/// One lifecycle action waiting for completion, as the control endpoint lists
/// it: everything the EventBridge event of the launch carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAction {
    pub token: String,
    pub group: String,
    pub hook: String,
    pub instance_id: String,
    pub transition: String,
    pub notification_metadata: Option<String>,
    pub account: String,
    pub region: String,
    pub time: String,
    pub origin: String,
    pub destination: String,
}

/// New dates of an image (ISO 8601); `deprecation_time: Some(None)` clears it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImageDates {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecation_time: Option<Option<String>>,
}

/// What an injected fault does (`scripts/emulator/faults.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// The service's own throttling error, which the SDKs retry: Query
    /// `Throttling` (400), EC2 `RequestLimitExceeded` (503), JSON
    /// `ThrottlingException` (400).
    Throttle,
    /// A plain 5xx: 500 `InternalFailure` (EC2 `InternalError`) or, with
    /// [`FaultRule::status`] 503, `ServiceUnavailable` (EC2 `Unavailable`).
    Error,
    /// The call is answered normally, after a delay (slept outside the
    /// emulator's lock: other calls go on meanwhile).
    Latency,
}

/// One fault rule: an operation (`"*"`: any), a kind, and how often it fires
/// (the next `count` matching calls, or a `share` of them drawn from the
/// seeded RNG). Rules are tried in order; the first that fires decides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultRule {
    pub operation: String,
    pub kind: FaultKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<u32>,
    /// `[low, high]` milliseconds, drawn uniformly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<[u64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl FaultRule {
    /// A rule for `operation` (`"*"` for any) that fires on every matching
    /// call until [`Self::share`], [`Self::count`] say otherwise.
    pub fn new(operation: &str, kind: FaultKind) -> Self {
        Self {
            operation: operation.to_owned(),
            kind,
            service: None,
            count: None,
            share: Some(1.0),
            skip: None,
            latency_ms: None,
            status: None,
        }
    }

    pub fn throttle(operation: &str) -> Self {
        Self::new(operation, FaultKind::Throttle)
    }

    /// A 5xx (500 unless [`Self::status`]).
    pub fn error(operation: &str) -> Self {
        Self::new(operation, FaultKind::Error)
    }

    pub fn latency(operation: &str, low_ms: u64, high_ms: u64) -> Self {
        Self::new(operation, FaultKind::Latency).delayed(low_ms, high_ms)
    }

    /// Fires on this fraction of the matching calls (0..1).
    pub fn share(mut self, share: f64) -> Self {
        self.share = Some(share);
        self.count = None;
        self
    }

    /// Fires on the next `count` matching calls.
    pub fn count(mut self, count: u32) -> Self {
        self.count = Some(count);
        self.share = None;
        self
    }

    /// Lets the first `skip` matching calls pass.
    pub fn skip(mut self, skip: u32) -> Self {
        self.skip = Some(skip);
        self
    }

    /// Only calls to this service (the SigV4 scope: `ec2`, `autoscaling`, ...).
    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.to_owned());
        self
    }

    /// Answers (the error, or the call) after `low_ms..=high_ms`.
    pub fn delayed(mut self, low_ms: u64, high_ms: u64) -> Self {
        self.latency_ms = Some([low_ms, high_ms]);
        self
    }

    /// The status of an [`FaultKind::Error`]: 500 or 503.
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
}

/// A rule as the emulator reports it, with what it did.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FaultCounter {
    pub operation: String,
    pub kind: FaultKind,
    #[serde(default)]
    pub service: Option<String>,
    /// Calls the rule saw (those an earlier rule took are not counted).
    pub matched: u64,
    /// Faults it injected.
    pub injected: u64,
}

/// The fault rules in force and their counters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FaultState {
    pub seed: u64,
    pub injected: u64,
    pub rules: Vec<FaultCounter>,
}

impl std::fmt::Display for FaultState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} faults injected (seed {})", self.injected, self.seed)?;
        for rule in &self.rules {
            write!(
                f,
                "\n  {:?} {}{}: {} of {} calls",
                rule.kind,
                rule.service
                    .as_deref()
                    .map(|s| format!("{s}:"))
                    .unwrap_or_default(),
                rule.operation,
                rule.injected,
                rule.matched
            )?;
        }
        Ok(())
    }
}

/// How a lifecycle action ended, as the emulator recorded it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EndedAction {
    pub token: String,
    pub group: String,
    pub hook: String,
    pub instance_id: String,
    pub destination: String,
    /// `CompleteLifecycleAction`, `heartbeat_timeout` (the hook's
    /// DefaultResult) or `instance_left` (terminated or detached otherwise).
    pub by: String,
    /// `CONTINUE` or `ABANDON`; `None` for `instance_left`.
    pub result: Option<String>,
    /// Epoch seconds: when the action was recorded (the launch) and ended.
    pub launched: f64,
    pub ended: f64,
    pub seconds: f64,
    pub heartbeat_timeout: Option<u64>,
    /// Its place in the order of [`RequestRecord`]s.
    pub seq: Option<u64>,
}

/// One AWS request the emulator served.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RequestRecord {
    /// Order of arrival, and of the answer, in one sequence with
    /// [`EndedAction::seq`].
    pub seq: u64,
    pub done_seq: u64,
    pub service: Option<String>,
    pub operation: Option<String>,
    /// The injected fault, if any.
    pub fault: Option<FaultKind>,
    pub rule: Option<usize>,
    pub status: u16,
    pub received: f64,
    pub answered: f64,
    /// The groups and instances the request names (form-encoded requests:
    /// Auto Scaling and EC2), sorted.
    #[serde(default)]
    pub targets: Vec<String>,
    /// The access key id that signed it: guards started with keys of their
    /// own ([`crate::Function::start`]'s environment) tell their calls apart.
    #[serde(default)]
    pub caller: Option<String>,
}

/// The emulator's control endpoint (`/_scaling_guard/...`, not an AWS API).
#[derive(Debug, Clone)]
pub struct Control {
    address: String,
}

impl Control {
    /// The pending lifecycle actions, of one group or of all.
    pub fn lifecycle_actions(&self, group: Option<&str>) -> Result<Vec<PendingAction>> {
        let mut path = "/_scaling_guard/lifecycle-actions".to_owned();
        if let Some(group) = group {
            path.push_str("?group=");
            path.push_str(&percent_encode(group));
        }
        let body = self.call("GET", &path, None)?;
        serde_json::from_str(&body).map_err(Error::json("pending lifecycle actions"))
    }

    /// The pending action of one instance, if any.
    pub fn lifecycle_action_of(&self, instance_id: &str) -> Result<Option<PendingAction>> {
        Ok(self
            .lifecycle_actions(None)?
            .into_iter()
            .find(|action| action.instance_id == instance_id))
    }

    /// Backdates or deprecates an image (moto stamps "now" and has no
    /// deprecation time).
    pub fn set_image_dates(&self, image_id: &str, dates: &ImageDates) -> Result<()> {
        let body = serde_json::to_string(dates).map_err(Error::json("image dates"))?;
        self.call(
            "POST",
            &format!("/_scaling_guard/images/{image_id}"),
            Some(&body),
        )
        .map(drop)
    }

    /// Applies the hook's `DefaultResult`, as when the heartbeat times out.
    pub fn time_out(&self, token: &str) -> Result<()> {
        self.call(
            "POST",
            &format!("/_scaling_guard/lifecycle-actions/{token}/timeout"),
            Some("{}"),
        )
        .map(drop)
    }

    /// Launches `count` instances from the group's launch template into its
    /// warm pool (the group needs one: [`crate::Cluster::put_warm_pool`]) and
    /// returns their ids. They are in EC2 with the group's propagated tags but
    /// not in the group's instances; with launch hooks each waits in
    /// `Warmed:Pending:Wait` with one pending action per hook (origin `EC2`,
    /// destination `WarmPool`), `CONTINUE` warms it (`Warmed:Running` in a
    /// running pool), `ABANDON` terminates it.
    pub fn warm_pool_launch(&self, group: &str, count: u32) -> Result<Vec<String>> {
        let body = serde_json::json!({ "count": count }).to_string();
        let answer = self.call(
            "POST",
            &format!(
                "/_scaling_guard/groups/{}/warm-pool/launch",
                percent_encode(group)
            ),
            Some(&body),
        )?;
        serde_json::from_str(&answer).map_err(Error::json("warm pool instance ids"))
    }

    /// Moves a warmed instance of the group's warm pool into the group, as a
    /// scale-out drawing on the pool does (the desired capacity grows by one;
    /// refused at `MaxSize` or while `Launch` is suspended). With launch hooks
    /// it waits in `Pending:Wait` with one pending action per hook (origin
    /// `WarmPool`, destination `AutoScalingGroup`); without, it is `InService`.
    pub fn warm_pool_enter(&self, group: &str, instance_id: &str) -> Result<()> {
        let body = serde_json::json!({ "instance_id": instance_id }).to_string();
        self.call(
            "POST",
            &format!(
                "/_scaling_guard/groups/{}/warm-pool/enter",
                percent_encode(group)
            ),
            Some(&body),
        )
        .map(drop)
    }

    /// Publishes SSM public parameters (`/aws/service/...` names, which no
    /// account may write) in `region`, as AWS publishes its recommended
    /// images; seeding a name again adds a version.
    pub fn seed_public_parameters(&self, region: &str, parameters: &[(&str, &str)]) -> Result<()> {
        let parameters: serde_json::Map<String, serde_json::Value> = parameters
            .iter()
            .map(|(name, value)| ((*name).to_owned(), serde_json::Value::from(*value)))
            .collect();
        let body = serde_json::json!({ "parameters": parameters, "region": region }).to_string();
        self.call("POST", "/_scaling_guard/ssm/public-parameters", Some(&body))
            .map(drop)
    }

    /// Replaces the fault rules (and restarts the RNG with `seed`).
    pub fn set_faults(&self, rules: &[FaultRule], seed: u64) -> Result<FaultState> {
        let body = serde_json::json!({ "rules": rules, "seed": seed }).to_string();
        let answer = self.call("POST", "/_scaling_guard/faults", Some(&body))?;
        serde_json::from_str(&answer).map_err(Error::json("fault state"))
    }

    /// The fault rules in force and how many faults each injected.
    pub fn faults(&self) -> Result<FaultState> {
        let answer = self.call("GET", "/_scaling_guard/faults", None)?;
        serde_json::from_str(&answer).map_err(Error::json("fault state"))
    }

    /// Removes every fault rule; returns the state just before.
    pub fn clear_faults(&self) -> Result<FaultState> {
        let before = self.faults()?;
        self.call("DELETE", "/_scaling_guard/faults", None)?;
        Ok(before)
    }

    /// How lifecycle actions ended so far (of one group or of all), in order.
    pub fn ended_actions(&self, group: Option<&str>) -> Result<Vec<EndedAction>> {
        let mut path = "/_scaling_guard/lifecycle-actions/ended".to_owned();
        if let Some(group) = group {
            path.push_str("?group=");
            path.push_str(&percent_encode(group));
        }
        let body = self.call("GET", &path, None)?;
        serde_json::from_str(&body).map_err(Error::json("ended lifecycle actions"))
    }

    /// Makes the emulator apply each hook's heartbeat timeout on its own
    /// (`DefaultResult`), as AWS does; off by default.
    pub fn enforce_heartbeat_timeouts(&self, enforce: bool) -> Result<()> {
        let body = serde_json::json!({ "enforce": enforce }).to_string();
        self.call("POST", "/_scaling_guard/heartbeat-timeouts", Some(&body))
            .map(drop)
    }

    /// The AWS requests served since the last [`Self::clear_requests`] (of
    /// one operation, or all), in order of arrival.
    pub fn requests(&self, operation: Option<&str>) -> Result<Vec<RequestRecord>> {
        let mut path = "/_scaling_guard/requests".to_owned();
        if let Some(operation) = operation {
            path.push_str("?operation=");
            path.push_str(&percent_encode(operation));
        }
        let body = self.call("GET", &path, None)?;
        serde_json::from_str(&body).map_err(Error::json("requests"))
    }

    pub fn clear_requests(&self) -> Result<()> {
        self.call("DELETE", "/_scaling_guard/requests", None)
            .map(drop)
    }

    fn call(&self, method: &str, path: &str, body: Option<&str>) -> Result<String> {
        let answer = http::request(&self.address, method, path, body, CONTROL_TIMEOUT)?;
        if answer.status != 200 {
            return Err(Error::Emulator(format!(
                "{method} {path} answered {}: {}",
                answer.status, answer.body
            )));
        }
        Ok(answer.body)
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}
