//! Update: when the guard's identity changes — its hook's name, its cluster,
//! its cluster tag's key or value — the old identity is cleaned up in the
//! update itself, while the stack-guard role still holds the old identity's
//! permissions (template.yaml, `StackGuardHandOverAccess`), and before the
//! functions run with the new one.
//!
//! - On the new identity's groups, a hook of the old name **moves** to the
//!   new name (left in place it would hold every launch of the group until
//!   its heartbeat ends in its default result, `ABANDON`: the event rule
//!   matches the new name only, so nothing answers the old one). Their
//!   suspensions stay: the guard keeps guarding them.
//! - Everywhere else the old identity is **released** ([`shared::release`],
//!   as a delete does): the old hook goes from every group that carries it,
//!   tagged or not; the old identity's suspensions and clamps are lifted.
//!
//! Whatever cannot be moved or released fails the update, so that
//! CloudFormation rolls it back (and, rolling back, moves and releases the
//! other way).

use std::collections::BTreeMap;

use futures::StreamExt;
use shared::facts::HookFacts;
use shared::lifecycle::LAUNCHING;
use shared::policy::settings::{CLUSTER, HOOK_NAME};
use shared::policy::{ClusterTag, Policy};
use shared::ports::{ClusterGroupsRead, ScaleOutControl};
use shared::release::{ReleaseReport, Scope};

use crate::response::left_undone;

/// How many groups are moved at once: each move is two or three calls.
const GROUPS_AT_ONCE: usize = 10;

/// The guard's hook moves from `from` to `to` on the groups of `tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub from: String,
    pub to: String,
    /// The new identity: the groups the guard keeps guarding.
    pub tag: ClusterTag,
}

/// What an update that changes the guard's identity does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityChange {
    /// The hook's move on the new identity's groups, when its name changes.
    pub rename: Option<Rename>,
    /// The old identity, released on every group the new one does not guard.
    pub release: Option<Scope>,
}

impl IdentityChange {
    /// What an update from `old` to `new` does: nothing when the cluster,
    /// its tag and the hook's name stay.
    pub fn between(old: &Policy, new: &Policy) -> Option<Self> {
        let same = old.cluster == new.cluster
            && old.cluster_tag == new.cluster_tag
            && old.hook_name == new.hook_name;
        (!same).then(|| IdentityChange {
            rename: Rename::between(old, new),
            release: Some(Scope {
                except: Some(new.cluster_tag.clone()),
                ..Scope::of(old)
            }),
        })
    }
}

impl Rename {
    /// The move an update from `old` to `new` makes: nothing when the hook
    /// keeps its name.
    pub fn between(old: &Policy, new: &Policy) -> Option<Self> {
        (old.hook_name != new.hook_name).then(|| Rename {
            from: old.hook_name.clone(),
            to: new.hook_name.clone(),
            tag: new.cluster_tag.clone(),
        })
    }

    /// What an update moves from an old policy that today's rules refuse:
    /// a stack upgraded from before issue 20 whose shared tag key
    /// (`eks:cluster-name`) has no value. Its hook, named explicitly (the
    /// template always passes `GUARD_HOOK_NAME`) for the same cluster, moves
    /// on the groups of the new identity; nothing is released: the old
    /// identity (every group with the key) holds other clusters' groups,
    /// whose hooks of the same name and suspensions are theirs.
    pub fn from_refused(old: &BTreeMap<String, String>, new: &Policy) -> Option<Self> {
        let setting = |name: &str| {
            old.get(name)
                .map(|value| value.trim())
                .filter(|value| !value.is_empty())
        };
        let from = setting(HOOK_NAME.name)?;
        (setting(CLUSTER.name) == Some(new.cluster.as_str()) && from != new.hook_name).then(|| {
            Rename {
                from: from.to_owned(),
                to: new.hook_name.clone(),
                tag: new.cluster_tag.clone(),
            }
        })
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

/// Moves the hook on every group of the new identity that carries it,
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
                "the groups of `{}` could not be listed (they may keep `{}`): {err}",
                rename.tag, rename.from
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
        reason.push_str(&left_undone("NOT RENAMED", "", &self.not_renamed));
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

/// What the update's release of the old identity adds to its reason.
pub fn released_reason(scope: &Scope, report: &ReleaseReport) -> String {
    if report.hooks_removed.is_empty() && report.resumed.is_empty() && report.is_complete() {
        return String::new();
    }
    let mut reason = format!(
        "; old identity (`{}`, hook `{}`) released: hook removed from {} group(s), {} suspension(s) lifted",
        scope.cluster_tag,
        scope.hook_name,
        report.hooks_removed.len(),
        report.resumed.len()
    );
    if !report.notes.is_empty() {
        reason.push_str(&format!("; {}", report.notes.join("; ")));
    }
    reason.push_str(&left_undone("NOT UNDONE", "", &report.leftovers));
    reason
}

/// The entries of the update's `Data` for the release of the old identity:
/// `OldHooksRemoved`, `OldResumed`, `OldMaxSizeRestored` (groups,
/// comma-separated) and `NotUndone` (`; `-separated).
pub fn released_data(report: &ReleaseReport) -> [(String, String); 4] {
    [
        (
            "OldHooksRemoved".to_owned(),
            report.hooks_removed.join(", "),
        ),
        ("OldResumed".to_owned(), report.resumed.join(", ")),
        (
            "OldMaxSizeRestored".to_owned(),
            report.max_size_restored.join(", "),
        ),
        ("NotUndone".to_owned(), report.leftovers.join("; ")),
    ]
}
