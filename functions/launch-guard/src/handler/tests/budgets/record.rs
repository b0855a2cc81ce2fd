//! The suspension record (issue 21, scenario 1): a batch's later denials
//! read the group before the first denial suspended it; the record they
//! leave must still hold the original MaxSize, and the surge is alerted once.

use pretty_assertions::assert_eq;
use shared::suspension::{self, SUSPENDED_TAG, SuspensionRecord};

use super::batch::decide_batch;
use super::*;

/// The stack's key, as the template generates it.
const RECORD_KEY: &str = "Zm9yIHRoZSB0ZXN0czogdGhlIHN0YWNrIGdlbmVyYXRlcyBpdHMgb3du";

#[tokio::test]
async fn a_batch_of_three_budget_denials_with_clamp_keeps_the_original_max_size_for_the_resume() {
    // Given prod-general at MaxSize 50 with one node running and a budget of
    // one instance, clamping on,
    let policy = policy(&[
        ("GUARD_MAX_INSTANCES", "1"),
        ("GUARD_CLAMP_MAX_SIZE", "true"),
        ("GUARD_RECORD_KEY", RECORD_KEY),
    ]);
    let key = policy.record_key.as_ref();
    let aws = cluster(1, 3);
    aws.update_group(GROUP, |g| g.max_size = 50);
    let guard = LaunchGuard::new(&policy, &aws).with_clock(now);

    // when one SQS batch brings three launches, each denied for budget,
    decide_batch(&guard, 0..3).await;

    // then the group is suspended and clamped once, its record keeps 50,
    assert_eq!(launched(&aws, LifecycleResult::Abandon), 3);
    let clamped = aws.group_facts(GROUP).unwrap();
    assert_eq!(clamped.max_size, 4);
    let record = SuspensionRecord::of(&clamped, key).expect("the guard's record");
    assert_eq!(
        (record.original_max_size, record.clamped_to),
        (Some(50), Some(4)),
        "{}",
        clamped.tags[SUSPENDED_TAG]
    );
    // one scale_out_suspended alert was sent for the surge,
    let suspended = kinds(&aws)
        .into_iter()
        .filter(|kind| *kind == AlertKind::ScaleOutSuspended)
        .count();
    assert_eq!(suspended, 1, "{:?}", kinds(&aws));
    // and budget-guard's resume restores MaxSize 50.
    let later = now() + Duration::from_secs(3600);
    let report = suspension::resume(&aws, &[clamped], later, &[], key, |_| Ok(())).await;
    assert_eq!(report.changed, vec!["prod-general".to_owned()]);
    let resumed = aws.group_facts(GROUP).unwrap();
    assert_eq!(resumed.max_size, 50);
    assert!(!resumed.tags.contains_key(SUSPENDED_TAG));
}
