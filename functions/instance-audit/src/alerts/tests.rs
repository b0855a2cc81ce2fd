//! Each builder from plain values: no ports, no runtime.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use rstest::rstest;
use shared::audit::{Listed, Remediation, Unchecked};
use shared::checks::CheckName;
use shared::checks::Violation;
use shared::decision::Finding;
use shared::fixtures::{ALERT_TOPIC, CLUSTER, NOW_RFC3339, SECURITY_GROUP, SUBNET, now};

use super::*;

const ID: &str = "i-0d1e2f3a4b5c60789";
const QUARANTINE: &str = "sg-0eee0001";

fn policy() -> Policy {
    let base = [
        ("GUARD_CLUSTER", CLUSTER),
        ("GUARD_ALERT_TOPIC_ARN", ALERT_TOPIC),
        ("GUARD_ALLOWED_AMI_OWNERS", "amazon"),
        ("GUARD_ALLOWED_SUBNET_IDS", SUBNET),
        ("GUARD_ALLOWED_SECURITY_GROUP_IDS", SECURITY_GROUP),
        ("GUARD_QUARANTINE_SECURITY_GROUP_ID", QUARANTINE),
    ];
    shared::fakes::test_policy(&base, &[]).unwrap()
}

fn origin() -> Origin {
    Origin {
        account: Some("123456789012".into()),
        region: Some("eu-west-1".into()),
    }
}

fn running() -> Trigger {
    Trigger::StateChange {
        instance_id: ID.into(),
        state: "running".into(),
    }
}

fn instance() -> InstanceFacts {
    InstanceFacts {
        instance_id: ID.into(),
        state: "running".into(),
        security_group_ids: vec!["sg-0bbb0001".into()],
        ..InstanceFacts::default()
    }
}

/// An instance with IMDSv1 on, come in as `membership` says.
fn audit(membership: Membership) -> InstanceAudit {
    let violation = Violation::new(
        CheckName::ImdsV2,
        ID,
        "required",
        "optional",
        "the instance allows IMDSv1",
    );
    InstanceAudit {
        membership,
        findings: vec![Finding {
            violation,
            blocking: true,
        }],
        exempted: Vec::new(),
    }
}

/// Builds the alert `build` makes about the instance, audited as `audit`.
fn about<T>(audit: &InstanceAudit, build: impl FnOnce(&AuditedInstance) -> T) -> T {
    let (policy, trigger, origin, instance) = (policy(), running(), origin(), instance());
    build(&AuditedInstance {
        policy: &policy,
        now: now(),
        trigger: &trigger,
        origin: &origin,
        instance: &instance,
        audit,
    })
}

#[test]
fn a_reported_instance_alert_names_the_instance_the_event_and_why_nothing_changed() {
    let audit = audit(Membership::Unmanaged);

    let alert = about(&audit, |about| {
        non_compliant(about, ReportOnly::AlertAction)
    });

    assert_eq!(alert.kind, AlertKind::InstanceNonCompliant);
    assert_eq!(alert.severity, Severity::Warning);
    assert_eq!(alert.decision, "alert");
    assert_eq!(
        alert.headline,
        format!("instance {ID} non-compliant (imds.v2)")
    );
    assert_eq!(alert.instance_id.as_deref(), Some(ID));
    assert_eq!(alert.group, None);
    assert_eq!(alert.violations, audit.findings);
    assert_eq!(alert.cluster, "prod");
    assert_eq!(alert.time, NOW_RFC3339);
    assert_eq!(alert.account.as_deref(), Some("123456789012"));
    assert_eq!(alert.region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        alert.details,
        BTreeMap::from([
            ("membership".to_owned(), json!("unmanaged")),
            ("state".to_owned(), json!("running")),
            ("trigger".to_owned(), json!("state_change")),
        ])
    );
    assert!(
        alert.advice.starts_with(
            "The instance joined the cluster outside any Auto Scaling group: find who launched it (CloudTrail `RunInstances`)"
        ),
        "{}",
        alert.advice
    );
    assert!(
        alert
            .advice
            .ends_with(" Nothing was changed: GUARD_AUDIT_ACTION is `alert`."),
        "{}",
        alert.advice
    );
}

#[rstest]
#[case::unmanaged(Membership::Unmanaged, "CloudTrail `RunInstances`")]
#[case::unguarded_group(Membership::UnguardedGroup("prod-legacy".into()), "Group `prod-legacy` launches nodes without the guard's launch hook")]
#[case::launcher(Membership::Launcher("karpenter.sh/nodepool".into()), "A launcher (tag `karpenter.sh/nodepool`) started a non-compliant node")]
#[case::unvetted(Membership::GuardedGroup { group: "prod-general".into(), vetting: Vetting::Unvetted }, UNVETTED_REASON)]
#[case::vetted(Membership::GuardedGroup { group: "prod-general".into(), vetting: Vetting::Vetted }, "Fix the launch template of group `prod-general` and roll the group.")]
fn the_advice_says_what_to_fix_for_how_the_instance_came_in(
    #[case] membership: Membership,
    #[case] fix: &str,
) {
    let audit = audit(membership);

    let alert = about(&audit, |about| non_compliant(about, ReportOnly::AuditMode));

    assert!(alert.advice.contains(fix), "{}", alert.advice);
    assert_eq!(alert.group.as_deref(), audit.membership.group());
}

