//! The audit's alerts, one pure builder per kind: from values to an [`Alert`],
//! without ports. The handler builds them and publishes.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Value, json};
use shared::alerts::{Alert, AlertKind, Severity};
use shared::audit::{
    InstanceAudit, PREVIOUS_GROUPS_TAG, REMEDIATION_HELD_TAG, RemediationWindow, Remedy,
    ReportOnly, SweepReport, WORST_LISTED,
};
use shared::checks::membership::{Membership, UNNAMED_OPERATOR, UNVETTED_REASON, Vetting};
use shared::facts::InstanceFacts;
use shared::lifecycle::Origin;
use shared::policy::Policy;
use shared::ports::AwsError;

use crate::event::Trigger;
use crate::limits::MAX_REMEDIATIONS_PER_SWEEP;

mod launcher_loop;

pub use launcher_loop::launcher_loop;

/// What every alert about one audited instance names: the policy and the
/// time, the event and where it came from, the instance and its audit.
#[derive(Debug, Clone, Copy)]
pub struct AuditedInstance<'a> {
    pub policy: &'a Policy,
    pub now: SystemTime,
    pub trigger: &'a Trigger,
    pub origin: &'a Origin,
    pub instance: &'a InstanceFacts,
    pub audit: &'a InstanceAudit,
}

/// `instance_non_compliant`: findings reported, nothing changed (`why`).
/// Information only for a managed instance: nothing here is the guard's or
/// the operator's to change on the node, the fix is its service's
/// configuration.
pub fn non_compliant(about: &AuditedInstance, why: ReportOnly) -> Alert {
    let severity = if about.audit.membership.is_managed() {
        Severity::Info
    } else {
        Severity::Warning
    };
    let mut alert = instance_alert(about, AlertKind::InstanceNonCompliant, severity, "alert");
    alert.headline = format!(
        "instance {} non-compliant ({})",
        about.instance.instance_id,
        about.audit.check_list()
    );
    alert.advice = format!(
        "{} {}.",
        what_to_fix(&about.audit.membership),
        why.explain()
    );
    alert
}

/// `instance_remediated`: the remedy was made.
pub fn remediated(about: &AuditedInstance, remedy: &Remedy) -> Alert {
    let mut alert = instance_alert(
        about,
        AlertKind::InstanceRemediated,
        Severity::Critical,
        remedy.as_str(),
    );
    alert.headline = format!(
        "instance {} {} ({})",
        about.instance.instance_id,
        remedy.past_tense(),
        about.audit.check_list()
    );
    let done = match remedy {
        Remedy::Stop => "The instance was stopped; its volumes are kept for investigation. \
            Find out how it got into the cluster, then terminate it, or fix it and start it again."
            .to_owned(),
        Remedy::Terminate => "The instance is being terminated. If a group launched it, the group \
            launches a replacement: fix the group's launch template (and give the group the guard's \
            launch hook), or the replacements are terminated too."
            .to_owned(),
        Remedy::Isolate { security_group_id } => {
            alert
                .details
                .insert("quarantine_security_group".into(), json!(security_group_id));
            alert.details.insert(
                "previous_security_groups".into(),
                json!(about.instance.security_group_ids),
            );
            format!(
                "Every security group of the instance was replaced with `{security_group_id}`; the former \
                 groups are in its tag `{PREVIOUS_GROUPS_TAG}`. Investigate it, then terminate it, or restore \
                 its groups once it complies."
            )
        }
    };
    alert.advice = format!("{done} {}", what_to_fix(&about.audit.membership));
    alert
}

/// `guard_error`: the remedy was attempted and failed with `err`.
pub fn remediation_failed(about: &AuditedInstance, remedy: &Remedy, err: &AwsError) -> Alert {
    let mut alert = instance_alert(
        about,
        AlertKind::GuardError,
        Severity::Critical,
        remedy.as_str(),
    );
    alert.headline = format!(
        "{} of non-compliant instance {} failed",
        remedy.as_str(),
        about.instance.instance_id
    );
    alert.advice = format!(
        "{err}. The instance stays non-compliant and the next sweep tries again. Check that the \
         function's role may call this on instances that carry the cluster tag `{}`.",
        about.policy.cluster_tag
    );
    alert
}

