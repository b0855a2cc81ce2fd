//! The one test world of every crate's tests (feature `test-util`): one
//! clock, one cluster (its name, tag, group and hook), one compliant node
//! and the images it runs, and the policies it complies with. Tests start
//! from these values and break one fact; a test that needs another instant
//! derives it from [`now`] (`now() + Duration::from_secs(60)`) rather than
//! pinning a second epoch.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a fixture that does not build, or a path not in a wire shape, is a broken test"
)]

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::budget::Usage;
use crate::facts::{HttpTokens, ImageFacts, InstanceFacts, NodeFacts, SubnetFacts, VolumeFacts};
use crate::policy::{Policy, PolicyError};

/// The one clock: 2026-09-21T14:13:20Z, seconds since the epoch.
pub const NOW_SECS: u64 = 1_790_000_000;
/// [`now`] as RFC 3339, as tags and alerts write it.
pub const NOW_RFC3339: &str = "2026-09-21T14:13:20Z";

/// The cluster every test policy guards ([`CLUSTER_SETTINGS`]).
pub const CLUSTER: &str = "prod";
/// The tag that makes a group or an instance the cluster's.
pub const CLUSTER_TAG: &str = "kubernetes.io/cluster/prod";
/// The cluster's Auto Scaling group.
pub const GROUP: &str = "prod-general";
/// The guard's launch hook on [`GROUP`] (the stack's name, `scaling-guard-prod`).
pub const HOOK: &str = "scaling-guard-prod";
/// The alert topic every test policy names.
pub const ALERT_TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:alerts";

/// [`compliant_node`]'s instance, image, subnet, VPC, security group and volume.
pub const INSTANCE_ID: &str = "i-0123456789abcdef0";
pub const INSTANCE_TYPE: &str = "m6i.large";
pub const IMAGE: &str = "ami-0ccc0001";
/// [`compliant_image`]'s name: an EKS AL2023 node image for Kubernetes 1.31.
pub const IMAGE_NAME: &str = "amazon-eks-node-al2023-x86_64-standard-1.31-v20260901";
/// AWS's recommended image of [`IMAGE`]'s family ([`recommended_image`]).
pub const RECOMMENDED_IMAGE: &str = "ami-0ccc0009";
pub const SUBNET: &str = "subnet-0aaa0001";
pub const VPC: &str = "vpc-0ddd0001";
pub const SECURITY_GROUP: &str = "sg-0bbb0001";
pub const VOLUME: &str = "vol-0eee0001";
/// Amazon's EKS image owner.
pub const AMAZON: &str = "602401143452";
pub const PROFILE: &str = "arn:aws:iam::123456789012:instance-profile/prod-node";
pub const KMS_KEY: &str =
    "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// The SSM public parameter of AWS's recommended AL2023 x86_64 image for
/// Kubernetes 1.31 (one of [`MORE_NODE_SETTINGS`]' defaults).
pub const AL2023_PARAMETER: &str =
    "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/standard/recommended/image_id";

/// AWS's recommended image of [`compliant_node`]'s family, ten days newer.
pub fn recommended_image() -> ImageFacts {
    ImageFacts {
        image_id: RECOMMENDED_IMAGE.into(),
        name: Some("amazon-eks-node-al2023-x86_64-standard-1.31-v20260911".into()),
        owner_id: Some(AMAZON.into()),
        owner_alias: Some("amazon".into()),
        creation_date: Some(days_ago(10)),
        deprecation_time: None,
        architecture: Some("x86_64".into()),
    }
}

/// The one clock every test reads: [`NOW_SECS`].
pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_SECS)
}

/// [`now`] less `days` whole days.
pub fn days_ago(days: u64) -> SystemTime {
    now() - Duration::from_secs(days * 86_400)
}

/// The cluster and alert topic every test policy names, in enforce mode (the
/// policy's default is audit: the tests of what enforcing does say so here,
/// those of audit mode set `GUARD_MODE=audit`).
pub const CLUSTER_SETTINGS: [(&str, &str); 3] = [
    ("GUARD_CLUSTER", CLUSTER),
    ("GUARD_ALERT_TOPIC_ARN", ALERT_TOPIC),
    ("GUARD_MODE", "enforce"),
];