#[test]
fn an_isolation_alert_names_the_quarantine_group_and_the_groups_it_replaced() {
    let audit = audit(Membership::Unmanaged);
    let isolate = Remedy::Isolate {
        security_group_id: QUARANTINE.into(),
    };

    let alert = about(&audit, |about| remediated(about, &isolate));

    assert_eq!(alert.kind, AlertKind::InstanceRemediated);
    assert_eq!(alert.severity, Severity::Critical);
    assert_eq!(alert.decision, "isolate");
    assert_eq!(alert.headline, format!("instance {ID} isolated (imds.v2)"));
    assert_eq!(alert.details["quarantine_security_group"], QUARANTINE);
    assert_eq!(
        alert.details["previous_security_groups"],
        json!(["sg-0bbb0001"])
    );
    assert!(
        alert.advice.starts_with(&format!(
            "Every security group of the instance was replaced with `{QUARANTINE}`; the former groups are in its tag `{PREVIOUS_GROUPS_TAG}`."
        )),
        "{}",
        alert.advice
    );
}

#[rstest]
#[case::stop(
    Remedy::Stop,
    "stopped",
    "The instance was stopped; its volumes are kept for investigation."
)]
#[case::terminate(Remedy::Terminate, "terminated", "The instance is being terminated.")]
fn a_stop_or_terminate_alert_says_what_became_of_the_instance(
    #[case] remedy: Remedy,
    #[case] past: &str,
    #[case] done: &str,
) {
    let audit = audit(Membership::UnguardedGroup("prod-legacy".into()));

    let alert = about(&audit, |about| remediated(about, &remedy));

    assert_eq!(alert.decision, remedy.as_str());
    assert_eq!(alert.headline, format!("instance {ID} {past} (imds.v2)"));
    assert_eq!(alert.group.as_deref(), Some("prod-legacy"));
    assert!(alert.advice.starts_with(done), "{}", alert.advice);
    assert!(
        alert.advice.contains("GUARD_ENROLL_GROUPS"),
        "{}",
        alert.advice
    );
    assert!(!alert.details.contains_key("quarantine_security_group"));
}

#[test]
fn a_failed_remediation_alert_gives_the_aws_error_and_the_permission_to_check() {
    let audit = audit(Membership::Unmanaged);
    let err = AwsError::new(
        "TerminateInstances",
        Some("UnauthorizedOperation"),
        "denied",
    );

    let alert = about(&audit, |about| {
        remediation_failed(about, &Remedy::Terminate, &err)
    });

    assert_eq!(alert.kind, AlertKind::GuardError);
    assert_eq!(alert.severity, Severity::Critical);
    assert_eq!(alert.decision, "terminate");
    assert_eq!(
        alert.headline,
        format!("terminate of non-compliant instance {ID} failed")
    );
    assert!(
        alert.advice.starts_with(
            "`TerminateInstances` failed: denied. The instance stays non-compliant and the next sweep tries again."
        ),
        "{}",
        alert.advice
    );
    assert!(
        alert
            .advice
            .contains("cluster tag `kubernetes.io/cluster/prod`"),
        "{}",
        alert.advice
    );
}

#[test]
fn a_capped_alert_gives_the_hours_count_the_cap_and_the_action_held() {
    let audit = audit(Membership::Unmanaged);
    let window = RemediationWindow {
        remediated: 20,
        cap: 20,
        alerted: None,
    };

    let alert = about(&audit, |about| {
        remediation_capped(about, &Remedy::Stop, &window)
    });

    assert_eq!(alert.kind, AlertKind::RemediationCapped);
    assert_eq!(alert.severity, Severity::Critical);
    assert_eq!(alert.decision, "none");
    assert_eq!(
        alert.headline,
        format!("remediation capped: 20 instances in the last hour, stop of {ID} held")
    );
    assert_eq!(alert.details["remediated_last_hour"], 20);
    assert_eq!(alert.details["max_remediations_per_hour"], 20);
    assert_eq!(alert.details["held_action"], "stop");
    assert!(
        alert.advice.contains(&format!(
            "GUARD_MAX_REMEDIATIONS_PER_HOUR (20), so it left instance {ID} (imds.v2) as it is"
        )),
        "{}",
        alert.advice
    );
    assert!(
        alert.advice.contains(REMEDIATION_HELD_TAG),
        "{}",
        alert.advice
    );
}

