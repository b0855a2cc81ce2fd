use std::time::Duration;

use pretty_assertions::assert_eq;
use rstest::rstest;

use super::*;
use crate::alerts::Severity;
use crate::findings::asff::{ComplianceStatus, RecordState, WorkflowStatus};
use crate::fixtures::{CLUSTER, CLUSTER_SETTINGS, GROUP, INSTANCE_ID, now, policy_of};
use crate::policy::Mode;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";
const OTHER_INSTANCE: &str = "i-0fff0000000000001";

fn subject(instance_id: &'static str) -> Subject<'static> {
    Subject {
        account: ACCOUNT,
        region: REGION,
        cluster: CLUSTER,
        instance_id,
        group: Some(GROUP),
    }
}

fn context_at(at: SystemTime) -> Context<'static> {
    Context {
        decision: "alert",
        mode: Mode::Enforce,
        severity: Severity::Warning,
        advice: "replace the node",
        now: at,
    }
}

fn scope() -> Scope<'static> {
    Scope {
        account: ACCOUNT,
        region: REGION,
    }
}

fn violation(check: CheckName, resource: &str, message: &str) -> Violation {
    Violation::new(check, resource, "allowed", "other", message)
}

fn imds() -> Violation {
    violation(CheckName::ImdsV2, INSTANCE_ID, "imdsv1 is on")
}

fn counted(violation: Violation) -> Finding {
    Finding {
        violation,
        blocking: true,
    }
}

/// The policy with `exceptions` (`GUARD_CHECK_EXCEPTIONS`).
fn policy(exceptions: &str) -> Policy {
    policy_of(
        &[&CLUSTER_SETTINGS],
        &[("GUARD_CHECK_EXCEPTIONS", exceptions)],
    )
}

/// The FAILED finding of `check` on `instance` as a sweep at `at` makes it.
fn failed_at(instance: &'static str, v: Violation, at: SystemTime) -> AsffFinding {
    asff::failed(&subject(instance), &counted(v), &context_at(at))
}

fn statuses(finding: &AsffFinding) -> (ComplianceStatus, RecordState, WorkflowStatus) {
    (
        finding.compliance.status,
        finding.record_state,
        finding.workflow.status,
    )
}

#[test]
fn a_counted_violation_is_failed_and_an_exempted_one_is_suppressed_with_its_reason() {
    let policy = policy("instance_type.allowed@prod-* reason=PLAT-123 gpu trial");
    let findings = [counted(imds())];
    let exempted = [violation(
        CheckName::InstanceTypeAllowed,
        INSTANCE_ID,
        "type p5.48xlarge is not allowed",
    )];
    let judged = Judged {
        subject: subject(INSTANCE_ID),
        findings: &findings,
        exempted: &exempted,
        context: context_at(now()),
    };

    let imported = found(&policy, &judged);

    let summary: Vec<_> = imported
        .iter()
        .map(|f| {
            (
                f.check(),
                statuses(f),
                f.product_fields[fields::EXEMPTION].as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                Some(CheckName::ImdsV2),
                (
                    ComplianceStatus::Failed,
                    RecordState::Active,
                    WorkflowStatus::New
                ),
                asff::NOT_EXEMPTED
            ),
            (
                Some(CheckName::InstanceTypeAllowed),
                (
                    ComplianceStatus::Failed,
                    RecordState::Active,
                    WorkflowStatus::Suppressed
                ),
                "PLAT-123 gpu trial"
            ),
        ]
    );
}

#[test]
fn an_exception_without_a_reason_is_named_as_written() {
    let policy = policy("instance_type.allowed@prod-*");
    let v = violation(CheckName::InstanceTypeAllowed, INSTANCE_ID, "not allowed");

    let reason = exemption_reason(&policy, &v, Some(GROUP), now());

    assert_eq!(
        reason.as_deref(),
        Some("exception `instance_type.allowed@prod-*`")
    );
}

#[test]
fn a_violation_set_aside_without_an_exception_makes_no_finding() {
    let policy = policy("");
    let exempted = [violation(
        CheckName::ImageAge,
        "ami-0ccc0001",
        "not judged after launch",
    )];
    let judged = Judged {
        subject: subject(INSTANCE_ID),
        findings: &[],
        exempted: &exempted,
        context: context_at(now()),
    };

    assert_eq!(found(&policy, &judged), vec![]);
}

#[test]
fn several_violations_of_one_check_make_one_finding_that_names_them_all() {
    let policy = policy("");
    let findings = [
        counted(violation(
            CheckName::SecurityGroupsAllowed,
            "sg-0aaa",
            "sg-0aaa is not allowed",
        )),
        Finding {
            violation: violation(
                CheckName::SecurityGroupsAllowed,
                "sg-0bbb",
                "sg-0bbb is not allowed",
            ),
            blocking: false,
        },
    ];
    let judged = Judged {
        subject: subject(INSTANCE_ID),
        findings: &findings,
        exempted: &[],
        context: context_at(now()),
    };

    let imported = found(&policy, &judged);

    assert_eq!(imported.len(), 1, "{imported:?}");
    assert_eq!(
        imported[0].product_fields[fields::RESOURCE],
        "sg-0aaa; sg-0bbb"
    );
    assert!(
        imported[0]
            .description
            .starts_with("sg-0aaa is not allowed; sg-0bbb is not allowed (blocking"),
        "{}",
        imported[0].description
    );
}

