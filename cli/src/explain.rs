//! `scaling-guard explain EVENT.json`: what launch-guard would decide for a
//! lifecycle event — the same assessment its handler makes
//! ([`shared::assess`]: ignore what is not ours, gather facts, run every
//! check and the budget admission, decide). It takes the read ports only
//! ([`ReadPorts`], checked by the compiler): nothing is recorded, completed,
//! suspended or alerted, and the lifecycle action is left as it is.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use shared::assess::{self, Admission, Assessment, Decided, Launch, Missing, Unknown};
use shared::budget::measure::GuardedGroups;
use shared::budget::{self, Usage};
use shared::checks::{CheckName, Violation};
use shared::decision::{Decision, Finding, fail_result};
use shared::export::{Layer, layers};
use shared::facts::NodeFacts;
use shared::lifecycle::{LifecycleAction, Notification};
use shared::policy::{Mode, Policy};
use shared::ports::{AwsError, AwsResult, ReadPorts};
use tokio::time::Instant;

use crate::exit_status::ExitStatus;

mod render;

pub use render::render;

/// How long the reads may take: the CLI has no invocation deadline.
const READS_TIMEOUT: Duration = Duration::from_secs(300);

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
    /// Violations of checks the policy exempts for the group
    /// (`GUARD_CHECK_EXCEPTIONS`): listed, never blocking.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exempted: Vec<Violation>,
    /// `None` when the policy sets no budget (or the facts were missing).
    pub admission: Option<AdmissionView>,
    /// Every check the launch breaks (exempted or not) and the layers that
    /// enforce it, earliest first ([`shared::export::layers`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enforced_by: Vec<CheckLayers>,
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

/// A check and every layer that enforces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckLayers {
    pub check: CheckName,
    pub layers: Vec<Layer>,
}

/// The layers of each check among `checks`, once each, in check order.
fn enforced_by(checks: impl IntoIterator<Item = CheckName>) -> Vec<CheckLayers> {
    let checks: BTreeSet<CheckName> = checks.into_iter().collect();
    checks
        .into_iter()
        .map(|check| CheckLayers {
            check,
            layers: layers::enforcement(check).layers.to_vec(),
        })
        .collect()
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
    pub fn outcome(&self) -> ExitStatus {
        match self.decision {
            Decision::Continue | Decision::Ignored => ExitStatus::Clean,
            Decision::Abandon => ExitStatus::Found,
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
            exempted: Vec::new(),
            admission: None,
            enforced_by: Vec::new(),
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

/// Explains one notification with launch-guard's own assessment
/// ([`shared::assess`]), through the read ports only. `Err` when AWS cannot
/// be read: launch-guard would then decide by `GUARD_FAIL_MODE`, but the CLI
/// reports its own error.
pub async fn run(
    policy: &Policy,
    aws: &impl ReadPorts,
    notification: Notification,
    now: SystemTime,
) -> AwsResult<Explanation> {
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
    let guarded = GuardedGroups::of(policy);
    let launch = Launch {
        action: &action,
        now,
        until: Instant::now() + READS_TIMEOUT,
        admitted: Some(&BTreeSet::new()),
    };
    let assessment = assess::assess(policy, aws, &guarded, launch)
        .await
        .map_err(|unknown| unknown.error)?;
    match assessment {
        Assessment::Ignored { reason } => Ok(Explanation::ignored(policy, Some(&action), reason)),
        Assessment::Decided(decided) => explained(policy, &action, *decided),
    }
}

/// The explanation of a decided launch; an AWS read that failed is the CLI's
/// error, not a decision.
fn explained(
    policy: &Policy,
    action: &LifecycleAction,
    decided: Decided,
) -> AwsResult<Explanation> {
    if let Some(err) = decided.unknown.iter().find_map(aws_error) {
        return Err(err.clone());
    }
    let lifecycle_state = decided
        .lifecycle_state(&action.instance_id)
        .map(str::to_owned);
    let Some(facts) = &decided.facts else {
        let reason = decided
            .unknown
            .iter()
            .map(|unknown| match unknown {
                Unknown::Instance(missing) => missing.to_string(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Ok(Explanation {
            lifecycle_state,
            ..Explanation::by_fail_mode(policy, action, reason)
        });
    };
    if decided.by_fail_mode() {
        let reason = decided.unknown_line().unwrap_or_default();
        return Ok(Explanation {
            lifecycle_state,
            ..Explanation::by_fail_mode(policy, action, reason)
        });
    }
    let broken = decided.verdict.findings.iter().map(|f| f.violation.check);
    let enforced_by = enforced_by(broken.chain(decided.verdict.exempted.iter().map(|v| v.check)));
    Ok(Explanation {
        lifecycle_state,
        enforced_by,
        instance: Some(instance_view(facts)),
        unknown: decided.unknown_line(),
        admission: decided
            .admission
            .as_ref()
            .map(|admission| admission_view(policy, admission)),
        violations: decided.verdict.findings,
        exempted: decided.verdict.exempted,
        ..Explanation::new(policy, Some(action), decided.verdict.result.into())
    })
}

/// The AWS error behind an unknown part, if one is.
fn aws_error(unknown: &Unknown) -> Option<&AwsError> {
    match unknown {
        Unknown::Image(err)
        | Unknown::Subnet(err)
        | Unknown::Record(err)
        | Unknown::RecommendedImages(err) => Some(err),
        Unknown::Instance(Missing::Aws(err))
        | Unknown::Budget(Missing::Aws(err))
        | Unknown::Volumes(Missing::Aws(err)) => Some(err),
        Unknown::Instance(_) | Unknown::Budget(_) | Unknown::Volumes(_) => None,
    }
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

/// The admission as `explain` shows it: usage without this instance, what
/// it adds, and each budget's fit.
fn admission_view(policy: &Policy, admission: &Admission) -> AdmissionView {
    let candidate = admission.candidate;
    let dimensions = budget::dimensions(&policy.budget, admission.usage)
        .into_iter()
        .map(|dim| AdmissionRow {
            check: dim.check,
            name: dim.name,
            used: dim.used,
            add: match dim.check {
                CheckName::BudgetVcpus => candidate.vcpus,
                CheckName::BudgetMemory => candidate.memory_mib,
                _ => candidate.instances,
            },
            max: dim.max,
            fits: !admission.violations.iter().any(|v| v.check == dim.check),
        })
        .collect();
    AdmissionView {
        admitted: admission.violations.is_empty(),
        usage: admission.usage,
        candidate,
        waiting_for_decision: admission.not_counted,
        dimensions,
    }
}

#[cfg(test)]
mod layers_tests;
#[cfg(test)]
mod tests;
