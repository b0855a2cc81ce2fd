use crate::fixtures::at;
use pretty_assertions::assert_eq;
use rstest::rstest;

use super::*;
use crate::facts::{HttpTokens, NodeFacts};
use crate::fixtures::{IMAGE, compliant_node, days_ago, now, strict_policy};

fn names(violations: &[Violation]) -> Vec<&'static str> {
    violations.iter().map(|v| v.check.as_str()).collect()
}

#[test]
fn a_compliant_node_has_no_violations() {
    assert_eq!(
        check_node(&strict_policy(&[]), &compliant_node(), now()),
        vec![]
    );
}

#[test]
fn with_every_check_off_even_a_bad_node_passes() {
    let policy = crate::policy::Policy::from_vars([
        ("GUARD_CLUSTER", "prod"),
        (
            "GUARD_ALERT_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:123456789012:alerts",
        ),
        ("GUARD_DENY_DEPRECATED_AMIS", "false"),
        ("GUARD_REQUIRE_PRIVATE_SUBNET", "false"),
        ("GUARD_REQUIRE_IMDSV2", "false"),
    ])
    .unwrap();
    let mut node = compliant_node();
    node.instance.public_ip = Some("203.0.113.7".into());
    node.instance.http_tokens = Some(HttpTokens::Optional);
    node.image = None;
    node.subnet = None;
    assert_eq!(check_node(&policy, &node, now()), vec![]);
}

type Breaker = fn(&mut NodeFacts);

#[rstest]
#[case::unapproved_image_name(
    |n: &mut NodeFacts| n.image.as_mut().unwrap().name = Some("ubuntu-22.04-custom".into()),
    "image.allowed", IMAGE,
    "image `ami-0ccc0001` (`ubuntu-22.04-custom`, owner `amazon`) is not an approved image"
)]
#[case::unapproved_image_owner(
    |n: &mut NodeFacts| { let i = n.image.as_mut().unwrap(); i.owner_alias = None; i.owner_id = Some("999999999999".into()); },
    "image.allowed", IMAGE,
    "image `ami-0ccc0001` (`amazon-eks-node-al2023-x86_64-standard-1.31-v20260901`, owner `999999999999`) is not an approved image"
)]
#[case::old_image(
    |n: &mut NodeFacts| n.image.as_mut().unwrap().creation_date = Some(days_ago(120)),
    "image.age", IMAGE,
    "image `ami-0ccc0001` is 120 days old, older than the 90 days allowed"
)]
#[case::image_without_creation_date(
    |n: &mut NodeFacts| n.image.as_mut().unwrap().creation_date = None,
    "image.age", IMAGE,
    "image `ami-0ccc0001` has no creation date, so its age is unknown"
)]
#[case::deprecated_image(
    |n: &mut NodeFacts| n.image.as_mut().unwrap().deprecation_time = Some(days_ago(1)),
    "image.deprecated", IMAGE,
    "image `ami-0ccc0001` is deprecated since 2026-09-20T14:13:20Z"
)]
#[case::subnet_not_allowed(
    |n: &mut NodeFacts| n.instance.subnet_id = Some("subnet-0eee0009".into()),
    "subnet.allowed", "i-0123456789abcdef0",
    "instance `i-0123456789abcdef0` runs in subnet `subnet-0eee0009`, which is not allowed"
)]
#[case::public_ip(
    |n: &mut NodeFacts| n.instance.public_ip = Some("203.0.113.7".into()),
    "subnet.public", "i-0123456789abcdef0",
    "instance `i-0123456789abcdef0` has the public ip address `203.0.113.7`"
)]
#[case::subnet_maps_public_ips(
    |n: &mut NodeFacts| n.subnet.as_mut().unwrap().map_public_ip_on_launch = true,
    "subnet.public", "subnet-0aaa0001",
    "subnet `subnet-0aaa0001` gives public ip addresses to what launches in it"
)]
#[case::subnet_unknown(
    |n: &mut NodeFacts| n.subnet = None,
    "subnet.public", "subnet-0aaa0001",
    "subnet `subnet-0aaa0001` could not be described, so it cannot be shown to be private"
)]
#[case::foreign_security_group(
    |n: &mut NodeFacts| n.instance.security_group_ids.push("sg-0fff0666".into()),
    "security_groups.allowed", "i-0123456789abcdef0",
    "instance `i-0123456789abcdef0` carries security groups that are not allowed: `sg-0fff0666`"
)]
#[case::type_not_in_allow_list(
    |n: &mut NodeFacts| n.instance.instance_type = "p5.48xlarge".into(),
    "instance_type.allowed", "i-0123456789abcdef0",
    "instance type `p5.48xlarge` matches none of the allowed patterns `m6i.*,c7g.2xlarge`"
)]
#[case::type_denied_although_allowed(
    |n: &mut NodeFacts| n.instance.instance_type = "m6i.metal".into(),
    "instance_type.allowed", "i-0123456789abcdef0",
    "instance type `m6i.metal` is denied by pattern `*.metal`"
)]
#[case::imdsv1(
    |n: &mut NodeFacts| n.instance.http_tokens = Some(HttpTokens::Optional),
    "imds.v2", "i-0123456789abcdef0",
    "instance `i-0123456789abcdef0` allows IMDSv1 (HttpTokens=optional); set the launch template's metadata option HttpTokens to `required`"
)]
#[case::no_metadata_options(
    |n: &mut NodeFacts| n.instance.http_tokens = None,
    "imds.v2", "i-0123456789abcdef0",
    "instance `i-0123456789abcdef0` allows IMDSv1 (no metadata options reported); set the launch template's metadata option HttpTokens to `required`"
)]
#[case::other_environments_profile(
    |n: &mut NodeFacts| n.instance.instance_profile_arn = Some("arn:aws:iam::123456789012:instance-profile/staging-node".into()),
    "instance_profile.allowed", "i-0123456789abcdef0",
    "instance `i-0123456789abcdef0` runs with instance profile `arn:aws:iam::123456789012:instance-profile/staging-node`, which is not allowed"
)]
#[case::no_profile(
    |n: &mut NodeFacts| n.instance.instance_profile_arn = None,
    "instance_profile.allowed", "i-0123456789abcdef0",
    "instance `i-0123456789abcdef0` runs with instance profile `none`, which is not allowed"
)]
fn each_broken_fact_is_reported_by_its_check(
    #[case] breaker: Breaker,
    #[case] check: &str,
    #[case] resource: &str,
    #[case] message: &str,
) {
    let mut node = compliant_node();
    breaker(&mut node);
    let violations = check_node(&strict_policy(&[]), &node, now());
    assert_eq!(names(&violations), vec![check]);
    assert_eq!(violations[0].resource, resource);
    assert_eq!(violations[0].message, message);
}

