//! instance-audit's domain (SPEC §6): from one instance's facts and
//! membership to its findings and what to do about them, and from many
//! instances to the sweep's report. Pure and synchronous, like the checks;
//! `shared::audit::gather` reads the facts through the ports.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::checks::membership::{self, Membership};
use crate::checks::{AfterLaunch, CheckName, Violation, check_after_launch};
use crate::decision::{Finding, exempt};
use crate::facts::{InstanceFacts, InstanceState, NodeFacts};
use crate::policy::{AuditAction, Mode, Policy};
use crate::time::{format_rfc3339, parse_rfc3339};

mod nodepool;

pub use nodepool::{KARPENTER_NODEPOOL_TAG, LauncherPool, POOL_HELD_TAG, karpenter_fix};

/// When the guard isolated the instance (RFC 3339).
pub const QUARANTINED_TAG: &str = "scaling-guard:quarantined";
/// The blocking checks that got the instance isolated, space-separated.
pub const QUARANTINE_REASON_TAG: &str = "scaling-guard:quarantine-reason";
/// The security groups the instance had before, space-separated: what an
/// operator restores after an investigation.
pub const PREVIOUS_GROUPS_TAG: &str = "scaling-guard:previous-security-groups";
/// When the guard remediated the instance (RFC 3339), written before the
/// change: the durable record behind `GUARD_MAX_REMEDIATIONS_PER_HOUR`, read
/// back by every execution environment.
pub const REMEDIATED_TAG: &str = "scaling-guard:remediated";
/// When the hourly cap was last alerted (RFC 3339), written on an instance
/// whose remediation the cap held back: at most one alert per [`CAP_WINDOW`].
pub const REMEDIATION_HELD_TAG: &str = "scaling-guard:remediation-held";
/// The window of `GUARD_MAX_REMEDIATIONS_PER_HOUR`. Terminated instances
/// stay visible to `DescribeInstances` for about this long, so their records
/// still count.
pub const CAP_WINDOW: Duration = Duration::from_secs(3600);
/// EC2 tag values hold at most 256 characters.
const TAG_VALUE_MAX: usize = 256;
/// How many instances the sweep summary names.
pub const WORST_LISTED: usize = 10;

/// One instance, audited: how it came in and every rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceAudit {
    pub membership: Membership,
    /// Sorted by check, then resource; `blocking` as the policy says.
    pub findings: Vec<Finding>,
    /// Violations the policy exempts for the instance's group, and those
    /// set aside after launch because the node's OS updates in place
    /// ([`check_after_launch`]): reported, never remediated or counted.
    pub exempted: Vec<Violation>,
}

impl InstanceAudit {
    /// Runs the membership check and every node check of SPEC §4, as after
    /// launch ([`check_after_launch`]).
    pub fn of(policy: &Policy, facts: &NodeFacts, membership: Membership, now: SystemTime) -> Self {
        let AfterLaunch {
            mut violations,
            set_aside,
        } = check_after_launch(policy, facts, now);
        violations.extend(membership::check(policy, &facts.instance, &membership));
        violations.sort();
        let group = membership::auto_scaling_group(&facts.instance);
        let (violations, mut exempted) = exempt(policy, group, violations, now);
        exempted.extend(set_aside);
        exempted.sort();
        // A managed instance's findings never block: nothing may change it.
        let managed = membership.is_managed();
        let findings = violations
            .into_iter()
            .map(|violation| Finding {
                blocking: !managed && policy.blocks(violation.check),
                violation,
            })
            .collect();
        Self {
            membership,
            findings,
            exempted,
        }
    }

    pub fn is_compliant(&self) -> bool {
        self.findings.is_empty()
    }

    /// The names of the broken checks, each once, in order.
    pub fn checks(&self) -> Vec<CheckName> {
        let mut checks: Vec<CheckName> = self.findings.iter().map(|f| f.violation.check).collect();
        checks.dedup();
        checks
    }

