//! The fleet's report: what became of each account and region, and every
//! instance row with its account, region and cluster — one table, one JSON
//! document, or one array of findings.

use std::borrow::Cow;
use std::io::{self, Write};

use serde::Serialize;

use super::leftovers::Leftovers;
use super::targets::{Skipped, Target};
use crate::audit::{self, AuditReport, BudgetSection, Counts, InstanceRow, SlowNote};
use crate::exit_status::ExitStatus;
use crate::table::write_table;

/// What became of one account in one region.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetReport {
    pub target: Target,
    pub read: Result<AuditReport, String>,
    /// With `--leftovers`: what a removed guard left there, or why it
    /// could not be surveyed.
    pub leftovers: Option<Result<Leftovers, String>>,
}

impl TargetReport {
    /// 2 when it could not be read (or only in part), else the worse of its
    /// audit's and its leftovers' (1 when something was left).
    pub fn outcome(&self) -> ExitStatus {
        let audit = self
            .read
            .as_ref()
            .map_or(ExitStatus::Error, AuditReport::outcome);
        let leftovers = match &self.leftovers {
            None => ExitStatus::Clean,
            Some(Err(_)) => ExitStatus::Error,
            Some(Ok(left)) if left.is_empty() => ExitStatus::Clean,
            Some(Ok(_)) => ExitStatus::Found,
        };
        audit.max(leftovers)
    }

    fn slow(&self) -> Option<&SlowNote> {
        self.read.as_ref().ok().and_then(|r| r.slow.as_ref())
    }
}

/// The whole `org audit`: one policy, every target, sorted by account then
/// region.
#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    /// The policy's cluster: every row's cluster (a cluster tag whose any
    /// value means member is the one that names the cluster by its key).
    pub cluster: String,
    pub time: String,
    pub targets: Vec<TargetReport>,
    pub skipped: Vec<Skipped>,
}

impl Fleet {
    /// 0 clean, 1 findings, 2 when any account or region could not be read.
    pub fn outcome(&self) -> ExitStatus {
        self.targets
            .iter()
            .map(TargetReport::outcome)
            .max()
            .unwrap_or(ExitStatus::Clean)
    }

    /// Every instance row, with its account, region and cluster.
    pub fn rows(&self) -> impl Iterator<Item = FleetRow<'_>> {
        self.targets.iter().flat_map(move |target| {
            let rows = target.read.as_ref().map_or(&[][..], |r| &r.instances[..]);
            rows.iter().map(move |row| FleetRow {
                account: &target.target.account,
                region: &target.target.region,
                cluster: &self.cluster,
                row,
            })
        })
    }

    /// The JSON document: targets with their status, then the rows.
    pub fn document(&self) -> Document<'_> {
        Document {
            cluster: &self.cluster,
            time: &self.time,
            targets: self.targets.iter().map(TargetJson::of).collect(),
            skipped: &self.skipped,
            rows: self.rows().collect(),
        }
    }
}

/// One instance of the fleet.
#[derive(Debug, Clone, Serialize)]
pub struct FleetRow<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub cluster: &'a str,
    #[serde(flatten)]
    pub row: &'a InstanceRow,
}

/// `org audit --format json`.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub cluster: &'a str,
    pub time: &'a str,
    pub targets: Vec<TargetJson<'a>>,
    #[serde(skip_serializing_if = "<[Skipped]>::is_empty")]
    pub skipped: &'a [Skipped],
    pub rows: Vec<FleetRow<'a>>,
}

/// One target in the JSON document.
#[derive(Debug, Serialize)]
pub struct TargetJson<'a> {
    pub account: &'a str,
    pub region: &'a str,
    /// `audited` or `error`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow: Option<&'a SlowNote>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<&'a Counts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<&'a BudgetSection>,
    /// With `--leftovers`: what was left, or (`leftovers_error`) why it
    /// could not be surveyed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leftovers: Option<&'a Leftovers>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leftovers_error: Option<&'a str>,
}

