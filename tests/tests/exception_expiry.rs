//! Exceptions that expire (issue 24, point 5), end to end with the real
//! binaries against the emulator: an exception whose `until=` was
//! yesterday exempts nothing (`target/debug/launch-guard` judges the
//! launch by the check again, while an exception still in force exempts
//! its own group), and `target/debug/budget-guard`, run several times in
//! two execution environments (two processes), publishes exactly one
//! `exception_expired` alert to the SNS topic and records it on the group.
//!
//! Build the binaries first: `cargo build -p launch-guard -p budget-guard`.

use std::time::{Duration, SystemTime};

use scaling_guard_e2e::events;
use serde_json::json;
use shared::time::utc_date;

mod support;

use support::Bed;

/// The fixture's compliant template sets hop limit 2: over this policy's 1.
const MAX_HOP_LIMIT: (&str, &str) = ("GUARD_MAX_IMDS_HOP_LIMIT", "1");
const EXPIRED_GROUP: &str = "prod-general";
const IN_FORCE_GROUP: &str = "prod-system";
const RECORD_TAG: &str = "scaling-guard:exception-expired";

/// The UTC day `days` from today (negative: before), `YYYY-MM-DD`.
fn day(days: i64) -> String {
    let offset = Duration::from_secs(days.unsigned_abs() * 86_400);
    let at = if days < 0 {
        SystemTime::now() - offset
    } else {
        SystemTime::now() + offset
    };
    utc_date(at).to_string()
}

/// `imds.hop_limit` exempted for [`EXPIRED_GROUP`] until yesterday.
fn expired_exception() -> String {
    format!(
        "imds.hop_limit@{EXPIRED_GROUP} until={} reason=PLAT-123 ebs csi needs hop 2",
        day(-1)
    )
}

#[tokio::test]
async fn a_launch_into_a_group_whose_exception_expired_yesterday_is_judged_by_the_check() {
    let exceptions = format!(
        "{},imds.hop_limit@{IN_FORCE_GROUP} until={} reason=PLAT-124",
        expired_exception(),
        day(30)
    );
    let bed = Bed::with_guard(|policy| {
        policy.insert(MAX_HOP_LIMIT.0.into(), MAX_HOP_LIMIT.1.into());
        policy.insert("GUARD_CHECK_EXCEPTIONS".into(), exceptions);
    })
    .await;
    let template = bed.cluster.templates.compliant.clone();

    // The exception of the launch's group ended yesterday: the check blocks.
    let launch = bed
        .cluster
        .launch_with(EXPIRED_GROUP, &template)
        .await
        .unwrap();
    let summary = support::decide(bed.guard(), &launch).await;
    assert_eq!(summary["decision"], "ABANDON", "{summary}");
    assert_eq!(support::violated(&summary), ["imds.hop_limit"], "{summary}");
    assert_eq!(summary.get("exempted"), None, "{summary}");
    let denied = bed.alerts().await;
    assert_eq!(
        support::of_kind(&denied, "launch_denied").len(),
        1,
        "{denied:?}"
    );

    // The exception still in force exempts its own group.
    let launch = bed
        .cluster
        .launch_with(IN_FORCE_GROUP, &template)
        .await
        .unwrap();
    let summary = support::decide(bed.guard(), &launch).await;
    assert_eq!(summary["decision"], "CONTINUE", "{summary}");
    assert_eq!(
        summary["exempted"][0]["check"], "imds.hop_limit",
        "{summary}"
    );
}

#[tokio::test]
async fn budget_guard_alerts_an_expired_exception_once_across_runs_and_environments() {
    let bed = Bed::new().await;
    let policy = bed.policy_with(&[
        MAX_HOP_LIMIT,
        ("GUARD_CHECK_EXCEPTIONS", &expired_exception()),
    ]);
    let schedule = events::budget_schedule().unwrap();

    // Two runs in one execution environment, then two in a replaced one.
    let first = bed.budget_guard(&policy).await;
    let mut expired_by_run = Vec::new();
    for _ in 0..2 {
        let summary = first.invoke(&schedule).await.unwrap();
        expired_by_run.push(summary.get("exceptions_expired").cloned());
    }
    drop(first);
    let replaced = bed.budget_guard(&policy).await;
    for _ in 0..2 {
        let summary = replaced.invoke(&schedule).await.unwrap();
        expired_by_run.push(summary.get("exceptions_expired").cloned());
    }

    // Exactly one exception_expired alert reached the topic.
    let received = bed.alerts().await;
    let expired = support::of_kind(&received, "exception_expired");
    assert_eq!(expired.len(), 1, "{received:?}");
    let alert = &expired[0].message;
    assert_eq!(alert["severity"], "warning", "{alert}");
    assert_eq!(alert["group"], EXPIRED_GROUP, "{alert}");
    assert_eq!(
        alert["details"]["reason"], "PLAT-123 ebs csi needs hop 2",
        "{alert}"
    );
    assert_eq!(alert["details"]["until"], json!(day(-1)), "{alert}");
    assert_eq!(
        expired_by_run,
        [Some(json!([expired_exception()])), None, None, None]
    );

    // The group records it; the cluster's other groups do not.
    let tags = bed.group(EXPIRED_GROUP).await.tags;
    assert_eq!(
        tags.get(RECORD_TAG).map(String::as_str),
        Some(format!("imds.hop_limit/{}", day(-1)).as_str())
    );
    assert_eq!(bed.group(IN_FORCE_GROUP).await.tags.get(RECORD_TAG), None);
}
