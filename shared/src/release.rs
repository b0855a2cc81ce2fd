//! Release: undo what one guard did to the account's Auto Scaling groups —
//! its launch hook, its suspensions of `Launch`, its MaxSize clamps and
//! budget-guard's record of expired exceptions' alerts
//! ([`EXCEPTION_EXPIRED_TAG`]) — and say what could not be undone.
//!
//! One code path for every caller: stack-guard's delete (the stack goes
//! away), stack-guard's update that changes the guard's identity (the old
//! identity goes away, while its permissions still allow it) and the CLI's
//! `scaling-guard release` (the stack is already gone).
//!
//! Two stages, typed by what they may do:
//! - [`survey`] reads only ([`ClusterGroupsRead`]): it lists every group of
//!   the region, reads the hooks of each, and returns what a release would
//!   undo (the CLI's dry run prints it);
//! - [`release`] also changes ([`ScaleOutControl`]): it surveys and undoes,
//!   pass after pass, until a survey finds nothing left, or its time or
//!   passes run out; what is left is [`ReleaseReport::leftovers`].
//!
//! **Where it looks.** The hook is found by name on *every* group, tagged or
//! not: a group whose cluster tag was removed still carries it, and nothing
//! would answer it any more. Suspensions and clamps are lifted on the
//! cluster's groups only (the tag key and value): the record tag does not
//! name its cluster, and another cluster's record is its guard's.
//!
//! **Cost.** One `DescribeAutoScalingGroups` per 100 groups, one
//! `DescribeLifecycleHooks` per group (Auto Scaling has no call that lists
//! the hooks of many groups), then only the calls that undo something: at
//! 500 groups, about 505 reads per pass, [`GROUPS_AT_ONCE`] at a time. A
//! clean account takes one pass; a release that undid something takes a
//! second, which reads again to prove it is clean (about 1,010 reads).
//! Every call is retried on throttling and server errors
//! ([`ATTEMPTS`] attempts, besides the SDK's own).

use std::time::{Duration, SystemTime};

use futures::StreamExt;
use serde::Serialize;
use tokio::time::Instant;

use crate::facts::{GroupFacts, HookFacts};
use crate::lifecycle::LAUNCHING;
use crate::policy::{ClusterTag, EXCEPTION_EXPIRED_TAG, Policy};
use crate::ports::{AwsError, AwsResult, ClusterGroupsRead, GroupRead, ScaleOutControl};
use crate::suspension::{RecordKey, Restore, SUSPENDED_TAG, SuspensionRecord, launch_suspended};

/// How many groups are read or changed at once: well under Auto Scaling's
/// request rate, which throttles a burst of hundreds.
pub const GROUPS_AT_ONCE: usize = 8;

/// Attempts of one call (each of them already the SDK's three), for
/// throttling and server errors only.
pub const ATTEMPTS: u32 = 4;

/// At most this many passes: the first undoes, the next ones retry what
/// failed and prove the groups clean.
pub const MAX_PASSES: u32 = 3;

/// The pause before the first retry of a call, doubled each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// The pause between passes: throttling eases, and a suspension another
/// function was applying settles.
const BETWEEN_PASSES: Duration = Duration::from_secs(2);

/// What one guard owns, and which groups a release leaves alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The guard's cluster: a hook of the guard's name that another cluster's
    /// guard enrolled, or on another cluster's group, is not this guard's.
    pub cluster: String,
    /// The guard's launch hook: removed from every group that carries it.
    pub hook_name: String,
    /// The guard's groups: their suspensions and clamps are lifted.
    pub cluster_tag: ClusterTag,
    /// Groups of this identity are not touched at all (an update's new
    /// identity: those groups stay guarded).
    pub except: Option<ClusterTag>,
    /// The key the guard signs its suspension records with: only a record
    /// it verifies is the guard's to lift (`None`: every record is, as
    /// before records were signed).
    pub record_key: Option<RecordKey>,
    /// What a release without `record_key` does with the records it cannot
    /// verify (with a key, it has no effect).
    pub unsigned: UnsignedRecords,
}

