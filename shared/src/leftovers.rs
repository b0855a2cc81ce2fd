//! The leftovers survey (issue 25, point 4): everything any scaling-guard
//! left in one account and region, found without its policy — the stack
//! that knew the cluster, the hook name and the launcher roles may be gone.
//!
//! What a guard leaves, and how each is known for the guard's without the
//! policy:
//! - **hooks**: a launch hook whose metadata says the guard enrolled it
//!   ([`enrolled_for`]: it names its cluster), or whose name has the
//!   default hook name's prefix (`scaling-guard-`);
//! - **suspensions**: a group whose `Launch` is suspended and that carries
//!   the guard's record tag ([`SUSPENDED_TAG`]);
//! - **clamps**: a group whose record says its MaxSize was another before
//!   the guard's clamp, and whose MaxSize is not that now;
//! - **tags**: any other `scaling-guard:` tag on a group (the record of an
//!   expired exception's alert, a record without its suspension);
//! - **inline policies**: the launch breaker, by its name
//!   (`scaling-guard-<cluster>-<region>-launch-breaker`), on any role.
//!
//! IAM is global: a breaker belongs to the region its name ends with, so a
//! survey of each region lists each breaker once, in its own region.
//!
//! Only reads: one `DescribeAutoScalingGroups` per 100 groups, one
//! `DescribeLifecycleHooks` per group, one `ListRoles` per 1,000 roles, one
//! `ListRolePolicies` per role, [`AT_ONCE`] at a time, each retried on
//! throttling like a release's calls.

use futures::StreamExt;
use serde::Serialize;

use crate::facts::GroupFacts;
use crate::launch_breaker::{NAME_PREFIX, NAME_SUFFIX};
use crate::lifecycle::LAUNCHING;
use crate::ports::{AwsResult, ClusterGroupsRead, RolePoliciesRead};
use crate::release::{enrolled_for, retried};
use crate::suspension::{SUSPENDED_TAG, SuspensionRecord, launch_suspended};

/// How many groups or roles are read at once: well under Auto Scaling's
/// and IAM's request rates.
pub const AT_ONCE: usize = 8;

/// What every guard-owned group tag's key starts with.
pub const TAG_PREFIX: &str = "scaling-guard:";

/// What the default hook name starts with (`GUARD_HOOK_NAME`'s default,
/// `scaling-guard-<cluster>`).
const HOOK_PREFIX: &str = "scaling-guard-";

/// The key prefix that names a cluster by itself.
const CLUSTER_KEY_PREFIX: &str = "kubernetes.io/cluster/";
/// The key EKS tags every managed node group with, the cluster as value.
const EKS_CLUSTER_KEY: &str = "eks:cluster-name";

/// Everything a guard left in one account and region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Leftovers {
    /// What is there, by group, then by role.
    pub items: Vec<Leftover>,
    /// What could not be read, with why: it may hide more.
    pub unread: Vec<String>,
}

/// One thing a guard left, and the cluster it belongs to where that can be
/// told (the hook's metadata, the group's cluster tag, the breaker's name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Leftover {
    #[serde(flatten)]
    pub thing: Thing,
    pub cluster: Option<String>,
}

/// What is left, and where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Thing {
    /// A guard's launch hook on a group.
    Hook { group: String, hook: String },
    /// `Launch` suspended under a guard's record.
    Suspension { group: String },
    /// MaxSize clamped: the record says it was `original`.
    Clamp {
        group: String,
        max_size: i32,
        original: i32,
    },
    /// Another `scaling-guard:` tag on a group.
    GroupTag { group: String, key: String },
    /// The launch breaker on a role.
    InlinePolicy { role: String, policy: String },
}

impl Leftovers {
    /// Nothing left, and everything read.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.unread.is_empty()
    }

    /// One human line per thing left, then one per thing not read.
    pub fn lines(&self) -> Vec<String> {
        let items = self.items.iter().map(Leftover::line);
        let unread = self.unread.iter().map(|why| format!("not read: {why}"));
        items.chain(unread).collect()
    }
}

impl Leftover {
    /// `group prod-a: hook scaling-guard-prod (cluster prod)`.
    pub fn line(&self) -> String {
        let what = match &self.thing {
            Thing::Hook { group, hook } => format!("group {group}: launch hook {hook}"),
            Thing::Suspension { group } => format!("group {group}: Launch suspended by a guard"),
            Thing::Clamp {
                group,
                max_size,
                original,
            } => format!("group {group}: MaxSize clamped to {max_size} (was {original})"),
            Thing::GroupTag { group, key } => format!("group {group}: tag {key}"),
            Thing::InlinePolicy { role, policy } => {
                format!("role {role}: inline policy {policy}")
            }
        };
        match &self.cluster {
            Some(cluster) => format!("{what} (cluster {cluster})"),
            None => what,
        }
    }
}

