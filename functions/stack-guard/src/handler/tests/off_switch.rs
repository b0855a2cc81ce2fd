//! An update that switches `Mode` from enforce to audit is the off switch
//! at once (issue 21, scenario 6): the guard's suspensions and clamps are
//! lifted, its hook continues by default, one alert says so; nothing of
//! anyone else's is touched.

use pretty_assertions::assert_eq;
use serde_json::json;
use shared::alerts::AlertKind;
use shared::fakes::FakeAws;
use shared::ports::ClusterGroupsRead;
use shared::suspension::SUSPENDED_TAG;

use super::rename::update;
use super::{HOOK, answer, cluster};
use crate::response::Status;

async fn default_results(aws: &FakeAws, group: &str) -> Vec<(String, Option<String>)> {
    let hooks = aws.lifecycle_hooks(group).await.unwrap();
    hooks
        .into_iter()
        .map(|h| (h.name, h.default_result))
        .collect()
}

fn abandon(name: &str) -> (String, Option<String>) {
    (name.to_owned(), Some("ABANDON".to_owned()))
}

fn continues(name: &str) -> (String, Option<String>) {
    (name.to_owned(), Some("CONTINUE".to_owned()))
}

#[tokio::test]
async fn an_update_from_enforce_to_audit_undoes_the_guards_suspensions_and_abandoning_hooks_at_once()
 {
    // Given prod-a suspended and clamped by the guard, prod-a and prod-b
    // with its abandoning hook, prod-c suspended by someone else, staging-a
    // another cluster's.
    let aws = cluster();

    // When the stack is updated from enforce to audit.
    let response = answer(
        &aws,
        update(
            &[("GUARD_MODE", json!("enforce"))],
            &[("GUARD_MODE", json!("audit"))],
        ),
    )
    .await;

    // Then the update succeeds and says what it handed over.
    assert_eq!(response.status, Status::Success, "{}", response.reason);
    assert!(
        response.reason.contains("handed over to audit mode"),
        "{}",
        response.reason
    );
    assert_eq!(response.data["HandedOverResumed"], "prod-a");
    assert_eq!(response.data["HandedOverMaxSizeRestored"], "prod-a=20");
    assert_eq!(response.data["HandedOverHooksContinue"], "prod-a, prod-b");
    assert_eq!(response.data["NotHandedOver"], "");
    // And the guard's suspension and clamp are gone, its hooks continue.
    let prod_a = aws.group_facts("prod-a").unwrap();
    assert_eq!(prod_a.suspended_processes, Vec::<String>::new());
    assert_eq!(prod_a.max_size, 20);
    assert!(!prod_a.tags.contains_key(SUSPENDED_TAG));
    assert_eq!(default_results(&aws, "prod-a").await, vec![continues(HOOK)]);
    assert_eq!(
        default_results(&aws, "prod-b").await,
        vec![abandon("node-bootstrap"), continues(HOOK)],
        "another team's hook is not the guard's"
    );
    // And nothing of anyone else's changed.
    assert_eq!(
        aws.group_facts("prod-c").unwrap().suspended_processes,
        vec!["Launch", "AZRebalance"]
    );
    let staging = aws.group_facts("staging-a").unwrap();
    assert_eq!(staging.suspended_processes, vec!["Launch"]);
    assert_eq!(staging.max_size, 4);
    assert_eq!(
        default_results(&aws, "staging-a").await,
        vec![abandon(HOOK)]
    );
    // And one alert says what was undone.
    let alerts = aws.published();
    assert_eq!(
        alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
        vec![AlertKind::AuditHandover]
    );
    assert_eq!(alerts[0].details["resumed"], json!(["prod-a"]));
    assert_eq!(
        alerts[0].details["hooks_continue"],
        json!(["prod-a", "prod-b"])
    );
}

#[tokio::test]
async fn an_update_that_stays_in_audit_mode_changes_nothing() {
    let aws = cluster();

    let response = answer(
        &aws,
        update(
            &[("GUARD_MODE", json!("audit"))],
            &[("GUARD_MODE", json!("audit"))],
        ),
    )
    .await;

    assert_eq!(response.status, Status::Success);
    assert!(aws.mutations().is_empty(), "{:?}", aws.mutations());
    assert!(!response.data.contains_key("HandedOverResumed"));
}

#[tokio::test]
async fn an_update_that_stays_in_enforce_mode_hands_nothing_over() {
    let aws = cluster();

    answer(&aws, update(&[], &[])).await;

    assert_eq!(
        aws.group_facts("prod-a").unwrap().suspended_processes,
        vec!["Launch"]
    );
    assert!(aws.mutations().is_empty(), "{:?}", aws.mutations());
}