    /// `image.age, imds.v2`: for subjects and logs.
    pub fn check_list(&self) -> String {
        self.checks()
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn blocking(&self) -> usize {
        self.findings.iter().filter(|f| f.blocking).count()
    }
}

/// A change instance-audit makes to a non-compliant instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Remedy {
    Stop,
    Terminate,
    /// Swap every security group for this quarantine group, and tag.
    Isolate {
        security_group_id: String,
    },
}

impl Remedy {
    /// `stop`, `terminate`, `isolate`: the alert's `decision`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Remedy::Stop => "stop",
            Remedy::Terminate => "terminate",
            Remedy::Isolate { .. } => "isolate",
        }
    }

    /// `stopped`, `terminated`, `isolated`: for headlines.
    pub fn past_tense(&self) -> &'static str {
        match self {
            Remedy::Stop => "stopped",
            Remedy::Terminate => "terminated",
            Remedy::Isolate { .. } => "isolated",
        }
    }

    /// Whether the instance already shows the remedy's effect, so that a
    /// repeated event or the next sweep changes nothing and alerts nothing.
    pub fn is_done(&self, instance: &InstanceFacts) -> bool {
        match self {
            Remedy::Stop => matches!(instance.state.as_str(), "stopping" | "stopped"),
            Remedy::Terminate => matches!(instance.state.as_str(), "shutting-down" | "terminated"),
            Remedy::Isolate { security_group_id } => is_isolated(instance, security_group_id),
        }
    }

    /// Whether EC2 accepts the change in the instance's state: a `pending`
    /// instance cannot be stopped yet (`IncorrectInstanceState`).
    pub fn applies_now(&self, instance: &InstanceFacts) -> bool {
        !matches!(self, Remedy::Stop) || instance.instance_state() == InstanceState::Running
    }
}

impl fmt::Display for Remedy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why findings are reported and nothing is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportOnly {
    /// `GUARD_MODE=audit`.
    AuditMode,
    /// `GUARD_AUDIT_ACTION=alert`.
    AlertAction,
    /// Every finding's check is in `GUARD_AUDIT_ONLY_CHECKS`.
    NonBlocking,
    /// The instance's group carries the guard's hook and launch-guard
    /// recorded its decision on it (`scaling-guard:vetted`): what is found now
    /// is drift, reported but not remediated (an image that aged past the
    /// limit must not take every node down).
    Vetted,
    /// The instance's group carries the guard's hook, launch-guard has not
    /// recorded a decision yet, and the hook may still hold the launch: it is
    /// launch-guard's to decide first.
    Undecided,
    /// An EC2 managed instance (EKS Auto Mode): its AWS service owns its
    /// lifecycle, so the fix belongs in what that service launches from.
    Managed,
}

impl ReportOnly {
    /// One clause for the alert's advice.
    pub fn explain(self) -> &'static str {
        match self {
            ReportOnly::AuditMode => {
                "Nothing was changed: the guard runs in audit mode (GUARD_MODE=audit)"
            }
            ReportOnly::AlertAction => "Nothing was changed: GUARD_AUDIT_ACTION is `alert`",
            ReportOnly::NonBlocking => {
                "Nothing was changed: these checks only report (GUARD_AUDIT_ONLY_CHECKS)"
            }
            ReportOnly::Vetted => {
                "Nothing was changed: launch-guard vetted the instance at launch, so this is drift; replace the node (roll the group) once its launch template complies"
            }
            ReportOnly::Undecided => {
                "Nothing was changed yet: the guard's launch hook may still hold the launch for launch-guard's decision; the audit acts once the launch completes"
            }
            ReportOnly::Managed => {
                "Nothing was changed, and nothing will be: EC2 runs this managed instance for an AWS service (EKS Auto Mode), which owns it; the guard counts it in the budgets and reports it, and never stops, terminates or isolates it"
            }
        }
    }
}

/// What to do about one audited instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Compliant,
    Report(ReportOnly),
    Remediate(Remedy),
}

