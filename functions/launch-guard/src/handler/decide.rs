//! The decide stage: the shared assessment of each launch in order
//! (`shared::assess`, the same as `scaling-guard explain`), each admission
//! counted here before the next launch is measured.

use std::collections::{BTreeMap, BTreeSet};

use shared::assess::{self, Assessment, Context, Launch};
use shared::deadline::Deadline;
use shared::decision::LifecycleResult;
use shared::facts::InstanceFacts;
use shared::ports::{InstanceRead, Ports};
use tokio::time::Instant;

use super::admission::Turn;
use super::reserves::{FACTS, MESSAGE_MINIMUM};
use super::stages::{Arrival, Assessed};
use super::{HandlerError, LaunchGuard};

/// What one invocation's launches are decided with.
#[derive(Debug, Clone, Copy)]
pub(super) struct Round<'r> {
    pub deadline: Deadline,
    /// When the invocation began to decide (before waiting for its turn).
    pub began: Instant,
    /// This environment's turn to admit; `None` when it did not come in
    /// time, or when no launch is budgeted.
    pub turn: Option<&'r Turn<'r>>,
}

impl Round<'_> {
    /// Fact gathering stops here.
    pub fn until(&self) -> Instant {
        self.deadline.less(FACTS)
    }
}

impl<P: Ports> LaunchGuard<'_, P> {
    /// Decides the launches in order, after one read of their instances. A
    /// launch that can wait for another invocation (a queue's message) is
    /// returned undecided when its turn comes too close to the deadline.
    pub(super) async fn decide(&self, launches: Vec<Arrival>, round: Round<'_>) -> Vec<Assessed> {
        let read = self.read_launched(&launches, round.until()).await;
        let mut decided = Vec::with_capacity(launches.len());
        for arrival in launches {
            let assessment =
                match arrival.source.can_wait() && round.deadline.left() < MESSAGE_MINIMUM {
                    true => Err(HandlerError::Unprocessed),
                    false => self.decide_one(&arrival, &read, round).await,
                };
            decided.push(Assessed {
                arrival,
                assessment,
            });
        }
        decided
    }

    /// One launch's assessment; a budgeted launch let in is counted here at
    /// once (EC2 may not show its admission tag yet).
    async fn decide_one(
        &self,
        arrival: &Arrival,
        read: &BTreeMap<String, InstanceFacts>,
        round: Round<'_>,
    ) -> Result<Assessment, HandlerError> {
        let action = &arrival.action;
        let recent = self.admissions.recent();
        let launch = Launch {
            action,
            now: (self.clock)(),
            until: round.until(),
            admitted: (!arrival.budgeted || round.turn.is_some()).then_some(&recent),
        };
        let context = Context {
            snapshot: Some(self.admissions.snapshot()),
            instance: read.get(&action.instance_id),
            batch_began: arrival.source.batch_began(round.began),
        };
        let assessment =
            assess::assess_with(self.policy, self.aws, &self.guarded, launch, context).await?;
        if let Assessment::Decided(decided) = &assessment
            && decided.verdict.result == LifecycleResult::Continue
            && arrival.budgeted
        {
            let facts = decided.facts.as_ref();
            self.admissions
                .admit(&action.instance_id, facts, (self.clock)());
        }
        Ok(assessment)
    }

    /// The instances of a batch's launches in one read; a launch its read
    /// misses (or a failed read, or a batch of one) is read alone by its
    /// assessment.
    async fn read_launched(
        &self,
        launches: &[Arrival],
        until: Instant,
    ) -> BTreeMap<String, InstanceFacts> {
        let ids: BTreeSet<String> = launches
            .iter()
            .filter(|launch| assess::not_ours(self.policy, &launch.action).is_none())
            .map(|launch| launch.action.instance_id.clone())
            .collect();
        if ids.len() < 2 {
            return BTreeMap::new();
        }
        let ids: Vec<String> = ids.into_iter().collect();
        match tokio::time::timeout_at(until, self.aws.instances().instances(&ids)).await {
            Ok(Ok(instances)) => instances
                .into_iter()
                .map(|i| (i.instance_id.clone(), i))
                .collect(),
            Ok(Err(err)) => {
                tracing::warn!(%err, "the batch's instances could not be read at once: read one by one");
                BTreeMap::new()
            }
            Err(_) => BTreeMap::new(),
        }
    }
}
