//! The command tests' account: the test world's compliant cluster
//! ([`FakeAws::compliant_cluster`]) and its running nodes.

use shared::checks::membership::GROUP_NAME_TAG;
use shared::facts::InstanceFacts;
use shared::fakes::FakeAws;
use shared::fixtures::{
    CLUSTER_SETTINGS, CLUSTER_TAG, NODE_SETTINGS, compliant_instance, policy_of,
};
pub use shared::fixtures::{GROUP, HOOK, now};
use shared::policy::Policy;

/// The policy the fixture cluster complies with, changed by `extra`.
pub fn policy(extra: &[(&str, &str)]) -> Policy {
    policy_of(&[&CLUSTER_SETTINGS, &NODE_SETTINGS], extra)
}

/// A compliant running node of the cluster, in `group` (or in none).
pub fn node(id: &str, group: Option<&str>) -> InstanceFacts {
    let mut instance = InstanceFacts {
        instance_id: id.into(),
        state: "running".into(),
        ..compliant_instance()
    };
    instance.tags.insert(CLUSTER_TAG.into(), "owned".into());
    if let Some(group) = group {
        instance.tags.insert(GROUP_NAME_TAG.into(), group.into());
    }
    instance
}

/// The account: the compliant cluster and `instances` (those of [`GROUP`]
/// added to it as `InService`, the others outside any group).
pub fn cluster(instances: Vec<InstanceFacts>) -> FakeAws {
    let aws = FakeAws::compliant_cluster();
    for instance in instances {
        if instance.tags.get(GROUP_NAME_TAG).map(String::as_str) == Some(GROUP) {
            aws.add_member(instance);
        } else {
            aws.add_instance(instance);
        }
    }
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
