//! `release`: undo what a guard did to the account's Auto Scaling groups
//! from a laptop, when its stack is already gone (or its delete could not
//! finish) — the one command of this CLI that changes anything.
//!
//! It runs the same code as stack-guard's delete ([`shared::release`]): the
//! guard's hook is removed from every group that carries it, tagged or not;
//! the suspensions and MaxSize clamps the guard recorded on the cluster's
//! groups are lifted; a `Launch` someone else suspended stays; the launch
//! breaker is deleted from the launcher roles ([`breaker`]). By default it
//! only reads and prints what it would undo (a dry run); `--yes` acts.
//!
//! The identity comes from the policy (the `GUARD_*` variables or
//! `--policy`), each part replaceable by a flag, so that a stack that is gone
//! can be released from its parameters alone.

use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;
use shared::policy::Policy;
use shared::policy::settings::{CLUSTER, CLUSTER_TAG_KEY, CLUSTER_TAG_VALUE, HOOK_NAME};
use shared::release::{ReleaseReport, Scope, Survey, UnsignedRecords, Unverified};

use crate::args::Identity;
use crate::exit_status::ExitStatus;
use crate::settings::Settings;

mod breaker;

pub use breaker::{Breaker, BreakerRemoved, remove_breaker};

/// How long `--yes` may take before it reports what is left: far longer
/// than 500 groups need under throttling, short enough to be retried.
pub const TIME_LIMIT: Duration = Duration::from_secs(15 * 60);

/// The flags, written over the policy's settings (a flag wins).
pub fn apply(settings: &mut Settings, identity: &Identity) {
    let flags = [
        (CLUSTER.name, &identity.cluster),
        (CLUSTER_TAG_KEY.name, &identity.cluster_tag_key),
        (CLUSTER_TAG_VALUE.name, &identity.cluster_tag_value),
        (HOOK_NAME.name, &identity.hook_name),
    ];
    for (key, value) in flags {
        if let Some(value) = value {
            settings.vars.insert(key.to_owned(), value.clone());
        }
    }
}

/// What the guard of `policy` did, and what to do with the records that
/// cannot be verified: without the record key (the CLI's usual case: the
/// secret went with the stack) they are only listed, unless the operator
/// trusts them (`--trust-unsigned-records`: `Launch` lifted, MaxSize never
/// set, only advised).
pub fn scope(policy: &Policy, trust_unsigned_records: bool) -> Scope {
    Scope {
        unsigned: match trust_unsigned_records {
            true => UnsignedRecords::LiftLaunchOnly,
            false => UnsignedRecords::ListOnly,
        },
        ..Scope::of(policy)
    }
}

/// What `release` prints: what it would undo, or what it did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Outcome {
    DryRun {
        cluster: String,
        hook_name: String,
        #[serde(flatten)]
        survey: Survey,
        /// `group=size`: the MaxSize each clamp would be set back to.
        clamps: Vec<String>,
        /// The launch breaker `--yes` would delete, if the roles carry it.
        launch_breaker: Option<Breaker>,
    },
    Released {
        cluster: String,
        hook_name: String,
        #[serde(flatten)]
        report: ReleaseReport,
        /// What became of the launch breaker (its failures are leftovers).
        launch_breaker: Option<BreakerRemoved>,
    },
}

impl Outcome {
    /// 0: nothing (left) to undo; 1: a dry run found something to undo, or
    /// a release left something.
    /// The launch breaker a dry run names is not read (whether a role still
    /// carries it is unknown), so it does not count; one a release could not
    /// delete is among the leftovers.
    pub fn status(&self) -> ExitStatus {
        let clean = match self {
            Outcome::DryRun { survey, .. } => survey.is_clean(),
            Outcome::Released { report, .. } => report.is_complete(),
        };
        match clean {
            true => ExitStatus::Clean,
            false => ExitStatus::Found,
        }
    }
}

/// The records a release without the key did not lift, each as it is on
/// its group, and what the operator may do.
fn unverified(out: &mut dyn Write, records: &[Unverified]) -> io::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "unverified records, not lifted without GUARD_RECORD_KEY ({}):",
        records.len()
    )?;
    for record in records {
        writeln!(out, "  - {}: {}", record.group, record.record)?;
    }
    writeln!(
        out,
        "  anyone who may tag a group can write such a record: check each, then lift it by hand, or run again with --trust-unsigned-records (Launch lifted, MaxSize advised, never set)"
    )
}

