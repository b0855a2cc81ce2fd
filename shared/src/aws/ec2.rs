//! EC2 reads: instances, images, subnets, volumes, launch template versions.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::SdkError;
use aws_sdk_ec2::types::{
    Filter, HttpTokensState, Image, Instance, InstanceType, InstanceTypeInfo, Subnet, Volume,
};

use super::aws_error;
use super::convert::{instance_requirements, tag_entry};
use crate::facts::{
    CpuOptions, HttpTokens, ImageFacts, InstanceFacts, InstanceState, InstanceTypeSpec, Operator,
    SubnetFacts, TemplateLaunch, TemplateRef, VolumeFacts,
};
use crate::policy::ClusterTag;
use crate::ports::{
    AwsError, AwsResult, ClusterInstancesRead, InstanceRead, InstanceTag, InstanceTypesRead,
    LaunchTemplateRead, NetworkImageRead, VolumeRead,
};
use crate::time::parse_rfc3339;

/// Every `DescribeInstances` sends `IncludeManagedResources=true`: with the
/// account's managed-resource visibility `hidden`, EC2 otherwise leaves out
/// managed instances (EKS Auto Mode nodes), which still run and are billed,
/// so budgets and sweeps would under-count them silently.
const INCLUDE_MANAGED: bool = true;

/// `DescribeInstanceTypes` takes at most 100 names per request.
const TYPES_PER_REQUEST: usize = 100;

mod pages;

pub use pages::{PageSizes, SlowListing};

/// The EC2 adapter. Instance type specs never change, so they are kept for
/// the life of the execution environment.
#[derive(Debug, Clone)]
pub struct Ec2 {
    client: Client,
    type_specs: Arc<Mutex<BTreeMap<String, InstanceTypeSpec>>>,
    pages: PageSizes,
}

impl Ec2 {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            type_specs: Arc::default(),
            pages: PageSizes::default(),
        }
    }

    /// Lists the cluster's instances with these page sizes (the CLI's
    /// [`PageSizes::shrinking`]); the functions keep the default.
    pub fn with_page_sizes(mut self, pages: PageSizes) -> Self {
        self.pages = pages;
        self
    }

    /// The timeouts the cluster listings met, and the page size they came
    /// down to; `None` when no page timed out.
    pub fn slow_listing(&self) -> Option<SlowListing> {
        self.pages.slow()
    }
}

impl InstanceTag for Ec2 {
    async fn tag_instances(&self, instance_ids: &[&str], tags: &[(&str, &str)]) -> AwsResult<()> {
        let tags = tags.iter().map(|(key, value)| {
            aws_sdk_ec2::types::Tag::builder()
                .key(*key)
                .value(*value)
                .build()
        });
        self.client
            .create_tags()
            .set_resources(Some(
                instance_ids.iter().map(|id| (*id).to_owned()).collect(),
            ))
            .set_tags(Some(tags.collect()))
            .send()
            .await
            .map_err(|err| aws_error("CreateTags", err))?;
        Ok(())
    }
}

impl ClusterInstancesRead for Ec2 {
    async fn cluster_instances(&self, tag: &ClusterTag) -> AwsResult<Vec<InstanceFacts>> {
        let state = Filter::builder()
            .name("instance-state-name")
            .set_values(Some(InstanceState::LIVE.map(str::to_owned).to_vec()))
            .build();
        // `tag:<key>` = value when pinned: another cluster's instances that
        // share the key are not even listed.
        let tagged = match tag.value() {
            Some(value) => Filter::builder()
                .name(format!("tag:{}", tag.key))
                .values(value)
                .build(),
            None => Filter::builder().name("tag-key").values(&tag.key).build(),
        };
        let mut facts = self.describe_all(vec![tagged, state]).await?;
        facts.retain(|instance| tag.matches(&instance.tags));
        Ok(facts)
    }
}

