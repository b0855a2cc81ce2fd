//! The record stage: before their `CONTINUE`, the decisions are written on
//! the instances. The admission, so that every execution environment and
//! budget-guard count it from then on; and whether the checks ran, so that
//! instance-audit knows the instance was vetted. Audit mode changes
//! nothing, not even these tags.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;
use shared::assess::{Assessment, LATE, Unknown};
use shared::budget::measure::ADMITTED_TAG;
use shared::checks::membership::VETTED_TAG;
use shared::deadline::Deadline;
use shared::decision::{LifecycleResult, fail_result};
use shared::policy::Mode;
use shared::ports::{AwsError, InstanceTag, Ports};
use shared::time::format_rfc3339;

use super::LaunchGuard;
use super::reserves::COMPLETION;
use super::stages::{Assessed, Recorded};

/// The tags a launch let in gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Marks {
    /// Charged to the budgets: `scaling-guard:admitted`.
    admitted: bool,
    /// Every node check ran on read facts: `scaling-guard:vetted`.
    vetted: bool,
}

impl Marks {
    /// The marks of a launch let in, if it gets any.
    fn of(launch: &Assessed) -> Option<Self> {
        let Ok(Assessment::Decided(decided)) = &launch.assessment else {
            return None;
        };
        let marks = Self {
            admitted: launch.arrival.budgeted,
            vetted: decided.vetted,
        };
        (decided.verdict.result == LifecycleResult::Continue && (marks.admitted || marks.vetted))
            .then_some(marks)
    }

    fn tags(self, time: &str) -> Vec<(&'static str, &str)> {
        let admitted = self.admitted.then_some((ADMITTED_TAG, time));
        let vetted = self.vetted.then_some((VETTED_TAG, time));
        admitted.into_iter().chain(vetted).collect()
    }
}

/// The instances whose marks could not be written, by marks.
type Unwritten = BTreeMap<Marks, BTreeMap<String, AwsError>>;

impl<P: Ports> LaunchGuard<'_, P> {
    /// Writes the launches' marks: one `CreateTags` for the instances with
    /// the same marks (a batch's admissions at once); if it fails, each is
    /// tried alone. Without the admission record the budget cannot hold
    /// beyond this environment, so the fail mode decides (and the admission
    /// is no longer counted here if that abandons it).
    pub(super) async fn record(
        &self,
        launches: Vec<Assessed>,
        deadline: Deadline,
    ) -> Vec<Recorded> {
        let unwritten = match self.policy.mode {
            Mode::Enforce => self.write_marks(&launches, deadline).await,
            Mode::Audit => Unwritten::new(),
        };
        launches
            .into_iter()
            .map(|launch| self.settle(launch, &unwritten))
            .collect()
    }

    /// Every set of marks written at once on its instances.
    async fn write_marks(&self, launches: &[Assessed], deadline: Deadline) -> Unwritten {
        let mut sets: BTreeMap<Marks, BTreeSet<&str>> = BTreeMap::new();
        for launch in launches {
            if let Some(marks) = Marks::of(launch) {
                let id = launch.arrival.action.instance_id.as_str();
                sets.entry(marks).or_default().insert(id);
            }
        }
        let time = format_rfc3339((self.clock)());
        let writes = sets.into_iter().map(|(marks, ids)| {
            let tags = marks.tags(&time);
            async move {
                let ids: Vec<&str> = ids.into_iter().collect();
                (marks, self.tag_each(&ids, &tags, deadline).await)
            }
        });
        join_all(writes).await.into_iter().collect()
    }

    /// `tags` on `ids` in one call; when it fails for several, on each
    /// alone, so that a single unknown or unwritable instance does not fail
    /// its neighbours. The instances left without them.
    async fn tag_each(
        &self,
        ids: &[&str],
        tags: &[(&str, &str)],
        deadline: Deadline,
    ) -> BTreeMap<String, AwsError> {
        match self.tag(ids, tags, deadline).await {
            Ok(()) => BTreeMap::new(),
            Err(_) if ids.len() > 1 => {
                let alone = ids
                    .iter()
                    .map(|id| async { (*id, self.tag(&[id], tags, deadline).await) });
                join_all(alone)
                    .await
                    .into_iter()
                    .filter_map(|(id, result)| result.err().map(|err| (id.to_owned(), err)))
                    .collect()
            }
            Err(err) => ids
                .iter()
                .map(|id| ((*id).to_owned(), err.clone()))
                .collect(),
        }
    }

    /// One `CreateTags`, bounded so that the completion still fits.
    async fn tag(
        &self,
        ids: &[&str],
        tags: &[(&str, &str)],
        deadline: Deadline,
    ) -> Result<(), AwsError> {
        let tag = self.aws.instances().tag_instances(ids, tags);
        deadline
            .run(COMPLETION, tag)
            .await
            .unwrap_or_else(|| Err(AwsError::new("CreateTags", None, LATE)))
    }

    /// The launch as its record leaves it. An admission that could not be
    /// recorded is left to the fail mode; without budgets the launch is let
    /// in unrecorded (instance-audit then checks it like any unvetted one).
    fn settle(&self, mut launch: Assessed, unwritten: &Unwritten) -> Recorded {
        let id = &launch.arrival.action.instance_id;
        let failed = Marks::of(&launch)
            .and_then(|marks| Some((marks, unwritten.get(&marks)?.get(id)?.clone())));
        if let Some((marks, err)) = failed {
            tracing::error!(instance_id = %id, %err, "decision could not be recorded on the instance");
            if marks.admitted
                && let Ok(Assessment::Decided(decided)) = &mut launch.assessment
            {
                decided.verdict.result = fail_result(self.policy);
                decided.unknown.push(Unknown::Record(err));
                if decided.verdict.result != LifecycleResult::Continue {
                    self.admissions.forget(id);
                }
            }
        }
        Recorded {
            arrival: launch.arrival,
            assessment: launch.assessment,
        }
    }
}
