//! EC2 reads: instances, images, subnets, volumes, launch template versions.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, HttpTokensState, Image, Instance, InstanceType, Subnet, Volume};

use super::aws_error;
use crate::facts::{
    CpuOptions, HttpTokens, ImageFacts, InstanceFacts, InstanceRequirements, InstanceState,
    InstanceTypeSpec, SubnetFacts, TemplateLaunch, TemplateRef, VolumeFacts,
};
use crate::policy::ClusterTag;
use crate::ports::{
    AwsResult, ClusterInstancesRead, InstanceRead, InstanceTag, InstanceTypesRead,
    LaunchTemplateRead, NetworkImageRead, VolumeRead,
};
use crate::time::parse_rfc3339;

/// `DescribeInstanceTypes` takes at most 100 names per request.
const TYPES_PER_REQUEST: usize = 100;

/// The EC2 adapter. Instance type specs never change, so they are kept for
/// the life of the execution environment.
#[derive(Debug, Clone)]
pub struct Ec2 {
    client: Client,
    type_specs: Arc<Mutex<BTreeMap<String, InstanceTypeSpec>>>,
}

impl Ec2 {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            type_specs: Arc::default(),
        }
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
    /// Every instance matching `filters`, all pages (1000 a page). Each
    /// page is reduced to the facts as it arrives: at most one page of the
    /// SDK's full descriptions is held at a time, whatever the cluster's size.
    async fn describe_all(&self, filters: Vec<Filter>) -> AwsResult<Vec<InstanceFacts>> {
        let mut pages = self
            .client
            .describe_instances()
            .set_filters(Some(filters))
            .max_results(1000)
            .into_paginator()
            .send();
        let mut facts = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| aws_error("DescribeInstances", err))?;
            facts.extend(page.reservations().iter().flat_map(|reservation| {
                reservation
                    .instances()
                    .iter()
                    .map(move |instance| instance_facts(instance, reservation.owner_id()))
            }));
        }
        Ok(facts)
    }
}

impl InstanceTypesRead for Ec2 {
    async fn instance_types(
        &self,
        names: &[String],
    ) -> AwsResult<BTreeMap<String, InstanceTypeSpec>> {
        let missing: Vec<String> = {
            let known = self
                .type_specs
                .lock()
                .map(|k| k.clone())
                .unwrap_or_default();
            let mut missing: Vec<String> = names
                .iter()
                .filter(|n| !known.contains_key(*n))
                .cloned()
                .collect();
            missing.sort();
            missing.dedup();
            missing
        };
        for batch in missing.chunks(TYPES_PER_REQUEST) {
            let pages: Vec<_> = self
                .client
                .describe_instance_types()
                .set_instance_types(Some(
                    batch
                        .iter()
                        .map(|n| InstanceType::from(n.as_str()))
                        .collect(),
                ))
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|err| aws_error("DescribeInstanceTypes", err))?;
            let found = pages
                .iter()
                .flat_map(|page| page.instance_types())
                .filter_map(|info| {
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
                });
            if let Ok(mut known) = self.type_specs.lock() {
                known.extend(found);
            }
        }
        let known = self
            .type_specs
            .lock()
            .map(|k| k.clone())
            .unwrap_or_default();
        Ok(names
            .iter()
            .filter_map(|n| Some((n.clone(), *known.get(n)?)))
            .collect())
    }
}

/// Error codes that mean "no such resource" rather than a failure.
fn is_not_found(code: Option<&str>) -> bool {
    code.is_some_and(|code| {
        code.ends_with(".NotFound")
            || code.ends_with(".Malformed")
            || code == "InvalidAMIID.Unavailable"
    })
}

