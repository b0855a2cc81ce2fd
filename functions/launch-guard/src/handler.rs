//! SPEC §5: assess the launch (shared with `scaling-guard explain`), record
//! the decision, suspend scale-out on a budget denial, complete every owned
//! action, alert, summarise.
//!
//! Each launch is one value that moves through three stages (`stages.rs`):
//! decide (`decide.rs`) → record (`record.rs`) → finish (`finish.rs`, with
//! `suspend.rs` and `complete.rs`). An SQS batch is a list of launches; a
//! direct notification is a batch of one. What this environment admitted is
//! kept in one place (`admission.rs`); the time each stage may take is
//! counted back from the deadline in one place (`reserves.rs`).

use std::collections::BTreeSet;
use std::time::SystemTime;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use shared::assess::{OwnershipUnknown, Snapshot};
use shared::budget::measure::GuardedGroups;
use shared::deadline::Deadline;
use shared::lifecycle::{EventError, Notification, Payload};
use shared::policy::Policy;
use shared::ports::{AwsError, Ports};

use crate::event::Input;
use crate::response::{Response, Summary};
use admission::Admissions;
use decide::Round;
use stages::{Arrival, Finished, Source};

pub use complete::COMPLETION_FAILED_TAG;

mod admission;
mod complete;
mod decide;
mod findings;
mod finish;
mod record;
mod reserves;
mod stages;
mod suspend;

/// Why an invocation failed. The event is then retried (async invocation,
/// SQS redelivery) and, when retries run out, kept in the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Ownership(#[from] OwnershipUnknown),
    /// A batch's message whose turn came too close to the deadline: it goes
    /// back to the queue undecided.
    #[error("too close to the invocation's deadline: returned unprocessed")]
    Unprocessed,
    /// The AWS error is part of the message, not a `#[source]` (which
    /// would print it twice).
    #[error("lifecycle action of `{instance_id}` could not be completed: {error}")]
    Completion {
        instance_id: String,
        error: AwsError,
    },
}

/// The launch guard over its ports.
#[derive(Debug)]
pub struct LaunchGuard<'a, P> {
    policy: &'a Policy,
    aws: &'a P,
    clock: fn() -> SystemTime,
    /// What this environment admitted (its ledger and snapshot), and the
    /// turn to admit.
    admissions: Admissions,
    /// Groups known to carry the guard's hook (their undecided launches wait for it).
    guarded: GuardedGroups,
    /// Tokens of lifecycle actions whose failed completion was alerted here.
    failed_completions: std::sync::Mutex<BTreeSet<String>>,
}

impl<'a, P: Ports> LaunchGuard<'a, P> {
    pub fn new(policy: &'a Policy, aws: &'a P) -> Self {
        Self {
            policy,
            aws,
            clock: SystemTime::now,
            admissions: Admissions::new(Snapshot::default()),
            guarded: GuardedGroups::of(policy),
            failed_completions: std::sync::Mutex::default(),
        }
    }

    /// Replaces the snapshot (tests choose its maximum age).
    pub fn with_snapshot(mut self, snapshot: Snapshot) -> Self {
        self.admissions = Admissions::new(snapshot);
        self
    }

    /// Replaces the clock (tests pin "now" for image ages).
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// Entry point: an EventBridge event, a hook message, or an SQS batch of
    /// either. A batch answers with `batchItemFailures` so that one bad
    /// message never fails its neighbours. `deadline` is the invocation's.
    pub async fn handle(&self, input: Input, deadline: Deadline) -> Result<Response, HandlerError> {
        match input.into_payload()? {
            Payload::Batch(batch) => Ok(Response::Batch(self.handle_batch(batch, deadline).await)),
            Payload::Single(notification) => {
                let summary = self.handle_notification(notification, deadline).await?;
                Ok(Response::Decision(summary))
            }
        }
    }