#[test]
fn every_violation_is_reported_sorted_not_only_the_first() {
    let mut node = compliant_node();
    node.instance.instance_type = "m6i.metal".into();
    node.instance.http_tokens = Some(HttpTokens::Optional);
    node.instance.public_ip = Some("203.0.113.7".into());
    node.image.as_mut().unwrap().creation_date = Some(days_ago(400));
    node.instance.security_group_ids = vec!["sg-0fff0666".into()];
    let violations = check_node(&strict_policy(&[]), &node, now());
    assert_eq!(
        names(&violations),
        vec![
            "image.age",
            "subnet.public",
            "security_groups.allowed",
            "instance_type.allowed",
            "imds.v2"
        ]
    );
}

#[test]
fn an_image_that_cannot_be_described_fails_every_image_check_that_is_on() {
    let mut node = compliant_node();
    node.image = None;
    let violations = check_node(&strict_policy(&[]), &node, now());
    assert_eq!(
        names(&violations),
        vec!["image.allowed", "image.age", "image.deprecated"]
    );
    assert!(violations.iter().all(|v| v.actual == "not found"));
}

#[rstest]
#[case::listed_id(&[("GUARD_ALLOWED_AMI_IDS", IMAGE)], "ubuntu", Some("111111111111"), None, true)]
#[case::id_list_only_rejects_others(&[("GUARD_ALLOWED_AMI_OWNERS", ""), ("GUARD_ALLOWED_AMI_NAME_PATTERNS", ""), ("GUARD_ALLOWED_AMI_IDS", "ami-0fff0001")], "amazon-eks-node-al2023-x", None, Some("amazon"), false)]
#[case::self_owned(&[("GUARD_ALLOWED_AMI_OWNERS", "self"), ("GUARD_ALLOWED_AMI_NAME_PATTERNS", "")], "golden-node", Some("123456789012"), None, true)]
#[case::self_means_this_account(&[("GUARD_ALLOWED_AMI_OWNERS", "self"), ("GUARD_ALLOWED_AMI_NAME_PATTERNS", "")], "golden-node", Some("210987654321"), None, false)]
#[case::owner_account(&[("GUARD_ALLOWED_AMI_OWNERS", "111111111111"), ("GUARD_ALLOWED_AMI_NAME_PATTERNS", "")], "any", Some("111111111111"), None, true)]
#[case::name_alone(&[("GUARD_ALLOWED_AMI_OWNERS", ""), ("GUARD_ALLOWED_AMI_NAME_PATTERNS", "golden-*")], "golden-node", Some("111111111111"), None, true)]
#[case::right_name_wrong_owner(&[], "amazon-eks-node-al2023-fake", Some("666666666666"), None, false)]
fn image_allow_rules_combine_id_or_owner_and_name(
    #[case] extra: &[(&str, &str)],
    #[case] name: &str,
    #[case] owner_id: Option<&str>,
    #[case] alias: Option<&str>,
    #[case] allowed: bool,
) {
    let mut node = compliant_node();
    let image = node.image.as_mut().unwrap();
    image.name = Some(name.into());
    image.owner_id = owner_id.map(Into::into);
    image.owner_alias = alias.map(Into::into);
    let violations = check_node(&strict_policy(extra), &node, now());
    assert_eq!(violations.is_empty(), allowed, "{violations:?}");
}

