//! The launch assessment (SPEC §5, §7), for launch-guard and for
//! `scaling-guard explain` alike: is the launch the guard's to decide, what
//! are its facts, what do the checks and the budget admission say, and what
//! could not be established. It takes the read ports only ([`ReadPorts`]),
//! so the compiler holds it to reading: the record, the suspension, the
//! completion and the alerts are the caller's.
//!
//! With budgets on, the cluster is read first, and the candidate's group and
//! instance are taken from that read: a warm decision asks Auto Scaling and
//! EC2 for the cluster (two calls, at once) and EC2 for the instance types
//! (one call, with the image and subnet reads and any hook reads), and
//! nothing else. What the cluster read does not show (an instance EC2 does
//! not list yet, a group that is not the cluster's) is asked for by name.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use guard_core::budget::cluster::ClusterState;
use guard_core::budget::{self, Usage, UsageError};
use guard_core::checks::{CheckName, Unread, Violation, check_known};
use guard_core::decision::Verdict;
use guard_core::facts::{GroupFacts, InstanceFacts, NodeFacts};
use guard_core::lifecycle::{LAUNCHING, LifecycleAction, WARM_POOL};
use guard_core::policy::Policy;
use tokio::time::{Instant, timeout_at};

use crate::budget::measure::{self, GuardedGroups, MeasureError};
use crate::node_facts::{NodeReads, gather_node_facts};
use crate::ports::{AwsError, GroupRead, InstanceRead, ReadPorts};

pub use crate::node_facts::LATE;

/// How long to wait before asking EC2 again for an instance it does not
/// know yet (`InvalidInstanceID.NotFound` right after a launch).
const NOT_FOUND_WAITS: [Duration; 3] = [
    Duration::from_millis(250),
    Duration::from_millis(750),
    Duration::from_secs(2),
];

/// One launch to assess.
#[derive(Debug, Clone, Copy)]
pub struct Launch<'a> {
    pub action: &'a LifecycleAction,
    /// "Now", for image ages.
    pub now: SystemTime,
    /// Facts are read until then; what is not read by then is unknown.
    pub until: Instant,
    /// Instances admitted whose admission tag EC2 may not show yet; `None`
    /// when the admission's turn did not come before `until` (the budget is
    /// then unknown).
    pub admitted: Option<&'a BTreeSet<String>>,
}

/// What the assessment concluded.
#[derive(Debug, Clone)]
pub enum Assessment {
    /// Not the guard's to decide: no completion, no alert.
    Ignored {
        reason: String,
    },
    Decided(Box<Decided>),
}

impl From<Decided> for Assessment {
    fn from(decided: Decided) -> Self {
        Self::Decided(Box::new(decided))
    }
}

/// A launch the guard decides.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The launch's group, a member of the cluster.
    pub group: GroupFacts,
    pub verdict: Verdict,
    /// What could not be established. The fail mode decided when it is not
    /// empty and nothing known blocks ([`Decided::by_fail_mode`]).
    pub unknown: Vec<Unknown>,
    /// `None` when the instance could not be read.
    pub facts: Option<NodeFacts>,
    /// With budgets, when usage could be measured.
    pub admission: Option<Admission>,
    /// Every node check ran on read facts.
    pub vetted: bool,
}

/// The budget admission of one launch.
#[derive(Debug, Clone, PartialEq)]
pub struct Admission {
    /// The cluster's usage without the candidate.
    pub usage: Usage,
    /// What the candidate adds.
    pub candidate: Usage,
    pub violations: Vec<Violation>,
    /// Other cluster instances the budgets do not count now (waiting for the
    /// guard's decision, in a warm pool).
    pub not_counted: usize,
    /// The cluster's groups as the measurement read them (what a budget
    /// denial suspends). Not its instances: a decision kept until its
    /// completion holds no copy of the cluster.
    pub groups: Vec<GroupFacts>,
}

/// A part of a launch that could not be established.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unknown {
    #[error("the instance: {0}")]
    Instance(Missing),
    #[error("the image: {0}")]
    Image(AwsError),
    #[error("the subnet: {0}")]
    Subnet(AwsError),
    #[error("the volumes: {0}")]
    Volumes(Missing),
    #[error("AWS's recommended images: {0}")]
    RecommendedImages(AwsError),
    #[error("the budget: {0}")]
    Budget(Missing),
    /// The admission tag could not be written (launch-guard's record).
    #[error("the admission could not be recorded on the instance: {0}")]
    Record(AwsError),
}

