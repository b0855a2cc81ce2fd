//! `scaling-guard audit`: instance-audit's sweep, read-only — every cluster
//! instance with its findings, and the budget usage per dimension. It takes
//! the read ports only ([`ReadPorts`]), so it cannot remediate, publish or
//! complete anything: the compiler checks it.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use shared::audit::SweepReport;
use shared::audit::gather::{self, Audited};
use shared::budget::cluster::ClusterState;
use shared::budget::measure::{self, GuardedGroups, MeasureError};
use shared::budget::{self, Usage};
use shared::checks::membership::{Membership, auto_scaling_group};
use shared::checks::{CheckName, Violation};
use shared::decision::Finding;
use shared::facts::InstanceFacts;
use shared::policy::{BudgetPolicy, ClusterTag, Mode, Policy};
use shared::ports::{AwsResult, ClusterGroupsRead, ClusterInstancesRead, ReadPorts};
use shared::time::format_rfc3339;

use crate::exit_status::ExitStatus;
use crate::table::{Table, write_table};

pub mod exceptions;
pub mod findings;
mod slow;

pub use slow::SlowNote;

/// The whole audit, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditReport {
    pub cluster: String,
    pub cluster_tag_key: String,
    /// The value members carry; `null` when any value of the key means member.
    pub cluster_tag_value: Option<String>,
    pub mode: Mode,
    pub time: String,
    pub summary: Counts,
    /// Cluster instances in state `pending` or `running`, by id.
    pub instances: Vec<InstanceRow>,
    /// `None` when the policy sets no budget.
    pub budget: Option<BudgetSection>,
    /// Exceptions that ended, or end within 14 days (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<exceptions::ExceptionRow>,
    /// Pages of `DescribeInstances` that timed out and were asked again
    /// smaller (absent when none did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow: Option<SlowNote>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub instances: usize,
    pub non_compliant: usize,
    pub unchecked: usize,
    /// Instances per broken check.
    pub counts: BTreeMap<CheckName, usize>,
}

/// One instance and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceRow {
    pub instance_id: String,
    /// The account that owns the instance (its reservation's `OwnerId`):
    /// the account the `asff` and `ocsf` exports name. Not in the report:
    /// one audit reads one account.
    #[serde(skip)]
    pub account: Option<String>,
    pub group: Option<String>,
    /// `guarded_group`, `unguarded_group`, `launcher`, `unmanaged`, `managed`
    /// (an EC2 managed instance: EKS Auto Mode); `None` when the instance
    /// could not be audited.
    pub membership: Option<&'static str>,
    /// The allowed launcher tag that admits an instance outside any group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launcher_tag: Option<String>,
    pub instance_type: String,
    pub state: String,
    pub compliant: bool,
    pub violations: Vec<Finding>,
    /// Violations the policy exempts for the instance's group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exempted: Vec<Violation>,
    /// Why the instance could not be audited (an AWS read failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Budget usage, per dimension that has a budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetSection {
    pub suspend_at_percent: u32,
    pub resume_below_percent: u32,
    /// Instances waiting in `Pending:Wait` for launch-guard: not counted, as
    /// launch-guard and budget-guard do not count them.
    pub waiting_for_decision: usize,
    pub usage: Option<Usage>,
    pub dimensions: Vec<DimensionRow>,
    /// Why usage could not be measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionRow {
    pub check: CheckName,
    pub name: &'static str,
    pub used: u64,
    pub max: u64,
    /// Rounded to one decimal.
    pub percent: f64,
    pub status: BudgetStatus,
}

/// Where usage stands against one budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetStatus {
    Ok,
    /// At or above `GUARD_SUSPEND_AT_PERCENT`: budget-guard suspends scale-out.
    Suspend,
    /// Above the budget itself.
    Over,
}

impl AuditReport {
    /// 0 clean, 1 violations (an instance finding, or usage over a budget),
    /// 2 when part of the cluster could not be read: the audit is incomplete.
    pub fn outcome(&self) -> ExitStatus {
        let incomplete =
            self.summary.unchecked > 0 || self.budget.as_ref().is_some_and(|b| b.error.is_some());
        let over_budget = self
            .budget
            .iter()
            .flat_map(|b| &b.dimensions)
            .any(|d| d.status == BudgetStatus::Over);
        if incomplete {
            ExitStatus::Error
        } else if self.summary.non_compliant > 0 || over_budget {
            ExitStatus::Found
        } else {
            ExitStatus::Clean
        }
    }
}

/// Audits every cluster instance and, with budgets, measures usage as
/// launch-guard and budget-guard do ([`measure::measure`]). Fails only when
/// the cluster's instances cannot be listed.
///
/// The cluster's instances are listed once, for both: measured first (the
/// listing shared, not copied), then audited one at a time into the report.
pub async fn run(policy: &Policy, aws: &impl ReadPorts, now: SystemTime) -> AwsResult<AuditReport> {
    let listed = aws
        .instances()
        .cluster_instances(&policy.cluster_tag)
        .await?;
    let (listed, budget) = match policy.budget.is_on() {
        true => {
            let (listed, measured) = measure_listed(policy, aws, listed).await;
            (listed, Some(budget_section(&policy.budget, measured)))
        }
        false => (listed, None),
    };
    let read = gather::read_listed(
        policy,
        listed,
        aws.instances(),
        aws.images(),
        aws.groups(),
        now,
    )
    .await;
    Ok(report(policy, read.audits(), budget, now))
}

