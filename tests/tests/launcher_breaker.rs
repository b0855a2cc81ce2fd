//! The launch breaker end to end (issue 23, scenario 4): the real
//! `target/debug/budget-guard` and `target/debug/stack-guard` against the
//! emulator, and a launcher double (`scaling_guard_e2e::launcher`) that plays
//! Karpenter and honours its role's inline policies, which moto stores but
//! never evaluates.
//!
//! A budget breach puts the breaker on the launcher's role and the double's
//! cluster-tagged `CreateFleet` is refused with `UnauthorizedOperation`; the
//! resume (usage below the resume threshold) deletes it and the double
//! launches again; audit mode only says what it would block; the hand-over
//! to audit mode and the stack's removal delete it.
//!
//! Build the binaries first: `cargo build -p budget-guard -p stack-guard`.

use std::collections::BTreeMap;

use scaling_guard_e2e::events;
use scaling_guard_e2e::launcher::{Launch, LauncherDouble, karpenter_request_tags};
use serde_json::{Value, json};

mod support;

use support::{Bed, of_kind};

/// The breaker of cluster `prod` in the tests' region.
const BREAKER: &str = "scaling-guard-prod-eu-west-1-launch-breaker";
/// The budget: 10 instances (suspend at 100 %, resume below 90 %).
const BUDGET: u64 = 10;

/// The bed, the double's role, and `BUDGET` Karpenter nodes running.
async fn at_budget() -> (Bed, LauncherDouble, Vec<String>) {
    let bed = Bed::new().await;
    let double = LauncherDouble::create(&bed.sdk_config().await, "karpenter-controller")
        .await
        .unwrap();
    let nodes = launched(
        double
            .launch(
                &bed.cluster,
                "default",
                &bed.cluster.templates.compliant,
                10,
            )
            .await
            .unwrap(),
    );
    (bed, double, nodes)
}

fn launched(launch: Launch) -> Vec<String> {
    match launch {
        Launch::Launched(ids) => ids,
        refused => panic!("the launch was refused: {refused:?}"),
    }
}

fn refused_by_breaker() -> Launch {
    Launch::Refused {
        code: "UnauthorizedOperation".into(),
        policy: BREAKER.into(),
    }
}

fn policy(bed: &Bed, double: &LauncherDouble, mode: &str) -> BTreeMap<String, String> {
    let mut policy = bed.policy(None, None, Some(BUDGET));
    policy.insert("GUARD_LAUNCHER_ROLE_ARNS".into(), double.role_arn.clone());
    policy.insert("GUARD_MODE".into(), mode.into());
    policy
}

async fn terminate(bed: &Bed, nodes: &[String]) {
    bed.clients
        .ec2
        .terminate_instances()
        .set_instance_ids(Some(nodes.to_vec()))
        .send()
        .await
        .unwrap();
}

async fn try_one(bed: &Bed, double: &LauncherDouble) -> Launch {
    double
        .launch(&bed.cluster, "default", &bed.cluster.templates.compliant, 1)
        .await
        .unwrap()
}