/// What a release without the record key does with the suspension records
/// on the cluster's groups: without the key no record can be verified, and
/// anyone who may tag a group can write one (a `Launch` someone else
/// suspended, a MaxSize of 5000 to "restore").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnsignedRecords {
    /// Every record is the guard's: lifted, MaxSize restored, as before
    /// records were signed (stack-guard, which always has the key in its
    /// stack, keeps this).
    #[default]
    Trust,
    /// Listed as unverified, never lifted (the CLI's default: the key is
    /// deleted with the stack).
    ListOnly,
    /// `Launch` lifted, MaxSize never set: the record's original MaxSize is
    /// only advice for a person (the CLI's `--trust-unsigned-records`).
    LiftLaunchOnly,
}

impl Scope {
    /// Everything the guard of `policy` did.
    pub fn of(policy: &Policy) -> Self {
        Self {
            cluster: policy.cluster.clone(),
            hook_name: policy.hook_name.clone(),
            cluster_tag: policy.cluster_tag.clone(),
            except: None,
            record_key: policy.record_key.clone(),
            unsigned: UnsignedRecords::Trust,
        }
    }

    /// Whether a record found is only listed: there is no key to verify it
    /// with, and the caller does not trust unsigned records.
    fn lists_records(&self) -> bool {
        self.record_key.is_none() && self.unsigned == UnsignedRecords::ListOnly
    }

    /// Whether a release sets MaxSize back to what a record says: only a
    /// verified record, or any when the caller trusts them all.
    pub fn restores_max_size(&self) -> bool {
        self.record_key.is_some() || self.unsigned == UnsignedRecords::Trust
    }

    fn excludes(&self, group: &GroupFacts) -> bool {
        self.except
            .as_ref()
            .is_some_and(|tag| tag.matches(&group.tags))
    }

    fn owns_suspensions_of(&self, group: &GroupFacts) -> bool {
        self.cluster_tag.matches(&group.tags) && !self.excludes(group)
    }

    /// Whether `hook` on `group` is the guard's: its name, on launch, and
    /// not another cluster's. A hook whose metadata names a cluster
    /// (budget-guard enrolls with `{"cluster": …, "by": "scaling-guard"}`)
    /// is that cluster's guard's. One without (put by an older version, or
    /// by hand) is this guard's on its cluster's groups and on groups of no
    /// other cluster: before issue 20 every stack's hook had the same default
    /// name, and another cluster's group (by the tags every cluster uses,
    /// `kubernetes.io/cluster/<name>` and `eks:cluster-name`) keeps its own.
    fn owns_hook(&self, group: &GroupFacts, hook: &HookFacts) -> bool {
        if hook.name != self.hook_name || hook.transition != LAUNCHING {
            return false;
        }
        if let Some(cluster) = enrolled_for(hook) {
            return cluster == self.cluster;
        }
        self.cluster_tag.matches(&group.tags) || !self.of_another_cluster(group)
    }

    fn of_another_cluster(&self, group: &GroupFacts) -> bool {
        group.tags.iter().any(|(key, value)| {
            key.strip_prefix(DEFAULT_KEY_PREFIX)
                .is_some_and(|cluster| cluster != self.cluster)
                || (key == EKS_CLUSTER_KEY && value != &self.cluster)
        })
    }
}

/// The key prefix that names a cluster by itself.
const DEFAULT_KEY_PREFIX: &str = "kubernetes.io/cluster/";
/// The key EKS tags every managed node group with, the cluster as value.
const EKS_CLUSTER_KEY: &str = "eks:cluster-name";

/// The cluster a hook's metadata names, when the guard enrolled it.
pub fn enrolled_for(hook: &HookFacts) -> Option<String> {
    let metadata: serde_json::Value =
        serde_json::from_str(hook.notification_metadata.as_deref()?).ok()?;
    if metadata.get("by")?.as_str()? != ENROLLED_BY {
        return None;
    }
    metadata.get("cluster")?.as_str().map(str::to_owned)
}

/// What the `by` of an enrolled hook's metadata says.
pub const ENROLLED_BY: &str = "scaling-guard";

