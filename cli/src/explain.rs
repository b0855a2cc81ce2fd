//! `scaling-guard explain EVENT.json`: what launch-guard would decide for a
//! lifecycle event, step by step as its handler does (SPEC §5) — ignore what
//! is not ours, gather facts, run every check and the budget admission,
//! decide — built from `shared`'s checks, verdict and budget arithmetic. It
//! reads through the read ports only: nothing is completed, suspended or
//! alerted, and the lifecycle action is left as it is.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::SystemTime;

use serde::Serialize;
use shared::audit::gather;
use shared::budget::{self, Usage};
use shared::checks::{CheckName, Violation, check_node};
use shared::decision::{Decision, Finding, Verdict, fail_result};
use shared::facts::{InstanceFacts, NodeFacts};
use shared::lifecycle::{LAUNCHING, LifecycleAction, Notification, WARM_POOL};
use shared::policy::{Mode, Policy};
use shared::ports::{
    AwsResult, ClusterGroupsRead, ClusterInstancesRead, GroupRead, InstanceRead, InstanceTypesRead,
    NetworkImageRead,
};

use crate::audit::waiting_for_decision;
use crate::outcome::Outcome;
use crate::table::Table;

/// The lifecycle state of an instance whose launch action waits.
const WAITING: &str = "Pending:Wait";

/// The explanation, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub decision: Decision,
    pub mode: Mode,
    pub instance_id: Option<String>,
    pub group: Option<String>,
    pub hook: Option<String>,
    /// Why the notification is ignored, or why the decision was taken by
    /// `GUARD_FAIL_MODE` without facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The decision was taken by `GUARD_FAIL_MODE`.
    pub fail_mode: bool,
    /// What could not be established although what was known decided (a
    /// blocking violation abandons the launch whatever the budget would say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
    /// The instance's state in its group (`Pending:Wait` while the action
    /// waits); `None` when the group does not list it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceView>,
    pub violations: Vec<Finding>,
    /// `None` when the policy sets no budget (or the facts were missing).
    pub admission: Option<AdmissionView>,
    /// Always `false`: explain completes nothing.
    pub completed: bool,
}

/// The facts the checks looked at, in short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceView {
    pub instance_type: String,
    pub state: String,
    pub image_id: String,
    pub image_name: Option<String>,
    pub subnet_id: Option<String>,
}

/// The budget admission (SPEC §7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdmissionView {
    pub admitted: bool,
    /// The cluster's usage without this instance.
    pub usage: Usage,
    /// What this instance adds.
    pub candidate: Usage,
    /// Other instances waiting in `Pending:Wait` (not counted).
    pub waiting_for_decision: usize,
    pub dimensions: Vec<AdmissionRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdmissionRow {
    pub check: CheckName,
    pub name: &'static str,
    pub used: u64,
    pub add: u64,
    pub max: u64,
    pub fits: bool,
}

impl Explanation {
    /// 0 would CONTINUE (or ignore), 1 would ABANDON.
    pub fn outcome(&self) -> Outcome {
        match self.decision {
            Decision::Continue | Decision::Ignored => Outcome::Clean,
            Decision::Abandon => Outcome::Found,
        }
    }

    fn new(policy: &Policy, action: Option<&LifecycleAction>, decision: Decision) -> Self {
        Self {
            decision,
            mode: policy.mode,
            instance_id: action.map(|a| a.instance_id.clone()),
            group: action.map(|a| a.group.clone()),
            hook: action.map(|a| a.hook.clone()),
            reason: None,
            fail_mode: false,
            unknown: None,
            lifecycle_state: None,
            instance: None,
            violations: Vec::new(),
            admission: None,
            completed: false,
        }
    }

    fn ignored(policy: &Policy, action: Option<&LifecycleAction>, reason: String) -> Self {
        Self {
            reason: Some(reason),
            ..Self::new(policy, action, Decision::Ignored)
        }
    }

    /// The facts cannot be established: `GUARD_FAIL_MODE` decides.
    fn by_fail_mode(policy: &Policy, action: &LifecycleAction, reason: String) -> Self {
        Self {
            reason: Some(reason),
            fail_mode: true,
            ..Self::new(policy, Some(action), fail_result(policy).into())
        }
    }
}

