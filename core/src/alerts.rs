//! The alert contract (SPEC §8): one SNS `Publish` per alert with a readable
//! subject, a versioned JSON `default` body, a plain-text `email` body, and
//! message attributes for subscription filter policies.

mod budget;
pub mod chatbot;
mod handover;
pub mod managed_node_group;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

use crate::decision::Finding;
use crate::lifecycle::Origin;
use crate::policy::{Mode, Policy};
use crate::time::format_rfc3339;

pub use budget::{Suspended, WHILE_SUSPENDED, add_usage, scale_out_suspended};
pub use handover::{HandOver, audit_handover};

/// Version of the JSON body; bumped on incompatible changes.
pub const ALERT_VERSION: u32 = 1;
const SUBJECT_MAX: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    LaunchDenied,
    LaunchViolationReported,
    ScaleOutSuspended,
    ScaleOutResumed,
    InstanceNonCompliant,
    InstanceRemediated,
    GroupEnrolled,
    SweepSummary,
    GuardError,
    /// The policy is invalid: the function decides nothing until it is fixed.
    GuardMisconfigured,
    /// instance-audit held remediations back: the cluster reached
    /// `GUARD_MAX_REMEDIATIONS_PER_HOUR` (at most one alert an hour).
    RemediationCapped,
    /// A guard switched from enforce to audit lifted its suspensions and
    /// clamps and made its hooks continue by default (the off switch).
    AuditHandover,
    /// An instance waited on the guard's launch hook for more than half the
    /// hook's heartbeat: launch-guard is not answering (critical, once per
    /// instance).
    HookUnanswered,
    /// instance-audit held the remediations of one launcher pool (a
    /// Karpenter NodePool) past `GUARD_MAX_REMEDIATIONS_PER_POOL`:
    /// the launcher relaunches what the guard removes (critical, at most
    /// once an hour per pool).
    LauncherLoop,
    /// A launch let in with no violation. Never an SNS alert: only the
    /// document of its decision event ([`crate::events`]), so that every
    /// launch decision reaches the event bus.
    LaunchAllowed,
    /// An exception of `GUARD_CHECK_EXCEPTIONS` passed its `until=`: its
    /// check applies to its groups again (warning, once per exception and
    /// group, recorded on the group by budget-guard).
    ExceptionExpired,
}

impl AlertKind {
    /// Every kind, for what must cover each one (the event and chat schemas'
    /// tests). `every_kind_is_listed_once` keeps it whole.
    pub const ALL: [AlertKind; 16] = [
        AlertKind::LaunchDenied,
        AlertKind::LaunchViolationReported,
        AlertKind::LaunchAllowed,
        AlertKind::ScaleOutSuspended,
        AlertKind::ScaleOutResumed,
        AlertKind::InstanceNonCompliant,
        AlertKind::InstanceRemediated,
        AlertKind::GroupEnrolled,
        AlertKind::SweepSummary,
        AlertKind::GuardError,
        AlertKind::GuardMisconfigured,
        AlertKind::RemediationCapped,
        AlertKind::AuditHandover,
        AlertKind::HookUnanswered,
        AlertKind::LauncherLoop,
        AlertKind::ExceptionExpired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::LaunchDenied => "launch_denied",
            AlertKind::LaunchViolationReported => "launch_violation_reported",
            AlertKind::ScaleOutSuspended => "scale_out_suspended",
            AlertKind::ScaleOutResumed => "scale_out_resumed",
            AlertKind::InstanceNonCompliant => "instance_non_compliant",
            AlertKind::InstanceRemediated => "instance_remediated",
            AlertKind::GroupEnrolled => "group_enrolled",
            AlertKind::SweepSummary => "sweep_summary",
            AlertKind::GuardError => "guard_error",
            AlertKind::GuardMisconfigured => "guard_misconfigured",
            AlertKind::RemediationCapped => "remediation_capped",
            AlertKind::AuditHandover => "audit_handover",
            AlertKind::HookUnanswered => "hook_unanswered",
            AlertKind::LauncherLoop => "launcher_loop",
            AlertKind::LaunchAllowed => "launch_allowed",
            AlertKind::ExceptionExpired => "exception_expired",
        }
    }
}

/// For filter policies: page on `critical`, ticket on `warning`, log `info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One alert. Build it with [`Alert::new`], then fill the optional parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub version: u32,
    pub kind: AlertKind,
    pub cluster: String,
    pub severity: Severity,
    /// `CONTINUE`, `ABANDON`, `suspend`, `isolate`, … or `none`.
    pub decision: String,
    pub instance_id: Option<String>,
    pub group: Option<String>,
    pub violations: Vec<Finding>,
    pub mode: Mode,
    pub time: String,
    pub account: Option<String>,
    pub region: Option<String>,
    /// What happened, in a few words: goes into the subject.
    pub headline: String,
    /// Why, and what to do: goes into the e-mail.
    pub advice: String,
    /// Figures that belong to the kind (usage, budget, counts).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, Value>,
}