#[test]
fn an_image_deprecated_in_the_future_still_passes() {
    let node = compliant_node();
    assert!(node.image.as_ref().unwrap().deprecation_time.unwrap() > now());
    assert_eq!(check_node(&strict_policy(&[]), &node, now()), vec![]);
}

#[test]
fn an_image_exactly_at_the_age_limit_passes_and_a_second_later_fails() {
    let mut node = compliant_node();
    node.image.as_mut().unwrap().creation_date = Some(days_ago(90));
    assert_eq!(check_node(&strict_policy(&[]), &node, now()), vec![]);
    let later = now() + std::time::Duration::from_secs(1);
    assert_eq!(
        names(&check_node(&strict_policy(&[]), &node, later)),
        vec!["image.age"]
    );
}

#[test]
fn what_could_not_be_read_is_left_to_the_fail_mode_and_the_rest_still_counts() {
    let policy = strict_policy(&[]);
    let mut node = compliant_node();
    node.image = None;
    node.subnet = None;
    node.instance.public_ip = Some("203.0.113.7".into());
    node.instance.http_tokens = Some(HttpTokens::Optional);
    let unread = Unread {
        image: true,
        subnet: true,
        ..Unread::default()
    };

    let known = check_known(&policy, &node, unread, now());

    // The public address and IMDSv1 are facts of the instance itself; an
    // image and a subnet that could not be read are not violations.
    assert_eq!(names(&known), vec!["subnet.public", "imds.v2"]);
    assert_eq!(known[0].resource, node.instance.instance_id);
    // Read but not found, they still are.
    let found_nothing = check_known(&policy, &node, Unread::default(), now());
    assert_eq!(
        names(&found_nothing),
        vec![
            "image.allowed",
            "image.age",
            "image.deprecated",
            "subnet.public",
            "subnet.public",
            "imds.v2"
        ]
    );
}

mod second_round {
    //! `image.outdated`, `imds.hop_limit`, `volumes.encrypted`,
    //! `instance.key_pair`, and exceptions per group.

    use pretty_assertions::assert_eq;
    use rstest::rstest;

    use super::super::*;
    use super::{Breaker, IMAGE, at, names};
    use crate::decision::{LifecycleResult, Verdict};
    use crate::facts::{ImageFacts, NodeFacts, VolumeFacts};
    use crate::fixtures::{
        compliant_node, days_ago, every_check_policy, now, recommended_image, strict_policy,
    };

    #[test]
    fn a_compliant_node_passes_every_check_and_strict_policy_leaves_them_off() {
        assert_eq!(
            check_node(&every_check_policy(&[]), &compliant_node(), now()),
            vec![]
        );
        let mut node = compliant_node();
        node.instance.http_put_response_hop_limit = Some(3);
        node.instance.key_name = Some("ops".into());
        node.volumes[0].encrypted = false;
        node.image.as_mut().unwrap().name =
            Some("amazon-eks-node-al2023-x86_64-standard-1.28-v20240101".into());
        assert_eq!(check_node(&strict_policy(&[]), &node, now()), vec![]);
    }

