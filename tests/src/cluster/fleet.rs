//! Karpenter-style launches: `CreateFleet` of type `instant` from a launch
//! template, outside any Auto Scaling group, with the tags Karpenter v1 puts
//! on every instance it launches (aws/karpenter-provider-aws, the cloud
//! provider's static tags plus the NodeClaim's).

use aws_sdk_ec2::types::{
    DefaultTargetCapacityType, FleetLaunchTemplateConfigRequest,
    FleetLaunchTemplateOverridesRequest, FleetLaunchTemplateSpecificationRequest, FleetType,
    InstanceType, ResourceType, Tag, TagSpecification, TargetCapacitySpecificationRequest,
};

use super::{CLUSTER, Cluster, NODE_TYPE, missing};
use crate::error::{Error, Result};

/// The tag of the NodePool that launched the node.
pub const NODEPOOL_TAG: &str = "karpenter.sh/nodepool";
/// The tag of the node's EC2NodeClass.
pub const NODECLASS_TAG: &str = "karpenter.k8s.aws/ec2nodeclass";
/// The tag of the NodeClaim the node serves.
pub const NODECLAIM_TAG: &str = "karpenter.sh/nodeclaim";

impl Cluster {
    /// Launches `count` nodes of NodePool `pool` (EC2NodeClass `default`) as
    /// Karpenter does: one `CreateFleet` (`instant`, on-demand) of launch
    /// template `template` with the subnet in an override, in the cluster's
    /// private subnets in turn, 100 per call. Returns their ids.
    pub async fn karpenter_fleet(
        &self,
        pool: &str,
        template: &str,
        count: usize,
    ) -> Result<Vec<String>> {
        let mut ids = Vec::with_capacity(count);
        let mut call = 0;
        while ids.len() < count {
            let n = (count - ids.len()).min(100);
            let subnets = &self.private_subnet_ids;
            let subnet = subnets
                .get(call % subnets.len().max(1))
                .ok_or_else(|| missing("the cluster", "a private subnet"))?;
            ids.extend(
                self.create_fleet(pool, template, subnet, n, ids.len())
                    .await?,
            );
            call += 1;
        }
        Ok(ids)
    }

    async fn create_fleet(
        &self,
        pool: &str,
        template: &str,
        subnet: &str,
        count: usize,
        first: usize,
    ) -> Result<Vec<String>> {
        let n = i32::try_from(count).map_err(|_| missing("CreateFleet", "a count"))?;
        let config = FleetLaunchTemplateConfigRequest::builder()
            .launch_template_specification(
                FleetLaunchTemplateSpecificationRequest::builder()
                    .launch_template_name(template)
                    .version("$Latest")
                    .build(),
            )
            .overrides(
                FleetLaunchTemplateOverridesRequest::builder()
                    .instance_type(InstanceType::from(NODE_TYPE))
                    .subnet_id(subnet)
                    .build(),
            )
            .build();
        let output = self
            .clients
            .ec2
            .create_fleet()
            .r#type(FleetType::Instant)
            .launch_template_configs(config)
            .target_capacity_specification(
                TargetCapacitySpecificationRequest::builder()
                    .total_target_capacity(n)
                    .default_target_capacity_type(DefaultTargetCapacityType::OnDemand)
                    .build(),
            )
            .tag_specifications(karpenter_tags(pool, first))
            .send()
            .await
            .map_err(Error::aws("CreateFleet"))?;
        Ok(output
            .instances()
            .iter()
            .flat_map(|launched| launched.instance_ids().iter().cloned())
            .collect())
    }
}

/// What Karpenter tags its instances with: the cluster (both forms), the
/// NodePool, the EC2NodeClass and the NodeClaim (one per node; here one per
/// call, named after its first node).
fn karpenter_tags(pool: &str, first: usize) -> TagSpecification {
    let tag = |key: &str, value: &str| Tag::builder().key(key).value(value).build();
    TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .tags(tag(&format!("kubernetes.io/cluster/{CLUSTER}"), "owned"))
        .tags(tag("eks:eks-cluster-name", CLUSTER))
        .tags(tag(NODEPOOL_TAG, pool))
        .tags(tag(NODECLASS_TAG, "default"))
        .tags(tag(NODECLAIM_TAG, &format!("{pool}-{first:05}")))
        .build()
}
