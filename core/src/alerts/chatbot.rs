//! An alert as an AWS Chatbot custom notification (Amazon Q Developer in
//! chat applications): the message an SNS topic that Chatbot subscribes to
//! must carry, or Chatbot drops it (issue 24, point 3).
//!
//! The format is AWS's ("Custom notifications", chatbot/latest/adminguide/
//! custom-notifs.html), written down as `schemas/chatbot/custom-notification.json`
//! with the bounds this module keeps ([`limits`]); every alert kind is
//! validated against that schema in the tests. Every text that comes from
//! outside the guard (group names, image names, tag values) is escaped, so a
//! name cannot format, link or mention in the channel.

mod markdown;
mod thread;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Alert;
use crate::decision::Finding;
use markdown::{clip, code, prose, sentences};
pub use thread::Thread;

/// The bounds of `schemas/chatbot/custom-notification.json` (the guard's,
/// not AWS's: a message that fits renders whole in Slack and Teams).
pub mod limits {
    pub const TITLE: usize = 250;
    /// Slack's limit of one text block.
    pub const DESCRIPTION: usize = 3000;
    pub const NEXT_STEPS: usize = 5;
    pub const NEXT_STEP: usize = 500;
    pub const SUMMARY: usize = 250;
    pub const THREAD_ID: usize = 128;
    /// One reason's line, so that one long message leaves room for the others.
    pub const REASON: usize = 600;
    /// A value quoted in a line (an image name, a tag value).
    pub const VALUE: usize = 200;
}

/// The custom notification's `version`: the only one Chatbot knows.
pub const VERSION: &str = "1.0";
/// The custom notification's `source`: the only one Chatbot accepts from us.
pub const SOURCE: &str = "custom";
/// Chatbot renders this in the chat client's own markdown (Slack, Teams, Chime).
pub const TEXT_TYPE: &str = "client-markdown";

/// One custom notification (the `Message` of a raw SNS publish).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatNotification {
    pub version: &'static str,
    pub source: &'static str,
    /// Derived from the alert's JSON: the same alert has the same id.
    pub id: String,
    pub content: Content,
    pub metadata: Metadata,
}

/// What the channel shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub text_type: &'static str,
    pub title: String,
    /// What happened, where, and why (the violations).
    pub description: String,
    /// The alert's advice, one step per sentence.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub next_steps: Vec<String>,
    /// Cluster, severity and kind, as tags.
    pub keywords: Vec<String>,
}

/// How Chatbot files it: the thread, and what custom actions can match.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub thread_id: String,
    pub summary: String,
    /// `scaling-guard.<kind>`, for custom actions' criteria.
    pub event_type: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_resources: Vec<String>,
    /// The alert's facts as strings: custom actions' variables.
    pub additional_context: BTreeMap<String, String>,
    /// Chatbot's default: operators may attach their own buttons.
    pub enable_custom_actions: bool,
}

impl ChatNotification {
    /// The notification of `alert`.
    pub fn of(alert: &Alert) -> Self {
        Self {
            version: VERSION,
            source: SOURCE,
            id: id(alert),
            content: Content {
                text_type: TEXT_TYPE,
                title: title(alert),
                description: description(alert),
                next_steps: next_steps(&alert.advice),
                keywords: vec![
                    alert.cluster.clone(),
                    alert.severity.as_str().to_owned(),
                    alert.kind.as_str().to_owned(),
                ],
            },
            metadata: Metadata {
                thread_id: Thread::of(alert).id(),
                summary: alert.subject(),
                event_type: format!("scaling-guard.{}", alert.kind.as_str()),
                related_resources: related_resources(alert),
                additional_context: additional_context(alert),
                enable_custom_actions: true,
            },
        }
    }

