//! The explanation for people, one section after the other: the launch and
//! its instance, the decision, the violations, the budget admission, and
//! what was left undone.

use std::fmt::Write as _;

use shared::checks::Violation;
use shared::decision::{Decision, Finding};
use shared::facts::PENDING_WAIT as WAITING;
use shared::policy::Policy;

use shared::export::layers_text;

use super::{AdmissionView, CheckLayers, Explanation, InstanceView};
use crate::table::{Table, yes_no};

/// The last line: explain is read-only.
const NOTHING_COMPLETED: &str = "\nnothing was completed: this is what launch-guard would decide now; the lifecycle action is left as it is\n";

/// The explanation for people.
pub fn render(explanation: &Explanation, policy: &Policy) -> String {
    let mut out = launch_section(explanation);
    out.push('\n');
    out.push_str(&decision_section(explanation, policy));
    if explanation.decision != Decision::Ignored && !explanation.fail_mode {
        out.push_str(&violations_section(
            &explanation.violations,
            &explanation.exempted,
        ));
    }
    if !explanation.enforced_by.is_empty() {
        out.push_str(&layers_section(&explanation.enforced_by));
    }
    if let Some(admission) = &explanation.admission {
        out.push_str(&admission_section(admission));
    }
    out.push_str(NOTHING_COMPLETED);
    out
}

/// Which launch, the instance the checks looked at, and a note when no
/// lifecycle action waits for launch-guard.
fn launch_section(explanation: &Explanation) -> String {
    let mut out = match (
        &explanation.instance_id,
        &explanation.group,
        &explanation.hook,
    ) {
        (Some(id), Some(group), Some(hook)) => {
            format!("launch of {id} into group {group} (hook {hook})\n")
        }
        _ => "not a launch\n".to_owned(),
    };
    if let Some(instance) = &explanation.instance {
        out.push_str(&instance_line(instance));
    }
    if explanation.decision != Decision::Ignored
        && let Some(note) = no_action_note(explanation.lifecycle_state.as_deref())
    {
        out.push_str(&note);
    }
    out
}

fn instance_line(instance: &InstanceView) -> String {
    let image = match &instance.image_name {
        Some(name) => format!("{} ({name})", instance.image_id),
        None => format!("{} (unknown image)", instance.image_id),
    };
    let subnet = instance.subnet_id.as_deref().unwrap_or("(none)");
    format!(
        "instance: {}, {}, image {image}, subnet {subnet}\n",
        instance.instance_type, instance.state
    )
}

/// Why launch-guard would find no action to complete, unless the instance
/// waits in `Pending:Wait`.
fn no_action_note(lifecycle_state: Option<&str>) -> Option<String> {
    match lifecycle_state {
        Some(WAITING) => None,
        Some(state) => Some(format!(
            "note: the instance is `{state}`, not waiting in `{WAITING}`: launch-guard would find no active action to complete (a duplicate or late event)\n"
        )),
        None => Some(
            "note: the group does not list the instance: launch-guard would find no active action to complete\n"
                .to_owned(),
        ),
    }
}

/// The decision, why when the facts did not decide it, and what could not
/// be established.
fn decision_section(explanation: &Explanation, policy: &Policy) -> String {
    let mut out = format!(
        "decision: {} (mode {})",
        decision_name(explanation.decision),
        explanation.mode
    );
    match (&explanation.reason, explanation.fail_mode) {
        (Some(reason), true) => {
            let _ = writeln!(
                out,
                "\n  by GUARD_FAIL_MODE `{}`: the facts cannot be established: {reason}",
                policy.fail_mode
            );
        }
        (Some(reason), false) => {
            let _ = writeln!(out, "\n  {reason}: launch-guard leaves it alone");
        }
        (None, _) => out.push('\n'),
    }
    if let Some(unknown) = &explanation.unknown {
        let _ = writeln!(
            out,
            "  not established: {unknown}; what is known blocks the launch"
        );
    }
    out
}

fn decision_name(decision: Decision) -> &'static str {
    match decision {
        Decision::Continue => "CONTINUE",
        Decision::Abandon => "ABANDON",
        Decision::Ignored => "IGNORED",
    }
}

/// Every violation with whether it blocks, or that there is none.
/// Every finding, then every violation the policy exempts for the group
/// (BLOCKING `exempted`).
fn violations_section(findings: &[Finding], exempted: &[Violation]) -> String {
    if findings.is_empty() && exempted.is_empty() {
        return "\nno violations\n".to_owned();
    }
    let mut table = Table::new(["CHECK", "BLOCKING", "RESOURCE", "MESSAGE"]);
    let rows = findings
        .iter()
        .map(|f| (&f.violation, yes_no(f.blocking)))
        .chain(exempted.iter().map(|v| (v, "exempted".to_owned())));
    for (violation, blocking) in rows {
        table.row([
            violation.check.as_str().to_owned(),
            blocking,
            violation.resource.clone(),
            violation.message.clone(),
        ]);
    }
    format!("\n{}", table.render())
}

/// Where each broken check is enforced, earliest layer first: what could
/// have stopped the launch before it reached the hook.
fn layers_section(rows: &[CheckLayers]) -> String {
    let mut table = Table::new(["CHECK", "ENFORCED BY"]);
    for row in rows {
        table.row([row.check.as_str().to_owned(), layers_text(row.check)]);
    }
    format!(
        "\nwhere these checks are enforced (`scaling-guard export` writes the preventive ones):\n{}",
        table.render()
    )
}

/// The admission's verdict and every budget: in use, this launch, the
/// maximum, whether it fits.
fn admission_section(admission: &AdmissionView) -> String {
    let mut out = format!("\nbudget admission: {}\n", admission_verdict(admission));
    let mut table = Table::new(["BUDGET", "IN USE", "THIS LAUNCH", "MAX", "FITS"]);
    for dim in &admission.dimensions {
        table.row([
            dim.name.to_owned(),
            dim.used.to_string(),
            dim.add.to_string(),
            dim.max.to_string(),
            yes_no(dim.fits),
        ]);
    }
    out.push_str(&table.render());
    if admission.waiting_for_decision > 0 {
        let _ = writeln!(
            out,
            "({} other instance(s) waiting in Pending:Wait are not counted)",
            admission.waiting_for_decision
        );
    }
    out
}

/// `admitted`, or `denied` with the budgets it does not fit.
fn admission_verdict(admission: &AdmissionView) -> String {
    if admission.admitted {
        return "admitted".to_owned();
    }
    let over: Vec<&str> = admission
        .dimensions
        .iter()
        .filter(|d| !d.fits)
        .map(|d| d.check.as_str())
        .collect();
    format!("denied ({})", over.join(", "))
}
