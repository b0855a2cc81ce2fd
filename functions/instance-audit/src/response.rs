//! What an invocation returns (and logs): an instance event's summary, the
//! sweep's report, or a batch's failures. The runtime serialises it; a value
//! that cannot be serialised fails the invocation instead of answering
//! `null`.

use aws_lambda_events::sqs::SqsBatchResponse;
use serde::Serialize;
use shared::audit::{InstanceAudit, SweepReport};
use shared::checks::Violation;
use shared::decision::Finding;
use shared::policy::Mode;

use crate::event::Trigger;

/// The answer to one invocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// A state change or a launch.
    Instance(Summary),
    /// The schedule.
    Sweep(SweepSummary),
    /// An SQS batch: the messages to return to the queue
    /// (`batchItemFailures`); each message's summary is logged.
    Batch(SqsBatchResponse),
}

/// What happened to one instance event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Not the cluster's, not found, or not pending/running.
    Ignored,
    Compliant,
    /// Launch-guard decided it at launch: its group carries the hook and it
    /// carries launch-guard's record.
    Vetted,
    /// Non-compliant, alerted, nothing changed.
    Reported,
    /// Left to a later event (see the handler's documentation).
    Deferred,
    Remediated,
    /// An earlier event or sweep already remediated it: nothing to do.
    AlreadyRemediated,
    /// Held back by `GUARD_MAX_REMEDIATIONS_PER_HOUR`: a later sweep tries
    /// again when the hour's count allows.
    Capped,
    /// The remediation failed: alerted; the next sweep tries again.
    RemediationFailed,
    /// The instance is terminated: its active Security Hub findings are
    /// archived (`GUARD_SECURITY_HUB`), nothing else is done.
    Terminated,
}

/// The JSON summary an instance event returns (and logs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub trigger: &'static str,
    pub outcome: Outcome,
    pub instance_id: String,
    pub group: Option<String>,
    /// The remediation made, planned or found done.
    pub action: Option<&'static str>,
    pub violations: Vec<Finding>,
    /// Violations the policy exempts for the instance's group: listed,
    /// never remediated or alerted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exempted: Vec<Violation>,
    pub mode: Mode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Summary {
    /// The outcome for `instance_id`, without group, findings or reason yet.
    pub(crate) fn new(trigger: &Trigger, instance_id: &str, mode: Mode, outcome: Outcome) -> Self {
        Self {
            trigger: trigger.as_str(),
            outcome,
            instance_id: instance_id.to_owned(),
            group: None,
            action: None,
            violations: Vec::new(),
            exempted: Vec::new(),
            mode,
            reason: None,
        }
    }

    /// The audit's group and findings.
    pub(crate) fn with_audit(mut self, audit: &InstanceAudit) -> Self {
        self.group = audit.membership.group().map(str::to_owned);
        self.violations = audit.findings.clone();
        self.exempted = audit.exempted.clone();
        self
    }

    pub(crate) fn in_group(mut self, group: &str) -> Self {
        self.group = Some(group.to_owned());
        self
    }

    /// The remediation made, planned or found done.
    pub(crate) fn with_action(mut self, action: &'static str) -> Self {
        self.action = Some(action);
        self
    }

    pub(crate) fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// The JSON summary the sweep returns: its report, the trigger and the mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepSummary {
    /// Always `sweep`.
    pub trigger: &'static str,
    pub mode: Mode,
    #[serde(flatten)]
    pub report: SweepReport,
    /// What the sweep did to the cluster's Security Hub findings
    /// (`GUARD_SECURITY_HUB`; absent when off or when they could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<FindingsReport>,
}

/// The sweep's Security Hub findings: how many it created, updated,
/// refreshed, left unchanged and archived, and how the import went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FindingsReport {
    pub created: usize,
    pub updated: usize,
    pub refreshed: usize,
    pub unchanged: usize,
    pub archived: usize,
    /// Findings Security Hub refused or that could not be sent.
    pub failed: usize,
    /// `BatchImportFindings` calls.
    pub calls: usize,
}

impl SweepSummary {
    pub(crate) fn new(mode: Mode, report: SweepReport) -> Self {
        Self {
            trigger: Trigger::Sweep.as_str(),
            mode,
            report,
            security_hub: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use serde_json::json;
    use shared::checks::membership::Membership;

    use super::*;
    use shared::fixtures::at;

    #[test]
    fn an_instance_summary_serialises_as_the_summary_itself() {
        let audit = InstanceAudit {
            membership: Membership::UnguardedGroup("prod-legacy".into()),
            findings: Vec::new(),
            exempted: Vec::new(),
        };
        let trigger = Trigger::LaunchSuccessful {
            instance_id: "i-0e1f2a3b4c5d60718".into(),
            group: "prod-legacy".into(),
            warm_pool: false,
        };
        let summary = Summary::new(
            &trigger,
            "i-0e1f2a3b4c5d60718",
            Mode::Enforce,
            Outcome::Remediated,
        )
        .with_audit(&audit)
        .with_action("terminate");

        let value = serde_json::to_value(Response::Instance(summary)).unwrap();

        assert_eq!(
            value,
            json!({
                "trigger": "launch_successful",
                "outcome": "remediated",
                "instance_id": "i-0e1f2a3b4c5d60718",
                "group": "prod-legacy",
                "action": "terminate",
                "violations": [],
                "mode": "enforce",
            })
        );
    }

    #[test]
    fn the_sweep_summary_is_the_report_with_trigger_and_mode() {
        let report = SweepReport {
            instances: 3,
            ..SweepReport::default()
        };

        let value =
            serde_json::to_value(Response::Sweep(SweepSummary::new(Mode::Audit, report))).unwrap();

        assert_eq!(*at(&value, "trigger"), "sweep");
        assert_eq!(*at(&value, "mode"), "audit");
        assert_eq!(*at(&value, "instances"), 3);
        assert_eq!(*at(&value, "remediated"), json!([]));
    }
}