/// What a release would undo (the read-only stage).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Survey {
    /// Groups that carry the guard's launch hook.
    pub hooks: Vec<String>,
    /// Groups whose suspension (and clamp) the guard recorded.
    #[serde(serialize_with = "names")]
    pub suspensions: Vec<GroupFacts>,
    /// Cluster groups whose `Launch` someone else suspended: never lifted.
    pub suspended_by_others: Vec<String>,
    /// Records a release without the key lists and does not lift
    /// ([`UnsignedRecords::ListOnly`]).
    pub unverified: Vec<Unverified>,
    /// Cluster groups carrying the guard's record of expired exceptions'
    /// alerts ([`EXCEPTION_EXPIRED_TAG`]): the tag is removed.
    pub exception_records: Vec<String>,
    /// What could not be read, with why.
    pub unread: Vec<String>,
}

/// A suspension record that could not be verified (no key), on its group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Unverified {
    pub group: String,
    /// The tag's value as it is on the group.
    pub record: String,
}

fn names<S: serde::Serializer>(groups: &[GroupFacts], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(groups.iter().map(|g| g.name.as_str()))
}

impl Survey {
    /// Nothing to undo or to look at, and everything read.
    pub fn is_clean(&self) -> bool {
        self.nothing_to_undo() && self.unverified.is_empty()
    }

    /// Nothing a release would change, and everything read: the records
    /// it only lists are left for a person.
    fn nothing_to_undo(&self) -> bool {
        self.hooks.is_empty()
            && self.suspensions.is_empty()
            && self.exception_records.is_empty()
            && self.unread.is_empty()
    }

    /// `group=size` for each clamp a release would restore.
    pub fn clamps(&self, key: Option<&RecordKey>) -> Vec<String> {
        self.suspensions
            .iter()
            .filter_map(|g| match SuspensionRecord::of(g, key)?.restore(g) {
                Restore::To(size) => Some(format!("{}={size}", g.name)),
                _ => None,
            })
            .collect()
    }
}

/// What a release did, and what it left.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReleaseReport {
    /// Groups whose guard hook was deleted.
    pub hooks_removed: Vec<String>,
    /// Groups whose guard suspension was lifted.
    pub resumed: Vec<String>,
    /// `group=size`: MaxSize set back to what it was before the guard's clamp.
    pub max_size_restored: Vec<String>,
    /// Groups whose record of expired exceptions' alerts was removed.
    pub records_removed: Vec<String>,
    /// Cluster groups whose `Launch` someone else suspended: left so.
    pub left_suspended_by_others: Vec<String>,
    /// Records that could not be verified (no key): not lifted, also in
    /// `leftovers`.
    pub unverified: Vec<Unverified>,
    /// What a person should know (a MaxSize changed by someone else is kept).
    pub notes: Vec<String>,
    /// What is still there after the last pass, with why: a release with
    /// leftovers did not finish.
    pub leftovers: Vec<String>,
    /// How many passes ran.
    pub passes: u32,
}

impl ReleaseReport {
    /// Whether nothing the guard did is left.
    pub fn is_complete(&self) -> bool {
        self.leftovers.is_empty()
    }

    /// The lists in a stable order (groups finish in any order).
    fn sort(&mut self) {
        for list in [
            &mut self.hooks_removed,
            &mut self.resumed,
            &mut self.max_size_restored,
            &mut self.records_removed,
            &mut self.left_suspended_by_others,
            &mut self.notes,
            &mut self.leftovers,
        ] {
            list.sort();
            list.dedup();
        }
    }
}

/// Reads what a release of `scope` would undo: every group of the region,
/// the hooks of each.
pub async fn survey(read: &impl ClusterGroupsRead, scope: &Scope) -> Survey {
    let mut survey = Survey::default();
    let groups = match retried(|| read.all_groups()).await {
        Ok(groups) => groups,
        Err(err) => {
            survey
                .unread
                .push(format!("the groups could not be listed: {err}"));
            return survey;
        }
    };
    let groups: Vec<GroupFacts> = groups.into_iter().filter(|g| !scope.excludes(g)).collect();
    for group in groups.iter().filter(|g| scope.owns_suspensions_of(g)) {
        match SuspensionRecord::of(group, scope.record_key.as_ref()) {
            Some(_) if scope.lists_records() => survey.unverified.push(Unverified {
                group: group.name.clone(),
                record: group.tags.get(SUSPENDED_TAG).cloned().unwrap_or_default(),
            }),
            Some(_) => survey.suspensions.push(group.clone()),
            None if launch_suspended(group) => survey.suspended_by_others.push(group.name.clone()),
            None => {}
        }
        if group.tags.contains_key(EXCEPTION_EXPIRED_TAG) {
            survey.exception_records.push(group.name.clone());
        }
    }
    let mut reads = futures::stream::iter(&groups)
        .map(|group| async move {
            let hooks = retried(|| read.lifecycle_hooks(&group.name)).await;
            (group, hooks)
        })
        .buffer_unordered(GROUPS_AT_ONCE);
    while let Some((group, hooks)) = reads.next().await {
        match hooks {
            Ok(hooks) => {
                if hooks.iter().any(|h| scope.owns_hook(group, h)) {
                    survey.hooks.push(group.name.clone());
                }
            }
            // Deleted since it was listed (a cluster torn down meanwhile).
            Err(err) if is_gone(&err) => {}
            Err(err) => survey.unread.push(format!(
                "the hooks of {} could not be read (it may keep `{}`): {err}",
                group.name, scope.hook_name
            )),
        }
    }
    survey.hooks.sort();
    survey.unread.sort();
    survey
}

