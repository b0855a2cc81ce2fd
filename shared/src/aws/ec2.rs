//! EC2 reads: instances, images, subnets.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{HttpTokensState, Image, Instance, Subnet};

use super::aws_error;
use crate::facts::{CpuOptions, HttpTokens, ImageFacts, InstanceFacts, SubnetFacts};
use crate::ports::{AwsResult, InstanceRead, NetworkImageRead};
use crate::time::parse_rfc3339;

/// The EC2 adapter.
#[derive(Debug, Clone)]
pub struct Ec2 {
    client: Client,
}

impl Ec2 {
    pub fn new(client: Client) -> Self {
        Self { client }
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
    }
}

fn subnet_facts(subnet: &Subnet) -> SubnetFacts {
    SubnetFacts {
        subnet_id: subnet.subnet_id().unwrap_or_default().to_owned(),
        vpc_id: subnet.vpc_id().map(str::to_owned),
        map_public_ip_on_launch: subnet.map_public_ip_on_launch().unwrap_or(false),
    }
}
