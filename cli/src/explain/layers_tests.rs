//! `explain` names, for each check the launch breaks, every layer that
//! enforces it (the table `export` reads: [`shared::export::layers`]).

use pretty_assertions::assert_eq;
use shared::export::Layer;
use shared::lifecycle::{LAUNCHING, Origin};

use super::*;
use crate::fixtures::{GROUP, HOOK, cluster, node, now, policy, waiting};

const CANDIDATE: &str = "i-0000000000000000f";

/// The candidate launches on a metal instance without IMDSv2.
async fn explained_violations() -> (Explanation, Policy) {
    let mut candidate = node(CANDIDATE, Some(GROUP));
    candidate.instance_type = "p5.48xlarge".into();
    candidate.http_tokens = Some(shared::facts::HttpTokens::Optional);
    let aws = cluster(vec![candidate]);
    waiting(&aws, CANDIDATE);
    let policy = policy(&[]);
    let action = LifecycleAction {
        token: "token-1".into(),
        group: GROUP.into(),
        hook: HOOK.into(),
        instance_id: CANDIDATE.into(),
        transition: LAUNCHING.into(),
        notification_metadata: None,
        origin: Some("EC2".into()),
        destination: Some("AutoScalingGroup".into()),
    };
    let notification = Notification::Action {
        action: Box::new(action),
        origin: Origin::default(),
    };
    let explanation = run(&policy, &aws, notification, now()).await.unwrap();
    (explanation, policy)
}

#[tokio::test]
async fn each_broken_check_is_shown_with_the_layers_that_enforce_it() {
    let (explanation, policy) = explained_violations().await;

    let layers: Vec<(CheckName, Vec<Layer>)> = explanation
        .enforced_by
        .iter()
        .map(|row| (row.check, row.layers.clone()))
        .collect();
    assert_eq!(
        layers,
        vec![
            (
                CheckName::InstanceTypeAllowed,
                vec![Layer::Scp, Layer::LaunchGuard, Layer::InstanceAudit]
            ),
            (
                CheckName::ImdsV2,
                vec![
                    Layer::Scp,
                    Layer::DeclarativePolicy,
                    Layer::LaunchGuard,
                    Layer::InstanceAudit
                ]
            ),
        ]
    );
    let text = render(&explanation, &policy);
    assert!(
        text.contains(
            "\nwhere these checks are enforced (`scaling-guard export` writes the preventive ones):\n\
             CHECK                  ENFORCED BY\n\
             instance_type.allowed  SCP/boundary, launch-guard hook, instance-audit after launch\n\
             imds.v2                SCP/boundary, declarative policy, launch-guard hook, instance-audit after launch\n"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_compliant_launch_lists_no_layers() {
    let aws = cluster(vec![node(CANDIDATE, Some(GROUP))]);
    waiting(&aws, CANDIDATE);
    let policy = policy(&[]);
    let notification = Notification::Action {
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

    let explanation = run(&policy, &aws, notification, now()).await.unwrap();

    assert_eq!(explanation.enforced_by, vec![]);
    assert!(!render(&explanation, &policy).contains("where these checks are enforced"));
}
