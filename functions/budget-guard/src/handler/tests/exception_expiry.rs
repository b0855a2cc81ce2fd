//! Issue 24, point 5: an expired exception is alerted once by the schedule,
//! whichever execution environment runs it, and recorded on its groups.

use pretty_assertions::assert_eq;
use shared::alerts::Severity;

use super::*;
use crate::handler::expired_exceptions::EXCEPTION_EXPIRED_TAG;

/// One scheduled run of `guard` (an execution environment), its summary.
async fn schedule(guard: &BudgetGuard<'_, FakeAws>) -> ScheduleSummary {
    schedule_of(answer(guard, SCHEDULE).await.unwrap())
}

/// The fixtures' day is 2026-09-21: this exception ended the day before.
const EXPIRED: &str = "imds.hop_limit@prod-* until=2026-09-20 reason=PLAT-123 ebs csi needs hop 2";
/// Ends at the end of the fixtures' day: still in force.
const ENDS_TODAY: &str = "imds.v2@prod-a until=2026-09-21 reason=PLAT-9";

fn expired_alerts(aws: &FakeAws) -> Vec<Alert> {
    aws.published()
        .into_iter()
        .filter(|a| a.kind == AlertKind::ExceptionExpired)
        .collect()
}

fn record(aws: &FakeAws, group: &str) -> Option<String> {
    aws.group_facts(group)?
        .tags
        .get(EXCEPTION_EXPIRED_TAG)
        .cloned()
}

#[tokio::test]
async fn an_expired_exception_is_alerted_once_across_two_execution_environments() {
    // Given an exception that expired yesterday and one that ends today.
    let policy = policy(&[("GUARD_CHECK_EXCEPTIONS", &format!("{EXPIRED},{ENDS_TODAY}"))]);
    let aws = cluster(2);
    let first = BudgetGuard::new(&policy, &aws).with_clock(now);
    let second = BudgetGuard::new(&policy, &aws).with_clock(now);

    // When one environment runs the schedule twice, then another (a
    // replaced environment, with no memory of the first) twice.
    let mut runs = Vec::new();
    for guard in [&first, &first, &second, &second] {
        runs.push(schedule(guard).await.exceptions_expired);
    }

    // Then one warning names the expired exception and its cluster groups.
    let alerts = expired_alerts(&aws);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].severity, Severity::Warning);
    assert_eq!(
        alerts[0].details["groups"],
        serde_json::json!(["prod-a", "prod-b"])
    );
    assert!(
        alerts[0]
            .advice
            .contains("reason: PLAT-123 ebs csi needs hop 2"),
        "{}",
        alerts[0].advice
    );
    assert_eq!(runs[0], vec![EXPIRED.to_owned()]);
    assert!(runs[1..].iter().all(Vec::is_empty), "{runs:?}");
    // And each of them records it; the other cluster's group is untouched.
    assert_eq!(
        record(&aws, "prod-a").as_deref(),
        Some("imds.hop_limit/2026-09-20")
    );
    assert_eq!(
        record(&aws, "prod-b").as_deref(),
        Some("imds.hop_limit/2026-09-20")
    );
    assert_eq!(record(&aws, "staging-a"), None);
}

#[tokio::test]
async fn an_alert_that_cannot_be_published_is_not_recorded_and_is_sent_by_the_next_run() {
    let policy = policy(&[("GUARD_CHECK_EXCEPTIONS", EXPIRED)]);
    let aws = cluster(2);
    let guard = BudgetGuard::new(&policy, &aws).with_clock(now);
    aws.fail_times("Publish", 1);

    assert_eq!(
        schedule(&guard).await.exceptions_expired,
        Vec::<String>::new()
    );
    assert_eq!(record(&aws, "prod-a"), None);

    assert_eq!(
        schedule(&guard).await.exceptions_expired,
        vec![EXPIRED.to_owned()]
    );
    assert_eq!(expired_alerts(&aws).len(), 1);
}

#[tokio::test]
async fn a_renewed_exception_that_expires_again_is_alerted_again_and_its_old_entry_dropped() {
    // Given a group that recorded an earlier expiry of the same check.
    let aws = cluster(2);
    aws.update_group("prod-a", |g| {
        g.tags.insert(
            EXCEPTION_EXPIRED_TAG.into(),
            "imds.hop_limit/2026-03-01".into(),
        );
    });
    let policy = policy(&[(
        "GUARD_CHECK_EXCEPTIONS",
        "imds.hop_limit@prod-a until=2026-09-20",
    )]);

    // When the schedule runs.
    schedule(&BudgetGuard::new(&policy, &aws).with_clock(now)).await;

    // Then the new expiry is alerted and replaces the old entry.
    assert_eq!(expired_alerts(&aws).len(), 1);
    assert_eq!(
        record(&aws, "prod-a").as_deref(),
        Some("imds.hop_limit/2026-09-20")
    );
}

#[tokio::test]
async fn exceptions_in_force_without_an_end_or_matching_no_group_are_not_alerted() {
    let policy = policy(&[(
        "GUARD_CHECK_EXCEPTIONS",
        &format!("{ENDS_TODAY},imds.v2@prod-b,imds.v2@nothing-* until=2026-01-01"),
    )]);
    let aws = cluster(2);

    let summary = schedule(&BudgetGuard::new(&policy, &aws).with_clock(now)).await;

    assert_eq!(summary.exceptions_expired, Vec::<String>::new());
    assert_eq!(expired_alerts(&aws), vec![]);
    assert_eq!(aws.calls("CreateOrUpdateTags"), 0);
}
