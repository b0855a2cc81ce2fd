//! The NodePool loop breaker (issue 23, scenario 3): Karpenter replaces what
//! the guard terminates, so past `GUARD_MAX_REMEDIATIONS_PER_POOL`
//! remediations of one NodePool that pool's are held, and one critical
//! `launcher_loop` alert says what to fix in its EC2NodeClass.

use pretty_assertions::assert_eq;
use shared::audit::POOL_HELD_TAG;

use super::*;

/// `count` nodes of `pool` the guard terminated `ago`, from other
/// environments (their records are all the count has).
fn pool_remediated_earlier(aws: &FakeAws, pool: &str, count: usize, ago: Duration) {
    for n in 0..count {
        let id = format!("i-0e{:02x}{n:013x}", pool.len());
        let mut instance = member(&id, "terminated", &[(KARPENTER, pool)]);
        instance
            .tags
            .insert(REMEDIATED.into(), shared::time::format_rfc3339(now() - ago));
        aws.add_instance(instance);
    }
}

/// A running Karpenter node of `pool` with IMDSv1 on (its EC2NodeClass's
/// `metadataOptions.httpTokens` is `optional`).
fn imdsv1_node(aws: &FakeAws, id: &str, pool: &str) {
    let mut instance = member(id, "running", &[(KARPENTER, pool)]);
    instance.http_tokens = Some(HttpTokens::Optional);
    aws.add_instance(instance);
}

fn terminate() -> Policy {
    policy(&[("GUARD_AUDIT_ACTION", "terminate")])
}

const TEN_MINUTES: Duration = Duration::from_secs(600);

#[tokio::test]
async fn a_nodepool_past_its_hourly_limit_is_held_with_one_alert_that_names_its_ec2nodeclass_fix() {
    // Given: the default limit (10) of NodePool `default` reached by other
    // environments, and two more of its nodes with IMDSv1
    let policy = terminate();
    let aws = account();
    pool_remediated_earlier(&aws, "default", 10, TEN_MINUTES);
    let held = ["i-0f000000000000001", "i-0f000000000000002"];
    for id in held {
        imdsv1_node(&aws, id, "default");
    }

    // When: each runs, each event in a fresh environment
    let first = run_instance(&policy, &aws, &running_event(held[0])).await;
    let second = run_instance(&policy, &aws, &running_event(held[1])).await;

    // Then: both held and recorded, nothing terminated, one critical alert
    assert_eq!(first.outcome, Outcome::Capped, "{first:?}");
    assert_eq!(second.outcome, Outcome::Capped, "{second:?}");
    assert!(reason(&first).contains("NodePool default"), "{first:?}");
    assert_eq!(aws.calls("TerminateInstances"), 0);
    for id in held {
        let instance = aws.instance_facts(id).unwrap();
        assert_eq!(instance.state, "running");
        assert_eq!(instance.tags[POOL_HELD_TAG], NOW_RFC3339);
    }
    let alerts = aws.published();
    assert_eq!(kinds(&aws), vec![AlertKind::LauncherLoop], "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert.severity, Severity::Critical);
    assert!(
        alert.headline.contains("NodePool default"),
        "{}",
        alert.headline
    );
    let email = alert.email();
    for says in [
        "EC2NodeClass",
        "spec.metadataOptions.httpTokens",
        "GUARD_MAX_REMEDIATIONS_PER_POOL",
        POOL_HELD_TAG,
    ] {
        assert!(email.contains(says), "`{says}` missing in {email}");
    }
    assert_eq!(alert.details["nodepool"], "default");
    assert_eq!(alert.details["remediated_last_hour"], 10);
}

#[tokio::test]
async fn another_nodepool_and_the_last_hours_older_records_do_not_count() {
    // Given: NodePool `default` full two hours ago, `gpu` full now
    let policy = terminate();
    let aws = account();
    pool_remediated_earlier(&aws, "default", 10, Duration::from_secs(2 * 3600));
    pool_remediated_earlier(&aws, "gpu-pool", 10, TEN_MINUTES);
    imdsv1_node(&aws, BY_HAND, "default");

    let summary = run_instance(&policy, &aws, RUNNING).await;

    assert_eq!(summary.outcome, Outcome::Remediated, "{summary:?}");
    assert_eq!(kinds(&aws), vec![AlertKind::InstanceRemediated]);
}

#[tokio::test]
async fn zero_turns_the_nodepool_limit_off() {
    let policy = policy(&[
        ("GUARD_AUDIT_ACTION", "terminate"),
        ("GUARD_MAX_REMEDIATIONS_PER_POOL", "0"),
    ]);
    let aws = account();
    pool_remediated_earlier(&aws, "default", 15, TEN_MINUTES);
    imdsv1_node(&aws, BY_HAND, "default");

    let summary = run_instance(&policy, &aws, RUNNING).await;

    assert_eq!(summary.outcome, Outcome::Remediated, "{summary:?}");
}

#[tokio::test]
async fn the_sweep_holds_a_full_nodepool_and_remediates_the_others() {
    // Given: NodePool `default` 1 short of its limit; 3 of its nodes and 1
    // of `gpu` with IMDSv1
    let policy = terminate();
    let aws = account();
    pool_remediated_earlier(&aws, "default", 9, TEN_MINUTES);
    for n in 0..3 {
        imdsv1_node(&aws, &format!("i-0f1{n:015x}"), "default");
    }
    imdsv1_node(&aws, "i-0f2000000000000001", "gpu");

    let summary = run_sweep(&policy, &aws, SWEEP).await;

    // Then: one more of `default` and the `gpu` node; two held
    assert_eq!(summary.report.remediated.len(), 2, "{summary:?}");
    assert_eq!(summary.report.capped, 2, "{summary:?}");
    assert_eq!(aws.calls("TerminateInstances"), 2);
}
