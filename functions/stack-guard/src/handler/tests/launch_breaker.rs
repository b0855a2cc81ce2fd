//! The launch breaker (issue 23, scenario 4) is the guard's too: the stack's
//! removal and an update that hands over to audit mode delete it from every
//! launcher role; a role whose breaker cannot be deleted fails the delete,
//! with the role named, so that Karpenter is not left blocked unseen.

use pretty_assertions::assert_eq;
use serde_json::json;
use shared::fakes::{FAKE_REGION, FakeAws};
use shared::launch_breaker::{LaunchBreaker, name};
use shared::ports::LauncherRoles;

use super::rename::update;
use super::{DELETE, answer, cluster, event};
use crate::response::Status;

const KARPENTER: &str = "arn:aws:iam::123456789012:role/karpenter-controller";
const OTHER: &str = "arn:aws:iam::123456789012:role/other-launcher";

/// The cluster, with both launcher roles carrying the breaker of `prod`
/// and another policy of their own.
async fn broken_cluster() -> FakeAws {
    let aws = cluster();
    let breaker = LaunchBreaker {
        name: name("prod", FAKE_REGION),
        document: "{}".into(),
    };
    for role in [KARPENTER, OTHER] {
        aws.add_role(role);
        let own = LaunchBreaker {
            name: "karpenter-own".into(),
            document: "{}".into(),
        };
        aws.put_breaker(role, &breaker).await.unwrap();
        aws.put_breaker(role, &own).await.unwrap();
    }
    aws
}

fn roles() -> serde_json::Value {
    json!(format!("{KARPENTER},{OTHER}"))
}

fn policy_names(aws: &FakeAws, role: &str) -> Vec<String> {
    aws.role_policies(role).into_keys().collect()
}

#[tokio::test]
async fn the_stacks_removal_deletes_the_breaker_from_every_launcher_role() {
    let aws = broken_cluster().await;

    let response = answer(
        &aws,
        event(DELETE, &[("GUARD_LAUNCHER_ROLE_ARNS", roles())]),
    )
    .await;

    assert_eq!(response.status, Status::Success, "{}", response.reason);
    assert_eq!(
        response.data["LaunchBreakerRemoved"],
        format!("{KARPENTER}, {OTHER}")
    );
    for role in [KARPENTER, OTHER] {
        assert_eq!(
            policy_names(&aws, role),
            ["karpenter-own"],
            "only the guard's goes"
        );
    }
}

#[tokio::test]
async fn a_breaker_that_cannot_be_deleted_fails_the_removal_naming_the_role() {
    let aws = broken_cluster().await;
    aws.fail("DeleteRolePolicy");

    let response = answer(
        &aws,
        event(DELETE, &[("GUARD_LAUNCHER_ROLE_ARNS", roles())]),
    )
    .await;

    assert_eq!(response.status, Status::Failed, "{}", response.reason);
    assert!(response.reason.contains(KARPENTER), "{}", response.reason);
    assert!(response.data["NotUndone"].contains("launch breaker"));
}

#[tokio::test]
async fn an_update_that_hands_over_to_audit_deletes_the_breaker() {
    let aws = broken_cluster().await;

    let response = answer(
        &aws,
        update(
            &[
                ("GUARD_MODE", json!("enforce")),
                ("GUARD_LAUNCHER_ROLE_ARNS", roles()),
            ],
            &[
                ("GUARD_MODE", json!("audit")),
                ("GUARD_LAUNCHER_ROLE_ARNS", roles()),
            ],
        ),
    )
    .await;

    assert_eq!(response.status, Status::Success, "{}", response.reason);
    assert_eq!(
        response.data["LaunchBreakerRemoved"],
        format!("{KARPENTER}, {OTHER}")
    );
    assert_eq!(policy_names(&aws, KARPENTER), ["karpenter-own"]);
}
