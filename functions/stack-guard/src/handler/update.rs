//! Update: when the guard's hook changes its name (the default became
//! `scaling-guard-<cluster>`; an operator may set another), the hook moves
//! to the new name on every group that carries the old one. Left in place,
//! the old hook would hold every launch of the group until its heartbeat
//! ends in its default result (`ABANDON`): the event rule matches the new
//! name only, so nothing answers the old one.
//!
//! The groups are those of the old identity (the old policy's cluster tag):
//! the old guard put its hook there. A group of another cluster that carries
//! a hook of the same name (`scaling-guard-launch` was every stack's default)
//! is not this guard's and is never read.

use std::collections::BTreeMap;

use futures::StreamExt;
use shared::facts::HookFacts;
use shared::lifecycle::LAUNCHING;
use shared::policy::{ClusterTag, Policy};
use shared::ports::{ClusterGroupsRead, ScaleOutControl};

/// How many groups are moved at once: each move is two or three calls.
const GROUPS_AT_ONCE: usize = 10;

/// The guard's hook moves from `from` to `to` on the groups of `tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub from: String,
    pub to: String,
    /// The old identity: the groups the old guard guarded.
    pub tag: ClusterTag,
}

impl Rename {
    /// What an update from `old` to `new` moves: nothing when the hook keeps
    /// its name, nor when the cluster changes (the resource's id changes
    /// with it, and CloudFormation's delete of the old resource removes the
    /// old hook from the old cluster's groups, with the old policy).
    pub fn between(old: &Policy, new: &Policy) -> Option<Self> {
        (old.cluster == new.cluster && old.hook_name != new.hook_name).then(|| Rename {
            from: old.hook_name.clone(),
            to: new.hook_name.clone(),
            tag: old.cluster_tag.clone(),
        })
    }

    /// What an update moves from an old policy that today's rules refuse:
    /// a stack upgraded from before issue 20 whose shared tag key
    /// (`eks:cluster-name`) has no value. Its hook, named explicitly (the
    /// template always passes `GUARD_HOOK_NAME`) for the same cluster, moves
    /// on the groups of the new identity: those are this cluster's whatever
    /// the old one was, while the old identity (every group with the key)
    /// holds other clusters' groups, whose hooks of the same name are theirs.
    pub fn from_refused(old: &BTreeMap<String, String>, new: &Policy) -> Option<Self> {
        let setting = |name: &str| {
            old.get(name)
                .map(|value| value.trim())
                .filter(|value| !value.is_empty())
        };
        let from = setting("GUARD_HOOK_NAME")?;
        (setting("GUARD_CLUSTER") == Some(new.cluster.as_str()) && from != new.hook_name).then(
            || Rename {
                from: from.to_owned(),
                to: new.hook_name.clone(),
                tag: new.cluster_tag.clone(),
            },
        )
    }
}

/// What an update moved, and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renaming {
    /// Groups whose hook now has the new name and no longer the old one.
    pub renamed: Vec<String>,
    /// What stays as it was, or half done, with why.
    pub not_renamed: Vec<String>,
}

/// How one group's move ended.
enum Moved {
    /// The group does not carry the old hook: nothing to do.
    NotCarried,
    Renamed,
    NotRenamed(String),
}

/// Moves the hook on every group of the old identity that carries it,
/// recording each group in `renaming` as it finishes (so that a renaming
/// stopped at its time bound still reports what it did).
pub(super) async fn rename(
    groups: &(impl ClusterGroupsRead + ScaleOutControl),
    rename: &Rename,
    renaming: &mut Renaming,
) {
    let old_groups = match groups.cluster_groups(&rename.tag).await {
        Ok(found) => found,
        Err(err) => {
            renaming.not_renamed.push(format!(
                "the groups of `{}` could not be listed: {err}",
                rename.tag
            ));
            return;
        }
    };
    let mut moves = futures::stream::iter(old_groups)
        .map(|group| async move {
            let moved = move_hook(groups, &group.name, rename).await;
            (group.name, moved)
        })
        .buffer_unordered(GROUPS_AT_ONCE);
    while let Some((group, moved)) = moves.next().await {
        match moved {
            Moved::NotCarried => {}
            Moved::Renamed => renaming.renamed.push(group),
            Moved::NotRenamed(why) => {
                tracing::warn!(%group, %why, "hook not renamed");
                renaming.not_renamed.push(why);
            }
        }
    }
}

/// On one group: the new hook first, with every setting of the old one (so
/// that the group is never without the guard's hook), then the old one goes.
async fn move_hook(
    groups: &(impl ClusterGroupsRead + ScaleOutControl),
    group: &str,
    rename: &Rename,
) -> Moved {
    let Rename { from, to, .. } = rename;
    let hooks = match groups.lifecycle_hooks(group).await {
        Ok(hooks) => hooks,
        Err(err) => {
            return Moved::NotRenamed(format!(
                "the hooks of {group} could not be read (it may keep `{from}`): {err}"
            ));
        }
    };
    let Some(old) = hooks
        .iter()
        .find(|h| &h.name == from && h.transition == LAUNCHING)
    else {
        return Moved::NotCarried;
    };
    match hooks.iter().find(|h| &h.name == to) {
        // Someone's hook for another transition: putting ours would replace it.
        Some(other) if other.transition != LAUNCHING => {
            return Moved::NotRenamed(format!(
                "{group} keeps `{from}`: its hook `{to}` is for `{}`",
                other.transition
            ));
        }
        // Already there (the new budget-guard enrolled it): the old one goes.
        Some(_) => {}
        None => {
            let moved = HookFacts {
                name: to.clone(),
                ..old.clone()
            };
            if let Err(err) = groups.put_hook(group, &moved).await {
                return Moved::NotRenamed(format!(
                    "{group} keeps `{from}`: `{to}` could not be put: {err}"
                ));
            }
        }
    }
    match groups.delete_launch_hook(group, from).await {
        Ok(()) => Moved::Renamed,
        Err(err) => Moved::NotRenamed(format!("{group} may keep `{from}` beside `{to}`: {err}")),
    }
}

impl Renaming {
    /// What to add to the update's reason: nothing when nothing was moved or
    /// left.
    pub fn reason(&self, rename: &Rename) -> String {
        let mut reason = String::new();
        if !self.renamed.is_empty() {
            reason.push_str(&format!(
                "; hook `{}` renamed `{}` on {} group(s)",
                rename.from,
                rename.to,
                self.renamed.len()
            ));
        }
        if !self.not_renamed.is_empty() {
            reason.push_str(&format!(
                "; NOT RENAMED ({}): {}",
                self.not_renamed.len(),
                self.not_renamed.join("; ")
            ));
        }
        reason
    }

    /// The lists in a stable order (groups finish in any order).
    pub(super) fn sorted(mut self) -> Self {
        self.renamed.sort();
        self.not_renamed.sort();
        self
    }

    /// The entries of the update's `Data`: `HooksRenamed` (groups,
    /// comma-separated) and `NotRenamed` (`; `-separated).
    pub fn data(&self) -> [(String, String); 2] {
        [
            ("HooksRenamed".to_owned(), self.renamed.join(", ")),
            ("NotRenamed".to_owned(), self.not_renamed.join("; ")),
        ]
    }
}