/// `remediation_capped`: the hourly cap (`window`) held the remedy back.
pub fn remediation_capped(
    about: &AuditedInstance,
    remedy: &Remedy,
    window: &RemediationWindow,
) -> Alert {
    let mut alert = instance_alert(
        about,
        AlertKind::RemediationCapped,
        Severity::Critical,
        "none",
    );
    let instance_id = &about.instance.instance_id;
    alert.headline = format!(
        "remediation capped: {} instances in the last hour, {} of {instance_id} held",
        window.remediated,
        remedy.as_str(),
    );
    alert
        .details
        .insert("remediated_last_hour".into(), json!(window.remediated));
    alert
        .details
        .insert("max_remediations_per_hour".into(), json!(window.cap));
    alert
        .details
        .insert("held_action".into(), json!(remedy.as_str()));
    alert.advice = format!(
        "The guard remediated {} cluster instances within the last hour, the limit of \
         GUARD_MAX_REMEDIATIONS_PER_HOUR ({}), so it left instance {instance_id} ({}) as it is; later sweeps \
         remediate it as the hour allows. Remediations at this rate often mean a policy mistake or a loop (a \
         group or Karpenter relaunching what the guard terminates): check the findings and the policy before \
         raising the limit. Instances held back carry the tag `{REMEDIATION_HELD_TAG}`; this alert is sent at \
         most once an hour while the limit holds. {}",
        window.remediated,
        window.cap,
        about.audit.check_list(),
        what_to_fix(&about.audit.membership)
    );
    alert
}

/// `sweep_summary`: the one alert of a sweep, from its report.
pub fn sweep_summary(
    policy: &Policy,
    now: SystemTime,
    origin: &Origin,
    report: &SweepReport,
) -> Alert {
    let mut alert = Alert::new(
        AlertKind::SweepSummary,
        sweep_severity(report),
        policy,
        now,
        report.headline(),
    );
    alert.came_from(origin);
    alert.details = sweep_details(report);
    alert.advice = sweep_advice(policy, report);
    alert
}

/// The fields every instance alert shares; headline and advice are the
/// builder's.
fn instance_alert(
    about: &AuditedInstance,
    kind: AlertKind,
    severity: Severity,
    decision: &str,
) -> Alert {
    let AuditedInstance {
        instance, audit, ..
    } = about;
    let mut alert = Alert::new(kind, severity, about.policy, about.now, "");
    alert.decision = decision.to_owned();
    alert.instance_id = Some(instance.instance_id.clone());
    alert.group = audit.membership.group().map(str::to_owned);
    alert.violations = audit.findings.clone();
    alert.came_from(about.origin);
    alert
        .details
        .insert("trigger".into(), json!(about.trigger.as_str()));
    alert
        .details
        .insert("membership".into(), json!(audit.membership.to_string()));
    alert.details.insert("state".into(), json!(instance.state));
    alert
}

/// The first sentence of an instance alert's advice: what to fix so that it
/// does not happen again.
fn what_to_fix(membership: &Membership) -> String {
    match membership {
        Membership::Unmanaged => "The instance joined the cluster outside any Auto Scaling group: find who \
            launched it (CloudTrail `RunInstances`), and launch nodes only through guarded groups or an \
            allowed launcher."
            .to_owned(),
        Membership::UnguardedGroup(group) => format!(
            "Group `{group}` launches nodes without the guard's launch hook: add the hook (or let budget-guard \
             enroll the group, GUARD_ENROLL_GROUPS) so that its launches are vetted, and fix its launch template."
        ),
        Membership::Launcher(tag) => format!(
            "A launcher (tag `{tag}`) started a non-compliant node: fix the launcher's node configuration."
        ),
        Membership::GuardedGroup {
            group,
            vetting: Vetting::Unvetted,
        } => format!(
            "The instance is treated as unvetted: {UNVETTED_REASON}. Fix the launch template of group \
             `{group}`, and find why launch-guard did not decide the launch (its logs and errors, the hook's \
             heartbeat timeout, GUARD_FAIL_MODE)."
        ),
        Membership::GuardedGroup { group, .. } => {
            format!("Fix the launch template of group `{group}` and roll the group.")
        }
        Membership::Managed { principal } => format!(
            "EC2 runs this managed instance for `{}` (EKS Auto Mode), which owns its lifecycle: fix the \
             configuration in the EKS NodeClass (image, subnets, security groups, role) or the NodePool \
             (instance types) that launched it; EKS replaces its nodes to match.",
            principal.as_deref().unwrap_or(UNNAMED_OPERATOR)
        ),
    }
}

