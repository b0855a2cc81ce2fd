//! What the property tests of the event parsers share (`scripts/fuzz`):
//! arbitrary JSON values whose keys are partly the real keys of the events,
//! mutations of the sample events in `events/`, the check that an error
//! names what was wrong, and a runner that reports how many cases it ran.
//!
//! `shared/tests/fuzz_*.rs` use it as `mod fuzz_support;`; the function
//! crates' tests include this file with `#[path]`.

use std::cell::Cell;
use std::fmt::{self, Debug};
use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};

/// Cases per property when `PROPTEST_CASES` is not set: a few seconds per
/// parser in a debug build, so that `cargo test --workspace` stays fast.
pub const DEFAULT_CASES: u32 = 512;

/// The keys of the events the functions read; most generated keys are one of these.
pub const KEYS: &[&str] = &[
    // EventBridge
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
    // SQS
    "Records",
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
    // SNS
    "EventSource",
    "EventVersion",
    "Sns",
    "Type",
    "MessageId",
    "TopicArn",
    "Message",
    // lifecycle hooks
    "LifecycleActionToken",
    "AutoScalingGroupName",
    "LifecycleHookName",
    "EC2InstanceId",
    "LifecycleTransition",
    "NotificationMetadata",
    "Origin",
    "Destination",
    "AccountId",
    "Event",
    // EC2 state changes
    "instance-id",
    "state",
    // CloudWatch alarm actions
    "alarmData",
    "alarmName",
    "alarmArn",
    "accountId",
    "value",
    "reason",
    "timestamp",
    "previousState",
    "configuration",
    "metrics",
    "metricStat",
    "metric",
    "namespace",
    "name",
    "dimensions",
    // CloudWatch alarms through SNS
    "AlarmName",
    "NewStateValue",
    "Trigger",
    "MetricName",
    "Namespace",
    "Dimensions",
    "Name",
    "Value",
];

/// The values that steer the parsers, and a few awkward ones.
pub const STRINGS: &[&str] = &[
    "",
    " ",
    "aws:sqs",
    "aws:sns",
    "aws:s3",
    "aws.autoscaling",
    "aws.ec2",
    "aws.events",
    "aws.cloudwatch",
    "EC2 Instance-launch Lifecycle Action",
    "EC2 Instance State-change Notification",
    "EC2 Instance Launch Successful",
    "Scheduled Event",
    "autoscaling:EC2_INSTANCE_LAUNCHING",
    "autoscaling:EC2_INSTANCE_TERMINATING",
    "autoscaling:TEST_NOTIFICATION",
    "WarmPool",
    "AutoScalingGroup",
    "EC2",
    "ALARM",
    "OK",
    "INSUFFICIENT_DATA",
    "ScalingGuard",
    "VcpuPercentOfBudget",
    "ClusterInstances",
    "AutoScalingGroupName",
    "prod-general",
    "i-0a1b2c3d4e5f60718",
    "scaling-guard-prod",
    "123456789012",
    "eu-west-1",
    "2026-11-26T10:00:00Z",
    "2026-11-26T10:02:00.000+0000",
    "not a time",
    "{",
    "[]",
    "{}",
    "null",
    "\u{0}",
    "é",
    "\u{1F600}",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        // Not finite: `Value::from` makes it null.
        1 => any::<f64>().prop_map(Value::from),
        4 => select(STRINGS).prop_map(Value::from),
        2 => any::<String>().prop_map(Value::String),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(KEYS).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Arbitrary JSON: objects keyed mostly by the events' keys, lists, scalars,
/// and JSON inside strings (SQS bodies and SNS messages are JSON text).
pub fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            2 => prop::collection::vec((key(), inner.clone()), 0..7)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
            1 => inner.prop_map(|value| Value::String(value.to_string())),
        ]
    })
}

/// Why a property test failed: what a `#[test]` returns, printed as is
/// (the test harness prints an error's `Debug`), so that the helpers report
/// a failure as a value instead of panicking outside a `#[test]` function.
pub struct Failure(String);

impl Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The sample events `names` of the `events` directory, read at test time.
pub fn samples(events: &Path, names: &[&str]) -> Result<Vec<Value>, Failure> {
    names
        .iter()
        .map(|name| {
            let path = events.join(name);
            let text = std::fs::read_to_string(&path)
                .map_err(|err| Failure(format!("cannot read {}: {err}", path.display())))?;
            serde_json::from_str(&text)
                .map_err(|err| Failure(format!("{} is not json: {err}", path.display())))
        })
        .collect()
}