    #[rstest]
    #[case::behind_the_recommended_image_by_more_than_the_grace(
        |n: &mut NodeFacts| n.image.as_mut().unwrap().creation_date = Some(days_ago(50)),
        IMAGE,
        "at most 30 days behind the recommended `ami-0ccc0009` (`amazon-eks-node-al2023-x86_64-standard-1.31-v20260911`, created 2026-09-11T14:13:20Z)",
        "40 days behind (created 2026-08-02T14:13:20Z, 50 days ago)"
    )]
    #[case::built_for_another_kubernetes_version(
        |n: &mut NodeFacts| n.image.as_mut().unwrap().name = Some("amazon-eks-node-al2023-x86_64-standard-1.30-v20260901".into()),
        IMAGE,
        "an image for Kubernetes 1.31",
        "an image for Kubernetes 1.30 (`amazon-eks-node-al2023-x86_64-standard-1.30-v20260901`)"
    )]
    #[case::another_version_even_without_a_recommended_image_of_its_family(
        |n: &mut NodeFacts| { n.recommended_images.clear(); n.image.as_mut().unwrap().name = Some("amazon-eks-node-al2023-arm64-nvidia-1.29-v20260901".into()); },
        IMAGE,
        "an image for Kubernetes 1.31",
        "an image for Kubernetes 1.29 (`amazon-eks-node-al2023-arm64-nvidia-1.29-v20260901`)"
    )]
    #[case::hop_limit_above_the_maximum(
        |n: &mut NodeFacts| n.instance.http_put_response_hop_limit = Some(2),
        "i-0123456789abcdef0", "HttpPutResponseHopLimit at most 1", "HttpPutResponseHopLimit=2"
    )]
    #[case::hop_limit_not_reported(
        |n: &mut NodeFacts| n.instance.http_put_response_hop_limit = None,
        "i-0123456789abcdef0", "HttpPutResponseHopLimit at most 1", "no metadata options reported"
    )]
    #[case::unencrypted_volume(
        |n: &mut NodeFacts| n.volumes[0].encrypted = false,
        "vol-0eee0001",
        "a volume encrypted with one of arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "not encrypted"
    )]
    #[case::volume_with_another_key(
        |n: &mut NodeFacts| n.volumes[0].kms_key_id = Some("arn:aws:kms:eu-west-1:123456789012:key/other".into()),
        "vol-0eee0001",
        "a volume encrypted with one of arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "encrypted with `arn:aws:kms:eu-west-1:123456789012:key/other`"
    )]
    #[case::attached_volume_not_described(
        |n: &mut NodeFacts| n.instance.volume_ids.push("vol-0eee0002".into()),
        "vol-0eee0002",
        "a volume encrypted with one of arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "not described"
    )]
    #[case::ssh_key_pair(
        |n: &mut NodeFacts| n.instance.key_name = Some("ops".into()),
        "i-0123456789abcdef0", "no SSH key pair", "key pair `ops`"
    )]
    fn each_new_check_names_what_it_expected_and_what_it_found(
        #[case] breaker: Breaker,
        #[case] resource: &str,
        #[case] expected: &str,
        #[case] actual: &str,
    ) {
        let mut node = compliant_node();
        breaker(&mut node);
        let violations = check_node(&every_check_policy(&[]), &node, now());
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert_eq!(violations[0].resource, resource);
        assert_eq!(violations[0].expected, expected);
        assert_eq!(violations[0].actual, actual);
    }

    #[rstest]
    #[case::the_recommended_image_itself(|n: &mut NodeFacts| { let r = recommended_image(); n.image = Some(ImageFacts { owner_alias: Some("amazon".into()), ..r }); n.instance.image_id = "ami-0ccc0009".into(); })]
    #[case::within_the_grace(|n: &mut NodeFacts| n.image.as_mut().unwrap().creation_date = Some(days_ago(39)))]
    #[case::newer_than_the_recommended_image(|n: &mut NodeFacts| n.image.as_mut().unwrap().creation_date = Some(days_ago(1)))]
    #[case::a_custom_image_of_no_family(|n: &mut NodeFacts| n.image.as_mut().unwrap().name = Some("amazon-eks-node-al2023-custom".into()))]
    #[case::another_architecture_has_no_recommended_image_read(|n: &mut NodeFacts| { let i = n.image.as_mut().unwrap(); i.architecture = Some("arm64".into()); i.creation_date = Some(days_ago(200)); })]
    #[case::an_allowed_hop_limit(|n: &mut NodeFacts| n.instance.http_put_response_hop_limit = Some(1))]
    #[case::no_volumes_attached(|n: &mut NodeFacts| { n.instance.volume_ids.clear(); n.volumes.clear(); })]
    #[case::no_key_pair(|n: &mut NodeFacts| n.instance.key_name = None)]
    fn what_each_new_check_lets_pass(#[case] breaker: Breaker) {
        let mut node = compliant_node();
        breaker(&mut node);
        let policy = every_check_policy(&[("GUARD_MAX_AMI_AGE_DAYS", "365")]);
        assert_eq!(check_node(&policy, &node, now()), vec![]);
    }

    #[test]
    fn grace_and_allowed_lists_widen_what_passes() {
        let mut node = compliant_node();
        node.image.as_mut().unwrap().creation_date = Some(days_ago(50));
        node.instance.key_name = Some("break-glass".into());
        node.volumes[0].kms_key_id = Some("arn:aws:kms:eu-west-1:123456789012:key/other".into());
        let policy = strict_policy(&[
            ("GUARD_KUBERNETES_VERSION", "1.31"),
            ("GUARD_OUTDATED_IMAGE_GRACE_DAYS", "40"),
            ("GUARD_ALLOWED_KEY_PAIRS", "break-glass"),
            ("GUARD_REQUIRE_ENCRYPTED_VOLUMES", "true"),
        ]);
        assert_eq!(check_node(&policy, &node, now()), vec![]);
        let tighter = strict_policy(&[
            ("GUARD_KUBERNETES_VERSION", "1.31"),
            ("GUARD_OUTDATED_IMAGE_GRACE_DAYS", "0"),
            ("GUARD_ALLOWED_KEY_PAIRS", "other"),
        ]);
        assert_eq!(
            names(&check_node(&tighter, &node, now())),
            vec!["image.outdated", "instance.key_pair"]
        );
    }

    #[test]
    fn unread_volumes_are_left_to_the_fail_mode_and_an_unread_image_hides_image_outdated() {
        let policy = every_check_policy(&[]);
        let mut node = compliant_node();
        node.volumes.clear();
        node.image = None;
        let unread = Unread {
            image: true,
            volumes: true,
            ..Unread::default()
        };
        assert_eq!(check_known(&policy, &node, unread, now()), vec![]);
        let found_nothing = check_known(&policy, &node, Unread::default(), now());
        assert_eq!(
            names(&found_nothing),
            vec![
                "image.allowed",
                "image.age",
                "image.deprecated",
                "image.outdated",
                "volumes.encrypted"
            ]
        );
    }

    #[test]
    fn an_exempted_check_does_not_block_and_is_listed_as_exempted() {
        let policy = every_check_policy(&[(
            "GUARD_CHECK_EXCEPTIONS",
            "imds.hop_limit@prod-ebs-csi-*,volumes.encrypted@legacy",
        )]);
        let mut node = compliant_node();
        node.instance.http_put_response_hop_limit = Some(2);
        node.volumes = vec![VolumeFacts {
            volume_id: "vol-0eee0001".into(),
            ..VolumeFacts::default()
        }];
        let violations = check_node(&policy, &node, now());

        let exempted =
            Verdict::from_violations(&policy, Some("prod-ebs-csi-a"), violations.clone(), now());
        assert_eq!(exempted.result, LifecycleResult::Abandon);
        assert_eq!(names(&exempted.exempted), vec!["imds.hop_limit"]);
        assert_eq!(exempted.check_names(), vec!["volumes.encrypted"]);

        let other_group =
            Verdict::from_violations(&policy, Some("prod-general"), violations, now());
        assert!(other_group.exempted.is_empty());
        assert_eq!(
            other_group.check_names(),
            vec!["imds.hop_limit", "volumes.encrypted"]
        );
        let json = serde_json::to_value(&exempted).unwrap();
        assert_eq!(*at(&json, "exempted/0/check"), "imds.hop_limit");
        assert!(
            serde_json::to_value(&other_group)
                .unwrap()
                .get("exempted")
                .is_none()
        );
    }
}
