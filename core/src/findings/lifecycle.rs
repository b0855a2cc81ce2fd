//! The life of the guard's Security Hub findings (issue 24, point 1): which
//! findings to import for what the guard finds now, and which of Security
//! Hub's `ACTIVE` findings to update, leave alone or archive. Pure: the
//! functions import what these functions return.
//!
//! - A violation that counts (blocking or reported) is `FAILED`
//!   ([`asff::failed`]); one the policy exempts is `SUPPRESSED` with the
//!   exception's reason ([`asff::suppressed`]). A violation set aside after
//!   launch (a node whose OS updates in place) is not judged at all: it makes
//!   no finding, and a finding made at launch is archived by the next sweep.
//! - One finding per (account, region, cluster, instance, check): a check
//!   that finds several things on one instance (two security groups) makes
//!   one finding that names them all ([`merged`]).
//! - A sweep compares what it found with Security Hub's active findings of
//!   the cluster ([`reconcile`]): a new finding is created; one whose
//!   content changed is updated (its `CreatedAt` kept); an unchanged one is
//!   left alone, so that a steady cluster costs no import, until it is
//!   [`REFRESH_AFTER`] old; an active finding the sweep no longer finds is
//!   archived (`PASSED`, `ARCHIVED`): the instance was fixed, or is no longer
//!   pending or running. Findings of instances the sweep could not check, and
//!   of other accounts or regions (an administrator account reads its
//!   members' too), are left alone.
//! - A terminated instance's active findings are archived ([`retired`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use crate::check_name::CheckName;
use crate::checks::Violation;
use crate::decision::Finding;
use crate::findings::asff::{self, AsffFinding, Context, Subject, fields};
use crate::policy::Policy;
use crate::time::parse_rfc3339;

/// An unchanged active finding is imported again once its `UpdatedAt` is
/// this old. Security Hub deletes an active finding that is not updated for
/// 90 days; a weekly refresh keeps a lasting violation visible at one import
/// per finding a week, instead of one per sweep.
pub const REFRESH_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// One instance as the guard judged it now: a launch decided, or an
/// instance audited.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    pub subject: Subject<'a>,
    /// The violations that count, blocking or reported only.
    pub findings: &'a [Finding],
    /// The violations the policy exempts (and those set aside after launch).
    pub exempted: &'a [Violation],
    pub context: Context<'a>,
}

/// The findings to import for one judged instance: `FAILED` for each check
/// that counts, `SUPPRESSED` for each exempted check an exception in force
/// covers, one finding per check, in check order.
pub fn found(policy: &Policy, judged: &Judged) -> Vec<AsffFinding> {
    let Judged {
        subject, context, ..
    } = judged;
    let mut imported: Vec<AsffFinding> = merged(judged.findings)
        .iter()
        .map(|finding| asff::failed(subject, finding, context))
        .collect();
    let counted: BTreeSet<CheckName> = judged.findings.iter().map(|f| f.violation.check).collect();
    for violation in merged_violations(judged.exempted) {
        if counted.contains(&violation.check) {
            continue;
        }
        if let Some(reason) = exemption_reason(policy, &violation, subject.group, context.now) {
            imported.push(asff::suppressed(subject, &violation, &reason, context));
        }
    }
    imported
}

/// Why `violation` is exempted for `group` at `now`: the reason of the
/// exception in force that covers it, or the exception as written when it
/// gives none. `None` when no exception covers it (set aside after launch).
pub fn exemption_reason(
    policy: &Policy,
    violation: &Violation,
    group: Option<&str>,
    now: SystemTime,
) -> Option<String> {
    let exception = policy.exceptions.exempting(violation.check, group, now)?;
    Some(
        exception
            .reason
            .clone()
            .unwrap_or_else(|| format!("exception `{exception}`")),
    )
}

/// The findings with one per check: the violations of a check that found
/// several things are joined into one, blocking when any of them blocks.
pub fn merged(findings: &[Finding]) -> Vec<Finding> {
    let mut by_check: BTreeMap<CheckName, Finding> = BTreeMap::new();
    for finding in findings {
        by_check
            .entry(finding.violation.check)
            .and_modify(|kept| {
                kept.blocking |= finding.blocking;
                join(&mut kept.violation, &finding.violation);
            })
            .or_insert_with(|| finding.clone());
    }
    by_check.into_values().collect()
}

/// The violations with one per check, joined as [`merged`] joins them.
fn merged_violations(violations: &[Violation]) -> Vec<Violation> {
    let mut by_check: BTreeMap<CheckName, Violation> = BTreeMap::new();
    for violation in violations {
        by_check
            .entry(violation.check)
            .and_modify(|kept| join(kept, violation))
            .or_insert_with(|| violation.clone());
    }
    by_check.into_values().collect()
}