/// [`measure::measure`] of the instances already listed: their usage and
/// how many wait for a decision, or why it could not be measured. Gives the
/// listing back.
async fn measure_listed(
    policy: &Policy,
    aws: &impl ReadPorts,
    instances: Vec<InstanceFacts>,
) -> (Vec<InstanceFacts>, Result<(Usage, usize), String>) {
    let groups = match aws.groups().cluster_groups(&policy.cluster_tag).await {
        Ok(groups) => groups,
        Err(err) => return (instances, Err(MeasureError::from(err).to_string())),
    };
    let state = Arc::new(ClusterState { instances, groups });
    let guarded = GuardedGroups::of(policy);
    let measured = measure::measure_state(
        Arc::clone(&state),
        aws.instances(),
        aws.groups(),
        &guarded,
        &BTreeSet::new(),
        None,
    )
    .await
    .map(|m| (m.usage, m.not_counted.len()))
    .map_err(|err| err.to_string());
    (Arc::unwrap_or_clone(state).instances, measured)
}

fn budget_section(
    budget_policy: &BudgetPolicy,
    measured: Result<(Usage, usize), String>,
) -> BudgetSection {
    let mut section = BudgetSection {
        suspend_at_percent: budget_policy.suspend_at_percent,
        resume_below_percent: budget_policy.resume_below_percent,
        waiting_for_decision: 0,
        usage: None,
        dimensions: Vec::new(),
        error: None,
    };
    match measured {
        Ok((usage, waiting)) => {
            section.usage = Some(usage);
            section.waiting_for_decision = waiting;
            section.dimensions = budget::dimensions(budget_policy, usage)
                .into_iter()
                .map(|dim| DimensionRow {
                    check: dim.check,
                    name: dim.name,
                    used: dim.used,
                    max: dim.max,
                    percent: (dim.percent() * 10.0).round() / 10.0,
                    status: if dim.used > dim.max {
                        BudgetStatus::Over
                    } else if dim.at_or_above(budget_policy.suspend_at_percent) {
                        BudgetStatus::Suspend
                    } else {
                        BudgetStatus::Ok
                    },
                })
                .collect();
        }
        Err(error) => section.error = Some(error),
    }
    section
}

fn report(
    policy: &Policy,
    audited: impl IntoIterator<Item = Audited>,
    budget: Option<BudgetSection>,
    now: SystemTime,
) -> AuditReport {
    let mut sweep = SweepReport::default();
    let mut rows = Vec::new();
    for Audited { instance, audit } in audited {
        let mut row = InstanceRow {
            instance_id: instance.instance_id.clone(),
            account: instance.owner_account.clone(),
            group: auto_scaling_group(&instance).map(str::to_owned),
            membership: None,
            launcher_tag: None,
            instance_type: instance.instance_type.clone(),
            state: instance.state.clone(),
            compliant: false,
            violations: Vec::new(),
            exempted: Vec::new(),
            error: None,
        };
        match audit {
            Ok(audit) => {
                sweep.add(&instance, &audit);
                row.membership = Some(membership_kind(&audit.membership));
                if let Membership::Launcher(tag) = &audit.membership {
                    row.launcher_tag = Some(tag.clone());
                }
                row.compliant = audit.is_compliant();
                row.violations = audit.findings;
                row.exempted = audit.exempted;
            }
            Err(reason) => {
                sweep.add_unchecked(&instance.instance_id, reason.clone());
                row.error = Some(reason);
            }
        }
        rows.push(row);
    }
    AuditReport {
        cluster: policy.cluster.clone(),
        cluster_tag_key: policy.cluster_tag.key.clone(),
        cluster_tag_value: policy.cluster_tag.value.clone(),
        mode: policy.mode,
        time: format_rfc3339(whole_seconds(now)),
        summary: Counts {
            instances: sweep.instances,
            non_compliant: sweep.non_compliant,
            unchecked: sweep.unchecked.len(),
            counts: sweep.counts,
        },
        instances: rows,
        budget,
        exceptions: exceptions::rows(policy, now),
        slow: None,
    }
}

pub(crate) fn whole_seconds(time: SystemTime) -> SystemTime {
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds)
}

fn membership_kind(membership: &Membership) -> &'static str {
    match membership {
        Membership::GuardedGroup { .. } => "guarded_group",
        Membership::UnguardedGroup(_) => "unguarded_group",
        Membership::Launcher(_) => "launcher",
        Membership::Unmanaged => "unmanaged",
        Membership::Managed { .. } => "managed",
    }
}

