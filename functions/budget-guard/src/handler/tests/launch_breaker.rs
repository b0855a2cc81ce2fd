//! The launch breaker (issue 23, scenario 4): with `GUARD_LAUNCHER_ROLE_ARNS`
//! set, a budget suspension also puts an inline deny of cluster-tagged
//! `RunInstances`/`CreateFleet` on each launcher role (Karpenter launches
//! outside any group); the resume removes it with the groups' hysteresis;
//! audit mode only says what it would block; the hand-over to audit mode
//! deletes it. A breaker that cannot be put never costs the groups'
//! suspension: the alert says so.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use serde_json::json;
use shared::alerts::AlertKind;
use shared::fakes::{FAKE_REGION, FakeAws};
use shared::policy::Policy;

use super::{
    ALARM, SCHEDULE, SURGE_ALARM, account, cluster, invoke, kinds, launch_suspended, run,
    run_schedule, set_running, surge,
};
use crate::fixtures::{now, policy};
use crate::handler::BudgetGuard;

const KARPENTER: &str = "arn:aws:iam::123456789012:role/karpenter-controller";
const OTHER: &str = "arn:aws:iam::123456789012:role/path/other-launcher";
/// The breaker of cluster `prod` in the fake's region.
const BREAKER: &str = "scaling-guard-prod-eu-west-1-launch-breaker";

fn with_launchers(extra: &[(&str, &str)]) -> Policy {
    let roles = format!("{KARPENTER},{OTHER}");
    let mut settings = vec![("GUARD_LAUNCHER_ROLE_ARNS", roles.as_str())];
    settings.extend_from_slice(extra);
    policy(&settings)
}

/// The cluster with `running` instances, and both launcher roles.
fn cluster_with_roles(running: usize) -> FakeAws {
    let aws = cluster(running);
    aws.add_role(KARPENTER);
    aws.add_role(OTHER);
    aws
}

fn breaker_of(aws: &FakeAws, role: &str) -> Option<serde_json::Value> {
    aws.role_policies(role)
        .get(BREAKER)
        .map(|document| serde_json::from_str(document).unwrap())
}

#[tokio::test]
async fn a_budget_suspension_puts_the_breaker_on_every_launcher_role() {
    let (policy, aws) = (with_launchers(&[]), cluster_with_roles(10));

    let summary = run_schedule(&policy, &aws, SCHEDULE).await;

    assert_eq!(summary.suspended, ["prod-a", "prod-b"]);
    assert_eq!(summary.launch_breaker.put, [KARPENTER, OTHER]);
    for role in [KARPENTER, OTHER] {
        let document = breaker_of(&aws, role).unwrap_or_else(|| panic!("{role} has no breaker"));
        let statement = &document["Statement"][0];
        assert_eq!(statement["Effect"], json!("Deny"));
        assert_eq!(
            statement["Action"],
            json!(["ec2:RunInstances", "ec2:CreateFleet"])
        );
        assert_eq!(
            statement["Condition"]["StringEquals"]["aws:RequestedRegion"],
            json!(FAKE_REGION)
        );
    }
    assert_eq!(kinds(&aws), vec![AlertKind::ScaleOutSuspended]);
    let alert = &aws.published()[0];
    assert_eq!(
        alert.details["launch_breaker"],
        json!({"policy": BREAKER, "roles": [KARPENTER, OTHER]})
    );
    let email = alert.email();
    assert!(email.contains("UnauthorizedOperation"), "{email}");
    assert!(email.contains("kubectl delete nodeclaim"), "{email}");
    assert!(email.contains("aws/karpenter-provider-aws#6098"), "{email}");
}

#[tokio::test]
async fn a_cluster_of_karpenter_nodes_only_is_broken_too_and_alerted_once() {
    // Given: cluster instances at the budget, and no group at all.
    let policy = with_launchers(&[]);
    let aws = account();
    aws.add_role(KARPENTER);
    aws.add_role(OTHER);
    set_running(&aws, 10);

    // When: two scheduled runs over the budget, in one environment.
    let guard = BudgetGuard::new(&policy, &aws).with_clock(now);
    invoke(&guard, SCHEDULE).await.unwrap();
    invoke(&guard, SCHEDULE).await.unwrap();

    // Then: the breaker is on, and alerted once.
    assert!(breaker_of(&aws, KARPENTER).is_some());
    assert_eq!(kinds(&aws), vec![AlertKind::ScaleOutSuspended]);
}