impl Alert {
    pub fn new(
        kind: AlertKind,
        severity: Severity,
        policy: &Policy,
        now: SystemTime,
        headline: impl Into<String>,
    ) -> Self {
        Self {
            version: ALERT_VERSION,
            kind,
            cluster: policy.cluster.clone(),
            severity,
            decision: "none".to_owned(),
            instance_id: None,
            group: None,
            violations: Vec::new(),
            mode: policy.mode,
            time: format_rfc3339(now),
            account: None,
            region: None,
            headline: headline.into(),
            advice: String::new(),
            details: BTreeMap::new(),
        }
    }

    /// Names the account and region the alert's event came from, as far as
    /// the event says: the operator of many accounts sees where to look.
    pub fn came_from(&mut self, origin: &Origin) {
        self.account = origin.account.clone();
        self.region = origin.region.clone();
    }

    /// `[scaling-guard] prod: launch of i-0abc denied (instance_type.allowed)`:
    /// plain ASCII, one line, at most 100 characters.
    pub fn subject(&self) -> String {
        let raw = format!("[scaling-guard] {}: {}", self.cluster, self.headline);
        let clean: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    ' '
                }
            })
            .collect();
        if clean.len() <= SUBJECT_MAX {
            return clean;
        }
        let cut: String = clean.chars().take(SUBJECT_MAX - 3).collect();
        format!("{}...", cut.trim_end())
    }

    /// The versioned JSON document of the `default` body.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Plain text for e-mail subscribers: what happened, why, what to do.
    pub fn email(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "{}", self.subject());
        let _ = writeln!(text);
        let _ = writeln!(text, "What happened: {}.", self.headline);
        let _ = writeln!(text, "Cluster:       {}", self.cluster);
        if let Some(group) = &self.group {
            let _ = writeln!(text, "Group:         {group}");
        }
        if let Some(instance) = &self.instance_id {
            let _ = writeln!(text, "Instance:      {instance}");
        }
        let _ = writeln!(text, "Decision:      {}", self.decision);
        let _ = writeln!(text, "Mode:          {}", self.mode);
        let _ = writeln!(text, "Time:          {}", self.time);
        if let (Some(account), Some(region)) = (&self.account, &self.region) {
            let _ = writeln!(text, "Account:       {account} ({region})");
        }
        for (key, value) in &self.details {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = writeln!(text, "{:<14} {value}", format!("{key}:"));
        }
        if !self.violations.is_empty() {
            let _ = writeln!(text);
            let _ = writeln!(text, "Why:");
            for finding in &self.violations {
                let v = &finding.violation;
                let effect = if finding.blocking {
                    "blocking"
                } else {
                    "reported only"
                };
                let _ = writeln!(text, "  - [{}] {} ({effect})", v.check, v.message);
                let _ = writeln!(text, "      expected: {}", v.expected);
                let _ = writeln!(text, "      actual:   {}", v.actual);
            }
        }
        if !self.advice.is_empty() {
            let _ = writeln!(text);
            let _ = writeln!(text, "What to do: {}", self.advice);
        }
        text
    }

    /// The `Message` of a `MessageStructure: json` publish.
    pub fn sns_message(&self) -> String {
        serde_json::json!({ "default": self.json(), "email": self.email() }).to_string()
    }

    /// `MessageAttributes` for subscription filter policies.
    pub fn attributes(&self) -> [(&'static str, String); 4] {
        [
            ("cluster", self.cluster.clone()),
            ("kind", self.kind.as_str().to_owned()),
            ("severity", self.severity.as_str().to_owned()),
            ("decision", self.decision.clone()),
        ]
    }
}