/// Adds what `more` found to `kept`: its resource, what it found and why.
fn join(kept: &mut Violation, more: &Violation) {
    for (text, added) in [
        (&mut kept.resource, &more.resource),
        (&mut kept.actual, &more.actual),
        (&mut kept.message, &more.message),
    ] {
        if !text.split("; ").any(|part| part == added) {
            text.push_str("; ");
            text.push_str(added);
        }
    }
}

/// Whose findings a function may change: its own account's, in its own
/// region. An administrator account's `GetFindings` also returns its
/// members' findings, which only each member may import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope<'a> {
    pub account: &'a str,
    pub region: &'a str,
}

impl Scope<'_> {
    fn holds(&self, finding: &AsffFinding) -> bool {
        finding.aws_account_id == self.account && finding.region == self.region
    }
}

/// What a sweep imports, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Created, updated, refreshed and archived findings, in that order.
    pub import: Vec<AsffFinding>,
    pub created: usize,
    pub updated: usize,
    /// Unchanged, imported again because they were [`REFRESH_AFTER`] old.
    pub refreshed: usize,
    pub unchanged: usize,
    pub archived: usize,
}

/// A sweep's imports: what it `found` against Security Hub's `active`
/// findings of the cluster. The active findings of `unchecked` instances
/// (their audit could not be made) and those outside `scope` are left
/// alone.
pub fn reconcile(
    found: Vec<AsffFinding>,
    active: Vec<AsffFinding>,
    scope: Scope,
    unchecked: &BTreeSet<String>,
    now: SystemTime,
) -> Reconciled {
    let mut active: BTreeMap<String, AsffFinding> = active
        .into_iter()
        .filter(|finding| scope.holds(finding))
        .map(|finding| (finding.id.clone(), finding))
        .collect();
    let mut reconciled = Reconciled::default();
    let mut refreshed = Vec::new();
    for mut finding in found {
        match active.remove(&finding.id) {
            None => {
                reconciled.created += 1;
                reconciled.import.push(finding);
            }
            Some(previous) if same_content(&finding, &previous) => {
                if is_stale(&previous, now) {
                    finding.created_at = previous.created_at;
                    refreshed.push(finding);
                } else {
                    reconciled.unchanged += 1;
                }
            }
            Some(previous) => {
                finding.created_at = previous.created_at;
                reconciled.updated += 1;
                reconciled.import.push(finding);
            }
        }
    }
    reconciled.refreshed = refreshed.len();
    reconciled.import.extend(refreshed);
    let gone = active.into_values().filter(|finding| {
        finding
            .instance_id()
            .is_none_or(|id| !unchecked.contains(id))
    });
    let archived: Vec<AsffFinding> = gone.map(|f| asff::resolved(&f, now)).collect();
    reconciled.archived = archived.len();
    reconciled.import.extend(archived);
    reconciled
}

/// The archived versions of `instance_id`'s active findings within
/// `scope`: the instance is terminated.
pub fn retired(
    active: &[AsffFinding],
    scope: Scope,
    instance_id: &str,
    now: SystemTime,
) -> Vec<AsffFinding> {
    active
        .iter()
        .filter(|finding| scope.holds(finding) && finding.instance_id() == Some(instance_id))
        .map(|finding| asff::resolved(finding, now))
        .collect()
}

/// Whether a finding found now says what the active one says: what the
/// guard wrote into it, not the times, nor what Security Hub or a person
/// changed since (its workflow, its severity, the fields Security Hub adds
/// to `ProductFields`). A suppression shows in the exemption field.
fn same_content(found: &AsffFinding, active: &AsffFinding) -> bool {
    found.compliance == active.compliance
        && found.record_state == active.record_state
        && found.title == active.title
        && found.description == active.description
        && found.remediation == active.remediation
        && found
            .product_fields
            .iter()
            .filter(|(key, _)| key.as_str() != fields::VERSION)
            .all(|(key, value)| active.product_fields.get(key) == Some(value))
}

/// Whether the finding was last updated [`REFRESH_AFTER`] ago or more (or
/// its time cannot be read).
fn is_stale(finding: &AsffFinding, now: SystemTime) -> bool {
    parse_rfc3339(&finding.updated_at).is_none_or(|updated| {
        now.duration_since(updated)
            .is_ok_and(|age| age >= REFRESH_AFTER)
    })
}

#[cfg(test)]
mod tests;
