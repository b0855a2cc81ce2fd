//! A stack's Delete removes budget-guard's record of expired exceptions'
//! alerts (`scaling-guard:exception-expired`) from its cluster's groups,
//! and leaves another cluster's (issue 25, point 4).

use pretty_assertions::assert_eq;
use shared::policy::EXCEPTION_EXPIRED_TAG;

use super::{DELETE, answer, cluster, event};
use crate::response::Status;

const RECORD: &str = "imds.hop_limit/2027-03-31";

#[tokio::test(start_paused = true)]
async fn a_delete_removes_the_clusters_exception_records_only() {
    let aws = cluster();
    for name in ["prod-b", "staging-a"] {
        aws.update_group(name, |g| {
            g.tags.insert(EXCEPTION_EXPIRED_TAG.into(), RECORD.into());
        });
    }

    let response = answer(&aws, event(DELETE, &[])).await;

    assert_eq!(response.status, Status::Success, "{}", response.reason);
    assert_eq!(response.data["ExceptionRecordsRemoved"], "prod-b");
    let prod_b = aws.group_facts("prod-b").unwrap();
    assert_eq!(prod_b.tags.get(EXCEPTION_EXPIRED_TAG), None);
    let staging = aws.group_facts("staging-a").unwrap();
    assert_eq!(
        staging.tags.get(EXCEPTION_EXPIRED_TAG).map(String::as_str),
        Some(RECORD)
    );
}