impl Plan {
    /// Remediation only in enforce mode, only for blocking findings, only for
    /// instances launch-guard did not vet (and is not deciding now), never
    /// for a managed instance, and only with a remedy configured.
    pub fn for_audit(policy: &Policy, audit: &InstanceAudit) -> Self {
        if audit.is_compliant() {
            return Plan::Compliant;
        }
        if audit.membership.is_managed() {
            return Plan::Report(ReportOnly::Managed);
        }
        if audit.membership.is_vetted() {
            return Plan::Report(ReportOnly::Vetted);
        }
        if audit.membership.is_undecided() {
            return Plan::Report(ReportOnly::Undecided);
        }
        if policy.mode == Mode::Audit {
            return Plan::Report(ReportOnly::AuditMode);
        }
        if audit.blocking() == 0 {
            return Plan::Report(ReportOnly::NonBlocking);
        }
        match (policy.audit_action, &policy.quarantine_security_group_id) {
            (AuditAction::Stop, _) => Plan::Remediate(Remedy::Stop),
            (AuditAction::Terminate, _) => Plan::Remediate(Remedy::Terminate),
            (AuditAction::Isolate, Some(group)) => Plan::Remediate(Remedy::Isolate {
                security_group_id: group.clone(),
            }),
            // The policy's validation requires the group for `isolate`.
            (AuditAction::Isolate, None) | (AuditAction::Alert, _) => {
                Plan::Report(ReportOnly::AlertAction)
            }
        }
    }
}

/// The cluster's remediations within the last [`CAP_WINDOW`], read from the
/// records on its instances (in any state), against the hourly cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemediationWindow {
    /// Instances whose [`REMEDIATED_TAG`] falls within the window.
    pub remediated: usize,
    /// `GUARD_MAX_REMEDIATIONS_PER_HOUR`.
    pub cap: usize,
    /// The latest cap alert within the window ([`REMEDIATION_HELD_TAG`]).
    pub alerted: Option<SystemTime>,
}

impl RemediationWindow {
    /// Counts the records of the cluster's instances among `instances`. A
    /// record in the future counts (a clock ahead holds back, never lets
    /// through); a value that is not a time is not the guard's and does not.
    pub fn count(policy: &Policy, instances: &[InstanceFacts], now: SystemTime) -> Self {
        let members = instances
            .iter()
            .filter(|i| policy.cluster_tag.matches(&i.tags));
        let cap = usize::try_from(policy.max_remediations_per_hour).unwrap_or(usize::MAX);
        Self::tally(members, REMEDIATION_HELD_TAG, cap, now)
    }

    /// Counts the [`REMEDIATED_TAG`] records among `instances` within the
    /// window, and the latest `held_tag` alert: the cluster's cap and a
    /// launcher pool's ([`nodepool`]) read the same records.
    fn tally<'i>(
        instances: impl Iterator<Item = &'i InstanceFacts>,
        held_tag: &str,
        cap: usize,
        now: SystemTime,
    ) -> Self {
        let since = now
            .checked_sub(CAP_WINDOW)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let within = |instance: &InstanceFacts, key: &str| {
            instance
                .tags
                .get(key)
                .and_then(|value| parse_rfc3339(value))
                .filter(|time| *time > since)
        };
        let mut ids: Vec<&str> = Vec::new();
        let mut alerted = None;
        for instance in instances {
            if within(instance, REMEDIATED_TAG).is_some() {
                ids.push(&instance.instance_id);
            }
            alerted = alerted.max(within(instance, held_tag));
        }
        ids.sort_unstable();
        ids.dedup();
        Self {
            remediated: ids.len(),
            cap,
            alerted,
        }
    }

    /// Whether another remediation would exceed the cap.
    pub fn is_full(&self) -> bool {
        self.remediated >= self.cap
    }

    /// Counts one more remediation made now.
    pub fn add(&mut self) {
        self.remediated = self.remediated.saturating_add(1);
    }

    /// The value of [`REMEDIATION_HELD_TAG`] for a remediation held back now,
    /// and whether this hold is the one to alert (no alert within the window).
    pub fn hold(&self, now: SystemTime) -> (String, bool) {
        match self.alerted {
            Some(alerted) => (format_rfc3339(alerted), false),
            None => (format_rfc3339(now), true),
        }
    }
}

/// The instance carries the quarantine group and nothing else.
pub fn is_isolated(instance: &InstanceFacts, quarantine_group: &str) -> bool {
    !instance.security_group_ids.is_empty()
        && instance
            .security_group_ids
            .iter()
            .all(|group| group == quarantine_group)
}