/// Surveys the groups of the region and the roles of the account. `region`
/// is the survey's: the breakers of other regions are theirs. Fails only
/// when the groups or the roles cannot be listed at all; a group whose
/// hooks cannot be read is in [`Leftovers::unread`].
pub async fn survey_leftovers(
    groups: &impl ClusterGroupsRead,
    roles: &impl RolePoliciesRead,
    region: &str,
) -> AwsResult<Leftovers> {
    let all = retried(|| groups.all_groups()).await?;
    let mut leftovers = Leftovers::default();
    leftovers.items.extend(all.iter().flat_map(on_group));
    leftover_hooks(groups, &all, &mut leftovers).await;
    leftover_breakers(roles, region, &mut leftovers).await?;
    leftovers.items.sort();
    leftovers.unread.sort();
    Ok(leftovers)
}

/// The suspension, clamp and tags the guard left on one group.
fn on_group(group: &GroupFacts) -> Vec<Leftover> {
    let cluster = cluster_of(group);
    let name = || group.name.clone();
    let suspended = launch_suspended(group) && group.tags.contains_key(SUSPENDED_TAG);
    let mut things = Vec::new();
    if suspended {
        things.push(Thing::Suspension { group: name() });
    }
    if let Some(original) = clamped(group) {
        things.push(Thing::Clamp {
            group: name(),
            max_size: group.max_size,
            original,
        });
    }
    let tags = group
        .tags
        .keys()
        .filter(|key| key.starts_with(TAG_PREFIX) && !(suspended && *key == SUSPENDED_TAG));
    things.extend(tags.map(|key| Thing::GroupTag {
        group: name(),
        key: key.clone(),
    }));
    things
        .into_iter()
        .map(|thing| Leftover {
            thing,
            cluster: cluster.clone(),
        })
        .collect()
}

/// The original MaxSize a record names, when the group's is another now.
/// Read without a key: any record is taken at its word, since the survey
/// only lists.
fn clamped(group: &GroupFacts) -> Option<i32> {
    SuspensionRecord::of(group, None)?
        .original_max_size
        .filter(|&original| original != group.max_size)
}

/// The cluster a group's tags name by themselves.
fn cluster_of(group: &GroupFacts) -> Option<String> {
    let by_key = group
        .tags
        .keys()
        .find_map(|key| key.strip_prefix(CLUSTER_KEY_PREFIX));
    by_key
        .or_else(|| group.tags.get(EKS_CLUSTER_KEY).map(String::as_str))
        .map(str::to_owned)
}

/// The guard's launch hooks on every group, [`AT_ONCE`] groups at a time.
async fn leftover_hooks(
    read: &impl ClusterGroupsRead,
    groups: &[GroupFacts],
    leftovers: &mut Leftovers,
) {
    let mut reads = futures::stream::iter(groups)
        .map(|group| async move { (group, retried(|| read.lifecycle_hooks(&group.name)).await) })
        .buffer_unordered(AT_ONCE);
    while let Some((group, hooks)) = reads.next().await {
        let hooks = match hooks {
            Ok(hooks) => hooks,
            Err(err) if is_gone(&err) => continue,
            Err(err) => {
                leftovers
                    .unread
                    .push(format!("the hooks of {}: {err}", group.name));
                continue;
            }
        };
        let guards = hooks.into_iter().filter(|h| h.transition == LAUNCHING);
        for hook in guards {
            let cluster = enrolled_for(&hook);
            if cluster.is_none() && !hook.name.starts_with(HOOK_PREFIX) {
                continue;
            }
            leftovers.items.push(Leftover {
                cluster: cluster.or_else(|| cluster_of(group)),
                thing: Thing::Hook {
                    group: group.name.clone(),
                    hook: hook.name,
                },
            });
        }
    }
}

/// Whether a failed read says the group was deleted since it was listed.
fn is_gone(err: &crate::ports::AwsError) -> bool {
    err.code.as_deref() == Some("ValidationError")
        && err.message.to_ascii_lowercase().contains("not found")
}

/// The launch breakers of `region` on every role, [`AT_ONCE`] roles at a time.
async fn leftover_breakers(
    read: &impl RolePoliciesRead,
    region: &str,
    leftovers: &mut Leftovers,
) -> AwsResult<()> {
    let roles = retried(|| read.role_names()).await?;
    let mut reads = futures::stream::iter(&roles)
        .map(|role| async move { (role, retried(|| read.inline_policy_names(role)).await) })
        .buffer_unordered(AT_ONCE);
    while let Some((role, policies)) = reads.next().await {
        let policies = match policies {
            Ok(policies) => policies,
            Err(err) => {
                leftovers
                    .unread
                    .push(format!("the inline policies of role {role}: {err}"));
                continue;
            }
        };
        for policy in policies {
            if let Some(cluster) = breaker_cluster(&policy, region) {
                leftovers.items.push(Leftover {
                    cluster: Some(cluster.to_owned()),
                    thing: Thing::InlinePolicy {
                        role: role.clone(),
                        policy,
                    },
                });
            }
        }
    }
    Ok(())
}

/// The cluster of a breaker of `region` (its name,
/// `scaling-guard-<cluster>-<region>-launch-breaker`); `None` for any other
/// policy.
fn breaker_cluster<'a>(policy: &'a str, region: &str) -> Option<&'a str> {
    policy
        .strip_prefix(NAME_PREFIX)?
        .strip_suffix(NAME_SUFFIX)?
        .strip_suffix(region)?
        .strip_suffix('-')
        .filter(|cluster| !cluster.is_empty())
}

#[cfg(test)]
mod tests;