fn roles(summary: &Value, field: &str) -> Value {
    summary["launch_breaker"][field].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_breach_refuses_the_launcher_until_the_resume_removes_the_breaker() {
    // Given: 10 Karpenter nodes, a budget of 10.
    let (bed, double, nodes) = at_budget().await;
    // The double's request tags are the tags Karpenter's nodes carry.
    for (key, value) in karpenter_request_tags("default") {
        assert_eq!(
            bed.cluster.instance_tag(&nodes[0], &key).await.unwrap(),
            Some(value)
        );
    }
    let guard = bed.budget_guard(&policy(&bed, &double, "enforce")).await;
    let schedule = events::budget_schedule().unwrap();

    // When: the schedule measures 10 of 10.
    let summary = guard.invoke(&schedule).await.unwrap();

    // Then: the breaker is on the role and the launcher is refused.
    assert_eq!(
        roles(&summary, "put"),
        json!([double.role_arn]),
        "{summary}"
    );
    let policies = double.inline_policies().await.unwrap();
    assert_eq!(policies.keys().collect::<Vec<_>>(), [BREAKER]);
    assert_eq!(try_one(&bed, &double).await, refused_by_breaker());
    let alerts = bed.alerts().await;
    let suspended = of_kind(&alerts, "scale_out_suspended");
    assert_eq!(suspended.len(), 1, "{alerts:?}");
    assert_eq!(
        suspended[0].message["details"]["launch_breaker"],
        json!({"policy": BREAKER, "roles": [double.role_arn]})
    );

    // 9 of 10: not below the resume threshold: the breaker holds.
    terminate(&bed, &nodes[..1]).await;
    let summary = guard.invoke(&schedule).await.unwrap();
    assert_eq!(summary["launch_breaker"], Value::Null, "{summary}");
    assert_eq!(try_one(&bed, &double).await, refused_by_breaker());

    // 7 of 10: below 90 %: the resume removes it, the launcher launches.
    terminate(&bed, &nodes[1..3]).await;
    let summary = guard.invoke(&schedule).await.unwrap();
    assert_eq!(
        roles(&summary, "removed"),
        json!([double.role_arn]),
        "{summary}"
    );
    assert_eq!(double.inline_policies().await.unwrap(), BTreeMap::new());
    assert_eq!(launched(try_one(&bed, &double).await).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_mode_says_what_it_would_block_and_the_launcher_launches() {
    let (bed, double, _) = at_budget().await;
    let guard = bed.budget_guard(&policy(&bed, &double, "audit")).await;

    let summary = guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();

    assert_eq!(
        roles(&summary, "would_block"),
        json!([double.role_arn]),
        "{summary}"
    );
    assert_eq!(double.inline_policies().await.unwrap(), BTreeMap::new());
    assert_eq!(launched(try_one(&bed, &double).await).len(), 1);
    let alerts = bed.alerts().await;
    let would = of_kind(&alerts, "scale_out_suspended");
    assert_eq!(would.len(), 1, "{alerts:?}");
    assert_eq!(
        would[0].message["details"]["launch_breaker_would_block"],
        json!({"policy": BREAKER, "roles": [double.role_arn]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hand_over_to_audit_mode_deletes_the_breaker() {
    let (bed, double, _) = at_budget().await;
    let schedule = events::budget_schedule().unwrap();
    let enforcing = bed.budget_guard(&policy(&bed, &double, "enforce")).await;
    enforcing.invoke(&schedule).await.unwrap();
    assert_eq!(try_one(&bed, &double).await, refused_by_breaker());
    drop(enforcing);

    // The stack is switched to audit mode: a new environment hands over.
    let auditing = bed.budget_guard(&policy(&bed, &double, "audit")).await;
    let summary = auditing.invoke(&schedule).await.unwrap();

    assert_eq!(
        roles(&summary, "removed"),
        json!([double.role_arn]),
        "{summary}"
    );
    assert_eq!(double.inline_policies().await.unwrap(), BTreeMap::new());
    assert_eq!(launched(try_one(&bed, &double).await).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stacks_removal_deletes_the_breaker() {
    let (bed, double, _) = at_budget().await;
    let policy = policy(&bed, &double, "enforce");
    let budget_guard = bed.budget_guard(&policy).await;
    budget_guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();
    assert_eq!(try_one(&bed, &double).await, refused_by_breaker());

    let stack_guard = bed.stack_guard().await;
    let answer = bed.custom_resource(&stack_guard, "Delete", &policy).await;

    assert_eq!(answer.body["Status"], "SUCCESS", "{}", answer.body);
    assert_eq!(
        answer.body["Data"]["LaunchBreakerRemoved"],
        json!(double.role_arn)
    );
    assert_eq!(double.inline_policies().await.unwrap(), BTreeMap::new());
    assert_eq!(launched(try_one(&bed, &double).await).len(), 1);
}
