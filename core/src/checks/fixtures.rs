//! A compliant node and the policy it complies with; tests break one fact.
//! For the tests of every crate (feature `test-util`).
#![allow(
    clippy::unwrap_used,
    reason = "a fixture that does not build is a broken test"
)]

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::budget::Usage;
use crate::facts::{HttpTokens, ImageFacts, InstanceFacts, NodeFacts, SubnetFacts, VolumeFacts};
use crate::policy::{Policy, PolicyError};

pub const NOW_SECS: u64 = 1_790_000_000; // 2026-09-21
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
        image_id: "ami-0ccc0009".into(),
        name: Some("amazon-eks-node-al2023-x86_64-standard-1.31-v20260911".into()),
        owner_id: Some("602401143452".into()),
        owner_alias: Some("amazon".into()),
        creation_date: Some(days_ago(10)),
        deprecation_time: None,
        architecture: Some("x86_64".into()),
    }
}

pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_SECS)
}

pub fn days_ago(days: u64) -> SystemTime {
    now() - Duration::from_secs(days * 86_400)
}

/// The cluster and alert topic every test policy names, in enforce mode (the
/// policy's default is audit: the tests of what enforcing does say so here,
/// those of audit mode set `GUARD_MODE=audit`).
pub const CLUSTER_SETTINGS: [(&str, &str); 3] = [
    ("GUARD_CLUSTER", "prod"),
    (
        "GUARD_ALERT_TOPIC_ARN",
        "arn:aws:sns:eu-west-1:123456789012:alerts",
    ),
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
    ("GUARD_ALLOWED_SUBNET_IDS", "subnet-0aaa0001"),
    ("GUARD_ALLOWED_SECURITY_GROUP_IDS", "sg-0bbb0001"),
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

pub fn compliant_node() -> NodeFacts {
    NodeFacts {
        instance: InstanceFacts {
            instance_id: "i-0123456789abcdef0".into(),
            instance_type: "m6i.large".into(),
            image_id: "ami-0ccc0001".into(),
            state: "pending".into(),
            subnet_id: Some("subnet-0aaa0001".into()),
            vpc_id: Some("vpc-0ddd0001".into()),
            security_group_ids: vec!["sg-0bbb0001".into()],
            public_ip: None,
            http_tokens: Some(HttpTokens::Required),
            instance_profile_arn: Some(PROFILE.into()),
            owner_account: Some("123456789012".into()),
            http_put_response_hop_limit: Some(1),
            volume_ids: vec!["vol-0eee0001".into()],
            ..InstanceFacts::default()
        },
        image: Some(ImageFacts {
            image_id: "ami-0ccc0001".into(),
            name: Some("amazon-eks-node-al2023-x86_64-standard-1.31-v20260901".into()),
            owner_id: Some("602401143452".into()),
            owner_alias: Some("amazon".into()),
            creation_date: Some(days_ago(20)),
            deprecation_time: Some(days_ago(20) + Duration::from_secs(2 * 365 * 86_400)),
            architecture: Some("x86_64".into()),
        }),
        subnet: Some(SubnetFacts {
            subnet_id: "subnet-0aaa0001".into(),
            vpc_id: Some("vpc-0ddd0001".into()),
            map_public_ip_on_launch: false,
        }),
        volumes: vec![VolumeFacts {
            volume_id: "vol-0eee0001".into(),
            encrypted: true,
            kms_key_id: Some(KMS_KEY.into()),
        }],
        recommended_images: vec![recommended_image()],
    }
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
            (
                "GUARD_ALERT_TOPIC_ARN",
                "arn:aws:sns:eu-west-1:123456789012:alerts",
            ),
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
}