/// The tags `isolate` writes: when, why, and the groups to restore.
pub fn isolation_tags(
    audit: &InstanceAudit,
    instance: &InstanceFacts,
    now: SystemTime,
) -> Vec<(String, String)> {
    let reasons: Vec<&str> = audit
        .findings
        .iter()
        .filter(|f| f.blocking)
        .map(|f| f.violation.check.as_str())
        .collect();
    let mut reasons = reasons;
    reasons.dedup();
    let previous: Vec<&str> = instance
        .security_group_ids
        .iter()
        .map(String::as_str)
        .collect();
    vec![
        (QUARANTINED_TAG.to_owned(), format_rfc3339(now)),
        (QUARANTINE_REASON_TAG.to_owned(), tag_value(&reasons)),
        (PREVIOUS_GROUPS_TAG.to_owned(), tag_value(&previous)),
    ]
}

/// Words joined by spaces, cut after the last whole word that fits a tag.
fn tag_value(words: &[&str]) -> String {
    let mut value = String::new();
    for word in words {
        let needed = if value.is_empty() {
            word.len()
        } else {
            word.len() + 1
        };
        if value.len() + needed > TAG_VALUE_MAX {
            break;
        }
        if !value.is_empty() {
            value.push(' ');
        }
        value.push_str(word);
    }
    if value.is_empty() {
        "none".to_owned()
    } else {
        value
    }
}

/// One non-compliant instance, as the sweep summary names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub instance_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub checks: Vec<CheckName>,
    pub blocking: usize,
}

impl fmt::Display for Listed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.instance_id)?;
        if let Some(group) = &self.group {
            write!(f, " ({group})")?;
        }
        let checks: Vec<&str> = self.checks.iter().map(|c| c.as_str()).collect();
        write!(f, ": {}", checks.join(", "))
    }
}

/// A remediation the sweep made or tried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remediation {
    pub instance_id: String,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An instance whose facts could not be established: neither counted as
/// compliant nor remediated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unchecked {
    pub instance_id: String,
    pub reason: String,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

/// What one sweep found and did (SPEC §6): the body of its summary alert.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Cluster instances in state `pending` or `running`.
    pub instances: usize,
    /// Instances with at least one finding (reported-only ones included).
    pub non_compliant: usize,
    /// Of those, EC2 managed instances (EKS Auto Mode): reported for their
    /// service's configuration to be fixed, never remediated.
    #[serde(skip_serializing_if = "is_zero")]
    pub managed_non_compliant: usize,
    /// Instances per broken check.
    pub counts: BTreeMap<CheckName, usize>,
    /// Instances per check the policy exempts for their group
    /// (`GUARD_CHECK_EXCEPTIONS`): visible, never counted as non-compliant.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub exempted: BTreeMap<CheckName, usize>,
    /// The worst instances first: most blocking findings, then most findings.
    pub worst: Vec<Listed>,
    pub remediated: Vec<Remediation>,
    pub failed: Vec<Remediation>,
    /// Remediated by an earlier event or sweep (still non-compliant).
    pub already_remediated: usize,
    /// Remediation left for later: a `pending` instance to stop, or over the
    /// per-sweep limit.
    pub deferred: usize,
    /// Remediation held back by `GUARD_MAX_REMEDIATIONS_PER_HOUR`: the
    /// cluster's remediations of the last hour (events and sweeps) reached it.
    pub capped: usize,
    pub unchecked: Vec<Unchecked>,
}