/// Critical when a remediation failed, a warning when something is wrong
/// outside managed instances, otherwise information.
fn sweep_severity(report: &SweepReport) -> Severity {
    if !report.failed.is_empty() {
        Severity::Critical
    } else if report.non_compliant > report.managed_non_compliant || !report.unchecked.is_empty() {
        // Managed instances alone are information: nothing is to be done on them.
        Severity::Warning
    } else {
        Severity::Info
    }
}

/// The report's figures, and its lists of instances, one line each.
fn sweep_details(report: &SweepReport) -> BTreeMap<String, Value> {
    let remediated = report
        .remediated
        .iter()
        .map(|r| format!("{} {}", r.instance_id, r.action));
    let failed = report.failed.iter().map(|r| {
        format!(
            "{} {}: {}",
            r.instance_id,
            r.action,
            r.error.as_deref().unwrap_or_default()
        )
    });
    let unchecked = report
        .unchecked
        .iter()
        .take(WORST_LISTED)
        .map(|u| format!("{}: {}", u.instance_id, u.reason));
    [
        ("instances", json!(report.instances)),
        ("non_compliant", json!(report.non_compliant)),
        ("counts", json!(report.counts)),
        ("exempted", json!(report.exempted)),
        ("worst", lines(report.worst.iter().map(ToString::to_string))),
        ("remediated", lines(remediated)),
        ("remediation_failed", lines(failed)),
        ("already_remediated", json!(report.already_remediated)),
        ("deferred", json!(report.deferred)),
        ("capped", json!(report.capped)),
        ("unchecked", lines(unchecked)),
    ]
    .into_iter()
    .chain(
        (report.managed_non_compliant > 0)
            .then(|| ("managed_non_compliant", json!(report.managed_non_compliant))),
    )
    .map(|(key, value)| (key.to_owned(), value))
    .collect()
}

fn lines(lines: impl Iterator<Item = String>) -> Value {
    Value::from(lines.collect::<Vec<_>>())
}

/// How to read the summary and what the guard does about it.
fn sweep_advice(policy: &Policy, report: &SweepReport) -> String {
    if report.non_compliant == 0 && report.unchecked.is_empty() {
        return "nothing to do.".to_owned();
    }
    let mut advice = format!(
        "`counts` says how many instances break each check, `worst` names the worst ones. \
         Instances of groups with the guard's launch hook are reported, never remediated: roll those groups once \
         their launch templates comply. Unmanaged instances and groups without the hook are remediated per \
         GUARD_AUDIT_ACTION in enforce mode, at most {MAX_REMEDIATIONS_PER_SWEEP} per sweep and {} an hour with \
         the events' (GUARD_MAX_REMEDIATIONS_PER_HOUR).",
        policy.max_remediations_per_hour
    );
    if report.managed_non_compliant > 0 {
        advice.push_str(&format!(
            " {} of them are EC2 managed instances (EKS Auto Mode, `managed_non_compliant`): counted and \
             reported, never remediated; fix the EKS NodeClass or NodePool that launches them.",
            report.managed_non_compliant
        ));
    }
    if report.capped > 0 {
        advice.push_str(&format!(
            " The hourly cap held {} remediations back (`capped`): later sweeps make them as the hour \
             allows. Many at once may mean a policy mistake: check the findings before raising the cap.",
            report.capped
        ));
    }
    if !report.unchecked.is_empty() {
        advice.push_str(
            " Unchecked instances could not be audited (see `unchecked`); check the function's permissions and logs.",
        );
    }
    advice
}

#[cfg(test)]
mod tests;
