//! Reads what an audit needs through the ports, with a bounded number of
//! calls: the cluster's instances once (all pages), each group's hooks once,
//! each distinct image and subnet once (the adapters also cache them across
//! warm invocations), the volumes [`VOLUMES_PER_CALL`] at a time and AWS's
//! recommended images once, when their checks are on; a few requests at a
//! time.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::SystemTime;

use futures::StreamExt;

use super::InstanceAudit;
use crate::checks::membership::{Membership, auto_scaling_group};
use crate::facts::{HookFacts, ImageFacts, InstanceFacts, NodeFacts, SubnetFacts, VolumeFacts};
use crate::policy::Policy;
use crate::ports::{
    AwsResult, ClusterGroupsRead, ClusterInstancesRead, NetworkImageRead, RecommendedImagesRead,
    VolumeRead,
};

/// Requests in flight at once while a sweep reads hooks, images and subnets.
pub const CONCURRENCY: usize = 8;

/// Volumes asked for in one `DescribeVolumes` (EC2 takes at most 200 values
/// in one filter).
pub const VOLUMES_PER_CALL: usize = 200;

/// Whether an instance is one the audit looks at: a cluster member in state
/// `pending` or `running`.
pub fn is_audited(policy: &Policy, instance: &InstanceFacts) -> bool {
    policy.cluster_tag.matches(&instance.tags) && instance.instance_state().is_live()
}

/// The instance's image and subnet and, when their checks are on, its
/// volumes and AWS's recommended images, read in parallel.
pub async fn node_facts<E, N>(
    policy: &Policy,
    instances: &E,
    images: &N,
    instance: InstanceFacts,
) -> AwsResult<NodeFacts>
where
    E: VolumeRead,
    N: NetworkImageRead + RecommendedImagesRead,
{
    let subnet = async {
        match &instance.subnet_id {
            Some(id) => images.subnet(id).await,
            None => Ok(None),
        }
    };
    let volumes = async {
        match policy.volumes.require_encrypted {
            true => instances.volumes(&instance.volume_ids).await,
            false => Ok(Vec::new()),
        }
    };
    let (image, subnet, volumes, recommended_images) = futures::join!(
        images.image(&instance.image_id),
        subnet,
        volumes,
        recommended(policy, images),
    );
    Ok(NodeFacts {
        image: image?,
        subnet: subnet?,
        volumes: volumes?,
        recommended_images: recommended_images?,
        instance,
    })
}

/// AWS's recommended images, when `image.outdated` is on.
async fn recommended<N: RecommendedImagesRead>(
    policy: &Policy,
    images: &N,
) -> AwsResult<Vec<ImageFacts>> {
    match policy.recommended_image_parameters() {
        [] => Ok(Vec::new()),
        parameters => images.recommended_images(parameters).await,
    }
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

    // Each distinct id once (not one String per instance).
    let distinct =
        |ids: BTreeSet<&str>| -> BTreeSet<String> { ids.into_iter().map(str::to_owned).collect() };
    let group_names = distinct(listed.iter().filter_map(auto_scaling_group).collect());
    let image_ids = distinct(
        listed
            .iter()
            .map(|i| i.image_id.as_str())
            .filter(|id| !id.is_empty())
            .collect(),
    );
    let subnet_ids = distinct(
        listed
            .iter()
            .filter_map(|i| i.subnet_id.as_deref())
            .collect(),
    );
    let volume_chunks: BTreeSet<String> = match policy.volumes.require_encrypted {
        true => volume_chunks(&listed),
        false => BTreeSet::new(),
    };
    let (hooks, found_images, found_subnets, found_volumes, recommended) = futures::join!(
        fetch_each(group_names, |group| async move {
            groups.lifecycle_hooks(&group).await
        }),
        fetch_each(image_ids, |id| async move { images.image(&id).await }),
        fetch_each(subnet_ids, |id| async move { images.subnet(&id).await }),
        fetch_each(volume_chunks, |chunk| async move {
            let ids: Vec<String> = chunk.split(' ').map(str::to_owned).collect();
            instances.volumes(&ids).await
        }),
        recommended(policy, images),
    );
    let read = Read {
        hooks,
        images: found_images,
        subnets: found_subnets,
        volumes: by_volume(found_volumes),
        recommended: recommended.map_err(|err| err.to_string()),
    };

    ClusterRead {
        policy,
        listed,
        read,
        now,
    }
}

type Fetched<T> = BTreeMap<String, AwsResult<T>>;

/// What the sweep read, shared by every instance's audit.
#[derive(Debug)]
struct Read {
    hooks: Fetched<Vec<HookFacts>>,
    images: Fetched<Option<ImageFacts>>,
    subnets: Fetched<Option<SubnetFacts>>,
    /// Each volume, or the error of the call that should have read it.
    volumes: BTreeMap<String, Result<VolumeFacts, String>>,
    recommended: Result<Vec<ImageFacts>, String>,
}

/// The attached volumes of `instances`, [`VOLUMES_PER_CALL`] per key
/// (space-separated ids).
fn volume_chunks(instances: &[InstanceFacts]) -> BTreeSet<String> {
    let ids: BTreeSet<&str> = instances
        .iter()
        .flat_map(|i| i.volume_ids.iter().map(String::as_str))
        .collect();
    let ids: Vec<&str> = ids.into_iter().collect();
    ids.chunks(VOLUMES_PER_CALL)
        .map(|chunk| chunk.join(" "))
        .collect()
}

fn by_volume(chunks: Fetched<Vec<VolumeFacts>>) -> BTreeMap<String, Result<VolumeFacts, String>> {
    let mut volumes = BTreeMap::new();
    for (chunk, answer) in chunks {
        match answer {
            Ok(found) => volumes.extend(found.into_iter().map(|v| (v.volume_id.clone(), Ok(v)))),
            Err(err) => volumes.extend(
                chunk
                    .split(' ')
                    .map(|id| (id.to_owned(), Err(err.to_string()))),
            ),
        }
    }
    volumes
}

fn audit_one(
    policy: &Policy,
    instance: &InstanceFacts,
    read: &Read,
    now: SystemTime,
) -> Result<InstanceAudit, String> {
    let Read {
        hooks,
        images,
        subnets,
        ..
    } = read;
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
    let mut volumes = Vec::new();
    for id in &instance.volume_ids {
        match read.volumes.get(id) {
            Some(Err(err)) => return Err(err.clone()),
            Some(Ok(volume)) => volumes.push(volume.clone()),
            None => {}
        }
    }
    let recommended_images = read.recommended.clone()?;
    let membership = Membership::of(policy, instance, group_hooks, now);
    let facts = NodeFacts {
        instance: instance.clone(),
        image,
        subnet,
        volumes,
        recommended_images,
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