    /// The JSON document, the `Message` of the chat topic's publish.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `scaling-guard-<32 hex>`: a digest of the alert's JSON document.
fn id(alert: &Alert) -> String {
    let digest = Sha256::digest(alert.json().as_bytes());
    let hex: String = digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("scaling-guard-{hex}")
}

/// `:rotating_light: prod: launch of i-0abc denied (instance_type.allowed)`.
fn title(alert: &Alert) -> String {
    let emoji = match alert.severity {
        super::Severity::Critical => ":rotating_light:",
        super::Severity::Warning => ":warning:",
        super::Severity::Info => ":information_source:",
    };
    let text = format!("{} {}: {}", emoji, alert.cluster, alert.headline);
    prose(&clip(&text, limits::TITLE))
}

/// Where (cluster, group, instance), what was decided, the reasons and the
/// kind's figures; lines that do not fit are counted, not cut in half.
fn description(alert: &Alert) -> String {
    let mut lines = vec![format!("*What happened:* {}", prose(&alert.headline))];
    lines.push(where_line(alert));
    lines.extend(alert.violations.iter().map(reason_line));
    lines.extend(alert.details.iter().map(|(key, value)| {
        format!(
            "*{}:* {}",
            prose(key),
            code(&detail_text(value), limits::VALUE)
        )
    }));
    fit(lines, limits::DESCRIPTION)
}

/// `*Cluster:* `prod` · *Group:* `prod-general` · …`
fn where_line(alert: &Alert) -> String {
    let mut parts = vec![format!(
        "*Cluster:* {}",
        code(&alert.cluster, limits::VALUE)
    )];
    if let Some(group) = &alert.group {
        parts.push(format!("*Group:* {}", code(group, limits::VALUE)));
    }
    if let Some(instance) = &alert.instance_id {
        parts.push(format!("*Instance:* {}", code(instance, limits::VALUE)));
    }
    parts.push(format!(
        "*Decision:* {}",
        code(&alert.decision, limits::VALUE)
    ));
    parts.push(format!(
        "*Mode:* {}",
        code(alert.mode.as_str(), limits::VALUE)
    ));
    if let (Some(account), Some(region)) = (&alert.account, &alert.region) {
        parts.push(format!(
            "*Account:* {} ({})",
            code(account, limits::VALUE),
            code(region, limits::VALUE)
        ));
    }
    parts.join(" · ")
}

/// `• `instance_type.allowed` (blocking): … expected `m6i.*`, actual `p5.48xlarge``
fn reason_line(finding: &Finding) -> String {
    let violation = &finding.violation;
    let effect = if finding.blocking {
        "blocking"
    } else {
        "reported only"
    };
    let message = prose(&clip(&violation.message, limits::REASON));
    let mut line = String::new();
    let _ = write!(
        line,
        "• {} ({effect}): {message}. Expected {}, actual {}",
        code(violation.check.as_str(), limits::VALUE),
        code(&violation.expected, limits::VALUE),
        code(&violation.actual, limits::VALUE)
    );
    line
}

fn detail_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The lines joined while they fit in `max` characters, then one line
/// saying how many were left out (the alert topic's message has them all).
fn fit(lines: Vec<String>, max: usize) -> String {
    let total = lines.len();
    let mut text = String::new();
    for (index, line) in lines.into_iter().enumerate() {
        let left = total - index;
        let note = format!("_… {left} more line(s): the alert topic's message has them all_");
        let needed = text.chars().count() + line.chars().count() + 1;
        let after = if left > 1 {
            note.chars().count() + 1
        } else {
            0
        };
        if needed + after > max {
            text.push_str(&note);
            return text;
        }
        text.push_str(&line);
        text.push('\n');
    }
    text.trim_end().to_owned()
}

/// The advice, one step per sentence, at most [`limits::NEXT_STEPS`]: the
/// last step takes the rest.
fn next_steps(advice: &str) -> Vec<String> {
    let mut steps = sentences(advice);
    if steps.len() > limits::NEXT_STEPS {
        let rest = steps.split_off(limits::NEXT_STEPS - 1).join(" ");
        steps.push(rest);
    }
    steps
        .iter()
        .map(|step| prose(&clip(step, limits::NEXT_STEP)))
        .collect()
}

fn related_resources(alert: &Alert) -> Vec<String> {
    [&alert.instance_id, &alert.group]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
}

fn additional_context(alert: &Alert) -> BTreeMap<String, String> {
    let mut context = BTreeMap::from([
        ("cluster".to_owned(), alert.cluster.clone()),
        ("kind".to_owned(), alert.kind.as_str().to_owned()),
        ("severity".to_owned(), alert.severity.as_str().to_owned()),
        ("decision".to_owned(), alert.decision.clone()),
        ("mode".to_owned(), alert.mode.as_str().to_owned()),
        ("time".to_owned(), alert.time.clone()),
    ]);
    let optional = [
        ("group", &alert.group),
        ("instance_id", &alert.instance_id),
        ("account", &alert.account),
        ("region", &alert.region),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            context.insert(key.to_owned(), clip(value, limits::VALUE));
        }
    }
    context
}

#[cfg(test)]
mod tests;
