//! The node facts of many instances at once (a sweep), with a bounded
//! number of calls: each distinct image and subnet once (the adapters also
//! cache them across warm invocations), the volumes [`VOLUMES_PER_CALL`] at
//! a time and AWS's recommended images once, when their checks are on; a
//! few requests at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use futures::StreamExt;
use guard_core::facts::{ImageFacts, InstanceFacts, NodeFacts, SubnetFacts, VolumeFacts};
use guard_core::policy::Policy;

use super::recommended;
use crate::ports::{AwsResult, NetworkImageRead, RecommendedImagesRead, VolumeRead};

/// Requests in flight at once while a sweep reads hooks, images and subnets.
pub const CONCURRENCY: usize = 8;

/// Volumes asked for in one `DescribeVolumes` (EC2 takes at most 200 values
/// in one filter).
pub const VOLUMES_PER_CALL: usize = 200;

/// Each key's answer.
pub(crate) type Fetched<T> = BTreeMap<String, AwsResult<T>>;

/// What a sweep read of its instances' node facts, shared by every
/// instance's audit: [`ClusterNodeFacts::of`] puts one instance's together.
#[derive(Debug)]
pub struct ClusterNodeFacts {
    images: Fetched<Option<ImageFacts>>,
    subnets: Fetched<Option<SubnetFacts>>,
    /// Each volume, or the error of the call that should have read it.
    volumes: BTreeMap<String, Result<VolumeFacts, String>>,
    recommended: Result<Vec<ImageFacts>, String>,
}

impl ClusterNodeFacts {
    /// `instance`'s facts, or the first read it needs that failed (image,
    /// subnet, volumes, recommended images, in that order).
    pub fn of(&self, instance: &InstanceFacts) -> Result<NodeFacts, String> {
        let image = match self.images.get(&instance.image_id) {
            Some(Err(err)) => return Err(err.to_string()),
            Some(Ok(found)) => found.clone(),
            None => None,
        };
        let subnet = match instance
            .subnet_id
            .as_ref()
            .and_then(|id| self.subnets.get(id))
        {
            Some(Err(err)) => return Err(err.to_string()),
            Some(Ok(found)) => found.clone(),
            None => None,
        };
        let mut volumes = Vec::new();
        for id in &instance.volume_ids {
            match self.volumes.get(id) {
                Some(Err(err)) => return Err(err.clone()),
                Some(Ok(volume)) => volumes.push(volume.clone()),
                None => {}
            }
        }
        Ok(NodeFacts {
            instance: instance.clone(),
            image,
            subnet,
            volumes,
            recommended_images: self.recommended.clone()?,
        })
    }
}

/// The node facts of `listed`: each distinct image and subnet, the volumes
/// (when `volumes.encrypted` is on) and AWS's recommended images (when
/// `image.outdated` is on), read at once, [`CONCURRENCY`] requests at a time
/// per kind.
pub async fn gather_cluster_node_facts(
    policy: &Policy,
    listed: &[InstanceFacts],
    instances: &impl VolumeRead,
    images: &(impl NetworkImageRead + RecommendedImagesRead),
) -> ClusterNodeFacts {
    let image_ids = distinct(
        listed
            .iter()
            .map(|i| i.image_id.as_str())
            .filter(|id| !id.is_empty()),
    );
    let subnet_ids = distinct(listed.iter().filter_map(|i| i.subnet_id.as_deref()));
    let volume_chunks: BTreeSet<String> = match policy.volumes.require_encrypted {
        true => volume_chunks(listed),
        false => BTreeSet::new(),
    };
    let (found_images, found_subnets, found_volumes, recommended) = futures::join!(
        fetch_each(image_ids, |id| async move { images.image(&id).await }),
        fetch_each(subnet_ids, |id| async move { images.subnet(&id).await }),
        fetch_each(volume_chunks, |chunk| async move {
            let ids: Vec<String> = chunk.split(' ').map(str::to_owned).collect();
            instances.volumes(&ids).await
        }),
        recommended(policy, images),
    );
    ClusterNodeFacts {
        images: found_images,
        subnets: found_subnets,
        volumes: by_volume(found_volumes),
        recommended: recommended.map_err(|err| err.to_string()),
    }
}

/// Each distinct id once (not one `String` per instance).
pub(crate) fn distinct<'a>(ids: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let ids: BTreeSet<&str> = ids.into_iter().collect();
    ids.into_iter().map(str::to_owned).collect()
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

/// Calls `fetch` once per key, [`CONCURRENCY`] at a time.
pub(crate) async fn fetch_each<T, F, Fut>(keys: BTreeSet<String>, fetch: F) -> Fetched<T>
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
