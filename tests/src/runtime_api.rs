//! An in-process Lambda Runtime API (the "equivalent harness" of SPEC §10):
//! the endpoints a custom runtime talks to, so that an unmodified function
//! binary runs here as it runs in Lambda.
//!
//! * `GET  /2018-06-01/runtime/invocation/next` — long poll: the next queued
//!   event, with `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`,
//!   `-Invoked-Function-Arn` and `-Trace-Id`;
//! * `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error`
//!   — the outcome of an invocation;
//! * `POST /2018-06-01/runtime/init/error` — a failed init.
//!
//! HTTP comes from `tiny_http`: synchronous, a few small dependencies, runs
//! in plain threads. hyper/axum would pull a server build of hyper (and
//! tokio's `net` feature) into the workspace's feature set — a second build
//! of every AWS SDK crate for this crate alone — for four routes.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tiny_http::{Header, Method, Request, Response, Server};
use tokio::sync::oneshot;

use crate::clients::REGION;
use crate::emulator::ACCOUNT;
use crate::error::{Error, Result};

const PREFIX: &str = "/2018-06-01/runtime/";

/// What the function answered to one invocation: the raw body it posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`.
    Response(String),
    /// `POST /invocation/{id}/error`: `{"errorType", "errorMessage"}`.
    Error(String),
}

#[derive(Debug)]
struct Invocation {
    request_id: String,
    body: String,
    deadline: Duration,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Invocation>,
    waiting: HashMap<String, oneshot::Sender<Outcome>>,
    polls: u64,
    /// When the function first asked for an event (its init was done).
    first_poll: Option<Instant>,
    invocations: u64,
    init_error: Option<String>,
    shutdown: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A handler thread that panicked cannot leave the state half-changed
        // in a way that matters here: keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running Runtime API on `127.0.0.1:<free port>`. Dropping it stops the
/// server and releases any function still polling.
pub struct RuntimeApi {
    address: SocketAddr,
    function_arn: String,
    server: Arc<Server>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("address", &self.address)
            .field("function_arn", &self.function_arn)
            .finish_non_exhaustive()
    }
}

