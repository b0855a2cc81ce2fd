//! EC2 changes: instance-audit's remediation (stop, terminate, isolate).

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, Tag};

use super::aws_error;
use crate::ports::{AwsResult, InstanceRemediate};

/// What EC2 answers when `ModifyInstanceAttribute` is asked to change the
/// groups of an instance with more than one network interface (every EKS
/// node once the VPC CNI has attached its warm interface).
const MULTIPLE_INTERFACES: &str = "multiple interfaces";

/// The EC2 adapter for the calls that change instances. Kept apart from the
/// read adapter so that a function that only reads cannot reach these.
#[derive(Debug, Clone)]
pub struct Ec2Remediation {
    client: Client,
}

impl Ec2Remediation {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Swaps the groups of every interface attached to the instance: the
    /// fallback for instances with several interfaces.
    async fn isolate_each_interface(
        &self,
        instance_id: &str,
        security_group_id: &str,
    ) -> AwsResult<()> {
        let output = self
            .client
            .describe_network_interfaces()
            .filters(
                Filter::builder()
                    .name("attachment.instance-id")
                    .values(instance_id)
                    .build(),
            )
            .send()
            .await
            .map_err(|err| aws_error("DescribeNetworkInterfaces", err))?;
        for interface in output.network_interfaces() {
            let Some(id) = interface.network_interface_id() else {
                continue;
            };
            self.client
                .modify_network_interface_attribute()
                .network_interface_id(id)
                .groups(security_group_id)
                .send()
                .await
                .map_err(|err| aws_error("ModifyNetworkInterfaceAttribute", err))?;
        }
        Ok(())
    }
}

impl InstanceRemediate for Ec2Remediation {
    async fn stop(&self, instance_id: &str) -> AwsResult<()> {
        self.client
            .stop_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|err| aws_error("StopInstances", err))?;
        Ok(())
    }

    async fn terminate(&self, instance_id: &str) -> AwsResult<()> {
        self.client
            .terminate_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|err| aws_error("TerminateInstances", err))?;
        Ok(())
    }

    async fn isolate(
        &self,
        instance_id: &str,
        security_group_id: &str,
        tags: &[(String, String)],
    ) -> AwsResult<()> {
        let swapped = self
            .client
            .modify_instance_attribute()
            .instance_id(instance_id)
            .groups(security_group_id)
            .send()
            .await;
        if let Err(err) = swapped {
            let err = aws_error("ModifyInstanceAttribute", err);
            if !err.message.contains(MULTIPLE_INTERFACES) {
                return Err(err);
            }
            self.isolate_each_interface(instance_id, security_group_id)
                .await?;
        }
        if tags.is_empty() {
            return Ok(());
        }
        self.client
            .create_tags()
            .resources(instance_id)
            .set_tags(Some(
                tags.iter()
                    .map(|(key, value)| Tag::builder().key(key).value(value).build())
                    .collect(),
            ))
            .send()
            .await
            .map_err(|err| aws_error("CreateTags", err))?;
        Ok(())
    }
}