/// The node rules the handler tests start from: EKS images from Amazon at
/// most 90 days old, one subnet, one security group, the `m6i` family, the
/// node profile. [`compliant_node`] complies.
pub const NODE_SETTINGS: [(&str, &str); 7] = [
    ("GUARD_ALLOWED_AMI_OWNERS", "amazon"),
    (
        "GUARD_ALLOWED_AMI_NAME_PATTERNS",
        "amazon-eks-node-al2023-*",
    ),
    ("GUARD_MAX_AMI_AGE_DAYS", "90"),
    ("GUARD_ALLOWED_SUBNET_IDS", SUBNET),
    ("GUARD_ALLOWED_SECURITY_GROUP_IDS", SECURITY_GROUP),
    ("GUARD_ALLOWED_INSTANCE_TYPES", "m6i.*"),
    ("GUARD_ALLOWED_INSTANCE_PROFILES", PROFILE),
];

/// The policy of `settings`, one list after the other, each setting
/// replaced by the same setting in `extra` ([`test_policy`]).
pub fn policy_of(settings: &[&[(&str, &str)]], extra: &[(&str, &str)]) -> Policy {
    test_policy(&settings.concat(), extra).unwrap()
}

/// The checks of the second round, on: `image.outdated` (Kubernetes 1.31),
/// `imds.hop_limit` (1), `volumes.encrypted` (with [`KMS_KEY`]),
/// `instance.key_pair` (none). [`compliant_node`] complies.
pub const MORE_NODE_SETTINGS: [(&str, &str); 4] = [
    ("GUARD_KUBERNETES_VERSION", "1.31"),
    ("GUARD_MAX_IMDS_HOP_LIMIT", "1"),
    ("GUARD_ALLOWED_VOLUME_KMS_KEYS", KMS_KEY),
    ("GUARD_DENY_KEY_PAIRS", "true"),
];

/// [`strict_policy`] with [`MORE_NODE_SETTINGS`] too: every node check on.
pub fn every_check_policy(extra: &[(&str, &str)]) -> Policy {
    strict_policy(&[&MORE_NODE_SETTINGS[..], extra].concat())
}

pub fn strict_policy(extra: &[(&str, &str)]) -> Policy {
    let strict = [
        ("GUARD_ALLOWED_AMI_OWNERS", "amazon"),
        (
            "GUARD_ALLOWED_AMI_NAME_PATTERNS",
            "amazon-eks-node-al2023-*",
        ),
        ("GUARD_MAX_AMI_AGE_DAYS", "90"),
        (
            "GUARD_ALLOWED_SUBNET_IDS",
            "subnet-0aaa0001,subnet-0aaa0002",
        ),
        (
            "GUARD_ALLOWED_SECURITY_GROUP_IDS",
            "sg-0bbb0001,sg-0bbb0002",
        ),
        ("GUARD_ALLOWED_INSTANCE_TYPES", "m6i.*,c7g.2xlarge"),
        ("GUARD_DENIED_INSTANCE_TYPES", "*.metal"),
        ("GUARD_ALLOWED_INSTANCE_PROFILES", PROFILE),
    ];
    policy_of(&[&CLUSTER_SETTINGS, &strict], extra)
}

/// Usage of `vcpus` and `instances`, no memory.
pub fn usage(vcpus: u64, instances: u64) -> Usage {
    Usage {
        vcpus,
        memory_mib: 0,
        instances,
    }
}

/// A compliant node of the cluster being launched: [`compliant_instance`]
/// on [`compliant_image`] in [`SUBNET`] with its encrypted volume, and AWS's
/// recommended image of its family.
pub fn compliant_node() -> NodeFacts {
    NodeFacts {
        instance: compliant_instance(),
        image: Some(compliant_image()),
        subnet: Some(SubnetFacts {
            subnet_id: SUBNET.into(),
            vpc_id: Some(VPC.into()),
            map_public_ip_on_launch: false,
        }),
        volumes: vec![VolumeFacts {
            volume_id: VOLUME.into(),
            encrypted: true,
            kms_key_id: Some(KMS_KEY.into()),
        }],
        recommended_images: vec![recommended_image()],
    }
}