impl SweepReport {
    /// Counts one audited instance.
    pub fn add(&mut self, instance: &InstanceFacts, audit: &InstanceAudit) {
        self.instances = self.instances.saturating_add(1);
        let mut exempted: Vec<CheckName> = audit.exempted.iter().map(|v| v.check).collect();
        exempted.dedup();
        for check in exempted {
            let count = self.exempted.entry(check).or_default();
            *count = count.saturating_add(1);
        }
        if audit.is_compliant() {
            return;
        }
        self.non_compliant = self.non_compliant.saturating_add(1);
        if audit.membership.is_managed() {
            self.managed_non_compliant = self.managed_non_compliant.saturating_add(1);
        }
        let checks = audit.checks();
        for check in &checks {
            let count = self.counts.entry(*check).or_default();
            *count = count.saturating_add(1);
        }
        self.worst.push(Listed {
            instance_id: instance.instance_id.clone(),
            group: audit.membership.group().map(str::to_owned),
            checks,
            blocking: audit.blocking(),
        });
        // Bounded whatever the cluster's size: the worst of all are the
        // worst of the worst kept so far and the rest (a total order).
        if self.worst.len() >= 4 * WORST_LISTED {
            self.keep_worst();
        }
    }

    /// Orders `worst` (most blocking findings, then most findings, then by
    /// instance id) and keeps the [`WORST_LISTED`] first.
    fn keep_worst(&mut self) {
        self.worst.sort_by(|a, b| {
            b.blocking
                .cmp(&a.blocking)
                .then(b.checks.len().cmp(&a.checks.len()))
                .then_with(|| a.instance_id.cmp(&b.instance_id))
        });
        self.worst.truncate(WORST_LISTED);
    }

    /// Counts an instance that could not be audited.
    pub fn add_unchecked(&mut self, instance_id: &str, reason: String) {
        self.instances = self.instances.saturating_add(1);
        self.unchecked.push(Unchecked {
            instance_id: instance_id.to_owned(),
            reason,
        });
    }

    /// Orders the lists and keeps the [`WORST_LISTED`] worst instances.
    pub fn finish(mut self) -> Self {
        self.keep_worst();
        self.unchecked
            .sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        self.remediated
            .sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        self.failed
            .sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        self
    }

    /// `3 of 120 instances non-compliant, 1 remediated`.
    pub fn headline(&self) -> String {
        if self.non_compliant == 0 && self.unchecked.is_empty() {
            return format!("sweep: all {} instances compliant", self.instances);
        }
        let mut headline = format!(
            "sweep: {} of {} instances non-compliant",
            self.non_compliant, self.instances
        );
        if !self.remediated.is_empty() {
            headline.push_str(&format!(", {} remediated", self.remediated.len()));
        }
        if !self.failed.is_empty() {
            headline.push_str(&format!(", {} remediation failed", self.failed.len()));
        }
        if self.capped > 0 {
            headline.push_str(&format!(", {} held by the hourly cap", self.capped));
        }
        if !self.unchecked.is_empty() {
            headline.push_str(&format!(", {} unchecked", self.unchecked.len()));
        }
        headline
    }
}

