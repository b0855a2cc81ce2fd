//! Every command but `release --yes` accepts [`ReadOnlyAws`], a bundle with
//! no write trait: that this file compiles is the proof that `audit`,
//! `explain` and `release`'s dry run cannot change anything. Each also gives
//! the same answer through it as through the whole fake account.

use pretty_assertions::assert_eq;
use shared::fakes::{FAKE_REGION as REGION, FakeAws, ReadOnlyAws};
use shared::lifecycle::{LAUNCHING, LifecycleAction, Notification, Origin};
use shared::release::Scope;

use super::*;
use crate::fixtures::{GROUP, HOOK, cluster, node, now, policy, waiting};

const CANDIDATE: &str = "i-0000000000000000f";

/// Two running nodes of the cluster and a third waiting for launch-guard.
fn account() -> FakeAws {
    let aws = cluster(vec![
        node("i-0000000000000000a", Some(GROUP)),
        node("i-0000000000000000b", Some(GROUP)),
        node(CANDIDATE, Some(GROUP)),
    ]);
    waiting(&aws, CANDIDATE);
    aws
}

#[tokio::test]
async fn audit_runs_on_read_ports_only() {
    let (aws, policy) = (account(), policy(&[("GUARD_MAX_INSTANCES", "5")]));

    let read_only = audit::run(&policy, &ReadOnlyAws(&aws), now())
        .await
        .unwrap();

    assert_eq!(read_only.summary.instances, 3);
    assert_eq!(read_only, audit::run(&policy, &aws, now()).await.unwrap());
}

#[tokio::test]
async fn explain_runs_on_read_ports_only() {
    let (aws, policy) = (account(), policy(&[("GUARD_MAX_INSTANCES", "5")]));
    let launch = || Notification::Action {
        action: Box::new(LifecycleAction {
            token: "token-1".into(),
            group: GROUP.into(),
            hook: HOOK.into(),
            instance_id: CANDIDATE.into(),
            transition: LAUNCHING.into(),
            notification_metadata: None,
            origin: Some("EC2".into()),
            destination: Some("AutoScalingGroup".into()),
        }),
        origin: Origin::default(),
    };

    let read_only = explain::run(&policy, &ReadOnlyAws(&aws), launch(), now())
        .await
        .unwrap();

    assert_eq!(read_only.instance_id.as_deref(), Some(CANDIDATE));
    let whole = explain::run(&policy, &aws, launch(), now()).await.unwrap();
    assert_eq!(read_only, whole);
}

#[tokio::test]
async fn release_s_dry_run_runs_on_read_ports_only() {
    let (aws, policy) = (account(), policy(&[]));
    let scope = Scope::of(&policy);

    let read_only = release_dry_run(&ReadOnlyAws(&aws), &policy, &scope, REGION).await;

    let json = |outcome: &release::Outcome| serde_json::to_value(outcome).unwrap();
    assert_eq!(json(&read_only)["hooks"], serde_json::json!([GROUP]));
    assert_eq!(
        json(&read_only),
        json(&release_dry_run(&aws, &policy, &scope, REGION).await)
    );
}
