//! Issue 21, scenario 9, on a group that is no longer a cluster member: its
//! launches still wait on the guard's hook, which launch-guard ignores, so
//! budget-guard alerts them once, critical, from a scan every 5 minutes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use pretty_assertions::assert_eq;
use shared::fixtures::at;

use super::*;
use crate::handler::unanswered::UNANSWERED_TAG;

const HEARTBEAT: i32 = 600;

/// The guard's hook with a 600 s heartbeat that abandons, named `name`.
fn launch_hook(name: &str) -> HookFacts {
    HookFacts {
        name: name.into(),
        heartbeat_timeout: Some(HEARTBEAT),
        default_result: Some("ABANDON".into()),
        ..hook()
    }
}

/// Cluster `prod` with prod-a, and group old-a whose cluster tag was removed
/// but which still carries hook `hook_name`; a launch `i-left` into old-a has
/// waited `waited` seconds in `Pending:Wait`.
fn left_group(hook_name: &str, waited: u64) -> FakeAws {
    let aws = account();
    set_running(&aws, 2);
    aws.add_group(GroupFacts {
        name: "prod-a".into(),
        max_size: 20,
        desired_capacity: 2,
        tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
        ..GroupFacts::default()
    });
    aws.add_hook("prod-a", launch_hook(HOOK));
    aws.add_group(GroupFacts {
        name: "old-a".into(),
        max_size: 20,
        desired_capacity: 1,
        tags: [("team".to_owned(), "batch".to_owned())].into(),
        instances: vec![GroupInstance {
            instance_id: "i-left".into(),
            lifecycle_state: "Pending:Wait".into(),
        }],
        ..GroupFacts::default()
    });
    aws.add_hook("old-a", launch_hook(hook_name));
    aws.add_instance(InstanceFacts {
        instance_id: "i-left".into(),
        instance_type: "m6i.large".into(),
        state: "pending".into(),
        launch_time: Some(now() - Duration::from_secs(waited)),
        ..InstanceFacts::default()
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
async fn a_launch_waiting_on_the_guards_hook_of_a_non_member_group_is_alerted_once_and_critical() {
    // A clock this test moves: the schedule's minutes in one environment.
    static LATER: AtomicU64 = AtomicU64::new(0);
    fn clock() -> SystemTime {
        now() + Duration::from_secs(LATER.load(Ordering::SeqCst))
    }
    // Given a launch into old-a, no longer a member, waiting 301 s of 600 s.
    let (policy, aws) = (policy(&[]), left_group(HOOK, 301));
    let guard = BudgetGuard::new(&policy, &aws).with_clock(clock);

    // When the schedule runs.
    invoke(&guard, SCHEDULE).await.unwrap();

    // Then one critical alert names the launch, its group and the way out.
    let alerts = unanswered(&aws);
    assert_eq!(alerts.len(), 1, "{:?}", kinds(&aws));
    let alert = &alerts[0];
    assert_eq!(alert.severity, shared::alerts::Severity::Critical);
    assert_eq!(alert.instance_id.as_deref(), Some("i-left"));
    assert_eq!(alert.group.as_deref(), Some("old-a"));
    assert_eq!(alert.details["hook"], json!(HOOK));
    assert_eq!(alert.details["cluster_member"], json!(false));
    assert_eq!(
        *at(&alert.details["unanswered"], "0/waited_seconds"),
        json!(301)
    );
    let email = alert.email();
    assert!(email.contains("no longer a member"), "{email}");
    assert!(email.contains("restore"), "{email}");
    // The instance is not a cluster instance: budget-guard may not tag it.
    assert!(
        !aws.instance_facts("i-left")
            .unwrap()
            .tags
            .contains_key(UNANSWERED_TAG)
    );

    // And later runs of the same environment, scans included, stay silent.
    for minutes in [1, 6, 12] {
        LATER.store(minutes * 60, Ordering::SeqCst);
        invoke(&guard, SCHEDULE).await.unwrap();
    }
    assert_eq!(unanswered(&aws).len(), 1, "{:?}", kinds(&aws));
}

#[tokio::test]
async fn non_member_groups_are_scanned_at_most_every_five_minutes() {
    static LATER: AtomicU64 = AtomicU64::new(0);
    fn clock() -> SystemTime {
        now() + Duration::from_secs(LATER.load(Ordering::SeqCst))
    }
    // Given a launch that waited 200 s: not late at the first scan.
    let (policy, aws) = (policy(&[]), left_group(HOOK, 200));
    let guard = BudgetGuard::new(&policy, &aws).with_clock(clock);
    invoke(&guard, SCHEDULE).await.unwrap();
    assert_eq!(unanswered(&aws), vec![]);

    // Late (320 s) two minutes later, but no scan is due.
    LATER.store(120, Ordering::SeqCst);
    invoke(&guard, SCHEDULE).await.unwrap();
    assert_eq!(unanswered(&aws), vec![]);

    // Five minutes after the first scan, the next one alerts it.
    LATER.store(300, Ordering::SeqCst);
    invoke(&guard, SCHEDULE).await.unwrap();
    assert_eq!(unanswered(&aws).len(), 1, "{:?}", kinds(&aws));
}

#[tokio::test]
async fn a_non_member_group_with_another_hook_or_an_early_launch_is_not_alerted() {
    for (hook_name, waited) in [("someone-elses-hook", 2000), (HOOK, 299)] {
        let (policy, aws) = (policy(&[]), left_group(hook_name, waited));
        run(&policy, &aws, SCHEDULE).await.unwrap();
        assert_eq!(unanswered(&aws), vec![], "{hook_name} {waited}");
    }
}

#[tokio::test]
async fn a_launch_launch_guard_answered_before_its_group_left_is_not_alerted() {
    for tag in ["scaling-guard:admitted", "scaling-guard:vetted"] {
        let (policy, aws) = (policy(&[]), left_group(HOOK, 500));
        let mut answered = aws.instance_facts("i-left").unwrap();
        answered.tags.insert(tag.to_owned(), nine_minutes_ago());
        aws.add_instance(answered);
        run(&policy, &aws, SCHEDULE).await.unwrap();
        assert_eq!(unanswered(&aws), vec![], "{tag}");
    }
}

#[tokio::test]
async fn a_member_launch_and_a_non_member_launch_are_alerted_each_their_way() {
    // Given i-left waiting in old-a and i-wait waiting in member prod-a.
    let (policy, aws) = (policy(&[]), left_group(HOOK, 400));
    aws.add_instance(InstanceFacts {
        instance_id: "i-wait".into(),
        instance_type: "m6i.large".into(),
        state: "pending".into(),
        launch_time: Some(now() - Duration::from_secs(350)),
        tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
        ..InstanceFacts::default()
    });
    aws.update_group("prod-a", |g| {
        g.instances.push(GroupInstance {
            instance_id: "i-wait".into(),
            lifecycle_state: "Pending:Wait".into(),
        });
    });

    run(&policy, &aws, SCHEDULE).await.unwrap();

    // Then the member's alert is as before (and its instance tagged), the
    // non-member's says so.
    let alerts = unanswered(&aws);
    let groups: Vec<Option<&str>> = alerts.iter().map(|a| a.group.as_deref()).collect();
    assert_eq!(groups, vec![Some("prod-a"), Some("old-a")]);
    assert!(
        alerts[0]
            .email()
            .contains("EventBridge launch rule is enabled")
    );
    assert!(!alerts[0].email().contains("no longer a member"));
    assert!(
        aws.instance_facts("i-wait")
            .unwrap()
            .tags
            .contains_key(UNANSWERED_TAG)
    );
    assert!(alerts[1].email().contains("no longer a member"));
}