/// Undoes everything [`survey`] finds, pass after pass, until a pass finds
/// nothing, [`MAX_PASSES`] ran or `until` comes. Each pass records into
/// `report` as it goes, so that a release stopped at `until` still says what
/// it did; what is left after the last pass is in `report.leftovers`.
pub async fn release(
    control: &(impl ClusterGroupsRead + GroupRead + ScaleOutControl),
    scope: &Scope,
    now: SystemTime,
    until: Instant,
    report: &mut ReleaseReport,
) {
    let finished = tokio::time::timeout_at(until, passes(control, scope, now, report))
        .await
        .is_ok();
    if !finished {
        report.leftovers.push(format!(
            "the release stopped at its time limit in pass {}: a group not listed here may still carry `{}` or a suspension",
            report.passes, scope.hook_name
        ));
    }
    report.leftovers.extend(report.unverified.iter().map(|u| {
        format!(
            "{}: its suspension record cannot be verified without the record key (GUARD_RECORD_KEY), so neither its Launch nor its MaxSize was touched",
            u.group
        )
    }));
    report.sort();
    report.unverified.sort();
    report.unverified.dedup();
}

async fn passes(
    control: &(impl ClusterGroupsRead + GroupRead + ScaleOutControl),
    scope: &Scope,
    now: SystemTime,
    report: &mut ReleaseReport,
) {
    loop {
        report.passes += 1;
        let previous = std::mem::take(&mut report.leftovers);
        let found = survey(control, scope).await;
        report.left_suspended_by_others = found.suspended_by_others.clone();
        report.unverified = found.unverified.clone();
        if found.nothing_to_undo() {
            return;
        }
        if report.passes >= MAX_PASSES {
            // The last pass only proves: what it found is left, with why the
            // pass before could not undo it.
            let explained = |prefix: String| previous.iter().any(|left| left.starts_with(&prefix));
            let hooks: Vec<String> = found
                .hooks
                .iter()
                .filter(|group| !explained(format!("the hook `{}` of {group} ", scope.hook_name)))
                .map(|group| format!("{group} still carries the hook `{}`", scope.hook_name))
                .collect();
            let suspensions: Vec<String> = found
                .suspensions
                .iter()
                .filter(|g| !explained(format!("the suspension of {} ", g.name)))
                .map(|g| format!("{} is still suspended by the guard", g.name))
                .collect();
            let records: Vec<String> = found
                .exception_records
                .iter()
                .filter(|group| !explained(record_left(group)))
                .map(|group| format!("{group} still carries the tag `{EXCEPTION_EXPIRED_TAG}`"))
                .collect();
            report.leftovers = previous;
            report.leftovers.extend(found.unread);
            report.leftovers.extend(hooks);
            report.leftovers.extend(suspensions);
            report.leftovers.extend(records);
            return;
        }
        report.leftovers.extend(found.unread.iter().cloned());
        undo(control, scope, &found, now, report).await;
        tokio::time::sleep(BETWEEN_PASSES).await;
    }
}

/// How one group's undo ended.
enum Undone {
    HookRemoved,
    Lifted {
        restored: Option<String>,
        note: Option<String>,
    },
    /// The record went meanwhile (another run lifted it).
    Gone,
    Left(String),
}