// ---------------------------------------------------------------------------
// The sweep summary
// ---------------------------------------------------------------------------

fn unmanaged(instance_id: &str) -> Listed {
    Listed {
        instance_id: instance_id.into(),
        group: None,
        checks: vec![CheckName::ImdsV2, CheckName::MembershipUnmanaged],
        blocking: 2,
    }
}

fn remediation(instance_id: &str, error: Option<&str>) -> Remediation {
    Remediation {
        instance_id: instance_id.into(),
        action: "stop",
        error: error.map(str::to_owned),
    }
}

#[test]
fn a_clean_sweep_is_information_with_nothing_to_do() {
    let report = SweepReport {
        instances: 3,
        ..SweepReport::default()
    };

    let alert = sweep_summary(&policy(), now(), &origin(), &report);

    assert_eq!(alert.kind, AlertKind::SweepSummary);
    assert_eq!(alert.severity, Severity::Info);
    assert_eq!(alert.headline, "sweep: all 3 instances compliant");
    assert_eq!(alert.advice, "nothing to do.");
    assert_eq!(alert.account.as_deref(), Some("123456789012"));
    assert_eq!(alert.instance_id, None);
    assert_eq!(alert.details["instances"], 3);
    assert_eq!(alert.details["worst"], json!([]));
}

#[test]
fn a_sweep_with_findings_lists_them_and_what_was_done_one_line_each() {
    let report = SweepReport {
        instances: 5,
        non_compliant: 2,
        counts: BTreeMap::from([(CheckName::ImdsV2, 2), (CheckName::MembershipUnmanaged, 2)]),
        worst: vec![
            unmanaged("i-00000000000000001"),
            unmanaged("i-00000000000000002"),
        ],
        remediated: vec![remediation("i-00000000000000001", None)],
        already_remediated: 1,
        deferred: 1,
        ..SweepReport::default()
    };

    let alert = sweep_summary(&policy(), now(), &origin(), &report);

    assert_eq!(alert.severity, Severity::Warning);
    assert_eq!(
        alert.details["worst"][0],
        "i-00000000000000001: imds.v2, membership.unmanaged"
    );
    assert_eq!(
        alert.details["remediated"],
        json!(["i-00000000000000001 stop"])
    );
    assert_eq!(
        alert.details["counts"],
        json!({"imds.v2": 2, "membership.unmanaged": 2})
    );
    assert_eq!(
        (
            &alert.details["already_remediated"],
            &alert.details["deferred"],
            &alert.details["capped"]
        ),
        (&json!(1), &json!(1), &json!(0))
    );
    assert!(
        alert
            .advice
            .contains("at most 20 per sweep and 20 an hour with the events' (GUARD_MAX_REMEDIATIONS_PER_HOUR)."),
        "{}",
        alert.advice
    );
    assert!(!alert.advice.contains("`capped`"), "{}", alert.advice);
    assert!(!alert.advice.contains("`unchecked`"), "{}", alert.advice);
}

#[test]
fn a_failed_remediation_makes_the_sweep_critical_and_is_listed_with_its_error() {
    let report = SweepReport {
        instances: 1,
        non_compliant: 1,
        failed: vec![remediation(
            "i-00000000000000001",
            Some("`StopInstances` failed: throttled"),
        )],
        ..SweepReport::default()
    };

    let alert = sweep_summary(&policy(), now(), &origin(), &report);

    assert_eq!(alert.severity, Severity::Critical);
    assert_eq!(
        alert.details["remediation_failed"],
        json!(["i-00000000000000001 stop: `StopInstances` failed: throttled"])
    );
}

#[test]
fn held_and_unchecked_instances_each_add_their_advice() {
    let unchecked = (0..12)
        .map(|n| Unchecked {
            instance_id: format!("i-{n:017x}"),
            reason: "`DescribeImages` failed: throttled".into(),
        })
        .collect();
    let report = SweepReport {
        instances: 15,
        non_compliant: 3,
        capped: 3,
        unchecked,
        ..SweepReport::default()
    };

    let alert = sweep_summary(&policy(), now(), &origin(), &report);

    assert_eq!(alert.severity, Severity::Warning);
    assert!(
        alert
            .advice
            .contains(" The hourly cap held 3 remediations back (`capped`)"),
        "{}",
        alert.advice
    );
    assert!(
        alert.advice.ends_with(
            " Unchecked instances could not be audited (see `unchecked`); check the function's permissions and logs."
        ),
        "{}",
        alert.advice
    );
    let listed = alert.details["unchecked"].as_array().unwrap();
    assert_eq!(listed.len(), WORST_LISTED);
    assert_eq!(
        listed[0],
        "i-00000000000000000: `DescribeImages` failed: throttled"
    );
}
