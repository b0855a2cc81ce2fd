//! Measures the cluster's usage for the budgets: reads the cluster, the
//! instance type specs and which groups carry the guard's hook, then counts
//! as [`guard_core::budget::cluster`] decides.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

pub use guard_core::budget::cluster::*;
use guard_core::budget::{Usage, UsageError, cluster_usage};
use guard_core::facts::{GroupFacts, HookFacts, InstanceFacts, InstanceTypeSpec};
use guard_core::lifecycle::LAUNCHING;
use guard_core::policy::{ClusterTag, FailMode, HookNotification, Mode, Policy};

use crate::cache::TtlCache;
use crate::ports::{AwsError, ClusterGroupsRead, ClusterInstancesRead, InstanceTypesRead};

/// How long a group's hooks are trusted (hooks change rarely; enrollment
/// marks a group at once).
const HOOKS_TTL: Duration = Duration::from_secs(600);

/// The measurement failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeasureError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Usage(#[from] UsageError),
}

/// Reads the cluster's instances and groups, in parallel: the state every
/// measurement counts on (the assessment bounds it by its deadline).
pub async fn read_cluster_state(
    tag: &ClusterTag,
    instances: &impl ClusterInstancesRead,
    groups: &impl ClusterGroupsRead,
) -> Result<ClusterState, AwsError> {
    let (instances, groups) =
        futures::join!(instances.cluster_instances(tag), groups.cluster_groups(tag));
    Ok(ClusterState {
        instances: instances?,
        groups: groups?,
    })
}

/// The guard's launch hook on one group, as Auto Scaling describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardHook {
    /// There, on launch, notifying where launch-guard listens.
    Carried,
    /// None of the group's hooks is the guard's.
    Missing,
    /// The guard's hook, but launches reach launch-guard through a queue and
    /// the hook notifies another target, or none, or with another role: its
    /// launches wait for the heartbeat and end by the hook's default result.
    Misdirected,
    /// The guard's hook, heard by launch-guard, but in enforce mode with
    /// another DefaultResult than the fail mode's (the audit hand-over left
    /// it `CONTINUE`, or the fail mode changed): a launch launch-guard does
    /// not answer ends the wrong way. It counts as carried; enrollment puts
    /// it again with the fail mode's result, every other setting kept.
    Outdated,
}

impl GuardHook {
    /// Whether launch-guard hears the group's launches through the hook.
    fn carried(self) -> bool {
        matches!(self, Self::Carried | Self::Outdated)
    }
}

/// The DefaultResult of the hook the guard enrolls. In audit mode it is
/// `CONTINUE`: launch-guard vets and reports every launch, and a guard that
/// cannot answer never blocks.
pub fn enrolled_default_result(policy: &Policy) -> &'static str {
    match (policy.mode, policy.fail_mode) {
        (Mode::Audit, _) | (Mode::Enforce, FailMode::Continue) => "CONTINUE",
        (Mode::Enforce, FailMode::Abandon) => "ABANDON",
    }
}

/// Which groups carry the guard's launch hook, asked once per group and
/// remembered for a while (a group enrolled by budget-guard is marked at once).
#[derive(Debug)]
pub struct GuardedGroups {
    hook_name: String,
    /// Where the hook must notify; `None`: EventBridge hears every hook's
    /// lifecycle actions, whatever its target.
    notification: Option<HookNotification>,
    known: TtlCache<GuardHook>,
    /// The guard's cluster, with [`GuardedGroups::of`]: hooks enrolled for it
    /// under another name are noted in `renamed`.
    cluster: Option<String>,
    /// Group → the guard's hooks of an old name found there.
    renamed: std::sync::Mutex<BTreeMap<String, Vec<String>>>,
    /// With [`GuardedGroups::of`] in enforce mode, the DefaultResult the
    /// guard's hook must have; other results are [`GuardHook::Outdated`].
    /// Audit mode's own hand-over makes hooks continue
    /// ([`crate::off_switch`]).
    default_result: Option<&'static str>,
}