/// A compliant instance, `pending` (being launched), without tags: every
/// node rule of [`NODE_SETTINGS`] and [`MORE_NODE_SETTINGS`] holds.
pub fn compliant_instance() -> InstanceFacts {
    InstanceFacts {
        instance_id: INSTANCE_ID.into(),
        instance_type: INSTANCE_TYPE.into(),
        image_id: IMAGE.into(),
        state: "pending".into(),
        subnet_id: Some(SUBNET.into()),
        vpc_id: Some(VPC.into()),
        security_group_ids: vec![SECURITY_GROUP.into()],
        public_ip: None,
        http_tokens: Some(HttpTokens::Required),
        instance_profile_arn: Some(PROFILE.into()),
        owner_account: Some("123456789012".into()),
        http_put_response_hop_limit: Some(1),
        volume_ids: vec![VOLUME.into()],
        ..InstanceFacts::default()
    }
}

/// [`IMAGE`]: Amazon's EKS AL2023 image, 20 days old, deprecated in two years.
pub fn compliant_image() -> ImageFacts {
    ImageFacts {
        image_id: IMAGE.into(),
        name: Some(IMAGE_NAME.into()),
        owner_id: Some(AMAZON.into()),
        owner_alias: Some("amazon".into()),
        creation_date: Some(days_ago(20)),
        deprecation_time: Some(days_ago(20) + Duration::from_secs(2 * 365 * 86_400)),
        architecture: Some("x86_64".into()),
    }
}

/// The account's images: [`compliant_image`] and [`recommended_image`].
pub fn images() -> [ImageFacts; 2] {
    [compliant_image(), recommended_image()]
}

/// The value at `path` in `json`: keys and array indexes separated by `/`
/// (`"violations/0/check"`). Panics, naming the path, where a step is
/// missing, so that a test of a wire shape fails on a typo instead of
/// reading `null` as `json["x"]` does.
pub fn at<'a>(json: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    path.split('/').fold(json, |value, step| {
        let next = match step.parse::<usize>() {
            Ok(index) => value.get(index),
            Err(_) => value.get(step),
        };
        next.unwrap_or_else(|| panic!("no `{step}` in `{path}` of {json}"))
    })
}

/// A policy for tests: the `base` settings, each replaced by the same
/// setting in `extra`, plus `extra`'s others. One merge for every test tier,
/// so that an override is never dropped.
pub fn test_policy(base: &[(&str, &str)], extra: &[(&str, &str)]) -> Result<Policy, PolicyError> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in base.iter().chain(extra) {
        vars.insert((*key).to_owned(), (*value).to_owned());
    }
    Policy::from_vars(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_policy_takes_every_override_also_of_the_last_base_setting() {
        let base = [
            ("GUARD_CLUSTER", "prod"),
            ("GUARD_ALERT_TOPIC_ARN", ALERT_TOPIC),
            ("GUARD_MAX_INSTANCES", "10"),
        ];
        let policy = test_policy(
            &base,
            &[("GUARD_MAX_INSTANCES", "3"), ("GUARD_CLUSTER", "staging")],
        )
        .unwrap();
        assert_eq!(policy.budget.max_instances, Some(3));
        assert_eq!(policy.cluster, "staging");
    }

    #[test]
    fn a_path_reads_keys_and_indexes() {
        let json = serde_json::json!({"violations": [{"check": "imds.v2", "blocking": null}]});
        assert_eq!(*at(&json, "violations/0/check"), "imds.v2");
        assert_eq!(*at(&json, "violations/0/blocking"), serde_json::Value::Null);
    }

    #[test]
    #[should_panic(expected = "no `chek` in `violations/0/chek`")]
    fn a_path_with_a_typo_fails_instead_of_reading_null() {
        let json = serde_json::json!({"violations": [{"check": "imds.v2"}]});
        at(&json, "violations/0/chek");
    }

    #[test]
    fn the_clock_reads_as_its_rfc3339_name() {
        assert_eq!(crate::time::format_rfc3339(now()), NOW_RFC3339);
    }
}