/// One step of a path into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The paths of every node of `value`, root first.
fn paths(value: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(path.clone());
        match value {
            Value::Object(members) => {
                for (key, member) in members {
                    path.push(Step::Key(key.clone()));
                    walk(member, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    path.push(Step::Index(index));
                    walk(item, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

fn node<'a>(value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |node, step| match (node, step) {
            (Value::Object(members), Step::Key(key)) => members.get(key),
            (Value::Array(items), Step::Index(index)) => items.get(*index),
            _ => None,
        })
}

fn node_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter()
        .try_fold(value, |node, step| match (node, step) {
            (Value::Object(members), Step::Key(key)) => members.get_mut(key),
            (Value::Array(items), Step::Index(index)) => items.get_mut(*index),
            _ => None,
        })
}

/// The `selector`-th path (modulo their number) among the nodes that `keep`.
fn pick(
    value: &Value,
    selector: usize,
    keep: impl Fn(&[Step], &Value) -> bool,
) -> Option<Vec<Step>> {
    let candidates: Vec<Vec<Step>> = paths(value)
        .into_iter()
        .filter(|path| node(value, path).is_some_and(|node| keep(path, node)))
        .collect();
    let count = candidates.len();
    (count > 0)
        .then(|| candidates.into_iter().nth(selector % count))
        .flatten()
}

/// A string that holds a JSON object or list (an SQS body, an SNS message).
fn embedded(value: &Value) -> Option<Value> {
    value
        .as_str()
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .filter(|inner| inner.is_object() || inner.is_array())
}

/// An envelope put around the whole event.
#[derive(Debug, Clone)]
pub enum Envelope {
    /// An SQS batch of one message whose body is the event.
    Sqs,
    /// An SNS notification whose message is the event.
    Sns,
    /// An EventBridge event whose detail is the event.
    EventBridge(&'static str, &'static str),
    /// The event as JSON text in a string.
    Text,
}

impl Envelope {
    fn wrap(&self, value: Value) -> Value {
        match self {
            Envelope::Sqs => serde_json::json!({"Records": [{
                "messageId": "0c5f1a9e-6b3d-4e2a-9f8c-7d6e5b4a3c20",
                "receiptHandle": "AQEBexample0==",
                "body": value.to_string(),
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:scaling-guard-launches",
                "awsRegion": "eu-west-1",
            }]}),
            Envelope::Sns => serde_json::json!({"Records": [{
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "a1b2c3d4-e5f6-4a5b-8c9d-0e1f2a3b4c5d",
                    "TopicArn": "arn:aws:sns:eu-west-1:123456789012:scaling-guard",
                    "Message": value.to_string(),
                    "Timestamp": "2026-11-26T10:03:00.123Z",
                },
            }]}),
            Envelope::EventBridge(detail_type, source) => serde_json::json!({
                "version": "0",
                "id": "468fd4a9-6d5e-4a5b-8b3c-5f8e1a2b3c4d",
                "detail-type": detail_type,
                "source": source,
                "account": "123456789012",
                "time": "2026-11-26T10:00:00Z",
                "region": "eu-west-1",
                "resources": [],
                "detail": value,
            }),
            Envelope::Text => Value::String(value.to_string()),
        }
    }
}

/// One change to a JSON value; the numbers select the node it applies to.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Removes an object member or a list item.
    Delete(usize),
    /// Replaces a node by an arbitrary value.
    Replace(usize, Value),
    /// Gives a node another type: a string becomes a number, a number a
    /// string, an object a list, …
    Retype(usize),
    /// Blanks a string (empty or white space).
    Blank(usize, &'static str),
    /// Adds a member to an object.
    Insert(usize, String, Value),
    /// Repeats a list item.
    Repeat(usize),
    /// Changes the JSON inside a string (an SQS body, an SNS message).
    Embedded(usize, Box<Mutation>),
    /// Puts an envelope around the whole event (again).
    Wrap(Envelope),
}

fn retyped(value: &Value) -> Value {
    match value {
        Value::String(text) => text
            .parse::<f64>()
            .ok()
            .map_or_else(|| Value::from(text.len()), Value::from),
        Value::Number(number) => Value::String(number.to_string()),
        Value::Bool(flag) => Value::String(flag.to_string()),
        Value::Null => Value::String(String::new()),
        Value::Object(members) => Value::Array(members.values().cloned().collect()),
        Value::Array(items) => Value::Object(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| (index.to_string(), item.clone()))
                .collect::<Map<String, Value>>(),
        ),
    }
}