impl RuntimeApi {
    /// Starts the server for a function called `function_name`.
    pub fn start(function_name: &str) -> Result<Self> {
        let server = Server::http("127.0.0.1:0")
            .map_err(|err| Error::Function(format!("runtime api cannot listen: {err}")))?;
        let address = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| Error::Function("runtime api listens on no ip address".into()))?;
        let server = Arc::new(server);
        let shared = Arc::new(Shared::default());
        let function_arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}");
        let thread = {
            let server = Arc::clone(&server);
            let shared = Arc::clone(&shared);
            let arn = function_arn.clone();
            std::thread::spawn(move || serve(&server, &shared, &arn))
        };
        Ok(Self {
            address,
            function_arn,
            server,
            shared,
            thread: Some(thread),
        })
    }

    /// `127.0.0.1:PORT`: the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    pub fn function_arn(&self) -> &str {
        &self.function_arn
    }

    /// Queues an event; the receiver gets the function's outcome. `deadline`
    /// is the time the function is given (`Lambda-Runtime-Deadline-Ms`).
    pub fn submit(
        &self,
        event: &Value,
        deadline: Duration,
    ) -> (String, oneshot::Receiver<Outcome>) {
        let (sender, receiver) = oneshot::channel();
        let mut state = self.shared.lock();
        state.invocations = state.invocations.saturating_add(1);
        let request_id = format!("e2e-{:08x}-{:04x}", state.invocations, self.address.port());
        state.waiting.insert(request_id.clone(), sender);
        state.queue.push_back(Invocation {
            request_id: request_id.clone(),
            body: event.to_string(),
            deadline,
        });
        drop(state);
        self.shared.changed.notify_all();
        (request_id, receiver)
    }

    /// Forgets an invocation nobody waits for any more.
    pub fn cancel(&self, request_id: &str) {
        let mut state = self.shared.lock();
        state.queue.retain(|i| i.request_id != request_id);
        state.waiting.remove(request_id);
    }

    /// How many times the function asked for the next event (> 0: its init
    /// is done and it is ready).
    pub fn polls(&self) -> u64 {
        self.shared.lock().polls
    }

    /// When the function first asked for the next event (the end of its
    /// init, as Lambda sees it); `None` before.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.lock().first_poll
    }

    /// The body of `POST /runtime/init/error`, if the function sent one.
    pub fn init_error(&self) -> Option<String> {
        self.shared.lock().init_error.clone()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.changed.notify_all();
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(server: &Arc<Server>, shared: &Arc<Shared>, function_arn: &str) {
    loop {
        match server.recv() {
            Ok(request) => {
                // One thread per request: `next` blocks until an event is
                // queued, and must not hold up the other routes.
                let shared = Arc::clone(shared);
                let arn = function_arn.to_owned();
                std::thread::spawn(move || handle(request, &shared, &arn));
            }
            Err(_) if shared.lock().shutdown => return,
            Err(_) => {}
        }
    }
}

fn handle(mut request: Request, shared: &Shared, function_arn: &str) {
    let path = request.url().to_owned();
    let route = path.strip_prefix(PREFIX).unwrap_or_default();
    let parts: Vec<&str> = route.split('/').collect();
    let mut body = String::new();
    if *request.method() == Method::Post {
        let _ = request.as_reader().read_to_string(&mut body);
    }
    let answer = match (request.method(), parts.as_slice()) {
        (Method::Get, ["invocation", "next"]) => next(shared, function_arn),
        (Method::Post, ["invocation", id, "response"]) => {
            finish(shared, id, Outcome::Response(body))
        }
        (Method::Post, ["invocation", id, "error"]) => finish(shared, id, Outcome::Error(body)),
        (Method::Post, ["init", "error"]) => {
            shared.lock().init_error = Some(body);
            shared.changed.notify_all();
            accepted()
        }
        _ => error(404, &format!("no route {} {path}", request.method())),
    };
    let _ = request.respond(answer);
}

type Answer = Response<std::io::Cursor<Vec<u8>>>;

fn next(shared: &Shared, function_arn: &str) -> Answer {
    let mut state = shared.lock();
    state.polls = state.polls.saturating_add(1);
    state.first_poll.get_or_insert_with(Instant::now);
    shared.changed.notify_all();
    let invocation = loop {
        if state.shutdown {
            return error(503, "the runtime api is shutting down");
        }
        if let Some(invocation) = state.queue.pop_front() {
            break invocation;
        }
        state = match shared
            .changed
            .wait_timeout(state, Duration::from_millis(250))
        {
            Ok((state, _)) => state,
            Err(poisoned) => poisoned.into_inner().0,
        };
    };
    drop(state);
    let deadline_ms = SystemTime::now()
        .checked_add(invocation.deadline)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let trace_id = format!(
        "Root=1-00000000-{:0>24};Parent=0000000000000001;Sampled=0",
        invocation.request_id.replace('-', "")
    );
    let headers = [
        ("Lambda-Runtime-Aws-Request-Id", invocation.request_id),
        ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
        (
            "Lambda-Runtime-Invoked-Function-Arn",
            function_arn.to_owned(),
        ),
        ("Lambda-Runtime-Trace-Id", trace_id),
        ("Content-Type", "application/json".to_owned()),
    ];
    headers.into_iter().fold(
        Response::from_string(invocation.body),
        |response, (name, value)| match Header::from_bytes(name, value) {
            Ok(header) => response.with_header(header),
            Err(()) => response,
        },
    )
}

fn finish(shared: &Shared, request_id: &str, outcome: Outcome) -> Answer {
    let sender = shared.lock().waiting.remove(request_id);
    match sender {
        Some(sender) => {
            let _ = sender.send(outcome);
            accepted()
        }
        None => error(400, &format!("unknown request id `{request_id}`")),
    }
}

fn accepted() -> Answer {
    Response::from_string(r#"{"status":"OK"}"#).with_status_code(202)
}

fn error(status: u16, message: &str) -> Answer {
    let body = serde_json::json!({"errorType": "InvalidRequest", "errorMessage": message});
    Response::from_string(body.to_string()).with_status_code(status)
}
