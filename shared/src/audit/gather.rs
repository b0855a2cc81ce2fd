//! Reads what an audit needs through the read ports, with a bounded number
//! of calls: the cluster's instances once (all pages), each group's hooks
//! once, and the node facts of them all through the one gatherer
//! ([`crate::node_facts`]: each distinct image and subnet once, the volumes
//! [`VOLUMES_PER_CALL`] at a time and AWS's recommended images once, when
//! their checks are on); a few requests at a time.

use std::time::SystemTime;

use super::InstanceAudit;
use crate::checks::membership::{Membership, auto_scaling_group};
use crate::facts::{HookFacts, InstanceFacts};
use crate::node_facts::{
    ClusterNodeFacts, Fetched, distinct, fetch_each, gather_cluster_node_facts,
};
use crate::policy::Policy;
use crate::ports::{
    AwsResult, ClusterGroupsRead, ClusterInstancesRead, NetworkImageRead, RecommendedImagesRead,
    VolumeRead,
};

pub use crate::node_facts::{CONCURRENCY, VOLUMES_PER_CALL};

/// Whether an instance is one the audit looks at: a cluster member in state
/// `pending` or `running`.
pub fn is_audited(policy: &Policy, instance: &InstanceFacts) -> bool {
    policy.cluster_tag.matches(&instance.tags) && instance.instance_state().is_live()
}

/// How the instance came into the cluster at `now`: reads its group's hooks
/// when it has a group.
pub async fn membership<G: ClusterGroupsRead>(
    policy: &Policy,
    groups: &G,
    instance: &InstanceFacts,
    now: SystemTime,
) -> AwsResult<Membership> {
    let hooks = match auto_scaling_group(instance) {
        Some(group) => groups.lifecycle_hooks(group).await?,
        None => Vec::new(),
    };
    Ok(Membership::of(policy, instance, &hooks, now))
}

/// One cluster instance and its audit, or why it could not be audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audited {
    pub instance: InstanceFacts,
    pub audit: Result<InstanceAudit, String>,
}

/// The cluster's instances and everything their audits read, audited one at
/// a time by [`ClusterRead::audits`]: a sweep that consumes each audit
/// before the next holds one, not one per instance (at 10,000 non-compliant
/// nodes, the findings of every node would outweigh the instances).
#[derive(Debug)]
pub struct ClusterRead<'p> {
    policy: &'p Policy,
    listed: Vec<InstanceFacts>,
    read: Read,
    now: SystemTime,
}

impl ClusterRead<'_> {
    /// Each instance with its audit, in instance-id order, audited as it is
    /// taken.
    pub fn audits(self) -> impl Iterator<Item = Audited> {
        let Self {
            policy,
            listed,
            read,
            now,
        } = self;
        listed.into_iter().map(move |instance| {
            let audit = audit_one(policy, &instance, &read, now);
            Audited { instance, audit }
        })
    }
}

/// What the audit of every cluster instance reads: the instances, their groups' hooks, images,
/// subnets and volumes, and AWS's recommended images; nothing audited yet.
pub async fn read_audit<'p, E, N, G>(
    policy: &'p Policy,
    instances: &E,
    images: &N,
    groups: &G,
    now: SystemTime,
) -> AwsResult<ClusterRead<'p>>
where
    E: ClusterInstancesRead + VolumeRead,
    N: NetworkImageRead + RecommendedImagesRead,
    G: ClusterGroupsRead,
{
    let listed = instances.cluster_instances(&policy.cluster_tag).await?;
    Ok(read_listed(policy, listed, instances, images, groups, now).await)
}

/// [`read_audit`] of instances already listed (`cluster_instances`): the
/// CLI lists them once for both its audit and its budget measurement.
pub async fn read_listed<'p, E, N, G>(
    policy: &'p Policy,
    mut listed: Vec<InstanceFacts>,
    instances: &E,
    images: &N,
    groups: &G,
    now: SystemTime,
) -> ClusterRead<'p>
where
    E: VolumeRead,
    N: NetworkImageRead + RecommendedImagesRead,
    G: ClusterGroupsRead,
{
    listed.retain(|instance| is_audited(policy, instance));
    // Unstable: no scratch copy of the list; equal ids are one instance.
    listed.sort_unstable_by(|a, b| a.instance_id.cmp(&b.instance_id));
    listed.dedup_by(|a, b| a.instance_id == b.instance_id);

    let group_names = distinct(listed.iter().filter_map(auto_scaling_group));
    let (hooks, nodes) = futures::join!(
        fetch_each(group_names, |group| async move {
            groups.lifecycle_hooks(&group).await
        }),
        gather_cluster_node_facts(policy, &listed, instances, images),
    );
    ClusterRead {
        policy,
        listed,
        read: Read { hooks, nodes },
        now,
    }
}

/// What the sweep read, shared by every instance's audit.
#[derive(Debug)]
struct Read {
    hooks: Fetched<Vec<HookFacts>>,
    nodes: ClusterNodeFacts,
}