/// Explains one notification. `Err` when AWS cannot be read: launch-guard
/// would then decide by `GUARD_FAIL_MODE`, but the CLI reports its own error.
pub async fn run<E, N, G>(
    policy: &Policy,
    instances: &E,
    images: &N,
    groups: &G,
    notification: Notification,
    now: SystemTime,
) -> AwsResult<Explanation>
where
    E: InstanceRead + ClusterInstancesRead + InstanceTypesRead,
    N: NetworkImageRead,
    G: GroupRead + ClusterGroupsRead,
{
    let action = match notification {
        Notification::Test { .. } => {
            return Ok(Explanation::ignored(
                policy,
                None,
                "test notification".to_owned(),
            ));
        }
        Notification::Action { action, .. } => *action,
    };
    if action.transition != LAUNCHING {
        let reason = format!("transition `{}` is not a launch", action.transition);
        return Ok(Explanation::ignored(policy, Some(&action), reason));
    }
    if action.hook != policy.hook_name {
        let reason = format!(
            "hook `{}` is not the guard's hook `{}`",
            action.hook, policy.hook_name
        );
        return Ok(Explanation::ignored(policy, Some(&action), reason));
    }
    let lifecycle_state = match groups.group(&action.group).await? {
        Some(group) if group.is_member_of(&policy.cluster_tag_key) => group
            .instances
            .into_iter()
            .find(|i| i.instance_id == action.instance_id)
            .map(|i| i.lifecycle_state),
        Some(_) => {
            let reason = format!(
                "group `{}` is not a member of cluster `{}`",
                action.group, policy.cluster
            );
            return Ok(Explanation::ignored(policy, Some(&action), reason));
        }
        None => {
            let reason = format!("group `{}` does not exist", action.group);
            return Ok(Explanation::ignored(policy, Some(&action), reason));
        }
    };
    let Some(instance) = instances.instance(&action.instance_id).await? else {
        let reason = format!("instance `{}` was not found", action.instance_id);
        return Ok(Explanation {
            lifecycle_state,
            ..Explanation::by_fail_mode(policy, &action, reason)
        });
    };
    let facts = gather::node_facts(images, instance).await?;
    let mut violations = check_node(policy, &facts, now);

    // Entering a warm pool charges no budget (as in launch-guard).
    let budgeted = policy.budget.is_on() && action.destination.as_deref() != Some(WARM_POOL);
    let admission = match budgeted {
        false => None,
        true => match admit(policy, instances, groups, &facts.instance).await? {
            Ok((view, budget_violations)) => {
                violations.extend(budget_violations);
                violations.sort();
                Some(view)
            }
            // What is known decides first, as in launch-guard: only when
            // nothing known blocks does the fail mode decide.
            Err(reason) => {
                let reason = format!("the budget: {reason}");
                let verdict = Verdict::with_unknown(policy, violations, true);
                if !verdict.is_blocked() {
                    return Ok(Explanation {
                        lifecycle_state,
                        ..Explanation::by_fail_mode(policy, &action, reason)
                    });
                }
                return Ok(Explanation {
                    lifecycle_state,
                    instance: Some(instance_view(&facts)),
                    violations: verdict.findings,
                    unknown: Some(reason),
                    ..Explanation::new(policy, Some(&action), verdict.result.into())
                });
            }
        },
    };
    let verdict = Verdict::from_violations(policy, violations);
    Ok(Explanation {
        lifecycle_state,
        instance: Some(instance_view(&facts)),
        violations: verdict.findings,
        admission,
        ..Explanation::new(policy, Some(&action), verdict.result.into())
    })
}

fn instance_view(facts: &NodeFacts) -> InstanceView {
    InstanceView {
        instance_type: facts.instance.instance_type.clone(),
        state: facts.instance.state.clone(),
        image_id: facts.instance.image_id.clone(),
        image_name: facts.image.as_ref().and_then(|i| i.name.clone()),
        subnet_id: facts.instance.subnet_id.clone(),
    }
}