impl GuardedGroups {
    /// The groups carrying a launch hook named `hook_name`, whatever it
    /// notifies (launches delivered by EventBridge).
    pub fn new(hook_name: &str) -> Self {
        Self {
            hook_name: hook_name.to_owned(),
            notification: None,
            known: TtlCache::new(1024, HOOKS_TTL),
            cluster: None,
            renamed: std::sync::Mutex::default(),
            default_result: None,
        }
    }

    /// The groups carrying the policy's hook, notifying the policy's queue
    /// with its role when launches are delivered through SQS; in enforce
    /// mode, a hook of this cluster with another DefaultResult than the fail
    /// mode's is [`GuardHook::Outdated`].
    ///
    /// Hooks are judged when read: on a cold start (a mode or fail-mode
    /// change starts new environments) or when a group's judgment is older
    /// than `HOOKS_TTL` (10 minutes), so a hook changed under a warm
    /// function is judged again within 10 minutes.
    pub fn of(policy: &Policy) -> Self {
        Self {
            notification: policy.hook_notification.clone(),
            cluster: Some(policy.cluster.clone()),
            default_result: (policy.mode == Mode::Enforce).then(|| enrolled_default_result(policy)),
            ..Self::new(&policy.hook_name)
        }
    }

    /// Records that `group` carries the hook (it just triggered it, or was enrolled).
    pub fn mark(&self, group: &str) {
        self.known.insert(group, GuardHook::Carried);
    }

    /// Whether `group` is known to carry the hook; `None` when not asked yet.
    pub fn known(&self, group: &str) -> Option<bool> {
        self.known.get(group).map(GuardHook::carried)
    }

    /// Whether `group` carries the hook, asking Auto Scaling when not known.
    pub async fn carries_hook(
        &self,
        reader: &impl ClusterGroupsRead,
        group: &str,
    ) -> Result<bool, AwsError> {
        Ok(self.hook(reader, group).await?.carried())
    }

    /// The guard's hook on `group`, asking Auto Scaling when not known.
    pub async fn hook(
        &self,
        reader: &impl ClusterGroupsRead,
        group: &str,
    ) -> Result<GuardHook, AwsError> {
        if let Some(known) = self.known.get(group) {
            return Ok(known);
        }
        let hooks = reader.lifecycle_hooks(group).await?;
        let hook = self.judge(&hooks);
        self.known.insert(group, hook);
        self.note_renamed(group, &hooks);
        Ok(hook)
    }

    /// Remembers, among a group's `hooks` just read, the launch hooks the
    /// guard of this cluster enrolled (their metadata says so) under another
    /// name than its own: budget-guard removes them
    /// ([`GuardedGroups::take_renamed`]).
    fn note_renamed(&self, group: &str, hooks: &[HookFacts]) {
        let Some(cluster) = &self.cluster else { return };
        let renamed: Vec<String> = hooks
            .iter()
            .filter(|h| {
                h.transition == LAUNCHING
                    && h.name != self.hook_name
                    && crate::release::enrolled_for(h).as_ref() == Some(cluster)
            })
            .map(|h| h.name.clone())
            .collect();
        if !renamed.is_empty() {
            self.renamed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(group.to_owned(), renamed);
        }
    }

    /// The guard's hooks of an old name last found on `group`, forgotten.
    pub fn take_renamed(&self, group: &str) -> Vec<String> {
        self.renamed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(group)
            .unwrap_or_default()
    }

    /// The guard's hook among a group's `hooks`.
    fn judge(&self, hooks: &[HookFacts]) -> GuardHook {
        let Some(hook) = hooks
            .iter()
            .find(|h| h.name == self.hook_name && h.transition == LAUNCHING)
        else {
            return GuardHook::Missing;
        };
        match &self.notification {
            Some(to) if !notifies(hook, to) => GuardHook::Misdirected,
            _ if self.outdated(hook) => GuardHook::Outdated,
            _ => GuardHook::Carried,
        }
    }

