//! Issue 21, scenario 9: a launch left waiting on the guard's hook for more
//! than half the heartbeat is alerted once, critical, by the schedule.

use std::time::Duration;

use pretty_assertions::assert_eq;
use shared::fixtures::at;

use super::*;
use crate::handler::unanswered::UNANSWERED_TAG;

const HEARTBEAT: i32 = 600;

/// Cluster `prod` whose groups carry the guard's hook with a 600 s heartbeat,
/// and a launch `i-wait` into prod-a that has waited `waited` seconds in
/// `Pending:Wait` with `tags` (besides the cluster tag).
fn waiting_launch(waited: u64, tags: &[(&str, &str)]) -> FakeAws {
    let aws = account();
    set_running(&aws, 2);
    for group in ["prod-a", "prod-b"] {
        aws.add_group(GroupFacts {
            name: group.into(),
            max_size: 20,
            desired_capacity: 2,
            tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
            ..GroupFacts::default()
        });
        aws.add_hook(
            group,
            HookFacts {
                heartbeat_timeout: Some(HEARTBEAT),
                default_result: Some("ABANDON".into()),
                ..hook()
            },
        );
    }
    let mut instance = InstanceFacts {
        instance_id: "i-wait".into(),
        instance_type: "m6i.large".into(),
        state: "pending".into(),
        launch_time: Some(now() - Duration::from_secs(waited)),
        tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
        ..InstanceFacts::default()
    };
    for (key, value) in tags {
        instance.tags.insert((*key).to_owned(), (*value).to_owned());
    }
    aws.add_instance(instance);
    aws.update_group("prod-a", |g| {
        g.instances.push(GroupInstance {
            instance_id: "i-wait".into(),
            lifecycle_state: "Pending:Wait".into(),
        });
    });
    aws
}

fn unanswered(aws: &FakeAws) -> Vec<Alert> {
    aws.published()
        .into_iter()
        .filter(|a| a.kind == AlertKind::HookUnanswered)
        .collect()
}

#[tokio::test]
async fn a_launch_waiting_past_half_the_heartbeat_is_alerted_once_and_critical() {
    // Given a launch that has waited 301 s on a hook of 600 s.
    let (policy, aws) = (policy(&[]), waiting_launch(301, &[]));

    // When the schedule runs.
    run(&policy, &aws, SCHEDULE).await.unwrap();

    // Then one critical alert names the instance, its group, the hook and the wait.
    let alerts = unanswered(&aws);
    assert_eq!(alerts.len(), 1, "{:?}", kinds(&aws));
    let alert = &alerts[0];
    assert_eq!(alert.severity, shared::alerts::Severity::Critical);
    assert_eq!(alert.instance_id.as_deref(), Some("i-wait"));
    assert_eq!(alert.group.as_deref(), Some("prod-a"));
    assert_eq!(alert.details["hook"], json!(HOOK));
    assert_eq!(
        *at(&alert.details["unanswered"], "0/waited_seconds"),
        json!(301)
    );
    assert!(alert.subject().contains("i-wait"), "{}", alert.subject());
    // And the instance records the alert.
    let tagged = aws.instance_facts("i-wait").unwrap();
    assert!(
        tagged.tags.contains_key(UNANSWERED_TAG),
        "{:?}",
        tagged.tags
    );
}

#[tokio::test]
async fn the_next_runs_and_a_replaced_environment_do_not_alert_the_same_launch_again() {
    let (policy, aws) = (policy(&[]), waiting_launch(301, &[]));
    let guard = BudgetGuard::new(&policy, &aws).with_clock(now);
    invoke(&guard, SCHEDULE).await.unwrap();
    invoke(&guard, SCHEDULE).await.unwrap();
    // A new execution environment: nothing remembered in memory.
    run(&policy, &aws, SCHEDULE).await.unwrap();
    assert_eq!(unanswered(&aws).len(), 1);
}

#[tokio::test]
async fn a_launch_within_half_the_heartbeat_is_not_alerted() {
    let (policy, aws) = (policy(&[]), waiting_launch(299, &[]));
    run(&policy, &aws, SCHEDULE).await.unwrap();
    assert_eq!(unanswered(&aws), vec![]);
    assert!(
        !aws.instance_facts("i-wait")
            .unwrap()
            .tags
            .contains_key(UNANSWERED_TAG)
    );
}

#[tokio::test]
async fn a_launch_launch_guard_answered_and_another_hook_holds_is_not_alerted() {
    for tag in ["scaling-guard:admitted", "scaling-guard:vetted"] {
        let (policy, aws) = (
            policy(&[]),
            waiting_launch(500, &[(tag, &nine_minutes_ago())]),
        );
        run(&policy, &aws, SCHEDULE).await.unwrap();
        assert_eq!(unanswered(&aws), vec![], "{tag}");
    }
}

#[tokio::test]
async fn a_launch_on_a_group_without_the_guards_hook_is_not_the_guards_to_alert() {
    let (policy, aws) = (
        policy(&[("GUARD_ENROLL_GROUPS", "false")]),
        waiting_launch(500, &[]),
    );
    let other = HookFacts {
        name: "someone-elses-hook".into(),
        ..hook()
    };
    // prod-c carries only another hook: its waiting launch is not the guard's.
    aws.add_group(GroupFacts {
        name: "prod-c".into(),
        max_size: 20,
        tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
        instances: vec![GroupInstance {
            instance_id: "i-other".into(),
            lifecycle_state: "Pending:Wait".into(),
        }],
        ..GroupFacts::default()
    });
    aws.add_hook("prod-c", other);
    aws.add_instance(InstanceFacts {
        instance_id: "i-other".into(),
        instance_type: "m6i.large".into(),
        state: "pending".into(),
        launch_time: Some(now() - Duration::from_secs(2000)),
        tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
        ..InstanceFacts::default()
    });
    run(&policy, &aws, SCHEDULE).await.unwrap();
    let alerts = unanswered(&aws);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].instance_id.as_deref(), Some("i-wait"));
}

#[tokio::test]
async fn an_alert_that_could_not_be_published_is_sent_by_the_next_run() {
    let (policy, aws) = (policy(&[]), waiting_launch(301, &[]));
    aws.fail_times("Publish", 1);
    run(&policy, &aws, SCHEDULE).await.unwrap();
    assert_eq!(unanswered(&aws), vec![]);
    assert!(
        !aws.instance_facts("i-wait")
            .unwrap()
            .tags
            .contains_key(UNANSWERED_TAG)
    );
    run(&policy, &aws, SCHEDULE).await.unwrap();
    assert_eq!(unanswered(&aws).len(), 1);
}
