//! A record that knows its alarms only by digest (too long for their names,
//! issue 21 scenario 2) needs the surge prefix to find them. Without one
//! (the prefix was removed by a stack update, say), the resume is held and
//! says why: an alarm is never dropped by not being asked.

use pretty_assertions::assert_eq;
use shared::suspension::{SUSPENDED_TAG, SuspensionRecord};

use super::{NONE, SCHEDULE, cluster, launch_suspended, run_schedule};
use crate::fixtures::{now, policy};

#[tokio::test]
async fn a_record_of_alarm_digests_holds_the_resume_when_no_surge_prefix_can_find_them() {
    // Given prod-a suspended by the guard for ten alarms too long to name,
    // and usage far below every threshold
    let policy = policy(&[("GUARD_SURGE_ALARM_PREFIX", "")]);
    assert!(policy.alarms.surge_alarm_prefix.is_none());
    let aws = cluster(1);
    let alarms = (0..10).map(|n| format!("{n}{}", "x".repeat(254))).collect();
    let record = SuspensionRecord::new("surge".into(), "alarm", now(), alarms);
    aws.update_group("prod-a", |g| {
        g.desired_capacity = 0;
        g.suspended_processes = vec!["Launch".into()];
        g.tags
            .insert(SUSPENDED_TAG.into(), record.to_tag_value("prod-a", None));
    });

    // When the schedule runs
    let summary = run_schedule(&policy, &aws, SCHEDULE).await;

    // Then prod-a stays suspended, and the summary says why
    assert_eq!(summary.resumed, NONE, "{summary:?}");
    assert!(launch_suspended(&aws, "prod-a"));
    assert!(
        format!("{summary:?}").contains("surge alarm prefix"),
        "{summary:?}"
    );
}