impl Ec2 {
    /// Every instance matching `filters`, all pages (1000 a page, or
    /// smaller after a timeout with [`PageSizes::shrinking`]), managed
    /// instances included ([`INCLUDE_MANAGED`]). Each page is reduced to the
    /// facts as it arrives: at most one page of the SDK's full descriptions
    /// is held at a time, whatever the cluster's size. A page that timed out
    /// is asked again, smaller, from the same `NextToken`: nothing is listed
    /// twice or skipped.
    async fn describe_all(&self, filters: Vec<Filter>) -> AwsResult<Vec<InstanceFacts>> {
        let mut facts = Vec::new();
        let (mut step, mut token) = (0, None::<String>);
        while let Some(size) = self.pages.size(step) {
            let page = self
                .client
                .describe_instances()
                .include_managed_resources(INCLUDE_MANAGED)
                .set_filters(Some(filters.clone()))
                .max_results(size)
                .set_next_token(token.clone())
                .send()
                .await;
            let page = match page {
                Err(SdkError::TimeoutError(_)) if self.pages.timed_out(step).is_some() => {
                    step += 1;
                    continue;
                }
                page => page.map_err(|err| aws_error("DescribeInstances", err))?,
            };
            facts.extend(page.reservations().iter().flat_map(|reservation| {
                reservation
                    .instances()
                    .iter()
                    .map(move |instance| instance_facts(instance, reservation.owner_id()))
            }));
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(facts)
    }
}

impl InstanceTypesRead for Ec2 {
    /// Only the types this environment has not seen yet are described,
    /// [`TYPES_PER_REQUEST`] a request; the answer is read from the kept specs.
    async fn instance_types(
        &self,
        names: &[String],
    ) -> AwsResult<BTreeMap<String, InstanceTypeSpec>> {
        for batch in self.unseen_types(names).chunks(TYPES_PER_REQUEST) {
            let found = self.describe_types(batch).await?;
            if let Ok(mut known) = self.type_specs.lock() {
                known.extend(found);
            }
        }
        let known = self.known_types();
        Ok(names
            .iter()
            .filter_map(|n| Some((n.clone(), *known.get(n)?)))
            .collect())
    }
}

impl Ec2 {
    /// The specs kept so far; none when the lock is poisoned (a panic while
    /// it was held), as if none were kept.
    fn known_types(&self) -> BTreeMap<String, InstanceTypeSpec> {
        self.type_specs
            .lock()
            .map(|k| k.clone())
            .unwrap_or_default()
    }

    /// The distinct names among `names` whose spec is not kept, sorted.
    fn unseen_types(&self, names: &[String]) -> Vec<String> {
        let known = self.known_types();
        let mut missing: Vec<String> = names
            .iter()
            .filter(|n| !known.contains_key(*n))
            .cloned()
            .collect();
        missing.sort();
        missing.dedup();
        missing
    }

    /// One `DescribeInstanceTypes` of at most [`TYPES_PER_REQUEST`] names
    /// (all pages): the specs EC2 gives, unknown names left out.
    async fn describe_types(&self, names: &[String]) -> AwsResult<Vec<(String, InstanceTypeSpec)>> {
        let pages: Vec<_> = self
            .client
            .describe_instance_types()
            .set_instance_types(Some(
                names
                    .iter()
                    .map(|n| InstanceType::from(n.as_str()))
                    .collect(),
            ))
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|err| aws_error("DescribeInstanceTypes", err))?;
        Ok(pages
            .iter()
            .flat_map(|page| page.instance_types())
            .filter_map(type_spec)
            .collect())
    }
}

/// A type's name and spec; `None` when EC2 leaves a part out.
fn type_spec(info: &InstanceTypeInfo) -> Option<(String, InstanceTypeSpec)> {
    let name = info.instance_type()?.as_str().to_owned();
    let default_vcpus = u32::try_from(info.v_cpu_info()?.default_v_cpus()?).ok()?;
    let memory_mib = u64::try_from(info.memory_info()?.size_in_mib()?).ok()?;
    Some((
        name,
        InstanceTypeSpec {
            default_vcpus,
            memory_mib,
        },
    ))
}

/// Error codes that mean "no such resource" rather than a failure.
fn is_not_found(code: Option<&str>) -> bool {
    code.is_some_and(|code| {
        code.ends_with(".NotFound")
            || code.ends_with(".Malformed")
            || code == "InvalidAMIID.Unavailable"
    })
}

/// A failed read of one resource: no resource when its code says it is not
/// there (`absent`), else the failure.
fn none_if<T>(err: AwsError, absent: fn(Option<&str>) -> bool) -> AwsResult<Option<T>> {
    match absent(err.code.as_deref()) {
        true => Ok(None),
        false => Err(err),
    }
}

/// An id filter (`instance-id`, `volume-id`, `image-id`): unlike the calls'
/// id lists, an id EC2 does not know is left out of the answer instead of
/// failing the whole call.
fn ids_filter(name: &str, ids: &[String]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(ids.to_vec()))
        .build()
}