/// The checks column: `ok`, the broken checks (each once), or `unchecked`.
pub(crate) fn checks_cell(row: &InstanceRow) -> Cow<'_, str> {
    if row.error.is_some() {
        return Cow::Borrowed("unchecked (see below)");
    }
    if row.compliant {
        return Cow::Borrowed("ok");
    }
    let mut names: Vec<&str> = row
        .violations
        .iter()
        .map(|f| f.violation.check.as_str())
        .collect();
    names.dedup();
    Cow::Owned(names.join(", "))
}

pub(crate) fn group_cell(row: &InstanceRow) -> Cow<'_, str> {
    match (&row.group, &row.launcher_tag, row.membership) {
        (Some(group), _, _) => Cow::Borrowed(group),
        (None, Some(tag), _) => Cow::Owned(format!("({tag})")),
        (None, None, Some("unmanaged")) => Cow::Borrowed("(none)"),
        (None, None, _) => Cow::Borrowed("-"),
    }
}

/// The violations table's lines of one instance: each finding, each
/// exempted violation, and why it was not audited.
pub(crate) fn finding_cells(row: &InstanceRow) -> impl Iterator<Item = [Cow<'_, str>; 4]> {
    let id = row.instance_id.as_str();
    let findings = row.violations.iter().map(move |finding| {
        let blocking = if finding.blocking { "yes" } else { "no" };
        let violation = &finding.violation;
        [id, violation.check.as_str(), blocking, &violation.message].map(Cow::Borrowed)
    });
    let exempted = row.exempted.iter().map(move |violation| {
        [id, violation.check.as_str(), "exempted", &violation.message].map(Cow::Borrowed)
    });
    let unaudited = row.error.iter().map(move |error| {
        [
            Cow::Borrowed(id),
            Cow::Borrowed("-"),
            Cow::Borrowed("-"),
            Cow::Owned(format!("not audited: {error}")),
        ]
    });
    findings.chain(exempted).chain(unaudited)
}

/// The report for people — the instance table, each finding, the budgets —
/// written as it is made. The two tables are not held: their lines are
/// made from the report's rows as they are written, so at 10,000 instances
/// the text does not double what the report already holds.
pub fn write_text(report: &AuditReport, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    writeln!(
        out,
        "cluster {} (tag `{}`), mode {}, {}\n",
        report.cluster,
        ClusterTag {
            key: report.cluster_tag_key.clone(),
            value: report.cluster_tag_value.clone(),
        },
        report.mode,
        report.time
    )?;
    if report.instances.is_empty() {
        writeln!(out, "no cluster instance is pending or running")?;
    } else {
        write_table(
            out,
            ["INSTANCE", "GROUP", "TYPE", "STATE", "CHECKS"],
            || {
                report.instances.iter().map(|row| {
                    [
                        Cow::Borrowed(row.instance_id.as_str()),
                        group_cell(row),
                        Cow::Borrowed(row.instance_type.as_str()),
                        Cow::Borrowed(row.state.as_str()),
                        checks_cell(row),
                    ]
                })
            },
        )?;
    }

    let findings = || report.instances.iter().flat_map(finding_cells);
    if findings().next().is_some() {
        writeln!(out, "\nviolations:")?;
        write_table(out, ["INSTANCE", "CHECK", "BLOCKING", "MESSAGE"], findings)?;
    }

    if let Some(budget) = &report.budget {
        writeln!(out)?;
        out.write_all(render_budget(budget).as_bytes())?;
    }
    exceptions::write_text(&report.exceptions, out)?;
    write_summary(report, out)
}

/// The last lines: how many instances were compliant, and whether the
/// listing was slow (its pages shrank).
fn write_summary(report: &AuditReport, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    let summary = &report.summary;
    write!(
        out,
        "\n{} instance(s): {} compliant, {} non-compliant",
        summary.instances,
        summary
            .instances
            .saturating_sub(summary.non_compliant)
            .saturating_sub(summary.unchecked),
        summary.non_compliant
    )?;
    if summary.unchecked > 0 {
        write!(out, ", {} unchecked", summary.unchecked)?;
    }
    writeln!(out)?;
    if let Some(slow) = &report.slow {
        writeln!(out, "{}", slow.line())?;
    }
    Ok(())
}

fn render_budget(budget: &BudgetSection) -> String {
    if let Some(error) = &budget.error {
        return format!("budget: usage cannot be measured: {error}\n");
    }
    let mut table = Table::new(["BUDGET", "USED", "MAX", "PERCENT", "STATUS"]);
    for dim in &budget.dimensions {
        table.row([
            dim.name.to_owned(),
            dim.used.to_string(),
            dim.max.to_string(),
            format!("{:.1}%", dim.percent),
            match dim.status {
                BudgetStatus::Ok => "ok".to_owned(),
                BudgetStatus::Suspend => format!(
                    "at or above {}%: budget-guard suspends scale-out",
                    budget.suspend_at_percent
                ),
                BudgetStatus::Over => "over budget".to_owned(),
            },
        ]);
    }
    let mut out = table.render();
    if budget.waiting_for_decision > 0 {
        let _ = writeln!(
            out,
            "({} instance(s) waiting in Pending:Wait for launch-guard are not counted)",
            budget.waiting_for_decision
        );
    }
    out
}

#[cfg(test)]
mod exception_expiry_tests;
#[cfg(test)]
mod tests;