#[tokio::test]
async fn the_resume_removes_the_breaker_with_the_groups_hysteresis() {
    let (policy, aws) = (with_launchers(&[]), cluster_with_roles(10));
    run(&policy, &aws, SCHEDULE).await.unwrap();

    // 9 of 10 instances: below the suspend threshold, not below 90 %.
    set_running(&aws, 9);
    let held = run_schedule(&policy, &aws, SCHEDULE).await;
    assert_eq!(held.resumed, Vec::<String>::new());
    assert!(
        breaker_of(&aws, KARPENTER).is_some(),
        "held with the groups"
    );

    // 4 instances: prod-a's 4 more fit below 90 %, prod-b's 4 after them
    // do not: prod-b stays suspended, and so does the breaker.
    set_running(&aws, 4);
    let partly = run_schedule(&policy, &aws, SCHEDULE).await;
    assert_eq!(partly.resumed, ["prod-a"]);
    assert_eq!(partly.held.len(), 1, "{:?}", partly.held);
    assert!(breaker_of(&aws, KARPENTER).is_some(), "held with prod-b");

    // The surge is over: prod-b would launch nothing.
    aws.update_group("prod-b", |g| g.desired_capacity = 0);
    let resumed = run_schedule(&policy, &aws, SCHEDULE).await;
    assert_eq!(resumed.resumed, ["prod-b"]);
    assert_eq!(resumed.launch_breaker.removed, [KARPENTER, OTHER]);
    assert_eq!(aws.role_policies(KARPENTER), BTreeMap::new());
    assert_eq!(aws.role_policies(OTHER), BTreeMap::new());
    let alert = aws.published().last().cloned().unwrap();
    assert_eq!(alert.kind, AlertKind::ScaleOutResumed);
    assert_eq!(
        alert.details["launch_breaker_removed"],
        json!([KARPENTER, OTHER])
    );

    // A later run finds nothing to remove and says nothing.
    let calm = run_schedule(&policy, &aws, SCHEDULE).await;
    assert_eq!(calm.launch_breaker.removed, Vec::<String>::new());
    assert_eq!(
        kinds(&aws),
        vec![
            AlertKind::ScaleOutSuspended,
            AlertKind::ScaleOutResumed,
            AlertKind::ScaleOutResumed
        ]
    );
}

#[tokio::test]
async fn audit_mode_says_what_the_breaker_would_block_and_puts_nothing() {
    let (policy, aws) = (
        with_launchers(&[("GUARD_MODE", "audit")]),
        cluster_with_roles(10),
    );

    let summary = run_schedule(&policy, &aws, SCHEDULE).await;

    assert_eq!(summary.launch_breaker.would_block, [KARPENTER, OTHER]);
    assert_eq!(aws.calls("PutRolePolicy"), 0);
    assert_eq!(aws.role_policies(KARPENTER), BTreeMap::new());
    // (The fixture's hooks abandon: the hand-over to audit mode also alerts.)
    let published = aws.published();
    let alert = published
        .iter()
        .find(|a| a.kind == AlertKind::ScaleOutSuspended)
        .expect("a would-suspend alert");
    assert_eq!(
        alert.details["launch_breaker_would_block"],
        json!({"policy": BREAKER, "roles": [KARPENTER, OTHER]})
    );
    assert!(alert.email().contains("would block"), "{}", alert.email());
}

#[tokio::test]
async fn the_hand_over_to_audit_mode_deletes_the_breaker() {
    let aws = cluster_with_roles(10);
    run(&with_launchers(&[]), &aws, SCHEDULE).await.unwrap();
    assert!(breaker_of(&aws, KARPENTER).is_some());

    let audit = with_launchers(&[("GUARD_MODE", "audit")]);
    let summary = run_schedule(&audit, &aws, SCHEDULE).await;

    assert_eq!(summary.launch_breaker.removed, [KARPENTER, OTHER]);
    assert_eq!(aws.role_policies(KARPENTER), BTreeMap::new());
    let handover = aws
        .published()
        .into_iter()
        .find(|a| a.kind == AlertKind::AuditHandover)
        .expect("a hand-over alert");
    assert_eq!(
        handover.details["launch_breaker_removed"],
        json!([KARPENTER, OTHER])
    );
}

#[tokio::test]
async fn a_breaker_that_cannot_be_put_keeps_the_suspension_and_says_so() {
    let (policy, aws) = (with_launchers(&[]), cluster_with_roles(10));
    aws.fail("PutRolePolicy");

    let summary = run_schedule(&policy, &aws, SCHEDULE).await;

    assert_eq!(summary.suspended, ["prod-a", "prod-b"]);
    assert!(launch_suspended(&aws, "prod-a") && launch_suspended(&aws, "prod-b"));
    assert_eq!(summary.launch_breaker.failed.len(), 2);
    let alert = &aws.published()[0];
    assert_eq!(alert.kind, AlertKind::ScaleOutSuspended);
    assert_eq!(
        alert.details["launch_breaker_failed"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert!(alert.email().contains("NOT stopped"), "{}", alert.email());
}

#[tokio::test]
async fn a_confirmed_budget_alarm_puts_the_breaker_and_a_surge_alarm_does_not() {
    let (policy, aws) = (with_launchers(&[]), cluster_with_roles(10));
    aws.set_alarm(SURGE_ALARM, true);
    run(&policy, &aws, &surge(ALARM)).await.unwrap();
    assert_eq!(aws.calls("PutRolePolicy"), 0, "a surge is no budget breach");

    run(&policy, &aws, ALARM).await.unwrap();
    assert!(breaker_of(&aws, KARPENTER).is_some());
}

#[tokio::test]
async fn without_launcher_roles_no_iam_call_is_made() {
    let (policy, aws) = (policy(&[]), cluster(10));
    run(&policy, &aws, SCHEDULE).await.unwrap();
    set_running(&aws, 4);
    run(&policy, &aws, SCHEDULE).await.unwrap();
    assert_eq!(
        aws.calls("PutRolePolicy") + aws.calls("DeleteRolePolicy"),
        0
    );
}
