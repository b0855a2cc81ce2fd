//! Delete: leave the account as the guard found it, touching only what the
//! guard owns — its launch hook, wherever a group carries it, and the
//! suspensions (and MaxSize clamps) it recorded on the cluster's groups —
//! with the release the CLI's `scaling-guard release` also runs
//! ([`shared::release`]), and budget-guard's record of expired exceptions'
//! alerts on those groups (`scaling-guard:exception-expired`). A `Launch` someone else suspended stays suspended.

use std::collections::BTreeMap;

use shared::release::ReleaseReport;

use crate::response::left_undone;

fn list(items: &[String]) -> String {
    items.join(", ")
}

/// One sentence for the stack's events: what was undone, and, when the
/// release did not finish, every leftover.
pub(super) fn reason(report: &ReleaseReport, cluster: &str) -> String {
    let mut reason = format!(
        "cluster `{cluster}`: hook removed from {} group(s), {} suspension(s) lifted, {} suspended by others left",
        report.hooks_removed.len(),
        report.resumed.len(),
        report.left_suspended_by_others.len()
    );
    if !report.notes.is_empty() {
        reason.push_str(&format!("; {}", report.notes.join("; ")));
    }
    reason.push_str(&left_undone(
        "NOT UNDONE",
        ", retry the delete",
        &report.leftovers,
    ));
    reason
}

/// The response's `Data`: every list, comma-separated (`NotUndone`:
/// `; `-separated).
pub(super) fn data(report: &ReleaseReport, cluster: &str) -> BTreeMap<String, String> {
    [
        ("Cluster", cluster.to_owned()),
        ("HooksRemoved", list(&report.hooks_removed)),
        ("Resumed", list(&report.resumed)),
        ("MaxSizeRestored", list(&report.max_size_restored)),
        ("ExceptionRecordsRemoved", list(&report.records_removed)),
        (
            "LeftSuspendedByOthers",
            list(&report.left_suspended_by_others),
        ),
        ("NotUndone", report.leftovers.join("; ")),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect()
}