impl Mutation {
    /// Applies the mutation; one that finds no node to apply to changes nothing.
    pub fn apply(&self, mut value: Value) -> Value {
        match self {
            Mutation::Delete(selector) => {
                let Some(mut path) = pick(&value, *selector, |path, _| !path.is_empty()) else {
                    return value;
                };
                let Some(last) = path.pop() else {
                    return value;
                };
                match (node_mut(&mut value, &path), last) {
                    (Some(Value::Object(members)), Step::Key(key)) => {
                        members.remove(&key);
                    }
                    (Some(Value::Array(items)), Step::Index(index)) if index < items.len() => {
                        items.remove(index);
                    }
                    _ => {}
                }
                value
            }
            Mutation::Replace(selector, with) => set(value, *selector, |_| true, |_| with.clone()),
            Mutation::Retype(selector) => set(value, *selector, |_| true, retyped),
            Mutation::Blank(selector, blank) => {
                set(value, *selector, Value::is_string, |_| Value::from(*blank))
            }
            Mutation::Insert(selector, key, member) => {
                if let Some(Value::Object(members)) =
                    pick(&value, *selector, |_, node| node.is_object())
                        .and_then(|path| node_mut(&mut value, &path))
                {
                    members.insert(key.clone(), member.clone());
                }
                value
            }
            Mutation::Repeat(selector) => {
                if let Some(Value::Array(items)) = pick(&value, *selector, |_, node| {
                    node.as_array().is_some_and(|a| !a.is_empty())
                })
                .and_then(|path| node_mut(&mut value, &path))
                {
                    let first = items.first().cloned();
                    items.extend(first);
                }
                value
            }
            Mutation::Embedded(selector, inner) => set(
                value,
                *selector,
                |node| embedded(node).is_some(),
                |node| {
                    embedded(node).map_or(Value::Null, |json| {
                        Value::String(inner.apply(json).to_string())
                    })
                },
            ),
            Mutation::Wrap(envelope) => envelope.wrap(value),
        }
    }
}

/// Replaces the `selector`-th node that `keep` by `with` of it.
fn set(
    mut value: Value,
    selector: usize,
    keep: impl Fn(&Value) -> bool,
    with: impl Fn(&Value) -> Value,
) -> Value {
    if let Some(node) =
        pick(&value, selector, |_, node| keep(node)).and_then(|path| node_mut(&mut value, &path))
    {
        *node = with(node);
    }
    value
}

fn envelope() -> impl Strategy<Value = Envelope> {
    prop_oneof![
        Just(Envelope::Sqs),
        Just(Envelope::Sns),
        Just(Envelope::Text),
        (
            select(
                &[
                    "EC2 Instance-launch Lifecycle Action",
                    "EC2 Instance State-change Notification",
                    "EC2 Instance Launch Successful",
                    "Scheduled Event",
                ][..]
            ),
            select(&["aws.autoscaling", "aws.ec2", "aws.events", "aws.cloudwatch"][..]),
        )
            .prop_map(|(detail_type, source)| Envelope::EventBridge(detail_type, source)),
    ]
}

fn simple_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => any::<usize>().prop_map(Mutation::Delete),
        3 => (any::<usize>(), json()).prop_map(|(at, with)| Mutation::Replace(at, with)),
        2 => any::<usize>().prop_map(Mutation::Retype),
        2 => (any::<usize>(), select(&["", " ", "\t\n"][..])).prop_map(|(at, blank)| Mutation::Blank(at, blank)),
        2 => (any::<usize>(), key(), json()).prop_map(|(at, key, with)| Mutation::Insert(at, key, with)),
        1 => any::<usize>().prop_map(Mutation::Repeat),
        1 => envelope().prop_map(Mutation::Wrap),
    ]
}

/// A mutation, possibly of the JSON inside a string.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => simple_mutation(),
        1 => (any::<usize>(), simple_mutation()).prop_map(|(at, inner)| Mutation::Embedded(at, Box::new(inner))),
    ]
}

/// A change to the text of an event.
#[derive(Debug, Clone)]
pub enum Edit {
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Overwrite(usize, u8),
}