impl InstanceRead for Ec2 {
    async fn instance(&self, instance_id: &str) -> AwsResult<Option<InstanceFacts>> {
        let output = match self
            .client
            .describe_instances()
            .include_managed_resources(INCLUDE_MANAGED)
            .instance_ids(instance_id)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) => return none_if(aws_error("DescribeInstances", err), is_not_found),
        };
        let found = output.reservations().iter().find_map(|reservation| {
            reservation
                .instances()
                .iter()
                .find(|i| i.instance_id() == Some(instance_id))
                .map(|instance| instance_facts(instance, reservation.owner_id()))
        });
        Ok(found)
    }

    /// An `instance-id` filter rather than `InstanceIds`: with `InstanceIds`,
    /// one id EC2 does not know yet fails the whole call.
    async fn instances(&self, instance_ids: &[String]) -> AwsResult<Vec<InstanceFacts>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.describe_all(vec![ids_filter("instance-id", instance_ids)])
            .await
    }
}

impl NetworkImageRead for Ec2 {
    async fn image(&self, image_id: &str) -> AwsResult<Option<ImageFacts>> {
        let result = self
            .client
            .describe_images()
            .image_ids(image_id)
            .include_deprecated(true)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output
                .images()
                .iter()
                .find(|i| i.image_id() == Some(image_id))
                .map(image_facts)),
            Err(err) => none_if(aws_error("DescribeImages", err), is_not_found),
        }
    }

    async fn subnet(&self, subnet_id: &str) -> AwsResult<Option<SubnetFacts>> {
        match self
            .client
            .describe_subnets()
            .subnet_ids(subnet_id)
            .send()
            .await
        {
            Ok(output) => Ok(output
                .subnets()
                .iter()
                .find(|s| s.subnet_id() == Some(subnet_id))
                .map(subnet_facts)),
            Err(err) => none_if(aws_error("DescribeSubnets", err), is_not_found),
        }
    }
}

impl VolumeRead for Ec2 {
    /// A `volume-id` filter rather than `VolumeIds`: with `VolumeIds`, one
    /// volume deleted meanwhile (`InvalidVolume.NotFound`) fails the whole
    /// call; a filter leaves unknown ids out of the answer.
    async fn volumes(&self, volume_ids: &[String]) -> AwsResult<Vec<VolumeFacts>> {
        if volume_ids.is_empty() {
            return Ok(Vec::new());
        }
        let pages: Vec<_> = self
            .client
            .describe_volumes()
            .filters(ids_filter("volume-id", volume_ids))
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|err| aws_error("DescribeVolumes", err))?;
        Ok(pages
            .iter()
            .flat_map(|page| page.volumes())
            .map(volume_facts)
            .collect())
    }
}

impl Ec2 {
    /// The images among `image_ids` that EC2 knows, deprecated ones included,
    /// in one `DescribeImages` (all pages). An `image-id` filter rather than
    /// `ImageIds`, for the reason of [`VolumeRead::volumes`]: an unknown or
    /// deregistered image is absent, not an error. No call when `image_ids`
    /// is empty.
    pub(crate) async fn images(&self, image_ids: &[String]) -> AwsResult<Vec<ImageFacts>> {
        if image_ids.is_empty() {
            return Ok(Vec::new());
        }
        let pages: Vec<_> = self
            .client
            .describe_images()
            .filters(ids_filter("image-id", image_ids))
            .include_deprecated(true)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|err| aws_error("DescribeImages", err))?;
        Ok(pages
            .iter()
            .flat_map(|page| page.images())
            .map(image_facts)
            .collect())
    }
}

pub(crate) fn instance_facts(instance: &Instance, owner: Option<&str>) -> InstanceFacts {
    let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
    let owned = |value: Option<&str>| value.map(str::to_owned);
    let metadata = instance.metadata_options();
    InstanceFacts {
        instance_id: text(instance.instance_id()),
        instance_type: text(instance.instance_type().map(InstanceType::as_str)),
        image_id: text(instance.image_id()),
        state: text(instance.state().and_then(|s| s.name()).map(|n| n.as_str())),
        subnet_id: owned(instance.subnet_id()),
        vpc_id: owned(instance.vpc_id()),
        security_group_ids: instance
            .security_groups()
            .iter()
            .filter_map(|group| owned(group.group_id()))
            .collect(),
        public_ip: owned(instance.public_ip_address()),
        http_tokens: metadata.and_then(|m| m.http_tokens()).map(http_tokens),
        instance_profile_arn: owned(instance.iam_instance_profile().and_then(|p| p.arn())),
        owner_account: owned(owner),
        cpu_options: cpu_options(instance),
        launch_time: instance
            .launch_time()
            .and_then(|t| std::time::SystemTime::try_from(*t).ok()),
        tags: instance
            .tags()
            .iter()
            .filter_map(|tag| tag_entry(tag.key(), tag.value()))
            .collect(),
        http_put_response_hop_limit: metadata
            .and_then(|m| m.http_put_response_hop_limit())
            .and_then(|limit| u32::try_from(limit).ok()),
        key_name: owned(instance.key_name()),
        volume_ids: instance
            .block_device_mappings()
            .iter()
            .filter_map(|mapping| owned(mapping.ebs()?.volume_id()))
            .collect(),
        operator: instance.operator().map(|operator| Operator {
            managed: operator.managed().unwrap_or(false),
            principal: owned(operator.principal()),
        }),
    }
}