impl InstanceRead for Ec2 {
    async fn instance(&self, instance_id: &str) -> AwsResult<Option<InstanceFacts>> {
        let output = match self
            .client
            .describe_instances()
            .instance_ids(instance_id)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) => {
                let err = aws_error("DescribeInstances", err);
                return if is_not_found(err.code.as_deref()) {
                    Ok(None)
                } else {
                    Err(err)
                };
            }
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
        let ids = Filter::builder()
            .name("instance-id")
            .set_values(Some(instance_ids.to_vec()))
            .build();
        self.describe_all(vec![ids]).await
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
            Err(err) => {
                let err = aws_error("DescribeImages", err);
                if is_not_found(err.code.as_deref()) {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
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
            Err(err) => {
                let err = aws_error("DescribeSubnets", err);
                if is_not_found(err.code.as_deref()) {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
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
        let ids = Filter::builder()
            .name("volume-id")
            .set_values(Some(volume_ids.to_vec()))
            .build();
        let pages: Vec<_> = self
            .client
            .describe_volumes()
            .filters(ids)
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
        let ids = Filter::builder()
            .name("image-id")
            .set_values(Some(image_ids.to_vec()))
            .build();
        let pages: Vec<_> = self
            .client
            .describe_images()
            .filters(ids)
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
    InstanceFacts {
        instance_id: text(instance.instance_id()),
        instance_type: instance
            .instance_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        image_id: text(instance.image_id()),
        state: instance
            .state()
            .and_then(|s| s.name())
            .map(|name| name.as_str().to_owned())
            .unwrap_or_default(),
        subnet_id: instance.subnet_id().map(str::to_owned),
        vpc_id: instance.vpc_id().map(str::to_owned),
        security_group_ids: instance
            .security_groups()
            .iter()
            .filter_map(|group| group.group_id().map(str::to_owned))
            .collect(),
        public_ip: instance.public_ip_address().map(str::to_owned),
        http_tokens: instance
            .metadata_options()
            .and_then(|m| m.http_tokens())
            .map(|tokens| match tokens {
                HttpTokensState::Required => HttpTokens::Required,
                _ => HttpTokens::Optional,
            }),
        instance_profile_arn: instance
            .iam_instance_profile()
            .and_then(|p| p.arn())
            .map(str::to_owned),
        owner_account: owner.map(str::to_owned),
        cpu_options: instance.cpu_options().and_then(|cpu| {
            let core_count = u32::try_from(cpu.core_count()?).ok()?;
            let threads_per_core = u32::try_from(cpu.threads_per_core()?).ok()?;
            Some(CpuOptions {
                core_count,
                threads_per_core,
            })
        }),
        launch_time: instance
            .launch_time()
            .and_then(|t| std::time::SystemTime::try_from(*t).ok()),
        tags: instance
            .tags()
            .iter()
            .filter_map(|tag| {
                Some((
                    tag.key()?.to_owned(),
                    tag.value().unwrap_or_default().to_owned(),
                ))
            })
            .collect::<BTreeMap<_, _>>(),
        http_put_response_hop_limit: instance
            .metadata_options()
            .and_then(|m| m.http_put_response_hop_limit())
            .and_then(|limit| u32::try_from(limit).ok()),
        key_name: instance.key_name().map(str::to_owned),
        volume_ids: instance
            .block_device_mappings()
            .iter()
            .filter_map(|mapping| mapping.ebs()?.volume_id().map(str::to_owned))
            .collect(),
    }
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
                return match is_unknown_template(err.code.as_deref()) {
                    true => Ok(None),
                    false => Err(err),
                };
            }
        };
        Ok(output
            .launch_template_versions()
            .first()
            .and_then(|version| version.launch_template_data())
            .map(|data| TemplateLaunch {
                instance_type: data.instance_type().map(|t| t.as_str().to_owned()),
                requirements: data.instance_requirements().map(|r| {
                    let bound = |v: Option<i32>| v.and_then(|v| u64::try_from(v).ok());
                    InstanceRequirements {
                        vcpus_min: bound(r.v_cpu_count().and_then(|c| c.min())).unwrap_or_default(),
                        vcpus_max: bound(r.v_cpu_count().and_then(|c| c.max())),
                        memory_mib_min: bound(r.memory_mib().and_then(|m| m.min()))
                            .unwrap_or_default(),
                        memory_mib_max: bound(r.memory_mib().and_then(|m| m.max())),
                    }
                }),
            }))
    }
}