impl<'a> TargetJson<'a> {
    fn of(target: &'a TargetReport) -> Self {
        let report = target.read.as_ref().ok();
        Self {
            account: &target.target.account,
            region: &target.target.region,
            status: if report.is_some() { "audited" } else { "error" },
            error: target.read.as_ref().err().map(String::as_str),
            slow: target.slow(),
            summary: report.map(|r| &r.summary),
            budget: report.and_then(|r| r.budget.as_ref()),
            leftovers: target.leftovers.as_ref().and_then(|l| l.as_ref().ok()),
            leftovers_error: target
                .leftovers
                .as_ref()
                .and_then(|l| l.as_ref().err())
                .map(String::as_str),
        }
    }
}

/// The status column of a target.
fn status_cell(target: &TargetReport) -> Cow<'_, str> {
    match &target.read {
        Err(error) => Cow::Owned(format!("error: {error}")),
        Ok(report) => {
            let summary = &report.summary;
            let mut cell = format!(
                "{} instance(s), {} non-compliant",
                summary.instances, summary.non_compliant
            );
            if summary.unchecked > 0 {
                cell.push_str(&format!(", {} unchecked", summary.unchecked));
            }
            if let Some(slow) = &report.slow {
                cell.push_str(&format!(
                    "; slow: pages came down to {} ({} timeout(s) of {} s)",
                    slow.page_size, slow.timeouts, slow.timeout_seconds
                ));
            }
            Cow::Owned(cell)
        }
    }
}

/// The report for people: the targets, the instances, the violations, the
/// skipped accounts; written as made, from the reports in memory.
pub fn write_text(fleet: &Fleet, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    writeln!(out, "cluster {}, {}\n", fleet.cluster, fleet.time)?;
    write_table(out, ["ACCOUNT", "REGION", "STATUS"], || {
        fleet.targets.iter().map(|t| {
            [
                Cow::Borrowed(t.target.account.as_str()),
                Cow::Borrowed(t.target.region.as_str()),
                status_cell(t),
            ]
        })
    })?;
    if fleet.rows().next().is_some() {
        writeln!(out)?;
        let headers = [
            "ACCOUNT", "REGION", "CLUSTER", "INSTANCE", "GROUP", "TYPE", "STATE", "CHECKS",
        ];
        write_table(out, headers, || {
            fleet.rows().map(|r| {
                [
                    Cow::Borrowed(r.account),
                    Cow::Borrowed(r.region),
                    Cow::Borrowed(r.cluster),
                    Cow::Borrowed(r.row.instance_id.as_str()),
                    audit::group_cell(r.row),
                    Cow::Borrowed(r.row.instance_type.as_str()),
                    Cow::Borrowed(r.row.state.as_str()),
                    audit::checks_cell(r.row),
                ]
            })
        })?;
    }
    write_violations(fleet, out)?;
    write_leftovers(fleet, out)?;
    for skipped in &fleet.skipped {
        writeln!(
            out,
            "\nskipped: account {} is {}",
            skipped.account, skipped.status
        )?;
    }
    Ok(())
}

/// With `--leftovers`: per account and region, one line per thing left.
fn write_leftovers(fleet: &Fleet, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    for target in &fleet.targets {
        let Target { account, region } = &target.target;
        match &target.leftovers {
            None => {}
            Some(Err(error)) => writeln!(
                out,
                "\nleftovers in {account} {region}: not surveyed: {error}"
            )?,
            Some(Ok(left)) if left.is_empty() => {
                writeln!(out, "\nleftovers in {account} {region}: none")?
            }
            Some(Ok(left)) => {
                writeln!(out, "\nleftovers in {account} {region}:")?;
                for line in left.lines() {
                    writeln!(out, "  {line}")?;
                }
            }
        }
    }
    Ok(())
}

fn write_violations(fleet: &Fleet, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    let findings = || {
        fleet.rows().flat_map(|r| {
            audit::finding_cells(r.row).map(move |[id, check, blocking, message]| {
                [
                    Cow::Borrowed(r.account),
                    Cow::Borrowed(r.region),
                    id,
                    check,
                    blocking,
                    message,
                ]
            })
        })
    };
    if findings().next().is_none() {
        return Ok(());
    }
    writeln!(out, "\nviolations:")?;
    let headers = [
        "ACCOUNT", "REGION", "INSTANCE", "CHECK", "BLOCKING", "MESSAGE",
    ];
    write_table(out, headers, findings)
}
