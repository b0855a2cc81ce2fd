//! What an invocation returns (and logs): a notification's summary, or a
//! batch's failures. The runtime serialises it; a value that cannot be
//! serialised fails the invocation instead of answering `null`.

use aws_lambda_events::sqs::SqsBatchResponse;
use serde::Serialize;
use shared::checks::Violation;
use shared::decision::{Decision, Finding};
use shared::policy::Mode;

/// The answer to one invocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// One EventBridge event or hook message.
    Decision(Summary),
    /// An SQS batch: the messages to redeliver (`batchItemFailures`).
    Batch(SqsBatchResponse),
}

/// The JSON summary an invocation returns (and logs) per notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub decision: Decision,
    pub instance_id: Option<String>,
    pub group: Option<String>,
    pub violations: Vec<Finding>,
    /// Violations of checks the policy exempts for the group
    /// (`GUARD_CHECK_EXCEPTIONS`): visible, never blocking or alerted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exempted: Vec<Violation>,
    pub mode: Mode,
    /// Why the notification was ignored or decided without facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The action was already completed or timed out (a duplicate event).
    pub duplicate: bool,
}