/// Why a fact is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    #[error("{LATE}")]
    Late,
    #[error("instance `{0}` was not found")]
    NotFound(String),
    #[error("instance `{0}` reports no attached EBS volume yet")]
    NoVolumes(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Usage(#[from] UsageError),
}

/// Whether the launch's group belongs to the cluster could not be read: the
/// notification is failed, to be retried. The AWS error is part of the
/// message (it is not a `#[source]`, which would print it twice).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot tell whether group `{group}` belongs to the cluster: {error}")]
pub struct OwnershipUnknown {
    pub group: String,
    pub error: AwsError,
}

impl Decided {
    /// Nothing known blocks and something is unknown: `GUARD_FAIL_MODE` decided.
    pub fn by_fail_mode(&self) -> bool {
        !self.unknown.is_empty() && !self.verdict.is_blocked()
    }

    /// What could not be established, in one line.
    pub fn unknown_line(&self) -> Option<String> {
        let parts: Vec<String> = self.unknown.iter().map(ToString::to_string).collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// A budget check blocks this launch.
    pub fn denied_for_budget(&self) -> bool {
        self.verdict
            .blocking()
            .any(|f| is_budget(f.violation.check))
    }

    /// Only budget checks block this launch.
    pub fn denied_only_for_budget(&self) -> bool {
        self.denied_for_budget()
            && self
                .verdict
                .blocking()
                .all(|f| is_budget(f.violation.check))
    }

    /// The instance's lifecycle state in its group (`Pending:Wait` while its
    /// action waits); `None` when the group does not list it.
    pub fn lifecycle_state(&self, instance_id: &str) -> Option<&str> {
        self.group
            .instances
            .iter()
            .find(|i| i.instance_id == instance_id)
            .map(|i| i.lifecycle_state.as_str())
    }
}

fn is_budget(check: CheckName) -> bool {
    matches!(
        check,
        CheckName::BudgetVcpus | CheckName::BudgetMemory | CheckName::BudgetInstances
    )
}

/// Why the notification is not the guard's to decide, if it is not.
pub fn not_ours(policy: &Policy, action: &LifecycleAction) -> Option<String> {
    if action.transition != LAUNCHING {
        return Some(format!(
            "transition `{}` is not a launch",
            action.transition
        ));
    }
    if action.hook != policy.hook_name {
        return Some(format!(
            "hook `{}` is not the guard's hook `{}`",
            action.hook, policy.hook_name
        ));
    }
    None
}

/// Whether the launch is charged to the budgets: entering a warm pool, a
/// node is vetted but charges nothing; it is charged, and may be denied,
/// when it leaves the pool into the group.
pub fn budgeted(policy: &Policy, action: &LifecycleAction) -> bool {
    policy.budget.is_on() && action.destination.as_deref() != Some(WARM_POOL)
}

/// Ignore what is not ours → read the cluster (with budgets) → the group
/// and the instance → the image, subnet and usage → check and admit →
/// the verdict. `guarded` remembers which groups carry the guard's hook.
pub async fn assess(
    policy: &Policy,
    aws: &impl ReadPorts,
    guarded: &GuardedGroups,
    launch: Launch<'_>,
) -> Result<Assessment, OwnershipUnknown> {
    assess_with(policy, aws, guarded, launch, Context::default()).await
}

/// What launch-guard keeps between its decisions and brings to one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The cluster as last read: it is read again only when the snapshot is
    /// too old, or when a decision on it would deny or come near a budget
    /// (see [`snapshot`]).
    pub snapshot: Option<&'a Snapshot>,
    /// The launched instance, as the SQS batch's one read of its launches
    /// found it (`None`: not found yet, or no batch read; it is read alone).
    pub instance: Option<&'a InstanceFacts>,
    /// When the SQS batch began: near a budget, a snapshot read since then
    /// is AWS's word already (one fresh read per batch, the batch's
    /// decisions in order against it).
    pub batch_began: Option<Instant>,
}

/// [`assess`], with launch-guard's [`Context`].
pub async fn assess_with(
    policy: &Policy,
    aws: &impl ReadPorts,
    guarded: &GuardedGroups,
    launch: Launch<'_>,
    context: Context<'_>,
) -> Result<Assessment, OwnershipUnknown> {
    let action = launch.action;
    if let Some(reason) = not_ours(policy, action) {
        return Ok(Assessment::Ignored { reason });
    }
    let kept = context.snapshot.and_then(Snapshot::fresh);
    let from_snapshot = kept.is_some();
    let cluster = cluster_for_budget(policy, aws, launch, context.snapshot, kept).await;
    let known = cluster.as_ref().and_then(|c| c.as_deref().ok());
    let (group, instance) = futures::join!(
        group_of(policy, aws.groups(), action, known, launch.until),
        instance_of(
            aws.instances(),
            &action.instance_id,
            (context.instance, known),
            launch.until
        ),
    );
    let mut group = match group? {
        Ok(group) => group,
        Err(reason) => return Ok(Assessment::Ignored { reason }),
    };
    // Its launch reached the guard's hook: the group carries it.
    guarded.mark(&action.group);
    let instance = match instance {
        Ok(instance) => instance,
        Err(missing) => return Ok(unestablished(policy, group, missing, launch.now).into()),
    };
    // Each read stops at `until` on its own: what was read by then (the
    // instance's own facts, the admission) still decides.
    let until = Some(launch.until);
    let (reads, mut admission) = futures::join!(
        gather_node_facts(
            policy,
            aws.instances(),
            aws.images(),
            instance.clone(),
            until
        ),
        budget_admission(policy, aws, guarded, cluster, launch, &instance),
    );
    if from_snapshot && must_read_again(policy, context, admission.as_ref()) {
        // Near a budget, what the snapshot misses matters: decide on AWS's word.
        let snapshot = context.snapshot;
        (group, admission) =
            admission_on_fresh_read(policy, (aws, guarded, snapshot), launch, group, &instance)
                .await;
    }
    Ok(decide(policy, group, reads, admission, launch.now).into())
}

/// With budgets, the cluster the admission is measured on: the snapshot's
/// when it is fresh, else read now (and kept); `None` without budgets.
async fn cluster_for_budget(
    policy: &Policy,
    aws: &impl ReadPorts,
    launch: Launch<'_>,
    snapshot: Option<&Snapshot>,
    kept: Option<Arc<ClusterState>>,
) -> Option<Result<Arc<ClusterState>, Missing>> {
    match (budgeted(policy, launch.action), launch.admitted, kept) {
        (false, _, _) => None,
        (true, None, _) => Some(Err(Missing::Late)),
        (true, Some(_), Some(kept)) => Some(Ok(kept)),
        (true, Some(_), None) => Some(read_and_keep(policy, aws, snapshot, launch.until).await),
    }
}

/// Whether an admission measured on the snapshot must be taken again on a
/// fresh read: near a budget, unless the snapshot was read in this SQS
/// batch already (one fresh read per batch).
fn must_read_again(
    policy: &Policy,
    context: Context<'_>,
    admission: Option<&Result<Admission, Missing>>,
) -> bool {
    let read_in_batch = context
        .snapshot
        .zip(context.batch_began)
        .is_some_and(|(snapshot, began)| snapshot.read_since(began));
    !read_in_batch && admission.is_some_and(|a| is_near_budget(policy, a))
}

/// The admission again on a fresh read of the cluster (kept in the
/// snapshot), with the group as that read lists it: its tags too, for a
/// suspension since the snapshot.
async fn admission_on_fresh_read(
    policy: &Policy,
    (aws, guarded, snapshot): (&impl ReadPorts, &GuardedGroups, Option<&Snapshot>),
    launch: Launch<'_>,
    mut group: GroupFacts,
    instance: &InstanceFacts,
) -> (GroupFacts, Option<Result<Admission, Missing>>) {
    let fresh = read_and_keep(policy, aws, snapshot, launch.until).await;
    if let Some(now_listed) = fresh
        .as_ref()
        .ok()
        .and_then(|state| state.groups.iter().find(|g| g.name == group.name))
    {
        group = now_listed.clone();
    }
    let admission = budget_admission(policy, aws, guarded, Some(fresh), launch, instance).await;
    (group, admission)
}

/// Whether an admission measured on a snapshot must be taken again on a
/// fresh read; an admission that could not be measured is not retried.
fn is_near_budget(policy: &Policy, admission: &Result<Admission, Missing>) -> bool {
    let Ok(admission) = admission else {
        return false;
    };
    let after = admission
        .usage
        .checked_add(admission.candidate)
        .unwrap_or(admission.usage);
    snapshot::near_budget(&policy.budget, after, !admission.violations.is_empty())
}

/// [`read_cluster_in_time`], kept in the snapshot when there is one.
async fn read_and_keep(
    policy: &Policy,
    aws: &impl ReadPorts,
    snapshot: Option<&Snapshot>,
    until: Instant,
) -> Result<Arc<ClusterState>, Missing> {
    let read = read_cluster_in_time(policy, aws, until).await.map(Arc::new);
    if let (Ok(state), Some(snapshot)) = (&read, snapshot) {
        snapshot.store(Arc::clone(state));
    }
    read
}

/// The cluster's instances and groups, read at once
/// ([`measure::read_cluster_state`]) until `until`.
async fn read_cluster_in_time(
    policy: &Policy,
    aws: &impl ReadPorts,
    until: Instant,
) -> Result<ClusterState, Missing> {
    let read = measure::read_cluster_state(&policy.cluster_tag, aws.instances(), aws.groups());
    match timeout_at(until, read).await {
        Ok(read) => Ok(read?),
        Err(_) => Err(Missing::Late),
    }
}

/// The launch's group if it is a member of the cluster, from the cluster
/// read when it lists it; else why the launch is ignored.
async fn group_of(
    policy: &Policy,
    groups: &impl GroupRead,
    action: &LifecycleAction,
    cluster: Option<&ClusterState>,
    until: Instant,
) -> Result<Result<GroupFacts, String>, OwnershipUnknown> {
    let listed = cluster.and_then(|c| c.groups.iter().find(|g| g.name == action.group));
    let read = match listed {
        Some(group) => Ok(Some(group.clone())),
        None => timeout_at(until, groups.group(&action.group))
            .await
            .unwrap_or_else(|_| Err(AwsError::new("DescribeAutoScalingGroups", None, LATE))),
    };
    match read {
        Ok(Some(group)) if policy.cluster_tag.matches(&group.tags) => Ok(Ok(group)),
        Ok(Some(_)) => Ok(Err(format!(
            "group `{}` is not a member of cluster `{}`",
            action.group, policy.cluster
        ))),
        Ok(None) => Ok(Err(format!("group `{}` does not exist", action.group))),
        Err(error) => Err(OwnershipUnknown {
            group: action.group.clone(),
            error,
        }),
    }
}

/// The launched instance, from the batch's read or the cluster read when
/// they list it. EC2's reads are eventually consistent: right after a launch
/// it may not know the instance yet, so it is asked again a few times
/// before it counts as missing.
async fn instance_of(
    instances: &impl InstanceRead,
    instance_id: &str,
    (batch, cluster): (Option<&InstanceFacts>, Option<&ClusterState>),
    until: Instant,
) -> Result<InstanceFacts, Missing> {
    let listed = cluster.and_then(|c| c.instances.iter().find(|i| i.instance_id == instance_id));
    if let Some(instance) = batch.filter(|i| i.instance_id == instance_id).or(listed) {
        return Ok(instance.clone());
    }
    let find = async {
        let mut waits = NOT_FOUND_WAITS.iter();
        loop {
            match instances.instance(instance_id).await? {
                Some(instance) => return Ok(instance),
                None => match waits.next() {
                    Some(wait) => tokio::time::sleep(*wait).await,
                    None => return Err(Missing::NotFound(instance_id.to_owned())),
                },
            }
        }
    };
    timeout_at(until, find).await.unwrap_or(Err(Missing::Late))
}

/// What is known of a launch: its facts, and which could not be read.
struct Known {
    facts: NodeFacts,
    unread: Unread,
    unknown: Vec<Unknown>,
}

impl Known {
    /// The one gatherer's reads ([`gather_node_facts`]), each that failed
    /// or came late an unknown: the rest of the facts stay known.
    fn of(policy: &Policy, reads: NodeReads) -> Self {
        let mut unread = Unread::default();
        let mut unknown = Vec::new();
        let image = reads.image.unwrap_or_else(|err| {
            unread.image = true;
            unknown.push(Unknown::Image(err));
            None
        });
        let subnet = reads.subnet.unwrap_or_else(|err| {
            unread.subnet = true;
            unknown.push(Unknown::Subnet(err));
            None
        });
        let volumes = reads.volumes.unwrap_or_else(|err| {
            unread.volumes = true;
            unknown.push(Unknown::Volumes(err.into()));
            Vec::new()
        });
        let instance = reads.instance;
        if policy.volumes.require_encrypted && instance.volume_ids.is_empty() {
            // EC2 lists no attached volume yet: encryption cannot be shown.
            unknown.push(Unknown::Volumes(Missing::NoVolumes(
                instance.instance_id.clone(),
            )));
        }
        let recommended_images = reads.recommended_images.unwrap_or_else(|err| {
            unknown.push(Unknown::RecommendedImages(err));
            Vec::new()
        });
        let facts = NodeFacts {
            instance,
            image,
            subnet,
            volumes,
            recommended_images,
        };
        Self {
            facts,
            unread,
            unknown,
        }
    }
}

/// The budget admission: the cluster's usage, measured as everywhere else,
/// plus the candidate, against every budget ([`budget::admit`]). `None`
/// without budgets.
async fn budget_admission(
    policy: &Policy,
    aws: &impl ReadPorts,
    guarded: &GuardedGroups,
    cluster: Option<Result<Arc<ClusterState>, Missing>>,
    launch: Launch<'_>,
    candidate: &InstanceFacts,
) -> Option<Result<Admission, Missing>> {
    let cluster = match cluster? {
        Ok(cluster) => cluster,
        Err(missing) => return Some(Err(missing)),
    };
    let admitted = launch.admitted.cloned().unwrap_or_default();
    let measured = measure::measure_state(
        cluster,
        aws.instances(),
        aws.groups(),
        guarded,
        &admitted,
        Some(candidate),
    );
    let measured = match timeout_at(launch.until, measured).await {
        Ok(Ok(measured)) => measured,
        Ok(Err(MeasureError::Aws(err))) => return Some(Err(err.into())),
        Ok(Err(MeasureError::Usage(err))) => return Some(Err(err.into())),
        Err(_) => return Some(Err(Missing::Late)),
    };
    let candidate_usage = match budget::instance_usage(candidate, &measured.specs) {
        Ok(usage) => usage,
        Err(err) => return Some(Err(err.into())),
    };
    Some(Ok(Admission {
        violations: budget::admit(
            &policy.budget,
            measured.usage,
            candidate_usage,
            &candidate.instance_id,
        ),
        usage: measured.usage,
        candidate: candidate_usage,
        not_counted: measured
            .not_counted
            .iter()
            .filter(|id| **id != candidate.instance_id)
            .count(),
        groups: measured.state.groups.clone(),
    }))
}

/// Every node check on what could be read and, with budgets, the
/// admission. What is known decides first; the fail mode decides only when
/// nothing known blocks and something is unknown.
fn decide(
    policy: &Policy,
    group: GroupFacts,
    reads: NodeReads,
    admission: Option<Result<Admission, Missing>>,
    now: SystemTime,
) -> Decided {
    let known = Known::of(policy, reads);
    let mut violations = check_known(policy, &known.facts, known.unread, now);
    let mut unknown = known.unknown;
    let admission = match admission {
        Some(Ok(admission)) => {
            violations.extend(admission.violations.iter().cloned());
            Some(admission)
        }
        Some(Err(missing)) => {
            unknown.push(Unknown::Budget(missing));
            None
        }
        None => None,
    };
    violations.sort();
    let unknown_any = !unknown.is_empty();
    let verdict = Verdict::with_unknown(policy, Some(&group.name), violations, unknown_any, now);
    Decided {
        group,
        verdict,
        vetted: unknown.is_empty() || unknown.iter().all(|u| matches!(u, Unknown::Budget(_))),
        unknown,
        admission,
        facts: Some(known.facts),
    }
}

/// The instance could not be established: the fail mode decides.
fn unestablished(policy: &Policy, group: GroupFacts, missing: Missing, now: SystemTime) -> Decided {
    let verdict = Verdict::with_unknown(policy, Some(&group.name), Vec::new(), true, now);
    Decided {
        group,
        verdict,
        unknown: vec![Unknown::Instance(missing)],
        facts: None,
        admission: None,
        vetted: false,
    }
}

pub mod snapshot;
pub use snapshot::Snapshot;

#[cfg(test)]
mod tests;