#[cfg(test)]
mod exception_expiry_tests;
#[cfg(test)]
mod managed_tests;

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use rstest::rstest;

    use super::*;
    use crate::checks::membership::Vetting;
    use crate::facts::HttpTokens;
    use crate::fixtures::{CLUSTER_TAG, compliant_node, days_ago, now, strict_policy};

    fn guarded(group: &str, vetting: Vetting) -> Membership {
        Membership::GuardedGroup {
            group: group.into(),
            vetting,
        }
    }

    const QUARANTINE: &str = "sg-0eee0001";

    fn unmanaged_with_imdsv1() -> NodeFacts {
        let mut node = compliant_node();
        node.instance.http_tokens = Some(HttpTokens::Optional);
        node
    }

    fn audit(policy: &Policy, node: &NodeFacts, membership: Membership) -> InstanceAudit {
        InstanceAudit::of(policy, node, membership, now())
    }

    #[test]
    fn membership_and_node_findings_come_together_in_check_order() {
        let policy = strict_policy(&[]);
        let audit = audit(&policy, &unmanaged_with_imdsv1(), Membership::Unmanaged);
        assert_eq!(
            audit.checks(),
            vec![CheckName::ImdsV2, CheckName::MembershipUnmanaged]
        );
        assert!(audit.findings.iter().all(|f| f.blocking));
        assert_eq!(audit.check_list(), "imds.v2, membership.unmanaged");
    }

    #[test]
    fn a_compliant_instance_in_a_guarded_group_needs_nothing() {
        let policy = strict_policy(&[]);
        let audit = audit(&policy, &compliant_node(), guarded("g", Vetting::Vetted));
        assert!(audit.is_compliant());
        assert_eq!(Plan::for_audit(&policy, &audit), Plan::Compliant);
    }

    #[rstest]
    #[case::alert_by_default(&[], Plan::Report(ReportOnly::AlertAction))]
    #[case::stop(&[("GUARD_AUDIT_ACTION", "stop")], Plan::Remediate(Remedy::Stop))]
    #[case::terminate(&[("GUARD_AUDIT_ACTION", "terminate")], Plan::Remediate(Remedy::Terminate))]
    #[case::isolate(
        &[("GUARD_AUDIT_ACTION", "isolate"), ("GUARD_QUARANTINE_SECURITY_GROUP_ID", QUARANTINE)],
        Plan::Remediate(Remedy::Isolate { security_group_id: QUARANTINE.into() })
    )]
    #[case::audit_mode_never_remediates(
        &[("GUARD_AUDIT_ACTION", "terminate"), ("GUARD_MODE", "audit")],
        Plan::Report(ReportOnly::AuditMode)
    )]
    #[case::audit_only_checks_never_remediate(
        &[("GUARD_AUDIT_ACTION", "terminate"), ("GUARD_AUDIT_ONLY_CHECKS", "imds.v2,membership.unmanaged")],
        Plan::Report(ReportOnly::NonBlocking)
    )]
    fn the_plan_follows_mode_action_and_blocking(
        #[case] extra: &[(&str, &str)],
        #[case] expected: Plan,
    ) {
        let policy = strict_policy(extra);
        let audit = audit(&policy, &unmanaged_with_imdsv1(), Membership::Unmanaged);
        assert_eq!(Plan::for_audit(&policy, &audit), expected);
    }

    #[test]
    fn one_blocking_check_among_reported_ones_is_enough_to_remediate() {
        let policy = strict_policy(&[
            ("GUARD_AUDIT_ACTION", "stop"),
            ("GUARD_AUDIT_ONLY_CHECKS", "imds.v2"),
        ]);
        let audit = audit(&policy, &unmanaged_with_imdsv1(), Membership::Unmanaged);
        assert_eq!(
            Plan::for_audit(&policy, &audit),
            Plan::Remediate(Remedy::Stop)
        );
    }

    #[rstest]
    #[case::vetted(Vetting::Vetted, Plan::Report(ReportOnly::Vetted))]
    #[case::undecided(Vetting::Undecided, Plan::Report(ReportOnly::Undecided))]
    #[case::unvetted(Vetting::Unvetted, Plan::Remediate(Remedy::Terminate))]
    fn drift_is_remediated_only_on_a_guarded_groups_instance_no_one_vetted(
        #[case] vetting: Vetting,
        #[case] expected: Plan,
    ) {
        let policy = strict_policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
        let mut node = compliant_node();
        node.image.as_mut().unwrap().creation_date = Some(days_ago(200));
        let audit = audit(&policy, &node, guarded("prod-general", vetting));
        assert_eq!(audit.checks(), vec![CheckName::ImageAge]);
        assert_eq!(Plan::for_audit(&policy, &audit), expected);
    }

    #[rstest]
    #[case::running_is_not_stopped(Remedy::Stop, "running", &["sg-0bbb0001"], false)]
    #[case::stopping(Remedy::Stop, "stopping", &["sg-0bbb0001"], true)]
    #[case::stopped(Remedy::Stop, "stopped", &["sg-0bbb0001"], true)]
    #[case::shutting_down(Remedy::Terminate, "shutting-down", &[], true)]
    #[case::pending_is_not_terminated(Remedy::Terminate, "pending", &[], false)]
    #[case::quarantine_only(Remedy::Isolate { security_group_id: QUARANTINE.into() }, "running", &[QUARANTINE], true)]
    #[case::quarantine_and_another(Remedy::Isolate { security_group_id: QUARANTINE.into() }, "running", &[QUARANTINE, "sg-0bbb0001"], false)]
    #[case::no_groups(Remedy::Isolate { security_group_id: QUARANTINE.into() }, "running", &[], false)]
    fn a_remedy_is_done_when_the_instance_shows_it(
        #[case] remedy: Remedy,
        #[case] state: &str,
        #[case] groups: &[&str],
        #[case] done: bool,
    ) {
        let mut instance = compliant_node().instance;
        instance.state = state.into();
        instance.security_group_ids = groups.iter().map(|g| (*g).to_owned()).collect();
        assert_eq!(remedy.is_done(&instance), done);
    }

    #[test]
    fn a_pending_instance_cannot_be_stopped_yet_but_can_be_terminated_or_isolated() {
        let mut instance = compliant_node().instance;
        instance.state = "pending".into();
        assert!(!Remedy::Stop.applies_now(&instance));
        assert!(Remedy::Terminate.applies_now(&instance));
        let isolate = Remedy::Isolate {
            security_group_id: QUARANTINE.into(),
        };
        assert!(isolate.applies_now(&instance));
        instance.state = "running".into();
        assert!(Remedy::Stop.applies_now(&instance));
    }

    #[test]
    fn isolation_tags_say_when_why_and_what_to_restore() {
        let policy = strict_policy(&[("GUARD_AUDIT_ONLY_CHECKS", "imds.v2")]);
        let node = unmanaged_with_imdsv1();
        let audit = audit(&policy, &node, Membership::Unmanaged);
        assert_eq!(
            isolation_tags(&audit, &node.instance, now()),
            vec![
                (
                    QUARANTINED_TAG.to_owned(),
                    "2026-09-21T14:13:20Z".to_owned()
                ),
                (
                    QUARANTINE_REASON_TAG.to_owned(),
                    "membership.unmanaged".to_owned()
                ),
                (PREVIOUS_GROUPS_TAG.to_owned(), "sg-0bbb0001".to_owned()),
            ]
        );
    }

    #[test]
    fn a_tag_value_keeps_whole_words_within_256_characters() {
        let groups: Vec<String> = (0..20).map(|n| format!("sg-{n:017x}")).collect();
        let words: Vec<&str> = groups.iter().map(String::as_str).collect();
        let value = tag_value(&words);
        assert!(value.len() <= 256, "{} characters", value.len());
        assert_eq!(value.split(' ').count(), 12);
        assert!(value.split(' ').all(|w| w.len() == 20));
        assert_eq!(tag_value(&[]), "none");
    }

    #[test]
    fn the_sweep_report_counts_per_check_and_lists_the_worst_first() {
        let policy = strict_policy(&[]);
        let mut report = SweepReport::default();
        let clean = compliant_node();
        report.add(
            &clean.instance,
            &audit(&policy, &clean, guarded("g", Vetting::Vetted)),
        );
        let mut imds = unmanaged_with_imdsv1();
        imds.instance.instance_id = "i-0000000000000000b".into();
        report.add(
            &imds.instance,
            &audit(
                &policy,
                &imds,
                Membership::Launcher("karpenter.sh/nodepool".into()),
            ),
        );
        let mut worse = unmanaged_with_imdsv1();
        worse.instance.instance_id = "i-0000000000000000c".into();
        report.add(
            &worse.instance,
            &audit(&policy, &worse, Membership::UnguardedGroup("legacy".into())),
        );
        report.add_unchecked(
            "i-0000000000000000d",
            "`DescribeImages` failed: boom".into(),
        );

        let report = report.finish();

        assert_eq!(report.instances, 4);
        assert_eq!(report.non_compliant, 2);
        assert_eq!(
            report.counts,
            BTreeMap::from([
                (CheckName::ImdsV2, 2),
                (CheckName::MembershipUnguardedGroup, 1)
            ])
        );
        let worst: Vec<String> = report.worst.iter().map(ToString::to_string).collect();
        assert_eq!(
            worst,
            vec![
                "i-0000000000000000c (legacy): imds.v2, membership.unguarded_group",
                "i-0000000000000000b: imds.v2",
            ]
        );
        assert_eq!(
            report.headline(),
            "sweep: 2 of 4 instances non-compliant, 1 unchecked"
        );
    }

    #[test]
    fn the_worst_list_is_bounded() {
        let policy = strict_policy(&[]);
        let mut report = SweepReport::default();
        for n in 0..(WORST_LISTED + 5) {
            let mut node = unmanaged_with_imdsv1();
            node.instance.instance_id = format!("i-{n:017x}");
            report.add(
                &node.instance,
                &audit(&policy, &node, Membership::Unmanaged),
            );
        }
        let report = report.finish();
        assert_eq!(report.worst.len(), WORST_LISTED);
        assert_eq!(report.non_compliant, WORST_LISTED + 5);
        assert_eq!(report.worst[0].instance_id, "i-00000000000000000");
    }

    #[test]
    fn the_worst_list_stays_bounded_while_a_large_sweep_adds_and_keeps_the_worst_of_all() {
        let policy = strict_policy(&[]);
        let mut report = SweepReport::default();
        let mut twice: Vec<String> = Vec::new();
        for n in 0..1_000_u32 {
            let mut node = unmanaged_with_imdsv1();
            node.instance.instance_id = format!("i-{:017x}", 999 - n);
            let membership = if n % 7 == 0 {
                twice.push(node.instance.instance_id.clone());
                Membership::UnguardedGroup("legacy".into())
            } else {
                Membership::Launcher("karpenter.sh/nodepool".into())
            };
            report.add(&node.instance, &audit(&policy, &node, membership));
            assert!(
                report.worst.len() < 4 * WORST_LISTED,
                "bounded while adding"
            );
        }
        let report = report.finish();
        twice.sort();
        let worst: Vec<&str> = report
            .worst
            .iter()
            .map(|l| l.instance_id.as_str())
            .collect();
        assert_eq!(
            worst,
            twice[..WORST_LISTED]
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        assert_eq!(report.non_compliant, 1_000);
    }

    fn recorded(id: &str, key: &str, ago: u64) -> InstanceFacts {
        let mut instance = compliant_node().instance;
        instance.instance_id = id.into();
        instance.state = "terminated".into();
        instance.tags.insert(CLUSTER_TAG.into(), "owned".into());
        instance
            .tags
            .insert(key.into(), format_rfc3339(now() - Duration::from_secs(ago)));
        instance
    }

    #[test]
    fn the_window_counts_the_clusters_records_of_the_last_hour() {
        let policy = strict_policy(&[("GUARD_MAX_REMEDIATIONS_PER_HOUR", "3")]);
        let mut other_cluster = recorded("i-5", REMEDIATED_TAG, 60);
        other_cluster.tags.remove(CLUSTER_TAG);
        let mut not_a_time = recorded("i-6", REMEDIATED_TAG, 60);
        not_a_time.tags.insert(REMEDIATED_TAG.into(), "soon".into());
        let instances = [
            recorded("i-1", REMEDIATED_TAG, 60),
            recorded("i-2", REMEDIATED_TAG, 3599),
            recorded("i-3", REMEDIATED_TAG, 3600),
            recorded("i-4", REMEDIATION_HELD_TAG, 120),
            other_cluster,
            not_a_time,
        ];

        let mut window = RemediationWindow::count(&policy, &instances, now());

        assert_eq!(window.remediated, 2);
        assert!(!window.is_full());
        assert_eq!(
            window.hold(now()),
            ("2026-09-21T14:11:20Z".to_owned(), false),
            "alerted two minutes ago: carried forward, not alerted again"
        );
        window.add();
        assert!(window.is_full());
    }

    #[test]
    fn the_first_hold_in_a_window_alerts() {
        let policy = strict_policy(&[]);
        let window = RemediationWindow::count(
            &policy,
            &[recorded("i-1", REMEDIATION_HELD_TAG, 3601)],
            now(),
        );
        assert_eq!(window.cap, 20);
        assert_eq!(
            window.hold(now()),
            ("2026-09-21T14:13:20Z".to_owned(), true)
        );
    }

    #[test]
    fn a_clean_sweep_says_so() {
        let report = SweepReport {
            instances: 120,
            ..SweepReport::default()
        };
        assert_eq!(report.headline(), "sweep: all 120 instances compliant");
    }
}
