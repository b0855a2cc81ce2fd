use std::sync::LazyLock;

use pretty_assertions::assert_eq;
use serde_json::json;
use shared::assess::{Admission, Decided, Missing, Unknown};
use shared::budget::Usage;
use shared::checks::{CheckName, Violation};
use shared::facts::GroupFacts;
use shared::fixtures::{GROUP, HOOK, INSTANCE_ID as INSTANCE, now, strict_policy};
use shared::lifecycle::{LAUNCHING, LifecycleAction, Origin};
use shared::suspension::{SUSPENDED_TAG, SuspensionReport};

use super::*;

static ACTION: LazyLock<LifecycleAction> = LazyLock::new(|| LifecycleAction {
    token: "t-1".into(),
    group: GROUP.into(),
    hook: HOOK.into(),
    instance_id: INSTANCE.into(),
    transition: LAUNCHING.into(),
    notification_metadata: None,
    origin: None,
    destination: None,
});

static ORIGIN: LazyLock<Origin> = LazyLock::new(|| Origin {
    account: Some("123456789012".into()),
    region: Some("eu-west-1".into()),
});

/// A launch into `prod-general`, by the guard's hook, from the test account.
fn launch(policy: &Policy) -> DecidedLaunch<'_> {
    DecidedLaunch {
        policy,
        now: now(),
        action: &ACTION,
        origin: &ORIGIN,
    }
}

fn decided(policy: &Policy, violations: Vec<Violation>, unknown: Vec<Unknown>) -> Decided {
    Decided {
        group: GroupFacts {
            name: GROUP.into(),
            ..GroupFacts::default()
        },
        verdict: Verdict::with_unknown(policy, None, violations, !unknown.is_empty(), now()),
        unknown,
        facts: None,
        admission: None,
        vetted: true,
    }
}

fn over_budget() -> Violation {
    Violation::new(
        CheckName::BudgetInstances,
        INSTANCE,
        "at most 2 instances",
        "3",
        "the cluster would run 3 instances",
    )
}

fn admission(usage: u64) -> Admission {
    Admission {
        usage: Usage {
            vcpus: 0,
            memory_mib: 0,
            instances: usage,
        },
        candidate: Usage {
            vcpus: 2,
            memory_mib: 8192,
            instances: 1,
        },
        violations: vec![over_budget()],
        not_counted: 0,
        groups: Vec::new(),
    }
}

#[test]
fn a_denial_names_the_checks_the_instance_group_and_origin() {
    let policy = strict_policy(&[("GUARD_MAX_INSTANCES", "2")]);
    let launch = launch(&policy);
    let mut decided = decided(&policy, vec![over_budget()], Vec::new());
    decided.admission = Some(admission(2));

    let alert = decision(launch, &decided).unwrap();

    assert_eq!(alert.kind, AlertKind::LaunchDenied);
    assert_eq!(alert.severity, Severity::Warning);
    assert_eq!(alert.decision, "ABANDON");
    assert_eq!(
        alert.headline,
        format!("launch of {INSTANCE} denied (budget.instances)")
    );
    assert_eq!(alert.instance_id.as_deref(), Some(INSTANCE));
    assert_eq!(alert.group.as_deref(), Some(GROUP));
    assert_eq!(alert.account.as_deref(), Some("123456789012"));
    assert_eq!(alert.details["usage_instances"], json!("2 of 2 (100.0%)"));
    assert_eq!(
        alert.details["launch_would_add"],
        json!({"vcpus": 2, "memory_mib": 8192, "instances": 1})
    );
}

#[test]
fn a_budget_only_denial_on_a_group_already_suspended_is_not_alerted_again() {
    let policy = strict_policy(&[("GUARD_MAX_INSTANCES", "2")]);
    let launch = launch(&policy);
    let mut decided = decided(&policy, vec![over_budget()], Vec::new());
    decided.group.tags.insert(SUSPENDED_TAG.into(), "{}".into());

    assert_eq!(decision(launch, &decided), None);
}

#[test]
fn a_clean_launch_needs_no_alert() {
    let policy = strict_policy(&[]);
    let launch = launch(&policy);

    assert_eq!(
        decision(launch, &decided(&policy, Vec::new(), Vec::new())),
        None
    );
}

#[test]
fn a_decision_of_the_fail_mode_is_a_critical_guard_error_naming_what_was_unknown() {
    let policy = strict_policy(&[("GUARD_FAIL_MODE", "abandon")]);
    let launch = launch(&policy);
    let unknown = vec![Unknown::Budget(Missing::Late)];

    let alert = decision(launch, &decided(&policy, Vec::new(), unknown)).unwrap();

    assert_eq!(alert.kind, AlertKind::GuardError);
    assert_eq!(alert.severity, Severity::Critical);
    assert_eq!(
        alert.headline,
        format!("launch of {INSTANCE} abandoned by the fail mode")
    );
    assert_eq!(
        alert.details["unknown"],
        json!("the budget: not established before the invocation's deadline")
    );
}

#[test]
fn in_audit_mode_a_violation_is_reported_as_information() {
    let policy = strict_policy(&[("GUARD_MODE", "audit")]);
    let launch = launch(&policy);
    let denied_type = Violation::new(
        CheckName::InstanceTypeAllowed,
        INSTANCE,
        "m6i.*",
        "p5.48xlarge",
        "instance type `p5.48xlarge` is not allowed",
    );

    let alert = decision(launch, &decided(&policy, vec![denied_type], Vec::new())).unwrap();

    assert_eq!(alert.kind, AlertKind::LaunchViolationReported);
    assert_eq!(alert.severity, Severity::Info);
    assert!(alert.advice.contains("(audit mode)"), "{}", alert.advice);
}

#[test]
fn a_suspension_alert_only_when_a_group_changed_or_failed() {
    let policy = strict_policy(&[("GUARD_MAX_INSTANCES", "2")]);
    let launch = launch(&policy);
    let verdict = decided(&policy, vec![over_budget()], Vec::new()).verdict;
    let nothing = SuspensionReport::default();
    let changed = SuspensionReport {
        changed: vec!["prod-general".into()],
        ..SuspensionReport::default()
    };

    assert_eq!(suspension(launch, &verdict, &nothing, &admission(2)), None);
    let alert = suspension(launch, &verdict, &changed, &admission(2)).unwrap();
    assert_eq!(alert.kind, AlertKind::ScaleOutSuspended);
    assert_eq!(alert.group, None);
    assert_eq!(alert.instance_id.as_deref(), Some(INSTANCE));
    assert_eq!(alert.details["groups"], json!(["prod-general"]));
}

#[test]
fn a_failed_completion_says_what_happens_to_the_instance() {
    let policy = strict_policy(&[]);
    let launch = launch(&policy);
    let verdict = decided(&policy, Vec::new(), Vec::new()).verdict;

    let alert = failed_completion(launch, &verdict, "throttled");

    assert_eq!(alert.kind, AlertKind::GuardError);
    assert_eq!(
        alert.headline,
        format!("lifecycle action of {INSTANCE} could not be completed")
    );
    assert!(alert.advice.starts_with("throttled. The event is retried"));
}
