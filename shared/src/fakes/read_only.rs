//! [`ReadOnlyAws`]: a [`FakeAws`] seen through its read ports only.

use std::collections::BTreeMap;

use crate::facts::{
    GroupFacts, HookFacts, ImageFacts, InstanceFacts, InstanceTypeSpec, SubnetFacts,
    TemplateLaunch, TemplateRef, VolumeFacts,
};
use crate::policy::ClusterTag;
use crate::ports::{
    AlarmRead, AwsResult, ClusterGroupsRead, ClusterInstancesRead, GroupRead, InstanceRead,
    InstanceTypesRead, LaunchTemplateRead, NetworkImageRead, RecommendedImagesRead,
    TaggedInstancesRead, VolumeRead,
};

use super::FakeAws;

/// A [`FakeAws`] that implements the read ports and [`crate::ports::ReadPorts`],
/// and no write trait: a function that accepts it is read-only by type (it
/// could not tag, complete, suspend, remediate, publish or put a metric
/// through it). Every read goes to the wrapped account, so the calls it
/// counts and the failures it injects apply.
#[derive(Debug, Clone, Copy)]
pub struct ReadOnlyAws<'a>(pub &'a FakeAws);

impl crate::ports::ReadPorts for ReadOnlyAws<'_> {
    type Instances = Self;
    type Images = Self;
    type Groups = Self;
    type Metrics = Self;

    fn instances(&self) -> &Self {
        self
    }
    fn images(&self) -> &Self {
        self
    }
    fn groups(&self) -> &Self {
        self
    }
    fn metrics(&self) -> &Self {
        self
    }
}

impl InstanceRead for ReadOnlyAws<'_> {
    async fn instance(&self, instance_id: &str) -> AwsResult<Option<InstanceFacts>> {
        InstanceRead::instance(self.0, instance_id).await
    }
    async fn instances(&self, instance_ids: &[String]) -> AwsResult<Vec<InstanceFacts>> {
        InstanceRead::instances(self.0, instance_ids).await
    }
}

impl ClusterInstancesRead for ReadOnlyAws<'_> {
    async fn cluster_instances(&self, tag: &ClusterTag) -> AwsResult<Vec<InstanceFacts>> {
        self.0.cluster_instances(tag).await
    }
}

impl InstanceTypesRead for ReadOnlyAws<'_> {
    async fn instance_types(
        &self,
        names: &[String],
    ) -> AwsResult<BTreeMap<String, InstanceTypeSpec>> {
        self.0.instance_types(names).await
    }
}

impl LaunchTemplateRead for ReadOnlyAws<'_> {
    async fn launch_template(&self, template: &TemplateRef) -> AwsResult<Option<TemplateLaunch>> {
        self.0.launch_template(template).await
    }
}

impl TaggedInstancesRead for ReadOnlyAws<'_> {
    async fn tagged_instances(&self, tag_keys: &[&str]) -> AwsResult<Vec<InstanceFacts>> {
        self.0.tagged_instances(tag_keys).await
    }
}

impl VolumeRead for ReadOnlyAws<'_> {
    async fn volumes(&self, volume_ids: &[String]) -> AwsResult<Vec<VolumeFacts>> {
        self.0.volumes(volume_ids).await
    }
}

impl NetworkImageRead for ReadOnlyAws<'_> {
    async fn image(&self, image_id: &str) -> AwsResult<Option<ImageFacts>> {
        self.0.image(image_id).await
    }
    async fn subnet(&self, subnet_id: &str) -> AwsResult<Option<SubnetFacts>> {
        self.0.subnet(subnet_id).await
    }
}

impl RecommendedImagesRead for ReadOnlyAws<'_> {
    async fn recommended_images(&self, parameters: &[String]) -> AwsResult<Vec<ImageFacts>> {
        self.0.recommended_images(parameters).await
    }
}

impl GroupRead for ReadOnlyAws<'_> {
    async fn group(&self, name: &str) -> AwsResult<Option<GroupFacts>> {
        self.0.group(name).await
    }
}

impl ClusterGroupsRead for ReadOnlyAws<'_> {
    async fn cluster_groups(&self, tag: &ClusterTag) -> AwsResult<Vec<GroupFacts>> {
        self.0.cluster_groups(tag).await
    }
    async fn all_groups(&self) -> AwsResult<Vec<GroupFacts>> {
        self.0.all_groups().await
    }
    async fn lifecycle_hooks(&self, group: &str) -> AwsResult<Vec<HookFacts>> {
        self.0.lifecycle_hooks(group).await
    }
}

impl AlarmRead for ReadOnlyAws<'_> {
    async fn alarms_in_alarm(&self, names: &[String]) -> AwsResult<Vec<String>> {
        self.0.alarms_in_alarm(names).await
    }
    async fn alarms_in_alarm_with_prefix(&self, prefix: &str) -> AwsResult<Vec<String>> {
        self.0.alarms_in_alarm_with_prefix(prefix).await
    }
}
