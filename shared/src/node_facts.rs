//! The one gatherer of node facts ([`NodeFacts`]: an instance's image,
//! subnet, volumes and AWS's recommended images), through the read ports.
//! Every caller reads them here, so that the node checks see the same facts
//! wherever they run:
//!
//! - one instance, [`gather_node_facts`]: launch-guard's and `explain`'s
//!   assessment ([`crate::assess`], each read bounded by the deadline and
//!   failing on its own) and instance-audit's audit of one instance (the
//!   node is audited only when every read answered, [`NodeReads::all_read`]);
//! - every instance of a sweep, [`gather_cluster_node_facts`]: instance-audit's
//!   sweep and the CLI's `audit` ([`crate::audit::gather`]), each distinct
//!   image, subnet and volume read once.

use std::future::Future;

use guard_core::facts::{ImageFacts, InstanceFacts, NodeFacts, SubnetFacts, VolumeFacts};
use guard_core::policy::Policy;
use tokio::time::{Instant, timeout_at};

use crate::ports::{AwsError, AwsResult, NetworkImageRead, RecommendedImagesRead, VolumeRead};

mod cluster;

pub use cluster::{CONCURRENCY, ClusterNodeFacts, VOLUMES_PER_CALL, gather_cluster_node_facts};
pub(crate) use cluster::{Fetched, distinct, fetch_each};

/// What a step that ran out of time says.
pub const LATE: &str = "not established before the invocation's deadline";

/// Each read of one instance's facts, answered or failed on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeReads {
    pub instance: InstanceFacts,
    pub image: AwsResult<Option<ImageFacts>>,
    pub subnet: AwsResult<Option<SubnetFacts>>,
    /// Read only when `volumes.encrypted` is on; else none.
    pub volumes: AwsResult<Vec<VolumeFacts>>,
    /// Read only when `image.outdated` is on; else none.
    pub recommended_images: AwsResult<Vec<ImageFacts>>,
}

impl NodeReads {
    /// Every fact, or the first read that failed (image, subnet, volumes,
    /// recommended images, in that order): a node audited on part of its
    /// facts would be judged on facts it does not have.
    pub fn all_read(self) -> AwsResult<NodeFacts> {
        Ok(NodeFacts {
            image: self.image?,
            subnet: self.subnet?,
            volumes: self.volumes?,
            recommended_images: self.recommended_images?,
            instance: self.instance,
        })
    }
}

/// The instance's image and subnet and, when their checks are on, its
/// volumes and AWS's recommended images, read at once. With `until`, a read
/// not answered by then fails with [`LATE`] and leaves the others as they
/// are; without, each read takes as long as AWS does.
pub async fn gather_node_facts(
    policy: &Policy,
    instances: &impl VolumeRead,
    images: &(impl NetworkImageRead + RecommendedImagesRead),
    instance: InstanceFacts,
    until: Option<Instant>,
) -> NodeReads {
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
        in_time(until, "DescribeImages", images.image(&instance.image_id)),
        in_time(until, "DescribeSubnets", subnet),
        in_time(until, "DescribeVolumes", volumes),
        in_time(until, "GetParameters", recommended(policy, images)),
    );
    NodeReads {
        instance,
        image,
        subnet,
        volumes,
        recommended_images,
    }
}

/// AWS's recommended images, when `image.outdated` is on; else none.
pub(crate) async fn recommended(
    policy: &Policy,
    images: &impl RecommendedImagesRead,
) -> AwsResult<Vec<ImageFacts>> {
    match policy.recommended_image_parameters() {
        [] => Ok(Vec::new()),
        parameters => images.recommended_images(parameters).await,
    }
}

/// `read`'s answer, or, when it is not there by `until`, the error of
/// `operation` saying so. Without `until`, `read`'s answer.
pub(crate) async fn in_time<T>(
    until: Option<Instant>,
    operation: &'static str,
    read: impl Future<Output = AwsResult<T>>,
) -> AwsResult<T> {
    let Some(until) = until else {
        return read.await;
    };
    timeout_at(until, read)
        .await
        .unwrap_or_else(|_| Err(AwsError::new(operation, None, LATE)))
}
