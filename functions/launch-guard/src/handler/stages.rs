//! One launch as it moves through the handler, one value per launch:
//! it arrives ([`Arrival`]), is decided ([`Assessed`], `decide.rs`), its
//! decision is recorded on the instance ([`Recorded`], `record.rs`), and it
//! is finished: suspensions, completion, alerts ([`Finished`], `finish.rs`).
//! An SQS batch is a list of them; a direct notification is a batch of one.

use shared::assess::{self, Assessment};
use shared::findings::asff::AsffFinding;
use shared::lifecycle::{LifecycleAction, Origin};
use shared::policy::Policy;
use tokio::time::Instant;

use super::HandlerError;
use crate::response::Summary;

/// How the launch reached the guard, and so what its failure means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Source {
    /// A message of an SQS batch, by its id: a failure returns it to the
    /// queue (`batchItemFailures`) and leaves its neighbours alone.
    Message(String),
    /// An EventBridge event or a hook message invoking the function: a
    /// failure fails the invocation.
    Direct,
}

impl Source {
    /// Whether the launch can wait for another invocation: a queue's message
    /// whose turn comes too close to the deadline goes back undecided.
    pub fn can_wait(&self) -> bool {
        matches!(self, Self::Message(_))
    }

    /// When the launch's batch began to be decided: near a budget, one fresh
    /// cluster read per batch is AWS's word (see `shared::assess::Context`).
    /// A direct notification has no batch.
    pub fn batch_began(&self, began: Instant) -> Option<Instant> {
        match self {
            Self::Message(_) => Some(began),
            Self::Direct => None,
        }
    }
}

/// A launch as it came in.
#[derive(Debug)]
pub(super) struct Arrival {
    pub action: LifecycleAction,
    /// The account and region it came from, for its alerts.
    pub origin: Origin,
    pub source: Source,
    /// Its place among the invocation's launches: outcomes keep that order.
    pub place: usize,
    /// The guard's to decide and charged to the budgets (not a launch into a
    /// warm pool): it is admitted in this environment's turn, and counted.
    pub budgeted: bool,
}

impl Arrival {
    pub fn new(
        policy: &Policy,
        action: LifecycleAction,
        origin: Origin,
        source: Source,
        place: usize,
    ) -> Self {
        let budgeted =
            assess::not_ours(policy, &action).is_none() && assess::budgeted(policy, &action);
        Self {
            action,
            origin,
            source,
            place,
            budgeted,
        }
    }
}

/// A launch after the decide stage: its assessment, or why it has none
/// (ownership unknown, or returned to its queue unprocessed).
#[derive(Debug)]
pub(super) struct Assessed {
    pub arrival: Arrival,
    pub assessment: Result<Assessment, HandlerError>,
}

/// A launch after the record stage: its decision stands as recorded on the
/// instance (a failed admission record left it to the fail mode). The same
/// fields as [`Assessed`]; a type of its own so that only a recorded
/// decision can be finished (completed with `CONTINUE`).
#[derive(Debug)]
pub(super) struct Recorded {
    pub arrival: Arrival,
    pub assessment: Result<Assessment, HandlerError>,
}

impl Recorded {
    /// A budget denial: it suspends scale-out before its completion.
    pub fn denied_for_budget(&self) -> bool {
        matches!(&self.assessment, Ok(Assessment::Decided(decided)) if decided.denied_for_budget())
    }
}

/// A launch after the finish stage: what its invocation or message answers.
#[derive(Debug)]
pub(super) struct Finished {
    pub arrival: Arrival,
    pub outcome: Result<Summary, HandlerError>,
    /// Its Security Hub findings, imported with the invocation's others
    /// once every launch is finished (`findings.rs`).
    pub findings: Vec<AsffFinding>,
}