fn audit_one(
    policy: &Policy,
    instance: &InstanceFacts,
    read: &Read,
    now: SystemTime,
) -> Result<InstanceAudit, String> {
    let no_hooks = Vec::new();
    let group_hooks = match auto_scaling_group(instance).map(|group| read.hooks.get(group)) {
        Some(Some(Err(err))) => return Err(err.to_string()),
        Some(Some(Ok(found))) => found,
        Some(None) | None => &no_hooks,
    };
    let facts = read.nodes.of(instance)?;
    let membership = Membership::of(policy, instance, group_hooks, now);
    Ok(InstanceAudit::of(policy, &facts, membership, now))
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::checks::CheckName;
    use crate::checks::membership::GROUP_NAME_TAG;
    use crate::facts::HookFacts;
    use crate::fakes::FakeAws;
    use crate::fixtures::{CLUSTER_TAG, compliant_node, now, strict_policy};
    use crate::lifecycle::LAUNCHING;

    fn member(id: &str, group: Option<&str>) -> InstanceFacts {
        let mut instance = compliant_node().instance;
        instance.instance_id = id.into();
        instance.state = "running".into();
        instance.tags.insert(CLUSTER_TAG.into(), "owned".into());
        if let Some(group) = group {
            instance.tags.insert(GROUP_NAME_TAG.into(), group.into());
        }
        instance
    }

    fn cluster(size: usize) -> FakeAws {
        let aws = FakeAws::new();
        let node = compliant_node();
        aws.add_image(node.image.unwrap());
        aws.add_subnet(node.subnet.unwrap());
        aws.add_hook(
            "prod-a",
            HookFacts {
                name: "scaling-guard-prod".into(),
                transition: LAUNCHING.into(),
                ..HookFacts::default()
            },
        );
        for n in 0..size {
            let group = ["prod-a", "prod-b", "prod-c"][n % 3];
            aws.add_instance(member(&format!("i-{n:017x}"), Some(group)));
        }
        aws
    }

    /// Every cluster instance's audit, collected (the sweep and the CLI take
    /// them one at a time). Fails only when the instances cannot be listed; a
    /// group, image or subnet that cannot be read leaves the instances that
    /// need it unaudited (`Err` with the reason), the others are audited.
    /// Sorted by instance id.
    async fn audit_cluster<E, N, G>(
        policy: &Policy,
        instances: &E,
        images: &N,
        groups: &G,
        now: SystemTime,
    ) -> AwsResult<Vec<Audited>>
    where
        E: ClusterInstancesRead + VolumeRead,
        N: NetworkImageRead + RecommendedImagesRead,
        G: ClusterGroupsRead,
    {
        Ok(read_audit(policy, instances, images, groups, now)
            .await?
            .audits()
            .collect())
    }

    #[tokio::test]
    async fn a_large_cluster_is_read_with_one_call_per_group_image_and_subnet() {
        let (policy, aws) = (strict_policy(&[]), cluster(300));

        let audited = audit_cluster(&policy, &aws, &aws, &aws, now())
            .await
            .unwrap();

        assert_eq!(audited.len(), 300);
        assert_eq!(
            (
                aws.calls("DescribeInstances"),
                aws.calls("DescribeLifecycleHooks"),
                aws.calls("DescribeImages"),
                aws.calls("DescribeSubnets")
            ),
            (1, 3, 1, 1)
        );
        let unguarded = audited
            .iter()
            .filter(|a| {
                a.audit.as_ref().unwrap().checks() == vec![CheckName::MembershipUnguardedGroup]
            })
            .count();
        assert_eq!(unguarded, 200, "prod-b and prod-c lack the hook");
    }

    #[tokio::test]
    async fn other_clusters_and_stopped_instances_are_not_audited() {
        let (policy, aws) = (strict_policy(&[]), cluster(0));
        let mut other = member("i-0000000000000000a", None);
        other.tags.clear();
        other
            .tags
            .insert("kubernetes.io/cluster/staging".into(), "owned".into());
        aws.add_instance(other);
        let mut stopped = member("i-0000000000000000b", None);
        stopped.state = "stopped".into();
        aws.add_instance(stopped);

        let audited = audit_cluster(&policy, &aws, &aws, &aws, now())
            .await
            .unwrap();

        assert_eq!(audited, vec![]);
    }

    #[tokio::test]
    async fn an_unreadable_image_leaves_only_its_instances_unaudited() {
        let (policy, aws) = (strict_policy(&[]), cluster(2));
        aws.fail("DescribeImages");

        let audited = audit_cluster(&policy, &aws, &aws, &aws, now())
            .await
            .unwrap();

        assert_eq!(audited.len(), 2);
        assert_eq!(
            audited[0].audit,
            Err("`DescribeImages` failed: injected failure".to_owned())
        );
    }

    #[tokio::test]
    async fn when_the_instances_cannot_be_listed_the_sweep_fails() {
        let (policy, aws) = (strict_policy(&[]), cluster(2));
        aws.fail("DescribeInstances");
        let err = audit_cluster(&policy, &aws, &aws, &aws, now())
            .await
            .unwrap_err();
        assert_eq!(err.operation, "DescribeInstances");
    }
}