/// IMDSv2 is required only when EC2 says so; any other state is optional.
fn http_tokens(tokens: &HttpTokensState) -> HttpTokens {
    match tokens {
        HttpTokensState::Required => HttpTokens::Required,
        _ => HttpTokens::Optional,
    }
}

/// The instance's cores and threads per core, when EC2 gives both.
fn cpu_options(instance: &Instance) -> Option<CpuOptions> {
    let cpu = instance.cpu_options()?;
    Some(CpuOptions {
        core_count: u32::try_from(cpu.core_count()?).ok()?,
        threads_per_core: u32::try_from(cpu.threads_per_core()?).ok()?,
    })
}

fn volume_facts(volume: &Volume) -> VolumeFacts {
    VolumeFacts {
        volume_id: volume.volume_id().unwrap_or_default().to_owned(),
        encrypted: volume.encrypted().unwrap_or(false),
        kms_key_id: volume.kms_key_id().map(str::to_owned),
    }
}

fn image_facts(image: &Image) -> ImageFacts {
    ImageFacts {
        image_id: image.image_id().unwrap_or_default().to_owned(),
        name: image.name().map(str::to_owned),
        owner_id: image.owner_id().map(str::to_owned),
        owner_alias: image.image_owner_alias().map(str::to_owned),
        creation_date: image.creation_date().and_then(parse_rfc3339),
        deprecation_time: image.deprecation_time().and_then(parse_rfc3339),
        architecture: image.architecture().map(|a| a.as_str().to_owned()),
    }
}

fn subnet_facts(subnet: &Subnet) -> SubnetFacts {
    SubnetFacts {
        subnet_id: subnet.subnet_id().unwrap_or_default().to_owned(),
        vpc_id: subnet.vpc_id().map(str::to_owned),
        map_public_ip_on_launch: subnet.map_public_ip_on_launch().unwrap_or(false),
    }
}

/// instance-audit's remediation records: `DescribeInstances` filtered by tag
/// key only, so that stopped and terminated instances are listed too.
impl crate::ports::TaggedInstancesRead for Ec2 {
    async fn tagged_instances(&self, tag_keys: &[&str]) -> AwsResult<Vec<InstanceFacts>> {
        let mut keys = Filter::builder().name("tag-key");
        for key in tag_keys {
            keys = keys.values(*key);
        }
        self.describe_all(vec![keys.build()]).await
    }
}

/// What EC2 answers for a template or version it does not know.
fn is_unknown_template(code: Option<&str>) -> bool {
    code.is_some_and(|code| {
        code.starts_with("InvalidLaunchTemplateId.")
            || code.starts_with("InvalidLaunchTemplateName.")
    })
}

impl LaunchTemplateRead for Ec2 {
    /// One `DescribeLaunchTemplateVersions` of the template's version
    /// (`$Default` when the group names none).
    async fn launch_template(&self, template: &TemplateRef) -> AwsResult<Option<TemplateLaunch>> {
        let sent = self
            .client
            .describe_launch_template_versions()
            .set_launch_template_id(template.id.clone())
            .set_launch_template_name(match template.id {
                Some(_) => None,
                None => template.name.clone(),
            })
            .versions(template.version.as_deref().unwrap_or("$Default"))
            .send()
            .await;
        let output = match sent {
            Ok(output) => output,
            Err(err) => {
                let err = aws_error("DescribeLaunchTemplateVersions", err);
                return none_if(err, is_unknown_template);
            }
        };
        Ok(output
            .launch_template_versions()
            .first()
            .and_then(|version| version.launch_template_data())
            .map(|data| TemplateLaunch {
                instance_type: data.instance_type().map(|t| t.as_str().to_owned()),
                requirements: data.instance_requirements().map(|r| {
                    let (vcpus, memory) = (r.v_cpu_count(), r.memory_mib());
                    instance_requirements(
                        (vcpus.and_then(|c| c.min()), vcpus.and_then(|c| c.max())),
                        (memory.and_then(|m| m.min()), memory.and_then(|m| m.max())),
                    )
                }),
            }))
    }
}
