//! Reads what an audit needs through the ports, with a bounded number of
//! calls: the cluster's instances once (all pages), each group's hooks once,
//! each distinct image and subnet once (the adapters also cache them across
//! warm invocations), a few requests at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::SystemTime;

use futures::StreamExt;

use super::InstanceAudit;
use crate::checks::membership::{Membership, auto_scaling_group};
use crate::facts::{HookFacts, InstanceFacts, NodeFacts};
use crate::policy::Policy;
use crate::ports::{AwsResult, ClusterGroupsRead, ClusterInstancesRead, NetworkImageRead};

/// Requests in flight at once while a sweep reads hooks, images and subnets.
pub const CONCURRENCY: usize = 8;

/// Whether an instance is one the audit looks at: a cluster member in state
/// `pending` or `running`.
pub fn is_audited(policy: &Policy, instance: &InstanceFacts) -> bool {
    instance.tags.contains_key(&policy.cluster_tag_key) && instance.instance_state().is_live()
}

/// The instance's image and subnet, read in parallel.
pub async fn node_facts<N: NetworkImageRead>(
    images: &N,
    instance: InstanceFacts,
) -> AwsResult<NodeFacts> {
    let subnet = async {
        match &instance.subnet_id {
            Some(id) => images.subnet(id).await,
            None => Ok(None),
        }
    };
    let (image, subnet) = futures::join!(images.image(&instance.image_id), subnet);
    Ok(NodeFacts {
        image: image?,
        subnet: subnet?,
        instance,
    })
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

/// Audits every cluster instance. Fails only when the instances cannot be
/// listed; a group, image or subnet that cannot be read leaves the instances
/// that need it unaudited (`Err` with the reason), the others are audited.
/// Sorted by instance id.
pub async fn audit_cluster<E, N, G>(
    policy: &Policy,
    instances: &E,
    images: &N,
    groups: &G,
    now: SystemTime,
) -> AwsResult<Vec<Audited>>
where
    E: ClusterInstancesRead,
    N: NetworkImageRead,
    G: ClusterGroupsRead,
{
    let mut listed = instances.cluster_instances(&policy.cluster_tag_key).await?;
    listed.retain(|instance| is_audited(policy, instance));
    listed.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    listed.dedup_by(|a, b| a.instance_id == b.instance_id);

    let group_names: BTreeSet<String> = listed
        .iter()
        .filter_map(auto_scaling_group)
        .map(str::to_owned)
        .collect();
    let image_ids: BTreeSet<String> = listed
        .iter()
        .map(|i| i.image_id.clone())
        .filter(|id| !id.is_empty())
        .collect();
    let subnet_ids: BTreeSet<String> = listed.iter().filter_map(|i| i.subnet_id.clone()).collect();
    let (hooks, found_images, found_subnets) = futures::join!(
        fetch_each(group_names, |group| async move {
            groups.lifecycle_hooks(&group).await
        }),
        fetch_each(image_ids, |id| async move { images.image(&id).await }),
        fetch_each(subnet_ids, |id| async move { images.subnet(&id).await }),
    );

    Ok(listed
        .into_iter()
        .map(|instance| {
            let audit = audit_one(
                policy,
                &instance,
                &hooks,
                &found_images,
                &found_subnets,
                now,
            );
            Audited { instance, audit }
        })
        .collect())
}

type Fetched<T> = BTreeMap<String, AwsResult<T>>;

fn audit_one(
    policy: &Policy,
    instance: &InstanceFacts,
    hooks: &Fetched<Vec<HookFacts>>,
    images: &Fetched<Option<crate::facts::ImageFacts>>,
    subnets: &Fetched<Option<crate::facts::SubnetFacts>>,
    now: SystemTime,
) -> Result<InstanceAudit, String> {
    let no_hooks = Vec::new();
    let group_hooks = match auto_scaling_group(instance).map(|group| hooks.get(group)) {
        Some(Some(Err(err))) => return Err(err.to_string()),
        Some(Some(Ok(found))) => found,
        Some(None) | None => &no_hooks,
    };
    let image = match images.get(&instance.image_id) {
        Some(Err(err)) => return Err(err.to_string()),
        Some(Ok(found)) => found.clone(),
        None => None,
    };
    let subnet = match instance.subnet_id.as_ref().and_then(|id| subnets.get(id)) {
        Some(Err(err)) => return Err(err.to_string()),
        Some(Ok(found)) => found.clone(),
        None => None,
    };
    let membership = Membership::of(policy, instance, group_hooks, now);
    let facts = NodeFacts {
        instance: instance.clone(),
        image,
        subnet,
    };
    Ok(InstanceAudit::of(policy, &facts, membership, now))
}

/// Calls `fetch` once per key, [`CONCURRENCY`] at a time.
async fn fetch_each<T, F, Fut>(keys: BTreeSet<String>, fetch: F) -> Fetched<T>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = AwsResult<T>>,
{
    futures::stream::iter(keys)
        .map(|key| {
            let answer = fetch(key.clone());
            async move { (key, answer.await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::checks::CheckName;
    use crate::checks::fixtures::{compliant_node, now, strict_policy};
    use crate::checks::membership::GROUP_NAME_TAG;
    use crate::facts::HookFacts;
    use crate::fakes::FakeAws;
    use crate::lifecycle::LAUNCHING;

    fn member(id: &str, group: Option<&str>) -> InstanceFacts {
        let mut instance = compliant_node().instance;
        instance.instance_id = id.into();
        instance.state = "running".into();
        instance
            .tags
            .insert("kubernetes.io/cluster/prod".into(), "owned".into());
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
                name: "scaling-guard-launch".into(),
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
