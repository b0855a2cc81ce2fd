//! The instance-event queue's SQS batches (issue 20): EventBridge delivers
//! every EC2 state change of the account to every stack, so that another
//! cluster's burst of 1,000 launches would otherwise cost each stack 1,000
//! `DescribeInstances` from the account's shared EC2 request budget.
//!
//! A batch is one pass: each message's event is taken up (a state change
//! to `pending` or `running`, a launch into service) → one read of the
//! distinct instances, at most [`INSTANCES_PER_CALL`] per `DescribeInstances`
//! → each event audited in order with that read, exactly as it would be
//! alone. Another cluster's instance (or one of no cluster) is ignored with
//! no further call.
//!
//! - A message that is no event of ours, or whose instance could not be read
//!   or audited, returns to the queue (`batchItemFailures`); after the
//!   queue's `maxReceiveCount` it moves to the dead-letter queue, whose alarm
//!   pages (SPEC §9: logged and answered with a clear error, never dropped
//!   silently).
//! - When the read fails (throttling, an outage), every message that needed
//!   it returns to the queue: no read per instance as a fallback, which would
//!   drain the account's budget further when it is already short.
//! - A terminated instance is not read: its Security Hub findings are
//!   archived, those of every termination in the batch with one read.
//! - An instance that an event of the batch changed (a remediation, its
//!   record, a hold at the cap) is read again, alone, by its next event in
//!   the batch, so that two events of one instance never remediate it twice.

use std::collections::{BTreeMap, BTreeSet};

use aws_lambda_events::sqs::SqsBatchResponse;
use shared::facts::InstanceFacts;
use shared::ports::{AwsError, InstanceRead, Ports};

use super::{Auditor, HandlerError, InstanceEvent, TakenUp};
use crate::event::{Event, Message};
use crate::response::{Outcome, Summary};

/// Instances asked for in one `DescribeInstances` of a batch: EC2 takes at
/// most 200 values in one filter (the read filters by `instance-id`, so that
/// an id EC2 does not know is left out instead of failing the call).
pub const INSTANCES_PER_CALL: usize = 200;

/// A batch's instances as read.
#[derive(Debug, Default)]
struct Read {
    found: BTreeMap<String, InstanceFacts>,
    /// The instances whose read failed, with the failure.
    unread: BTreeMap<String, AwsError>,
    /// The instances an event of this batch may have changed since the read.
    changed: BTreeSet<String>,
}

impl<P: Ports> Auditor<'_, P> {
    /// Audits a batch's events in order with one read of their instances;
    /// returns the messages to hand back to the queue.
    pub(super) async fn handle_batch(&self, messages: Vec<Message>) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        let events = decoded(messages, &mut response);
        let taken: Vec<(&str, &Event, TakenUp<'_>)> = events
            .iter()
            .map(|(id, event)| (id.as_str(), event, self.take_up(event)))
            .collect();
        let to_read: BTreeSet<&str> = taken
            .iter()
            .filter_map(|(_, _, taken)| match taken {
                TakenUp::Audit(event) => Some(event.instance_id),
                TakenUp::Sweep | TakenUp::Done(_) | TakenUp::Retire(_) => None,
            })
            .collect();
        let mut read = self.read_batch(&to_read).await;
        let mut sweeps = Vec::new();
        let mut terminated = Vec::new();
        for (id, event, taken) in taken {
            let audited = match taken {
                TakenUp::Sweep => {
                    sweeps.push((id, event));
                    continue;
                }
                TakenUp::Retire(event) => {
                    terminated.push(event);
                    continue;
                }
                TakenUp::Done(summary) => Ok(summary),
                TakenUp::Audit(event) => self.audit_with(&event, &mut read).await,
            };
            match audited {
                Ok(summary) => self.log(&summary),
                Err(err) => hand_back(&mut response, id.to_owned(), &err),
            }
        }
        // The batch's terminations: one read of the findings for them all.
        for summary in self.retire(&terminated).await {
            self.log(&summary);
        }
        // The schedule does not deliver to the queue; should a sweep arrive
        // there, one sweep serves every such message of the batch.
        if let Some((_, event)) = sweeps.first()
            && let Err(err) = self.sweep(&event.origin).await
        {
            for (id, _) in sweeps {
                hand_back(&mut response, id.to_owned(), &err);
            }
        }
        tracing::info!(
            messages = events.len(),
            instances = to_read.len(),
            returned = response.batch_item_failures.len(),
            "batch audited"
        );
        response
    }

    /// The distinct instances of a batch, [`INSTANCES_PER_CALL`] a call. No
    /// call for a batch with none.
    async fn read_batch(&self, instance_ids: &BTreeSet<&str>) -> Read {
        let ids: Vec<String> = instance_ids.iter().map(|id| (*id).to_owned()).collect();
        let mut read = Read::default();
        for chunk in ids.chunks(INSTANCES_PER_CALL) {
            match self.ports.instances().instances(chunk).await {
                Ok(found) => read.found.extend(
                    found
                        .into_iter()
                        .map(|instance| (instance.instance_id.clone(), instance)),
                ),
                Err(err) => {
                    tracing::warn!(%err, instances = chunk.len(), "the batch's instances could not be read: their messages return to the queue");
                    read.unread
                        .extend(chunk.iter().map(|id| (id.clone(), err.clone())));
                }
            }
        }
        read
    }

    /// Audits one event of the batch with the batch's read: its instance
    /// read again first if an earlier event of the batch changed it.
    async fn audit_with(
        &self,
        event: &InstanceEvent<'_>,
        read: &mut Read,
    ) -> Result<Summary, HandlerError> {
        let id = event.instance_id;
        if let Some(error) = read.unread.get(id) {
            return Err(event.facts_error(error.clone()));
        }
        if read.changed.remove(id) {
            match self.read_instance(event).await? {
                Some(instance) => read.found.insert(id.to_owned(), instance),
                None => read.found.remove(id),
            };
        }
        let summary = self
            .audit_instance(event, read.found.get(id).cloned())
            .await?;
        if may_have_changed(summary.outcome) {
            read.changed.insert(id.to_owned());
        }
        Ok(summary)
    }
}

/// Whether the audit may have written to the instance: a remediation (also
/// a failed one, which may have written its record) or a hold at the cap.
/// The batch's events; a message that is not one goes back to the queue.
fn decoded(messages: Vec<Message>, response: &mut SqsBatchResponse) -> Vec<(String, Event)> {
    let mut events = Vec::new();
    for Message { id, event } in messages {
        match event {
            Ok(event) => events.push((id, event)),
            Err(err) => hand_back(response, id, &HandlerError::from(err)),
        }
    }
    events
}

fn may_have_changed(outcome: Outcome) -> bool {
    match outcome {
        Outcome::Remediated | Outcome::RemediationFailed | Outcome::Capped => true,
        Outcome::Ignored
        | Outcome::Compliant
        | Outcome::Vetted
        | Outcome::Reported
        | Outcome::Deferred
        | Outcome::AlreadyRemediated
        | Outcome::Terminated => false,
    }
}

/// Returns the message to the queue, with one log line saying why.
fn hand_back(response: &mut SqsBatchResponse, message_id: String, err: &HandlerError) {
    tracing::error!(%message_id, %err, "sqs message returned to the queue");
    response.add_failure(message_id);
}