/// The one alert of a function whose policy is invalid. There is no policy to
/// take the cluster and mode from, so they are the raw variables' values.
pub fn misconfigured_alert(
    function: &str,
    cluster: &str,
    mode: Mode,
    problems: &[String],
    now: SystemTime,
) -> Alert {
    let cluster = if cluster.trim().is_empty() {
        "unknown"
    } else {
        cluster.trim()
    };
    let mut alert = Alert {
        version: ALERT_VERSION,
        kind: AlertKind::GuardMisconfigured,
        cluster: cluster.to_owned(),
        severity: Severity::Critical,
        decision: "none".to_owned(),
        instance_id: None,
        group: None,
        violations: Vec::new(),
        mode,
        time: format_rfc3339(now),
        account: None,
        region: None,
        headline: format!("{function} rejects its policy and decides nothing"),
        advice: format!(
            "fix the policy ({}) and redeploy. Until then every invocation of {function} fails: launches wait for \
             the hook's heartbeat and get its DefaultResult, and events go to the dead-letter queue.",
            problems.join("; ")
        ),
        details: BTreeMap::new(),
    };
    alert
        .details
        .insert("function".to_owned(), Value::from(function));
    alert
        .details
        .insert("problems".to_owned(), Value::from(problems.to_vec()));
    alert
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{CheckName, Violation};
    use crate::fixtures::{at, now, strict_policy};

    fn denied() -> Alert {
        let mut alert = Alert::new(
            AlertKind::LaunchDenied,
            Severity::Warning,
            &strict_policy(&[]),
            now(),
            "launch of i-0abc denied (instance_type.allowed)",
        );
        alert.decision = "ABANDON".into();
        alert.instance_id = Some("i-0abc".into());
        alert.group = Some("prod-general".into());
        alert.violations = vec![Finding {
            violation: Violation::new(
                CheckName::InstanceTypeAllowed,
                "i-0abc",
                "matching m6i.*",
                "p5.48xlarge",
                "instance type `p5.48xlarge` matches none of the allowed patterns `m6i.*`",
            ),
            blocking: true,
        }];
        alert.advice = "fix the launch template".into();
        alert
    }

    /// A kind's place in [`AlertKind::ALL`]: a new kind does not compile
    /// here until it is given the next place, and the test below fails
    /// until `ALL` lists it there.
    fn place(kind: AlertKind) -> usize {
        match kind {
            AlertKind::LaunchDenied => 0,
            AlertKind::LaunchViolationReported => 1,
            AlertKind::LaunchAllowed => 2,
            AlertKind::ScaleOutSuspended => 3,
            AlertKind::ScaleOutResumed => 4,
            AlertKind::InstanceNonCompliant => 5,
            AlertKind::InstanceRemediated => 6,
            AlertKind::GroupEnrolled => 7,
            AlertKind::SweepSummary => 8,
            AlertKind::GuardError => 9,
            AlertKind::GuardMisconfigured => 10,
            AlertKind::RemediationCapped => 11,
            AlertKind::AuditHandover => 12,
            AlertKind::HookUnanswered => 13,
            AlertKind::LauncherLoop => 14,
            AlertKind::ExceptionExpired => 15,
        }
    }

    #[test]
    fn every_kind_is_listed_once() {
        for (at, kind) in AlertKind::ALL.iter().enumerate() {
            assert_eq!(place(*kind), at, "{kind:?}");
        }
        let names: std::collections::BTreeSet<&str> =
            AlertKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), AlertKind::ALL.len());
    }

    #[test]
    fn subject_reads_like_the_spec_example() {
        assert_eq!(
            denied().subject(),
            "[scaling-guard] prod: launch of i-0abc denied (instance_type.allowed)"
        );
    }

    #[test]
    fn subject_is_ascii_one_line_and_at_most_100_characters() {
        let mut alert = denied();
        alert.headline = format!("naïve\nheadline {}", "x".repeat(200));
        let subject = alert.subject();
        assert!(subject.len() <= 100, "{} chars", subject.len());
        assert!(subject.is_ascii());
        assert!(!subject.contains('\n'));
        assert!(subject.ends_with("..."));
    }

    #[test]
    fn json_body_is_versioned_and_carries_the_spec_fields() {
        let body: Value = serde_json::from_str(&denied().json()).unwrap();
        for key in [
            "version",
            "kind",
            "cluster",
            "severity",
            "decision",
            "instance_id",
            "group",
            "violations",
            "mode",
            "time",
            "account",
            "region",
        ] {
            assert!(body.get(key).is_some(), "missing `{key}` in {body}");
        }
        assert_eq!(*at(&body, "version"), 1);
        assert_eq!(*at(&body, "kind"), "launch_denied");
        assert_eq!(*at(&body, "violations/0/check"), "instance_type.allowed");
        assert_eq!(*at(&body, "violations/0/blocking"), true);
        assert_eq!(*at(&body, "time"), "2026-09-21T14:13:20Z");
    }

    #[test]
    fn email_says_what_why_and_what_to_do() {
        let email = denied().email();
        assert!(
            email.contains("What happened: launch of i-0abc denied"),
            "{email}"
        );
        assert!(
            email.contains("[instance_type.allowed] instance type `p5.48xlarge`"),
            "{email}"
        );
        assert!(
            email.contains("What to do: fix the launch template"),
            "{email}"
        );
    }

    #[test]
    fn sns_message_has_default_and_email_bodies() {
        let message: Value = serde_json::from_str(&denied().sns_message()).unwrap();
        let default: Value = serde_json::from_str(message["default"].as_str().unwrap()).unwrap();
        assert_eq!(*at(&default, "kind"), "launch_denied");
        assert!(
            at(&message, "email")
                .as_str()
                .unwrap()
                .starts_with("[scaling-guard] prod")
        );
    }

    #[test]
    fn attributes_name_cluster_kind_severity_decision() {
        assert_eq!(
            denied().attributes(),
            [
                ("cluster", "prod".to_owned()),
                ("kind", "launch_denied".to_owned()),
                ("severity", "warning".to_owned()),
                ("decision", "ABANDON".to_owned()),
            ]
        );
    }
}