impl Edit {
    fn apply(&self, bytes: &mut Vec<u8>) {
        let at = |position: usize| position % (bytes.len() + 1);
        match self {
            Edit::Truncate(position) => bytes.truncate(at(*position)),
            Edit::Insert(position, inserted) => {
                let position = at(*position);
                bytes.splice(position..position, inserted.iter().copied());
            }
            Edit::Remove(position, count) => {
                let start = at(*position);
                let end = start.saturating_add(*count).min(bytes.len());
                bytes.drain(start..end);
            }
            Edit::Overwrite(position, byte) => {
                let position = at(*position);
                if let Some(slot) = bytes.get_mut(position) {
                    *slot = *byte;
                }
            }
        }
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Truncate),
        (
            any::<usize>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..8),
                select(
                    &[
                        "{",
                        "}",
                        "[",
                        "]",
                        "\"",
                        ",",
                        ":",
                        "\\",
                        "null",
                        "\"Records\":",
                        "\\u0000"
                    ][..]
                )
                .prop_map(|text| text.as_bytes().to_vec()),
            ]
        )
            .prop_map(|(at, inserted)| Edit::Insert(at, inserted)),
        (any::<usize>(), 1..64usize).prop_map(|(at, count)| Edit::Remove(at, count)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Overwrite(at, byte)),
    ]
}

/// What a parser is fed: a JSON value, or a text that may not be JSON.
#[derive(Debug, Clone)]
pub enum Input {
    Value(Value),
    Text(String),
}

impl Input {
    /// The value, when the input is one or its text is JSON.
    pub fn into_value(self) -> Option<Value> {
        match self {
            Input::Value(value) => Some(value),
            Input::Text(text) => serde_json::from_str(&text).ok(),
        }
    }
}

/// Arbitrary JSON, mutated samples, and mutated sample texts, about a third each.
pub fn inputs(samples: Vec<Value>) -> impl Strategy<Value = Input> {
    let sample = select(samples);
    let mutated = (sample, prop::collection::vec(mutation(), 1..4))
        .prop_map(|(sample, mutations)| {
            mutations
                .iter()
                .fold(sample, |value, mutation| mutation.apply(value))
        })
        .boxed();
    prop_oneof![
        json().prop_map(Input::Value),
        mutated.clone().prop_map(Input::Value),
        (mutated, any::<bool>(), prop::collection::vec(edit(), 1..4)).prop_map(
            |(value, pretty, edits)| {
                let text = match pretty {
                    true => serde_json::to_string_pretty(&value).unwrap_or_default(),
                    false => value.to_string(),
                };
                let mut bytes = text.into_bytes();
                for edit in &edits {
                    edit.apply(&mut bytes);
                }
                Input::Text(String::from_utf8_lossy(&bytes).into_owned())
            }
        ),
    ]
}

/// Fails the case unless `message` reads `<one of heads>: <what was wrong>`
/// and is no Debug dump.
pub fn clear_message(message: &str, heads: &[&str]) -> Result<(), TestCaseError> {
    prop_assert!(!message.trim().is_empty(), "an empty error message");
    prop_assert!(
        !message.contains("Error(") && !message.contains("Error {"),
        "a Debug dump: {message}"
    );
    let detail = heads
        .iter()
        .find_map(|head| message.strip_prefix(head)?.strip_prefix(": "));
    prop_assert!(
        detail.is_some_and(|detail| !detail.trim().is_empty()),
        "the message {message:?} does not read `<{}>: <what was wrong>`",
        heads.join("|")
    );
    Ok(())
}

/// The proptest configuration: `PROPTEST_CASES` cases (default
/// [`DEFAULT_CASES`]), no regression files (the failing input is in the panic).
pub fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.trim().parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Runs `property` on `config().cases` inputs of `strategy` and prints
/// `<parser>: cases run: N, failures: 0` from a count kept inside the property;
/// fails with the (shrunk) failing input otherwise.
pub fn check<S>(
    parser: &str,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> Result<(), Failure>
where
    S: Strategy,
    S::Value: Debug,
{
    let config = config();
    let runs = Cell::new(0_u64);
    let slowest = Cell::new(Duration::ZERO);
    let started = Instant::now();
    let mut runner = TestRunner::new(config.clone());
    let result = runner.run(&strategy, |input| {
        runs.set(runs.get().saturating_add(1));
        let case = Instant::now();
        let outcome = property(input);
        slowest.set(slowest.get().max(case.elapsed()));
        outcome
    });
    if let Err(err) = result {
        return Err(Failure(format!(
            "{parser}: a case failed ({} runs including shrinking): {err}",
            runs.get()
        )));
    }
    assert_eq!(
        runs.get(),
        u64::from(config.cases),
        "{parser}: every configured case ran once"
    );
    println!(
        "{parser}: cases run: {}, failures: 0 ({:.1?}, slowest case {:.1?})",
        runs.get(),
        started.elapsed(),
        slowest.get()
    );
    Ok(())
}
