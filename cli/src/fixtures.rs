//! A fake account holding a small compliant cluster, for the command tests.

use std::time::{Duration, SystemTime};

use shared::checks::fixtures::{CLUSTER_SETTINGS, policy_of};
use shared::checks::membership::GROUP_NAME_TAG;
use shared::facts::{
    GroupFacts, GroupInstance, HookFacts, HttpTokens, ImageFacts, InstanceFacts, InstanceTypeSpec,
    SubnetFacts,
};
use shared::fakes::FakeAws;
use shared::lifecycle::LAUNCHING;
use shared::policy::Policy;

pub const NOW_SECS: u64 = 1_790_000_000; // 2026-09-21T14:13:20Z
pub const CLUSTER_TAG: &str = "kubernetes.io/cluster/prod";
pub const GROUP: &str = "prod-general";
pub const HOOK: &str = "scaling-guard-prod";
pub const IMAGE: &str = "ami-0ccc0001";
pub const SUBNET: &str = "subnet-0aaa0001";
pub const PROFILE: &str = "arn:aws:iam::123456789012:instance-profile/prod-node";

pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_SECS)
}

/// The policy the fixture cluster complies with, changed by `extra`.
pub fn policy(extra: &[(&str, &str)]) -> Policy {
    let nodes = [
        (
            "GUARD_ALLOWED_AMI_NAME_PATTERNS",
            "amazon-eks-node-al2023-*",
        ),
        ("GUARD_MAX_AMI_AGE_DAYS", "90"),
        ("GUARD_ALLOWED_SUBNET_IDS", SUBNET),
        ("GUARD_ALLOWED_SECURITY_GROUP_IDS", "sg-0bbb0001"),
        ("GUARD_ALLOWED_INSTANCE_TYPES", "m6i.*"),
        ("GUARD_ALLOWED_INSTANCE_PROFILES", PROFILE),
    ];
    policy_of(&[&CLUSTER_SETTINGS, &nodes], extra)
}

/// A compliant running node of the cluster, in `group` (or in none).
pub fn node(id: &str, group: Option<&str>) -> InstanceFacts {
    let mut instance = InstanceFacts {
        instance_id: id.into(),
        instance_type: "m6i.large".into(),
        image_id: IMAGE.into(),
        state: "running".into(),
        subnet_id: Some(SUBNET.into()),
        security_group_ids: vec!["sg-0bbb0001".into()],
        http_tokens: Some(HttpTokens::Required),
        instance_profile_arn: Some(PROFILE.into()),
        ..InstanceFacts::default()
    };
    instance.tags.insert(CLUSTER_TAG.into(), "owned".into());
    if let Some(group) = group {
        instance.tags.insert(GROUP_NAME_TAG.into(), group.into());
    }
    instance
}

/// The account: one guarded group, its image, subnet and instance type, and
/// `instances` (added to their groups as `InService`).
pub fn cluster(instances: Vec<InstanceFacts>) -> FakeAws {
    let aws = FakeAws::new();
    aws.add_image(ImageFacts {
        image_id: IMAGE.into(),
        name: Some("amazon-eks-node-al2023-x86_64-standard-1.31-v20260901".into()),
        owner_id: Some("602401143452".into()),
        owner_alias: Some("amazon".into()),
        creation_date: now().checked_sub(Duration::from_secs(20 * 86_400)),
        deprecation_time: None,
        architecture: Some("x86_64".into()),
    });
    aws.add_subnet(SubnetFacts {
        subnet_id: SUBNET.into(),
        vpc_id: None,
        map_public_ip_on_launch: false,
    });
    aws.add_instance_type(
        "m6i.large",
        InstanceTypeSpec {
            default_vcpus: 2,
            memory_mib: 8192,
        },
    );
    let mut group = GroupFacts {
        name: GROUP.into(),
        max_size: 10,
        ..GroupFacts::default()
    };
    group.tags.insert(CLUSTER_TAG.into(), "owned".into());
    aws.add_hook(
        GROUP,
        HookFacts {
            name: HOOK.into(),
            transition: LAUNCHING.into(),
            ..HookFacts::default()
        },
    );
    for instance in instances {
        if instance.tags.get(GROUP_NAME_TAG).map(String::as_str) == Some(GROUP) {
            group.instances.push(GroupInstance {
                instance_id: instance.instance_id.clone(),
                lifecycle_state: "InService".into(),
            });
        }
        aws.add_instance(instance);
    }
    aws.add_group(group);
    aws
}

/// Marks an instance of the group as waiting for launch-guard.
pub fn waiting(aws: &FakeAws, instance_id: &str) {
    aws.update_group(GROUP, |group| {
        for member in &mut group.instances {
            if member.instance_id == instance_id {
                member.lifecycle_state = "Pending:Wait".into();
            }
        }
    });
}