    /// One EventBridge event or hook message: a batch of one launch.
    pub async fn handle_notification(
        &self,
        notification: Notification,
        deadline: Deadline,
    ) -> Result<Summary, HandlerError> {
        let (action, origin) = match notification {
            Notification::Test { group } => {
                return Ok(self.ignored(None, group, "test notification".to_owned()));
            }
            Notification::Action { action, origin } => (action, origin),
        };
        let arrival = Arrival::new(self.policy, *action, origin, Source::Direct, 0);
        let finished = self.process(vec![arrival], deadline).await;
        finished
            .into_iter()
            .next()
            .map_or(Err(HandlerError::Unprocessed), |launch| launch.outcome)
    }

    /// An SQS batch: its launches decided in one pass (one
    /// `DescribeInstances` of their instances, the decisions in order, one
    /// `CreateTags` of the admissions, the completions at once). A message
    /// that cannot be parsed, whose launch fails, or whose turn comes too
    /// close to the deadline goes back to the queue.
    async fn handle_batch(&self, batch: SqsEvent, deadline: Deadline) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        let mut arrivals = Vec::new();
        for record in batch.records {
            let id = record.message_id.unwrap_or_default();
            let body = record.body.unwrap_or_default();
            match shared::lifecycle::parse_text(&body) {
                Ok(Notification::Test { group }) => {
                    self.ignored(None, group, "test notification".to_owned());
                }
                Ok(Notification::Action { action, mut origin }) => {
                    // The hook's own message format names no region; the queue's does.
                    origin.region = origin.region.take().or_else(|| record.aws_region.clone());
                    let place = arrivals.len();
                    let source = Source::Message(id);
                    arrivals.push(Arrival::new(self.policy, *action, origin, source, place));
                }
                Err(err) => {
                    let err = HandlerError::from(err);
                    tracing::error!(message_id = %id, %err, "sqs message failed");
                    response.batch_item_failures.push(item_failure(id));
                }
            }
        }
        let finished = self.process(arrivals, deadline).await;
        response
            .batch_item_failures
            .extend(finished.into_iter().filter_map(returned));
        response
    }

    /// decide → record → finish, then the Security Hub findings of the
    /// finished launches (`findings.rs`). With budgets, this environment admits one
    /// batch at a time: its turn is held until the batch's admissions are
    /// recorded, so that the next decision counts them.
    async fn process(&self, arrivals: Vec<Arrival>, deadline: Deadline) -> Vec<Finished> {
        let began = tokio::time::Instant::now();
        let turn = match arrivals.iter().any(|launch| launch.budgeted) {
            true => self.admissions.turn(deadline.less(reserves::FACTS)).await,
            false => None,
        };
        let round = Round {
            deadline,
            began,
            turn: turn.as_ref(),
        };
        let decided = self.decide(arrivals, round).await;
        let recorded = self.record(decided, deadline).await;
        drop(turn);
        let finished = self.finish_all(recorded, deadline).await;
        self.import_findings(&finished, deadline).await;
        finished
    }
}

/// The message to return to the queue, if the launch failed.
fn returned(launch: Finished) -> Option<BatchItemFailure> {
    let (Err(err), Source::Message(id)) = (launch.outcome, launch.arrival.source) else {
        return None;
    };
    match err {
        HandlerError::Unprocessed => {
            tracing::warn!(message_id = %id, "too close to the deadline: message returned unprocessed");
        }
        err => tracing::error!(message_id = %id, %err, "sqs message failed"),
    }
    Some(item_failure(id))
}

fn item_failure(id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = id;
    failure
}

impl HandlerError {
    /// The failure's kind, as Lambda reports it.
    fn error_type(&self) -> &'static str {
        match self {
            Self::Event(_) => "MalformedEvent",
            Self::Ownership { .. } => "OwnershipUnknown",
            Self::Unprocessed => "Unprocessed",
            Self::Completion { .. } => "CompletionFailed",
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        shared::startup::diagnostic(err.error_type(), &err)
    }
}

#[cfg(test)]
mod tests;