/// One pass's changes: every hook, every suspension, [`GROUPS_AT_ONCE`] at a
/// time, every call retried.
async fn undo(
    control: &(impl GroupRead + ScaleOutControl),
    scope: &Scope,
    found: &Survey,
    now: SystemTime,
    report: &mut ReleaseReport,
) {
    let control = &Retrying(control);
    let hook = scope.hook_name.as_str();
    let removals = found.hooks.iter().map(|group| {
        futures::future::Either::Left(async move {
            match control.delete_launch_hook(group, hook).await {
                Ok(()) => (group.clone(), Undone::HookRemoved),
                Err(err) => (
                    group.clone(),
                    Undone::Left(format!("the hook `{hook}` of {group} may remain: {err}")),
                ),
            }
        })
    });
    let lifts = found.suspensions.iter().map(|group| {
        futures::future::Either::Right(async move {
            let undone = match scope.restores_max_size() {
                true => lift(control, group, scope.record_key.as_ref(), now).await,
                false => lift_launch_only(control, group).await,
            };
            (group.name.clone(), undone)
        })
    });
    let mut steps = futures::stream::iter(removals.chain(lifts)).buffer_unordered(GROUPS_AT_ONCE);
    while let Some((group, undone)) = steps.next().await {
        match undone {
            Undone::HookRemoved => report.hooks_removed.push(group),
            Undone::Lifted { restored, note } => {
                report.resumed.push(group);
                report.max_size_restored.extend(restored);
                report.notes.extend(note);
            }
            Undone::Gone => {}
            Undone::Left(why) => {
                tracing::warn!(%group, %why, "not released");
                report.leftovers.push(why);
            }
        }
    }
    remove_records(control, &found.exception_records, report).await;
}

/// How a leftover record of `group` begins, as [`remove_records`] words it.
fn record_left(group: &str) -> String {
    format!("the tag `{EXCEPTION_EXPIRED_TAG}` of {group} ")
}

/// Removes the guard's record of expired exceptions' alerts from `groups`,
/// [`GROUPS_AT_ONCE`] at a time. Only budget-guard writes it, and only
/// while the guard runs: once the guard goes, it records nothing.
async fn remove_records(
    control: &(impl GroupRead + ScaleOutControl),
    groups: &[String],
    report: &mut ReleaseReport,
) {
    let mut removals = futures::stream::iter(groups)
        .map(|group| async move {
            let removed = control.untag_group(group, EXCEPTION_EXPIRED_TAG).await;
            (group, removed)
        })
        .buffer_unordered(GROUPS_AT_ONCE);
    while let Some((group, removed)) = removals.next().await {
        match removed {
            Ok(()) => report.records_removed.push(group.clone()),
            Err(err) if is_gone(&err) => {}
            Err(err) => {
                let why = format!("{}may remain: {err}", record_left(group));
                tracing::warn!(%group, %why, "not released");
                report.leftovers.push(why);
            }
        }
    }
}

/// Lifts the guard's suspension of one group with the resume budget-guard
/// uses (no alarm or budget holds it: the guard is going away), restoring
/// MaxSize where its clamp is still in place. A resume that fails half-way
/// is finished by the next pass: every step of a resume is safe to repeat.
async fn lift(
    control: &(impl GroupRead + ScaleOutControl),
    group: &GroupFacts,
    key: Option<&RecordKey>,
    now: SystemTime,
) -> Undone {
    let restored = SuspensionRecord::of(group, key).and_then(|r| match r.restore(group) {
        Restore::To(size) => Some(format!("{}={size}", group.name)),
        _ => None,
    });
    let done =
        crate::suspension::resume(control, std::slice::from_ref(group), now, &[], key, |_| {
            Ok(())
        })
        .await;
    if !done.changed.is_empty() {
        let note = done.notes.into_iter().map(|(_, note)| note).next();
        return Undone::Lifted {
            restored: restored.filter(|_| note.is_none()),
            note,
        };
    }
    if let Some((_, why)) = done.unchanged.into_iter().next() {
        return Undone::Left(format!("the suspension of {} stays ({why})", group.name));
    }
    match done.failed.into_iter().next() {
        // The group was deleted meanwhile: nothing of the guard is left on it.
        Some((_, err)) if err.to_ascii_lowercase().contains("not found") => Undone::Gone,
        Some((_, err)) => Undone::Left(format!(
            "the suspension of {} may remain (tag `{}`): {err}",
            group.name, SUSPENDED_TAG
        )),
        None => Undone::Gone,
    }
}