    /// Whether `hook`, the guard's by name, ends an unanswered launch
    /// otherwise than enforce mode wants (an absent DefaultResult is Auto
    /// Scaling's, `ABANDON`). A hook another cluster's guard enrolled (its
    /// metadata says so) is that guard's to set.
    fn outdated(&self, hook: &HookFacts) -> bool {
        let Some(wanted) = self.default_result else {
            return false;
        };
        let ours = crate::release::enrolled_for(hook)
            .is_none_or(|cluster| Some(&cluster) == self.cluster.as_ref());
        ours && hook.default_result.as_deref().unwrap_or("ABANDON") != wanted
    }

    /// The groups among `groups` that carry the hook, asked in parallel. A
    /// group whose hooks cannot be read counts as unguarded: its waiting
    /// instances are then counted, which can only deny, never overrun.
    pub async fn among(
        &self,
        reader: &impl ClusterGroupsRead,
        groups: &BTreeSet<String>,
    ) -> BTreeSet<String> {
        let asked = futures::future::join_all(groups.iter().map(|group| async move {
            match self.carries_hook(reader, group).await {
                Ok(true) => Some(group.clone()),
                Ok(false) => None,
                Err(err) => {
                    tracing::warn!(group = %group, %err, "hooks unknown: its waiting instances are counted");
                    None
                }
            }
        }))
        .await;
        asked.into_iter().flatten().collect()
    }
}

/// Whether `hook` notifies the target `to` names, with its role.
fn notifies(hook: &HookFacts, to: &HookNotification) -> bool {
    hook.notification_target_arn.as_deref() == Some(to.target_arn.as_str())
        && hook.role_arn.as_deref() == Some(to.role_arn.as_str())
}

/// One measurement: the cluster read, the type specs, and the usage.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Shared, not copied: launch-guard's snapshot holds the same read.
    pub state: Arc<ClusterState>,
    /// The cluster instances it does not count (see [`not_counted`]).
    pub not_counted: BTreeSet<String>,
    pub specs: BTreeMap<String, InstanceTypeSpec>,
    pub usage: Usage,
}

impl Measurement {
    /// The cluster's groups, as the measurement read them.
    pub fn groups(&self) -> &[GroupFacts] {
        &self.state.groups
    }
}

/// Reads the cluster and measures its usage. `known_guarded` names a group
/// known to carry the hook without asking (the group of the launch being decided).
pub async fn measure(
    tag: &ClusterTag,
    ec2: &(impl ClusterInstancesRead + InstanceTypesRead),
    groups: &impl ClusterGroupsRead,
    guarded: &GuardedGroups,
    admitted: &BTreeSet<String>,
    candidate: Option<&InstanceFacts>,
) -> Result<Measurement, MeasureError> {
    let state = read_cluster_state(tag, ec2, groups).await?;
    measure_state(Arc::new(state), ec2, groups, guarded, admitted, candidate).await
}

/// [`measure`] of a cluster already read.
pub async fn measure_state(
    state: Arc<ClusterState>,
    ec2: &impl InstanceTypesRead,
    groups: &impl ClusterGroupsRead,
    guarded: &GuardedGroups,
    admitted: &BTreeSet<String>,
    candidate: Option<&InstanceFacts>,
) -> Result<Measurement, MeasureError> {
    let names = state.type_names(
        candidate
            .map(|c| c.instance_type.as_str())
            .into_iter()
            .chain(
                state
                    .groups
                    .iter()
                    .flat_map(|g| g.instance_types.iter().map(String::as_str)),
            ),
    );
    let undecided = state.undecided_groups(admitted);
    let (specs, guarded_groups) = futures::join!(
        ec2.instance_types(&names),
        guarded.among(groups, &undecided)
    );
    let specs = specs?;
    let counting = Counting {
        guarded_groups: &guarded_groups,
        admitted,
        candidate: candidate.map(|c| c.instance_id.as_str()),
    };
    let not_counted = not_counted(&state, &counting);
    let usage = cluster_usage(&state.instances, &specs, &not_counted)?;
    Ok(Measurement {
        not_counted,
        state,
        specs,
        usage,
    })
}

#[cfg(test)]
mod tests;
