//! The checks of issue 12 at launch: `image.outdated`, `imds.hop_limit`,
//! `volumes.encrypted`, `instance.key_pair`, and exceptions per group.

use pretty_assertions::assert_eq;
use shared::checks::Violation;
use shared::facts::{ImageFacts, VolumeFacts};
use shared::fixtures::{AL2023_PARAMETER, MORE_NODE_SETTINGS, RECOMMENDED_IMAGE, VOLUME};

use super::*;

/// Every new check on ([`MORE_NODE_SETTINGS`]): Kubernetes 1.31, hop
/// limit 1, volumes encrypted with `KMS_KEY`, no key pair.
fn every_check(extra: &[(&str, &str)]) -> Policy {
    policy(&[&MORE_NODE_SETTINGS[..], extra].concat())
}

/// [`aws`]: the fixtures' instance (volume encrypted with `KMS_KEY`, hop
/// limit 1) and AWS's recommended AL2023 image of 1.31, ten days newer than
/// the node's, named by its public parameter.
fn account() -> FakeAws {
    let aws = aws();
    aws.add_public_parameter(AL2023_PARAMETER, RECOMMENDED_IMAGE);
    aws
}

fn change_instance(aws: &FakeAws, change: impl FnOnce(&mut InstanceFacts)) {
    let mut instance = aws.instance_facts(INSTANCE).unwrap();
    change(&mut instance);
    aws.add_instance(instance);
}

/// The checks of violations that are exempted, in order.
fn exempted_checks(exempted: &[Violation]) -> Vec<&str> {
    exempted.iter().map(|v| v.check.as_str()).collect()
}

#[tokio::test]
async fn a_compliant_launch_with_every_check_on_reads_its_volumes_once_and_the_recommended_images()
{
    let (policy, aws) = (every_check(&[]), account());

    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(summary.decision, Decision::Continue, "{summary:#?}");
    assert_eq!(summary.violations, vec![]);
    assert_eq!(
        (
            aws.calls("DescribeInstances"),
            aws.calls("DescribeVolumes"),
            aws.calls("GetParameters"),
            aws.calls("DescribeImages"),
            aws.calls("DescribeSubnets"),
        ),
        // The fakes cache nothing: the node's image and the recommended
        // one are two image reads here; in production both are cached.
        (1, 1, 1, 2, 1)
    );
}

#[tokio::test]
async fn with_the_new_checks_off_no_volume_or_parameter_is_read() {
    let (policy, aws) = (policy(&[]), account());
    run(&policy, &aws, LAUNCH).await.unwrap();
    assert_eq!(
        (aws.calls("DescribeVolumes"), aws.calls("GetParameters")),
        (0, 0)
    );
}

#[rstest]
#[case::unencrypted_volume(|aws: &FakeAws| aws.add_volume(VolumeFacts { volume_id: VOLUME.into(), ..VolumeFacts::default() }), "volumes.encrypted")]
#[case::hop_limit(|aws: &FakeAws| change_instance(aws, |i| i.http_put_response_hop_limit = Some(2)), "imds.hop_limit")]
#[case::key_pair(|aws: &FakeAws| change_instance(aws, |i| i.key_name = Some("ops".into())), "instance.key_pair")]
#[case::other_kubernetes_version(|aws: &FakeAws| aws.add_image(ImageFacts { image_id: IMAGE.into(), name: Some("amazon-eks-node-al2023-x86_64-standard-1.30-v20261101".into()), owner_alias: Some("amazon".into()), creation_date: Some(days_ago(25)), ..ImageFacts::default() }), "image.outdated")]
#[case::behind_the_recommended_image(|aws: &FakeAws| aws.add_image(ImageFacts { image_id: IMAGE.into(), name: Some("amazon-eks-node-al2023-x86_64-standard-1.31-v20260901".into()), owner_alias: Some("amazon".into()), creation_date: Some(days_ago(60)), ..ImageFacts::default() }), "image.outdated")]
#[tokio::test]
async fn each_new_check_abandons_a_launch_that_breaks_it_and_alerts(
    #[case] breaker: fn(&FakeAws),
    #[case] check: &str,
) {
    let (policy, aws) = (every_check(&[("GUARD_MAX_AMI_AGE_DAYS", "365")]), account());
    breaker(&aws);

    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(summary.decision, Decision::Abandon, "{summary:#?}");
    assert_eq!(checks_of(&summary.violations), vec![check]);
    assert_eq!(results(&aws), vec![LifecycleResult::Abandon]);
    let alerts = aws.published();
    assert_eq!(alerts.len(), 1);
    let alerted: Vec<&str> = alerts[0]
        .violations
        .iter()
        .map(|f| f.violation.check.as_str())
        .collect();
    assert_eq!(alerted, vec![check]);
}

#[tokio::test]
async fn an_exempted_check_lets_the_launch_in_and_is_listed_as_exempted_without_an_alert() {
    let policy = every_check(&[("GUARD_CHECK_EXCEPTIONS", "imds.hop_limit@prod-gen*")]);
    let aws = account();
    change_instance(&aws, |i| i.http_put_response_hop_limit = Some(2));

    let summary = run(&policy, &aws, LAUNCH).await.unwrap();

    assert_eq!(summary.decision, Decision::Continue, "{summary:#?}");
    assert_eq!(summary.violations, vec![]);
    assert_eq!(exempted_checks(&summary.exempted), vec!["imds.hop_limit"]);
    assert_eq!(summary.exempted[0].actual, "HttpPutResponseHopLimit=2");
    assert_eq!(aws.published(), vec![]);

    // Another group's glob does not exempt this one.
    let other = every_check(&[("GUARD_CHECK_EXCEPTIONS", "imds.hop_limit@prod-ebs-csi-*")]);
    let aws = account();
    change_instance(&aws, |i| i.http_put_response_hop_limit = Some(2));
    let summary = run(&other, &aws, LAUNCH).await.unwrap();
    assert_eq!(summary.decision, Decision::Abandon);
    assert_eq!(summary.exempted, vec![]);
    let answered = serde_json::to_value(&summary).unwrap();
    assert!(answered.get("exempted").is_none(), "{answered}");
}

#[rstest]
#[case::recommended_images(|aws: &FakeAws| aws.fail("GetParameters"), "AWS's recommended images: `GetParameters` failed: injected failure")]
#[case::volumes(|aws: &FakeAws| aws.fail("DescribeVolumes"), "the volumes: `DescribeVolumes` failed: injected failure")]
#[case::no_volume_listed_yet(|aws: &FakeAws| change_instance(aws, |i| i.volume_ids.clear()), "the volumes: instance `i-0a1b2c3d4e5f60718` reports no attached EBS volume yet")]
#[tokio::test]
async fn a_new_fact_that_cannot_be_read_leaves_the_launch_to_the_fail_mode(
    #[case] fault: fn(&FakeAws),
    #[case] reason: &str,
) {
    for (fail_mode, decision) in [
        ("abandon", Decision::Abandon),
        ("continue", Decision::Continue),
    ] {
        let (policy, aws) = (every_check(&[("GUARD_FAIL_MODE", fail_mode)]), account());
        fault(&aws);
        let summary = run(&policy, &aws, LAUNCH).await.unwrap();
        assert_eq!(summary.decision, decision, "{summary:#?}");
        assert_eq!(summary.reason.as_deref(), Some(reason));
        assert_eq!(summary.violations, vec![]);
    }
}
