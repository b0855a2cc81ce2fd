//! The record of expired exceptions' alerts (`scaling-guard:exception-expired`,
//! budget-guard's) is the guard's own: a release removes it from the
//! cluster's groups, and leaves another cluster's alone (issue 25, point 4).

use pretty_assertions::assert_eq;

use super::*;
use crate::policy::EXCEPTION_EXPIRED_TAG;

const RECORD: &str = "imds.hop_limit/2027-03-31";

/// [`account`] with the record on prod-b (cluster prod) and staging-a.
fn recorded_account() -> FakeAws {
    let aws = account();
    for name in ["prod-b", "staging-a"] {
        aws.update_group(name, |g| {
            g.tags.insert(EXCEPTION_EXPIRED_TAG.into(), RECORD.into());
        });
    }
    aws
}

#[tokio::test]
async fn a_survey_lists_the_clusters_exception_records() {
    let aws = recorded_account();
    let found = survey(&aws, &scope()).await;
    assert_eq!(found.exception_records, vec!["prod-b"]);
    assert!(!found.is_clean());
}

#[tokio::test(start_paused = true)]
async fn a_release_removes_the_clusters_exception_records_only() {
    let aws = recorded_account();
    let mut report = ReleaseReport::default();

    release(
        &aws,
        &scope(),
        now(),
        Instant::now() + Duration::from_secs(60),
        &mut report,
    )
    .await;

    assert!(report.is_complete(), "{report:?}");
    let prod_b = aws.group_facts("prod-b").unwrap();
    assert_eq!(prod_b.tags.get(EXCEPTION_EXPIRED_TAG), None);
    assert_eq!(report.records_removed, vec!["prod-b"]);
    let staging = aws.group_facts("staging-a").unwrap();
    assert_eq!(
        staging.tags.get(EXCEPTION_EXPIRED_TAG).map(String::as_str),
        Some(RECORD)
    );
}

#[tokio::test(start_paused = true)]
async fn a_record_that_cannot_be_removed_is_left() {
    let aws = recorded_account();
    aws.fail("DeleteTags");
    let mut report = ReleaseReport::default();

    release(
        &aws,
        &scope(),
        now(),
        Instant::now() + Duration::from_secs(60),
        &mut report,
    )
    .await;

    assert!(!report.is_complete());
    assert!(
        report
            .leftovers
            .iter()
            .any(|left| left.contains("prod-b") && left.contains(EXCEPTION_EXPIRED_TAG)),
        "{report:?}"
    );
}
