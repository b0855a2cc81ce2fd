//! Delete: leave the cluster as the guard found it, touching only what the
//! guard owns — its launch hook on the cluster's groups, and the suspensions
//! (and MaxSize clamps) it recorded in [`SUSPENDED_TAG`]. A `Launch` that
//! someone else suspended stays suspended.

use std::collections::BTreeMap;
use std::time::SystemTime;

use shared::facts::GroupFacts;
use shared::lifecycle::LAUNCHING;
use shared::policy::Policy;
use shared::ports::{ClusterGroupsRead, GroupRead, ScaleOutControl};
use shared::suspension::{Restore, SUSPENDED_TAG, SuspensionRecord, launch_suspended};

/// What a delete did, and what it could not undo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleanup {
    /// Groups whose guard hook was deleted.
    pub hooks_removed: Vec<String>,
    /// Groups whose guard suspension was lifted.
    pub resumed: Vec<String>,
    /// `group=size`: MaxSize set back to what it was before the guard's clamp.
    pub max_size_restored: Vec<String>,
    /// Groups whose `Launch` someone else suspended: left so.
    pub left_suspended_by_others: Vec<String>,
    /// What stays as the guard left it, with why (failed calls, held records).
    pub not_undone: Vec<String>,
    /// What a person should know (a MaxSize changed by someone else is kept).
    pub notes: Vec<String>,
}

/// Undoes what the guard did on the cluster's groups, recording each step in
/// `cleanup` as it goes (so that a cleanup stopped at its time bound still
/// reports what it did).
pub(super) async fn undo(
    groups: &(impl ClusterGroupsRead + GroupRead + ScaleOutControl),
    policy: &Policy,
    now: SystemTime,
    cleanup: &mut Cleanup,
) {
    let cluster_groups = match groups.cluster_groups(&policy.cluster_tag).await {
        Ok(found) => found,
        Err(err) => {
            cleanup
                .not_undone
                .push(format!("the cluster's groups could not be listed: {err}"));
            return;
        }
    };
    remove_hooks(groups, &cluster_groups, &policy.hook_name, cleanup).await;
    lift_suspensions(groups, &cluster_groups, now, cleanup).await;
}

/// Deletes the guard's launch hook from every cluster group carrying it, all
/// groups at once.
async fn remove_hooks(
    groups: &(impl ClusterGroupsRead + ScaleOutControl),
    cluster_groups: &[GroupFacts],
    hook: &str,
    cleanup: &mut Cleanup,
) {
    let removals = cluster_groups.iter().map(|group| async move {
        let name = group.name.as_str();
        let hooks = groups.lifecycle_hooks(name).await?;
        let carries = hooks
            .iter()
            .any(|h| h.name == hook && h.transition == LAUNCHING);
        if !carries {
            return Ok(false);
        }
        groups.delete_launch_hook(name, hook).await.map(|()| true)
    });
    let outcomes = futures::future::join_all(removals).await;
    for (group, outcome) in cluster_groups.iter().zip(outcomes) {
        match outcome {
            Ok(true) => cleanup.hooks_removed.push(group.name.clone()),
            Ok(false) => {}
            Err(err) => cleanup.not_undone.push(format!(
                "the hook `{hook}` of {} may remain: {err}",
                group.name
            )),
        }
    }
}

/// Lifts every suspension the guard recorded (the shared resume, with no
/// alarm or budget to wait for: the guard is going away), restoring MaxSize
/// where its clamp is still in place.
async fn lift_suspensions(
    groups: &(impl GroupRead + ScaleOutControl),
    cluster_groups: &[GroupFacts],
    now: SystemTime,
    cleanup: &mut Cleanup,
) {
    cleanup.left_suspended_by_others.extend(
        cluster_groups
            .iter()
            .filter(|g| launch_suspended(g) && SuspensionRecord::of(g).is_none())
            .map(|g| g.name.clone()),
    );
    let report = shared::suspension::resume(groups, cluster_groups, now, &[], |_| Ok(())).await;
    let kept: Vec<&String> = report.notes.iter().map(|(group, _)| group).collect();
    for name in &report.changed {
        let restored = cluster_groups
            .iter()
            .find(|g| &g.name == name)
            .and_then(|g| match SuspensionRecord::of(g)?.restore(g) {
                Restore::To(size) => Some(size),
                _ => None,
            });
        if let Some(size) = restored.filter(|_| !kept.contains(&name)) {
            cleanup.max_size_restored.push(format!("{name}={size}"));
        }
    }
    cleanup.resumed.extend(report.changed);
    cleanup
        .notes
        .extend(report.notes.into_iter().map(|(_, note)| note));
    cleanup.not_undone.extend(
        report
            .unchanged
            .into_iter()
            .map(|(group, why)| format!("the suspension of {group} stays ({why})")),
    );
    cleanup
        .not_undone
        .extend(report.failed.into_iter().map(|(group, err)| {
            format!("the suspension of {group} may remain (tag `{SUSPENDED_TAG}`): {err}")
        }));
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

impl Cleanup {
    /// One sentence for the stack's events.
    pub fn reason(&self, cluster: &str) -> String {
        let mut reason = format!(
            "cluster `{cluster}`: hook removed from {} group(s), {} suspension(s) lifted, {} suspended by others left",
            self.hooks_removed.len(),
            self.resumed.len(),
            self.left_suspended_by_others.len()
        );
        if !self.notes.is_empty() {
            reason.push_str(&format!("; {}", self.notes.join("; ")));
        }
        if !self.not_undone.is_empty() {
            reason.push_str(&format!(
                "; NOT UNDONE ({}): {}",
                self.not_undone.len(),
                self.not_undone.join("; ")
            ));
        }
        reason
    }

    /// The response's `Data`: every list, comma-separated.
    pub fn data(&self, cluster: &str) -> BTreeMap<String, String> {
        [
            ("Cluster", cluster.to_owned()),
            ("HooksRemoved", list(&self.hooks_removed)),
            ("Resumed", list(&self.resumed)),
            ("MaxSizeRestored", list(&self.max_size_restored)),
            (
                "LeftSuspendedByOthers",
                list(&self.left_suspended_by_others),
            ),
            ("NotUndone", self.not_undone.join("; ")),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }
}
