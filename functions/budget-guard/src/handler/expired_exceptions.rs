//! Exceptions that expire (issue 24, point 5): once an exception of
//! `GUARD_CHECK_EXCEPTIONS` is past its `until=`, every decision judges its
//! groups by the check again (the expiry is read at decision time, in each
//! function). Saying so is budget-guard's: its schedule runs every minute,
//! whatever launches, so an expiry is told within a minute of midnight UTC,
//! once per exception, never per launch.
//!
//! Once, across execution environments and retries: the alert is recorded
//! on each cluster group the exception matches, in the guard-owned tag
//! [`EXCEPTION_EXPIRED_TAG`] (not propagated to instances). Its value lists
//! the expiries alerted for the group, `<check>/<until>` separated by
//! spaces (`imds.hop_limit/2027-03-31`): an exception renewed with a later
//! `until=` is a new expiry, alerted again when it comes. An exception is
//! alerted while one of the groups it matches lacks its entry, naming those
//! groups. The tag is written after the alert is published: a run that
//! cannot publish does not record (the next run tries again); one that
//! cannot record alerts again a minute later rather than never.
//!
//! budget-guard runs at reserved concurrency 1 and is the only writer of
//! the tag, so reading it from the run's `DescribeAutoScalingGroups` and
//! writing it back whole loses no entry. An exception whose glob matches no
//! cluster group changes no decision and is not alerted (`validate` notes
//! every expired exception).

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use shared::facts::GroupFacts;
use shared::policy::{Exception, Policy};
use shared::ports::{AlertPublish, Ports, ScaleOutControl};

use super::BudgetGuard;
use crate::alerts;

/// The group tag that records the `exception_expired` alerts of the group
/// (the domain's: a release removes it too).
pub use shared::policy::EXCEPTION_EXPIRED_TAG;

/// Auto Scaling tag values hold at most 256 characters.
const TAG_VALUE_MAX: usize = 256;

/// An expired exception and the cluster groups it matches that do not
/// record its alert yet.
#[derive(Debug)]
struct Due<'a> {
    exception: &'a Exception,
    entry: String,
    groups: Vec<String>,
}

/// The record's entry for an expired exception: `imds.hop_limit/2027-03-31`.
fn entry(exception: &Exception) -> Option<String> {
    exception
        .until
        .map(|until| format!("{}/{until}", exception.check))
}

/// The entries the group's record holds.
fn recorded(group: &GroupFacts) -> BTreeSet<&str> {
    group
        .tags
        .get(EXCEPTION_EXPIRED_TAG)
        .map(|value| value.split_whitespace().collect())
        .unwrap_or_default()
}

/// The expired exceptions of the policy at `now`, each with the groups of
/// `groups` it matches that have not recorded its alert.
fn due<'a>(policy: &'a Policy, groups: &[GroupFacts], now: SystemTime) -> Vec<Due<'a>> {
    policy
        .exceptions
        .expired(now)
        .filter_map(|exception| {
            let entry = entry(exception)?;
            let groups: Vec<String> = groups
                .iter()
                .filter(|g| exception.matches(&g.name) && !recorded(g).contains(entry.as_str()))
                .map(|g| g.name.clone())
                .collect();
            (!groups.is_empty()).then_some(Due {
                exception,
                entry,
                groups,
            })
        })
        .collect()
}

/// The record a group holds after this run: the entries of expired
/// exceptions that still match it (others are dropped: renewed or removed
/// exceptions), plus `added`, the oldest cut first beyond 256 characters.
fn record_value(
    policy: &Policy,
    group: &GroupFacts,
    added: &BTreeSet<String>,
    now: SystemTime,
) -> String {
    let live: BTreeSet<String> = policy
        .exceptions
        .expired(now)
        .filter(|e| e.matches(&group.name))
        .filter_map(entry)
        .collect();
    let mut entries: Vec<String> = recorded(group)
        .into_iter()
        .filter(|e| live.contains(*e))
        .map(str::to_owned)
        .chain(added.iter().cloned())
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    while entries.join(" ").chars().count() > TAG_VALUE_MAX && !entries.is_empty() {
        entries.remove(0);
    }
    entries.join(" ")
}

impl<P: Ports> BudgetGuard<'_, P> {
    /// Alerts each expired exception once (see the module); returns the
    /// exceptions alerted by this run. Failures are logged: this look-out
    /// never fails the run.
    pub(super) async fn alert_expired_exceptions(&self, groups: &[GroupFacts]) -> Vec<String> {
        let now = self.now();
        let mut added: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut alerted = Vec::new();
        for due in due(self.policy, groups, now) {
            let alert = alerts::exception_expired(self.policy, now, due.exception, &due.groups);
            if let Err(err) = self.ports.alerts().publish(&alert).await {
                tracing::error!(%err, alert = %alert.json(), "expired exception could not be alerted; next run tries again");
                continue;
            }
            tracing::warn!(exception = %due.exception, groups = ?due.groups, "expired exception alerted");
            for group in &due.groups {
                added
                    .entry(group.clone())
                    .or_default()
                    .insert(due.entry.clone());
            }
            alerted.push(due.exception.to_string());
        }
        for (name, entries) in added {
            let Some(group) = groups.iter().find(|g| g.name == name) else {
                continue;
            };
            let value = record_value(self.policy, group, &entries, now);
            if let Err(err) = self
                .ports
                .groups()
                .tag_group(&name, EXCEPTION_EXPIRED_TAG, &value)
                .await
            {
                tracing::error!(%err, group = %name, "expired exception alerted but not recorded; the next run alerts it again");
            }
        }
        alerted
    }
}

#[cfg(test)]
mod tests;