/// Lifts a suspension whose record could not be verified (no key, and the
/// caller trusts unsigned records): `Launch` only. MaxSize is never set from
/// such a record, which anyone who may tag the group could have written;
/// the size it names is only advice, in a note. `Launch` is lifted before
/// the tag goes, so that a half-done lift is finished by the next pass.
async fn lift_launch_only(
    control: &(impl GroupRead + ScaleOutControl),
    group: &GroupFacts,
) -> Undone {
    let name = group.name.as_str();
    let advice = SuspensionRecord::of(group, None)
        .and_then(|record| record.original_max_size)
        .filter(|&size| size > group.max_size)
        .map(|size| {
            format!(
                "MaxSize of {name} is left at {}: its unverified record says it was {size} before a clamp; if that is so, `aws autoscaling update-auto-scaling-group --auto-scaling-group-name {name} --max-size {size}`",
                group.max_size
            )
        });
    let steps = async {
        control.resume_launch(name).await?;
        control.untag_group(name, SUSPENDED_TAG).await
    };
    match steps.await {
        Ok(()) => Undone::Lifted {
            restored: None,
            note: advice,
        },
        Err(err) if is_gone(&err) => Undone::Gone,
        Err(err) => Undone::Left(format!(
            "the suspension of {name} may remain (tag `{}`): {err}",
            SUSPENDED_TAG
        )),
    }
}

/// The Auto Scaling port with every call [`retried`]: the shared resume's
/// calls too, so that a throttled step does not leave a group half resumed.
struct Retrying<'a, C>(&'a C);

impl<C: GroupRead> GroupRead for Retrying<'_, C> {
    async fn group(&self, name: &str) -> AwsResult<Option<GroupFacts>> {
        retried(|| self.0.group(name)).await
    }
}

impl<C: ScaleOutControl> ScaleOutControl for Retrying<'_, C> {
    async fn suspend_launch(&self, group: &str) -> AwsResult<()> {
        retried(|| self.0.suspend_launch(group)).await
    }

    async fn resume_launch(&self, group: &str) -> AwsResult<()> {
        retried(|| self.0.resume_launch(group)).await
    }

    async fn set_max_size(&self, group: &str, max_size: i32) -> AwsResult<()> {
        retried(|| self.0.set_max_size(group, max_size)).await
    }

    async fn tag_group(&self, group: &str, key: &str, value: &str) -> AwsResult<()> {
        retried(|| self.0.tag_group(group, key, value)).await
    }

    async fn untag_group(&self, group: &str, key: &str) -> AwsResult<()> {
        retried(|| self.0.untag_group(group, key)).await
    }

    async fn put_hook(&self, group: &str, hook: &HookFacts) -> AwsResult<()> {
        retried(|| self.0.put_hook(group, hook)).await
    }

    async fn delete_launch_hook(&self, group: &str, hook: &str) -> AwsResult<()> {
        retried(|| self.0.delete_launch_hook(group, hook)).await
    }
}

/// Whether a failed call says the group is not there (any more): Auto
/// Scaling answers a `ValidationError` whose message says it was not found.
fn is_gone(err: &AwsError) -> bool {
    err.code.as_deref() == Some("ValidationError")
        && err.message.to_ascii_lowercase().contains("not found")
}

/// Whether a failed call is worth another attempt: throttling, a server
/// error, a timeout; not a refusal (access denied, validation).
fn is_transient(err: &AwsError) -> bool {
    match err.code.as_deref() {
        None => true,
        Some(code) => {
            code.contains("Throttl")
                || code.contains("LimitExceeded")
                || code.contains("Internal")
                || code.contains("Unavailable")
                || code == "ResourceContention"
                || code == "RequestTimeout"
        }
    }
}

/// `call`, attempted up to [`ATTEMPTS`] times on transient errors, with a
/// doubling pause.
pub(crate) async fn retried<T, F, C>(mut call: C) -> AwsResult<T>
where
    C: FnMut() -> F,
    F: Future<Output = AwsResult<T>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(err) if attempt < ATTEMPTS && is_transient(&err) => {
                attempt += 1;
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests;
