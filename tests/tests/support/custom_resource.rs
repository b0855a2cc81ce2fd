//! CloudFormation's side of the stack's custom resource (`Guard`), for the
//! end-to-end tests: requests shaped like `events/stack-*.json`, sent to the
//! real stack-guard binary, and a local stand-in for the pre-signed
//! `ResponseURL` that hands back what the function `PUT` there.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Duration;

use scaling_guard_e2e::Function;
use serde_json::{Value, json};

use super::Bed;

/// `StackGuardFunction`'s `Timeout` in template.yaml.
const STACK_GUARD_TIMEOUT: Duration = Duration::from_secs(600);

/// What the `PUT` to the response URL carried.
#[derive(Debug)]
pub struct Captured {
    pub method: String,
    pub url: String,
    pub content_type: Option<String>,
    pub body: Value,
}

/// A local stand-in for CloudFormation's pre-signed `ResponseURL`: answers
/// one request with 200 and hands back what it received.
struct ResponseUrl {
    url: String,
    received: mpsc::Receiver<Captured>,
}

impl ResponseUrl {
    fn start() -> Self {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let address = server.server_addr().to_ip().unwrap();
        let url = format!("http://{address}/response/stack%7CGuard?X-Amz-Signature=abc");
        let (sender, received) = mpsc::channel();
        std::thread::spawn(move || {
            let Ok(mut request) = server.recv() else {
                return;
            };
            let mut body = String::new();
            request.as_reader().read_to_string(&mut body).unwrap();
            let content_type = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Content-Type"))
                .map(|h| h.value.as_str().to_owned());
            let captured = Captured {
                method: request.method().as_str().to_owned(),
                url: request.url().to_owned(),
                content_type,
                body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
            };
            let _ = request.respond(tiny_http::Response::empty(200));
            let _ = sender.send(captured);
        });
        ResponseUrl { url, received }
    }

    /// The one answer the function sent.
    fn answer(&self) -> Captured {
        self.received
            .recv_timeout(Duration::from_secs(30))
            .expect("the function answered CloudFormation")
    }
}

/// A request as CloudFormation sends it (the shape of `events/stack-*.json`),
/// answered to `url`.
pub fn request(kind: &str, url: &str, policy: &BTreeMap<String, String>) -> Value {
    let mut event = json!({
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:scaling-guard-stack-guard",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/scaling-guard/5b8e2c20-cf1a-11f0-9a1e-0a7c4d2b1f3e",
        "RequestId": format!("request-{kind}"),
        "LogicalResourceId": "Guard",
        "ResourceType": "Custom::ScalingGuardPolicy",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:scaling-guard-stack-guard",
            "Policy": policy,
        }
    });
    if kind != "Create" {
        event["PhysicalResourceId"] = json!("scaling-guard-prod");
    }
    if kind == "Update" {
        event["OldResourceProperties"] = event["ResourceProperties"].clone();
    }
    event
}

impl Bed {
    pub async fn stack_guard(&self) -> Function {
        // The policy comes with each request, not from the environment.
        let binary = Function::binary("stack-guard").unwrap();
        Function::start(&binary, &self.endpoint(), Vec::<(String, String)>::new())
            .await
            .expect("stack-guard starts")
    }

    /// Sends `kind` with `policy` to the function and returns what it `PUT`.
    pub async fn custom_resource(
        &self,
        function: &Function,
        kind: &str,
        policy: &BTreeMap<String, String>,
    ) -> Captured {
        self.answer_to(function, kind, |url| request(kind, url, policy))
            .await
    }

    /// Sends an `Update` from the `old` policy to `new` and returns what the
    /// function `PUT`.
    pub async fn update_from(
        &self,
        function: &Function,
        old: &BTreeMap<String, String>,
        new: &BTreeMap<String, String>,
    ) -> Captured {
        self.answer_to(function, "Update", |url| {
            let mut event = request("Update", url, new);
            event["OldResourceProperties"]["Policy"] = json!(old);
            event
        })
        .await
    }

    /// Sends the request `event` makes for a response URL and returns what
    /// the function `PUT` there.
    pub async fn answer_to(
        &self,
        function: &Function,
        kind: &str,
        event: impl FnOnce(&str) -> Value,
    ) -> Captured {
        answer_to(function, kind, event).await
    }
}

/// [`Bed::answer_to`] without a bed: for a function acting in another
/// account of the emulator (`org_removal.rs`).
pub async fn answer_to(
    function: &Function,
    kind: &str,
    event: impl FnOnce(&str) -> Value,
) -> Captured {
    let server = ResponseUrl::start();
    // The template's deadline: a delete or an identity change keeps
    // `ANSWER_RESERVE` of it to answer and releases until then.
    function
        .invoke_with_deadline(&event(&server.url), STACK_GUARD_TIMEOUT)
        .await
        .unwrap();
    let answer = server.answer();
    assert_eq!(answer.method, "PUT");
    assert_eq!(answer.url, "/response/stack%7CGuard?X-Amz-Signature=abc");
    assert_eq!(
        answer.content_type.as_deref(),
        Some(""),
        "signed for no type"
    );
    assert_eq!(
        answer.body["StackId"],
        request(kind, "", &BTreeMap::new())["StackId"]
    );
    assert_eq!(answer.body["RequestId"], format!("request-{kind}"));
    assert_eq!(answer.body["LogicalResourceId"], "Guard");
    answer
}