/// Launch-guard's admission with an empty ledger: the cluster's usage
/// without the instances waiting in `Pending:Wait` (this one included), plus
/// this instance, against every budget. The inner `Err` is a usage that
/// cannot be computed (an unknown type): launch-guard's fail mode.
async fn admit<E, G>(
    policy: &Policy,
    instances: &E,
    groups: &G,
    candidate: &InstanceFacts,
) -> AwsResult<Result<(AdmissionView, Vec<Violation>), String>>
where
    E: ClusterInstancesRead + InstanceTypesRead,
    G: ClusterGroupsRead,
{
    let tag = policy.cluster_tag_key.as_str();
    let (listed, cluster_groups) =
        futures::join!(instances.cluster_instances(tag), groups.cluster_groups(tag));
    let (listed, cluster_groups) = (listed?, cluster_groups?);
    let names: Vec<String> = listed
        .iter()
        .chain([candidate])
        .map(|i| i.instance_type.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let specs = instances.instance_types(&names).await?;
    let mut excluded = waiting_for_decision(&listed, &cluster_groups);
    excluded.remove(&candidate.instance_id);
    let waiting = excluded.len();
    excluded.insert(candidate.instance_id.clone());
    let computed = budget::cluster_usage(&listed, &specs, &excluded).and_then(|usage| {
        budget::instance_usage(candidate, &specs).map(|candidate| (usage, candidate))
    });
    let (usage, candidate_usage) = match computed {
        Ok(computed) => computed,
        Err(err) => return Ok(Err(err.to_string())),
    };
    let violations = budget::admit(
        &policy.budget,
        usage,
        candidate_usage,
        &candidate.instance_id,
    );
    let dimensions = budget::dimensions(&policy.budget, usage)
        .into_iter()
        .map(|dim| AdmissionRow {
            check: dim.check,
            name: dim.name,
            used: dim.used,
            add: match dim.check {
                CheckName::BudgetVcpus => candidate_usage.vcpus,
                CheckName::BudgetMemory => candidate_usage.memory_mib,
                _ => candidate_usage.instances,
            },
            max: dim.max,
            fits: !violations.iter().any(|v| v.check == dim.check),
        })
        .collect();
    let view = AdmissionView {
        admitted: violations.is_empty(),
        usage,
        candidate: candidate_usage,
        waiting_for_decision: waiting,
        dimensions,
    };
    Ok(Ok((view, violations)))
}

/// The explanation for people.
pub fn render(explanation: &Explanation, policy: &Policy) -> String {
    let mut out = String::new();
    match (
        &explanation.instance_id,
        &explanation.group,
        &explanation.hook,
    ) {
        (Some(id), Some(group), Some(hook)) => {
            let _ = writeln!(out, "launch of {id} into group {group} (hook {hook})");
        }
        _ => out.push_str("not a launch\n"),
    }
    if let Some(instance) = &explanation.instance {
        let image = match &instance.image_name {
            Some(name) => format!("{} ({name})", instance.image_id),
            None => format!("{} (unknown image)", instance.image_id),
        };
        let subnet = instance.subnet_id.as_deref().unwrap_or("(none)");
        let _ = writeln!(
            out,
            "instance: {}, {}, image {image}, subnet {subnet}",
            instance.instance_type, instance.state
        );
    }
    if explanation.decision != Decision::Ignored {
        match explanation.lifecycle_state.as_deref() {
            Some(WAITING) => {}
            Some(state) => {
                let _ = writeln!(
                    out,
                    "note: the instance is `{state}`, not waiting in `{WAITING}`: launch-guard would find no active action to complete (a duplicate or late event)"
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "note: the group does not list the instance: launch-guard would find no active action to complete"
                );
            }
        }
    }
    out.push('\n');

    let decision = match explanation.decision {
        Decision::Continue => "CONTINUE",
        Decision::Abandon => "ABANDON",
        Decision::Ignored => "IGNORED",
    };
    let _ = write!(out, "decision: {decision} (mode {})", explanation.mode);
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

    if explanation.decision != Decision::Ignored && !explanation.fail_mode {
        if explanation.violations.is_empty() {
            out.push_str("\nno violations\n");
        } else {
            let mut table = Table::new(["CHECK", "BLOCKING", "RESOURCE", "MESSAGE"]);
            for finding in &explanation.violations {
                table.row([
                    finding.violation.check.as_str().to_owned(),
                    if finding.blocking { "yes" } else { "no" }.to_owned(),
                    finding.violation.resource.clone(),
                    finding.violation.message.clone(),
                ]);
            }
            out.push('\n');
            out.push_str(&table.render());
        }
    }

    if let Some(admission) = &explanation.admission {
        let verdict = if admission.admitted {
            "admitted".to_owned()
        } else {
            let over: Vec<&str> = admission
                .dimensions
                .iter()
                .filter(|d| !d.fits)
                .map(|d| d.check.as_str())
                .collect();
            format!("denied ({})", over.join(", "))
        };
        let _ = writeln!(out, "\nbudget admission: {verdict}");
        let mut table = Table::new(["BUDGET", "IN USE", "THIS LAUNCH", "MAX", "FITS"]);
        for dim in &admission.dimensions {
            table.row([
                dim.name.to_owned(),
                dim.used.to_string(),
                dim.add.to_string(),
                dim.max.to_string(),
                if dim.fits { "yes" } else { "no" }.to_owned(),
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
    }

    out.push_str(
        "\nnothing was completed: this is what launch-guard would decide now; the lifecycle action is left as it is\n",
    );
    out
}

#[cfg(test)]
mod tests;