fn line(out: &mut dyn Write, label: &str, items: &[String]) -> io::Result<()> {
    match items.is_empty() {
        true => writeln!(out, "{label}: none"),
        false => writeln!(out, "{label} ({}): {}", items.len(), items.join(", ")),
    }
}

/// [`line`], only when there is something to say (budget-guard's record of
/// expired exceptions is there only where an exception expired).
fn optional_line(out: &mut dyn Write, label: &str, items: &[String]) -> io::Result<()> {
    match items.is_empty() {
        true => Ok(()),
        false => line(out, label, items),
    }
}

/// The text for people.
pub fn write_text(outcome: &Outcome, out: &mut dyn Write) -> io::Result<()> {
    match outcome {
        Outcome::DryRun {
            cluster,
            hook_name,
            survey,
            clamps,
            launch_breaker,
        } => write_dry_run(
            out,
            cluster,
            hook_name,
            survey,
            clamps,
            launch_breaker.as_ref(),
        ),
        Outcome::Released {
            cluster,
            hook_name,
            report,
            launch_breaker,
        } => {
            write_released(out, cluster, hook_name, report)?;
            breaker::write_removed(out, launch_breaker.as_ref())?;
            leftovers(out, report)
        }
    }
}

/// What `release --yes` would undo, and what it would leave.
fn write_dry_run(
    out: &mut dyn Write,
    cluster: &str,
    hook_name: &str,
    survey: &Survey,
    clamps: &[String],
    launch_breaker: Option<&Breaker>,
) -> io::Result<()> {
    writeln!(
        out,
        "DRY RUN: nothing was changed. `scaling-guard release --yes` would undo, for cluster `{cluster}` (hook `{hook_name}`):"
    )?;
    line(out, "remove the hook from", &survey.hooks)?;
    let lifted: Vec<String> = survey.suspensions.iter().map(|g| g.name.clone()).collect();
    line(out, "resume Launch on", &lifted)?;
    line(out, "restore MaxSize", clamps)?;
    line(
        out,
        "leave suspended by others",
        &survey.suspended_by_others,
    )?;
    optional_line(
        out,
        "remove the expired exceptions' record from",
        &survey.exception_records,
    )?;
    breaker::write_planned(out, launch_breaker)?;
    unverified(out, &survey.unverified)?;
    for unread in &survey.unread {
        writeln!(out, "could not read: {unread}")?;
    }
    Ok(())
}

/// What the release undid to the groups, and its notes.
fn write_released(
    out: &mut dyn Write,
    cluster: &str,
    hook_name: &str,
    report: &ReleaseReport,
) -> io::Result<()> {
    writeln!(
        out,
        "released cluster `{cluster}` (hook `{hook_name}`) in {} pass(es):",
        report.passes
    )?;
    line(out, "hook removed from", &report.hooks_removed)?;
    line(out, "Launch resumed on", &report.resumed)?;
    line(out, "MaxSize restored", &report.max_size_restored)?;
    optional_line(
        out,
        "expired exceptions' record removed from",
        &report.records_removed,
    )?;
    line(
        out,
        "left suspended by others",
        &report.left_suspended_by_others,
    )?;
    unverified(out, &report.unverified)?;
    for note in &report.notes {
        writeln!(out, "note: {note}")?;
    }
    Ok(())
}

/// What the release could not undo; "run it again" unless every leftover
/// is an unverified record, which another run would not lift either.
fn leftovers(out: &mut dyn Write, report: &ReleaseReport) -> io::Result<()> {
    if report.leftovers.is_empty() {
        return writeln!(out, "nothing of the guard is left");
    }
    let again = match report.unverified.len() == report.leftovers.len() {
        true => "",
        false => ", run it again",
    };
    writeln!(out, "NOT UNDONE ({}){again}:", report.leftovers.len())?;
    for leftover in &report.leftovers {
        writeln!(out, "  - {leftover}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