/// What Security Hub holds before the sweep.
enum Before {
    Nothing,
    /// The same finding, imported `age` ago.
    Same {
        age: Duration,
    },
    /// The same finding with another description, imported an hour ago.
    Changed,
    /// The same finding, FAILED; the sweep finds it exempted.
    FailedNowExempted,
}

/// What the sweep imports of the one finding.
#[derive(Debug, PartialEq, Eq)]
enum Imports {
    Nothing,
    Created,
    Updated,
    Refreshed,
}

#[rstest]
#[case::new_finding_is_created(Before::Nothing, Imports::Created)]
#[case::unchanged_and_fresh_is_left_alone(Before::Same { age: Duration::from_secs(3600) }, Imports::Nothing)]
#[case::unchanged_for_a_week_is_refreshed(Before::Same { age: REFRESH_AFTER }, Imports::Refreshed)]
#[case::changed_content_is_updated(Before::Changed, Imports::Updated)]
#[case::failed_then_exempted_is_updated(Before::FailedNowExempted, Imports::Updated)]
fn a_sweep_imports_a_finding_only_when_it_is_new_changed_or_old(
    #[case] before: Before,
    #[case] expected: Imports,
) {
    let earlier = |age: Duration| now() - age;
    let hour = Duration::from_secs(3600);
    let mut found_now = failed_at(INSTANCE_ID, imds(), now());
    let active = match before {
        Before::Nothing => vec![],
        Before::Same { age } => vec![failed_at(INSTANCE_ID, imds(), earlier(age))],
        Before::Changed => {
            let mut previous = failed_at(INSTANCE_ID, imds(), earlier(hour));
            previous.description = "said something else".to_owned();
            vec![previous]
        }
        Before::FailedNowExempted => {
            let previous = failed_at(INSTANCE_ID, imds(), earlier(hour));
            found_now =
                asff::suppressed(&subject(INSTANCE_ID), &imds(), "PLAT-9", &context_at(now()));
            vec![previous]
        }
    };
    let created_before = active.first().map(|f| f.created_at.clone());

    let reconciled = reconcile(
        vec![found_now.clone()],
        active,
        scope(),
        &BTreeSet::new(),
        now(),
    );

    let counts = (
        reconciled.created,
        reconciled.updated,
        reconciled.refreshed,
        reconciled.unchanged,
        reconciled.archived,
    );
    let (imports, expected_counts) = match expected {
        Imports::Nothing => (vec![], (0, 0, 0, 1, 0)),
        Imports::Created => (vec![found_now], (1, 0, 0, 0, 0)),
        Imports::Updated | Imports::Refreshed => {
            // An update keeps the finding's first CreatedAt.
            let mut kept = found_now;
            kept.created_at = created_before.unwrap();
            let counts = match expected {
                Imports::Updated => (0, 1, 0, 0, 0),
                _ => (0, 0, 1, 0, 0),
            };
            (vec![kept], counts)
        }
    };
    assert_eq!(counts, expected_counts);
    assert_eq!(reconciled.import, imports);
}

#[test]
fn an_active_finding_the_sweep_no_longer_finds_is_archived_as_passed() {
    let hour_ago = now() - Duration::from_secs(3600);
    let fixed = failed_at(OTHER_INSTANCE, imds(), hour_ago);

    let reconciled = reconcile(
        vec![],
        vec![fixed.clone()],
        scope(),
        &BTreeSet::new(),
        now(),
    );

    assert_eq!(reconciled.archived, 1);
    assert_eq!(reconciled.import, vec![asff::resolved(&fixed, now())]);
    assert_eq!(
        statuses(&reconciled.import[0]),
        (
            ComplianceStatus::Passed,
            RecordState::Archived,
            WorkflowStatus::Resolved
        )
    );
}

#[test]
fn findings_of_unchecked_instances_and_of_other_accounts_or_regions_are_left_alone() {
    let hour_ago = now() - Duration::from_secs(3600);
    let unchecked_one = failed_at(OTHER_INSTANCE, imds(), hour_ago);
    let mut other_account = failed_at(INSTANCE_ID, imds(), hour_ago);
    other_account.aws_account_id = "210987654321".to_owned();
    other_account.id.push_str("-member");
    let mut other_region = failed_at(INSTANCE_ID, imds(), hour_ago);
    other_region.region = "us-east-1".to_owned();
    other_region.id.push_str("-us");
    let unchecked = BTreeSet::from([OTHER_INSTANCE.to_owned()]);

    let reconciled = reconcile(
        vec![],
        vec![unchecked_one, other_account, other_region],
        scope(),
        &unchecked,
        now(),
    );

    assert_eq!(reconciled, Reconciled::default());
}

#[test]
fn a_terminated_instance_archives_its_own_findings_only() {
    let hour_ago = now() - Duration::from_secs(3600);
    let gone = failed_at(INSTANCE_ID, imds(), hour_ago);
    let neighbour = failed_at(OTHER_INSTANCE, imds(), hour_ago);
    let mut member = failed_at(INSTANCE_ID, imds(), hour_ago);
    member.aws_account_id = "210987654321".to_owned();

    let archived = retired(
        &[gone.clone(), neighbour, member],
        scope(),
        INSTANCE_ID,
        now(),
    );

    assert_eq!(archived, vec![asff::resolved(&gone, now())]);
}
