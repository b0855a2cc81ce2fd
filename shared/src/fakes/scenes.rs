//! The scenes most tests start from: a [`FakeAws`] already holding the test
//! world of [`crate::fixtures`] (one cluster, one guarded group, its hook,
//! the images and subnet its compliant nodes use), and the groups the
//! removal and release tests build (a guarded group, the guard's hook, a
//! suspension by the guard). A test adds the one fact it is about.

use std::time::Duration;

use crate::facts::{
    GroupFacts, GroupInstance, HookFacts, InstanceFacts, InstanceTypeSpec, SubnetFacts, VolumeFacts,
};
use crate::fixtures::{
    CLUSTER_TAG, GROUP, HOOK, INSTANCE_TYPE, KMS_KEY, SUBNET, VOLUME, VPC, images, now,
};
use crate::lifecycle::LAUNCHING;
use crate::suspension::{SUSPENDED_TAG, SuspensionRecord};
use guard_core::checks::membership::GROUP_NAME_TAG;

use super::FakeAws;

/// The tag of the other cluster of [`FakeAws::two_clusters`].
pub const OTHER_CLUSTER_TAG: &str = "kubernetes.io/cluster/staging";

impl FakeAws {
    /// The fixtures' cluster: [`GROUP`] (tagged with [`CLUSTER_TAG`], at most
    /// 10 instances) guarded by [`HOOK`], the [`images`], [`SUBNET`], the
    /// compliant node's encrypted volume and [`INSTANCE_TYPE`] (2 vCPUs, 8 GiB).
    /// No instances: [`FakeAws::add_member`] adds them.
    pub fn compliant_cluster() -> Self {
        let aws = Self::new();
        for image in images() {
            aws.add_image(image);
        }
        aws.add_subnet(SubnetFacts {
            subnet_id: SUBNET.into(),
            vpc_id: Some(VPC.into()),
            map_public_ip_on_launch: false,
        });
        aws.add_volume(VolumeFacts {
            volume_id: VOLUME.into(),
            encrypted: true,
            kms_key_id: Some(KMS_KEY.into()),
        });
        aws.add_instance_type(
            INSTANCE_TYPE,
            InstanceTypeSpec {
                default_vcpus: 2,
                memory_mib: 8192,
            },
        );
        let mut group = guarded_group(GROUP);
        group.max_size = 10;
        group.desired_capacity = 0;
        aws.add_group(group);
        aws.add_hook(GROUP, guard_hook());
        aws
    }

    /// Two clusters sharing an account, the budget and removal tests'
    /// start: groups `prod-a` and `prod-b` of the cluster and `staging-a` of
    /// cluster `staging`, each a [`guarded_group`] carrying the guard's hook
    /// [`HOOK`] ([`guard_hook`]), none listing instances; the account knows
    /// [`INSTANCE_TYPE`] (2 vCPUs, 8 GiB).
    pub fn two_clusters() -> Self {
        let aws = Self::new();
        aws.add_instance_type(
            INSTANCE_TYPE,
            InstanceTypeSpec {
                default_vcpus: 2,
                memory_mib: 8192,
            },
        );
        for (name, tag) in [
            ("prod-a", CLUSTER_TAG),
            ("prod-b", CLUSTER_TAG),
            ("staging-a", OTHER_CLUSTER_TAG),
        ] {
            let mut group = guarded_group(name);
            group.tags = [(tag.to_owned(), "owned".to_owned())].into();
            aws.add_group(group);
            aws.add_hook(name, guard_hook());
        }
        aws
    }

    /// Adds `instance` to the cluster and to [`GROUP`], `InService`: tagged
    /// with [`CLUSTER_TAG`] and the group's name.
    pub fn add_member(&self, mut instance: InstanceFacts) {
        instance.tags.insert(CLUSTER_TAG.into(), "owned".into());
        instance.tags.insert(GROUP_NAME_TAG.into(), GROUP.into());
        let member = GroupInstance {
            instance_id: instance.instance_id.clone(),
            lifecycle_state: "InService".into(),
        };
        self.update_group(GROUP, |group| group.instances.push(member));
        self.add_instance(instance);
    }
}

/// A group of the cluster (tagged with [`CLUSTER_TAG`]): MaxSize 20, four
/// instances wanted, nothing suspended.
pub fn guarded_group(name: &str) -> GroupFacts {
    GroupFacts {
        name: name.into(),
        max_size: 20,
        desired_capacity: 4,
        tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
        ..GroupFacts::default()
    }
}

/// The guard's launch hook [`HOOK`] (see [`launch_hook`]).
pub fn guard_hook() -> HookFacts {
    launch_hook(HOOK)
}

/// A launch hook named `name` as the guard installs one: abandon by
/// default, a heartbeat of ten minutes.
pub fn launch_hook(name: &str) -> HookFacts {
    HookFacts {
        name: name.into(),
        transition: LAUNCHING.into(),
        default_result: Some("ABANDON".into()),
        heartbeat_timeout: Some(600),
        ..HookFacts::default()
    }
}

/// `group` suspended by the guard an hour before [`now`] (`Launch`), its
/// MaxSize clamped from 20 to 4, the record unsigned.
pub fn suspended_by_guard(mut group: GroupFacts) -> GroupFacts {
    let mut record = SuspensionRecord::new(
        "usage 100% of MaxVcpus".into(),
        "schedule",
        now() - Duration::from_secs(3600),
        Vec::new(),
    );
    record.original_max_size = Some(20);
    record.clamped_to = Some(4);
    group.max_size = 4;
    group.suspended_processes = vec!["Launch".into()];
    group.tags.insert(
        SUSPENDED_TAG.to_owned(),
        record.to_tag_value(&group.name, None),
    );
    group
}
