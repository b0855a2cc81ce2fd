//! `audit --format asff|ocsf`: the audit's findings where security teams
//! read them — one finding per instance and broken check, as Security Hub
//! (ASFF) or a data lake (OCSF Compliance Finding) takes it, built by the
//! same pure builders the functions use (`guard_core::findings`). A
//! violation the policy exempts is exported suppressed, with its reason.
//!
//! Each finding names the account that owns the instance (the `OwnerId` of
//! its reservation, which `DescribeInstances` returns with it: no other
//! call, no other permission) and the region of the CLI's AWS configuration,
//! the region the instances were listed in.
//!
//! The budgets are cluster-wide, not an instance's finding: they are in
//! `text` and `json` only. An instance that could not be audited has no
//! finding to export; the exit status (2) says the audit is incomplete.

use std::io::{self, Write};
use std::time::SystemTime;

use serde::Serialize;
use shared::alerts::Severity;
use shared::checks::Violation;
use shared::findings::asff::{self, Context, Subject};
use shared::findings::ocsf;
use shared::policy::Policy;

use super::{AuditReport, InstanceRow};

/// Which standard the findings are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standard {
    Asff,
    Ocsf,
}

/// What every finding of one export shares.
#[derive(Debug, Clone, Copy)]
pub struct Export<'a> {
    pub standard: Standard,
    pub policy: &'a Policy,
    /// The region the instances were listed in.
    pub region: &'a str,
    pub now: SystemTime,
}

/// The CLI changes nothing: a finding's decision is `none`, as in an alert
/// about something nothing was done to.
const DECISION: &str = "none";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "instance `{0}` has no owner account in `DescribeInstances`: its findings cannot name their account"
    )]
    NoAccount(String),
    #[error("cannot write json")]
    Json(#[from] serde_json::Error),
    #[error("cannot write the output")]
    Output(#[from] io::Error),
}

/// Writes one JSON array of the report's findings (as `BatchImportFindings`
/// takes its `Findings`), one finding a line, as it makes them: at 10,000
/// instances the findings are not first held in memory. Checks every
/// account first, so that a refused export writes nothing.
pub fn write(
    report: &AuditReport,
    export: &Export,
    out: &mut (impl Write + ?Sized),
) -> Result<(), ExportError> {
    write_all(&[(report, *export)], out)
}

/// [`write`] of several reports into one array, each with its own export
/// (`org audit`: each account and region's report, with its region): one
/// document for a fleet.
pub fn write_all(
    reports: &[(&AuditReport, Export)],
    out: &mut (impl Write + ?Sized),
) -> Result<(), ExportError> {
    let with_findings = || {
        reports.iter().flat_map(|(report, export)| {
            report
                .instances
                .iter()
                .filter(|row| !row.violations.is_empty() || !row.exempted.is_empty())
                .map(move |row| (row, export))
        })
    };
    if let Some((row, _)) = with_findings().find(|(row, _)| row.account.is_none()) {
        return Err(ExportError::NoAccount(row.instance_id.clone()));
    }
    let mut array = JsonArray::start(out)?;
    for (row, export) in with_findings() {
        write_row(row, export, &mut array)?;
    }
    array.end()?;
    Ok(())
}

/// The findings of one instance: each violation, then each exempted one.
fn write_row(
    row: &InstanceRow,
    export: &Export,
    array: &mut JsonArray<'_, impl Write + ?Sized>,
) -> Result<(), ExportError> {
    let subject = Subject {
        account: row.account.as_deref().unwrap_or_default(),
        region: export.region,
        cluster: &export.policy.cluster,
        instance_id: &row.instance_id,
        group: row.group.as_deref(),
    };
    for finding in &row.violations {
        let advice = advice(&finding.violation);
        let context = context(export, severity(row), &advice);
        match export.standard {
            Standard::Asff => array.push(&asff::failed(&subject, finding, &context))?,
            Standard::Ocsf => array.push(&ocsf::failed(&subject, finding, &context))?,
        }
    }
    for violation in &row.exempted {
        let advice = advice(violation);
        let context = context(export, Severity::Info, &advice);
        let reason = exemption(export, row, violation);
        match export.standard {
            Standard::Asff => {
                array.push(&asff::suppressed(&subject, violation, &reason, &context))?;
            }
            Standard::Ocsf => {
                array.push(&ocsf::suppressed(&subject, violation, &reason, &context))?;
            }
        }
    }
    Ok(())
}

fn context<'a>(export: &Export, severity: Severity, advice: &'a str) -> Context<'a> {
    Context {
        decision: DECISION,
        mode: export.policy.mode,
        severity,
        advice,
        now: export.now,
    }
}

/// As instance-audit grades an instance's findings: a warning, or
/// information for a managed instance (EKS Auto Mode), whose fix is its
/// service's configuration, nothing to do on the node.
fn severity(row: &InstanceRow) -> Severity {
    match row.membership {
        Some("managed") => Severity::Info,
        _ => Severity::Warning,
    }
}

/// What would make the check hold, from what it expected and found.
fn advice(violation: &Violation) -> String {
    format!(
        "Make `{}` hold: expected {}, found {}.",
        violation.check, violation.expected, violation.actual
    )
}

/// Why a violation is exempted: the exception's reason (or, without one,
/// the exception as written); otherwise it was set aside after launch
/// because the node's OS updates in place.
fn exemption(export: &Export, row: &InstanceRow, violation: &Violation) -> String {
    let exception =
        export
            .policy
            .exceptions
            .exempting(violation.check, row.group.as_deref(), export.now);
    match exception {
        Some(exception) => exception
            .reason
            .clone()
            .unwrap_or_else(|| exception.to_string()),
        None => "set aside: the node's OS updates in place".to_owned(),
    }
}

/// A JSON array written element by element.
struct JsonArray<'w, W: Write + ?Sized> {
    out: &'w mut W,
    empty: bool,
}

impl<'w, W: Write + ?Sized> JsonArray<'w, W> {
    fn start(out: &'w mut W) -> io::Result<Self> {
        out.write_all(b"[")?;
        Ok(Self { out, empty: true })
    }

    fn push(&mut self, element: &impl Serialize) -> Result<(), ExportError> {
        self.out
            .write_all(if self.empty { b"\n" } else { b",\n" })?;
        self.empty = false;
        serde_json::to_writer(&mut *self.out, element)?;
        Ok(())
    }

    fn end(self) -> io::Result<()> {
        self.out
            .write_all(if self.empty { b"]\n" } else { b"\n]\n" })
    }
}

#[cfg(test)]
mod tests;
