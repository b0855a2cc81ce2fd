//! The audit's list of exceptions that need a decision soon: those that end
//! within [`EXPIRING_WITHIN_DAYS`] days (renew them, with a reason, or fix
//! what their groups launch) and those that have ended (their check judges
//! the groups again; remove them from the policy).

use std::borrow::Cow;
use std::io::{self, Write};
use std::time::SystemTime;

use serde::Serialize;
use shared::checks::CheckName;
use shared::policy::{Exception, Policy};

use crate::table::write_table;

/// How far ahead the audit looks for exceptions that end.
pub const EXPIRING_WITHIN_DAYS: i64 = 14;

/// Whether an exception still applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionStatus {
    /// In force, ending within [`EXPIRING_WITHIN_DAYS`] days.
    Expiring,
    /// Past its `until=`: it exempts nothing.
    Expired,
}

/// One exception that ends soon or has ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionRow {
    /// The item as the policy writes it.
    pub exception: String,
    pub check: CheckName,
    /// The group glob.
    pub groups: String,
    /// Its last day (UTC), `YYYY-MM-DD`.
    pub until: String,
    pub reason: Option<String>,
    /// Whole days from the audit's day to the last day; negative once ended.
    pub days_left: i64,
    pub status: ExceptionStatus,
}

/// The exceptions of `policy` that ended before `now`'s day or end within
/// [`EXPIRING_WITHIN_DAYS`] days of it, in the policy's order.
pub fn rows(policy: &Policy, now: SystemTime) -> Vec<ExceptionRow> {
    policy
        .exceptions
        .iter()
        .filter_map(|exception| row(exception, now))
        .collect()
}

fn row(exception: &Exception, now: SystemTime) -> Option<ExceptionRow> {
    let until = exception.until?;
    let days_left = exception.days_left(now)?;
    let status = if exception.has_expired(now) {
        ExceptionStatus::Expired
    } else if exception.expires_within(now, EXPIRING_WITHIN_DAYS) {
        ExceptionStatus::Expiring
    } else {
        return None;
    };
    Some(ExceptionRow {
        exception: exception.to_string(),
        check: exception.check,
        groups: exception.group_pattern().to_owned(),
        until: until.to_string(),
        reason: exception.reason.clone(),
        days_left,
        status,
    })
}

/// `expired`, `ends today`, `ends in 3 days`.
fn status_cell(row: &ExceptionRow) -> Cow<'static, str> {
    match (row.status, row.days_left) {
        (ExceptionStatus::Expired, _) => Cow::Borrowed("expired"),
        (ExceptionStatus::Expiring, 0) => Cow::Borrowed("ends today"),
        (ExceptionStatus::Expiring, 1) => Cow::Borrowed("ends tomorrow"),
        (ExceptionStatus::Expiring, days) => Cow::Owned(format!("ends in {days} days")),
    }
}

/// The section of the text report; nothing when there is no such exception.
pub fn write_text(rows: &[ExceptionRow], out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nexceptions that ended or end within {EXPIRING_WITHIN_DAYS} days:"
    )?;
    write_table(out, ["EXCEPTION", "UNTIL", "STATUS", "REASON"], || {
        rows.iter().map(|row| {
            [
                Cow::Owned(format!("{}@{}", row.check, row.groups)),
                Cow::Borrowed(row.until.as_str()),
                status_cell(row),
                Cow::Borrowed(row.reason.as_deref().unwrap_or("-")),
            ]
        })
    })
}
