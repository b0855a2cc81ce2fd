//! Auto Scaling: group reads and lifecycle completion.

use aws_sdk_autoscaling::Client;
use aws_sdk_autoscaling::types::AutoScalingGroup;

use super::aws_error;
use crate::decision::LifecycleResult;
use crate::facts::GroupFacts;
use crate::lifecycle::LifecycleAction;
use crate::ports::{AwsResult, Completion, GroupRead, LifecycleComplete};

/// What Auto Scaling answers for a token or instance with no pending action.
const NO_ACTIVE_ACTION: &str = "No active Lifecycle Action found";

/// The Auto Scaling adapter.
#[derive(Debug, Clone)]
pub struct AutoScaling {
    client: Client,
}

impl AutoScaling {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl GroupRead for AutoScaling {
    async fn group(&self, name: &str) -> AwsResult<Option<GroupFacts>> {
        let output = self
            .client
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(|err| aws_error("DescribeAutoScalingGroups", err))?;
        Ok(output
            .auto_scaling_groups()
            .iter()
            .find(|group| group.auto_scaling_group_name() == Some(name))
            .map(group_facts))
    }
}

impl LifecycleComplete for AutoScaling {
    async fn complete(
        &self,
        action: &LifecycleAction,
        result: LifecycleResult,
    ) -> AwsResult<Completion> {
        let sent = self
            .client
            .complete_lifecycle_action()
            .auto_scaling_group_name(&action.group)
            .lifecycle_hook_name(&action.hook)
            .lifecycle_action_token(&action.token)
            .instance_id(&action.instance_id)
            .lifecycle_action_result(result.as_str())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Completion::Completed),
            Err(err) => {
                let err = aws_error("CompleteLifecycleAction", err);
                if err.code.as_deref() == Some("ValidationError")
                    && err.message.contains(NO_ACTIVE_ACTION)
                {
                    Ok(Completion::NoActiveAction)
                } else {
                    Err(err)
                }
            }
        }
    }
}

pub(crate) fn group_facts(group: &AutoScalingGroup) -> GroupFacts {
    GroupFacts {
        name: group
            .auto_scaling_group_name()
            .unwrap_or_default()
            .to_owned(),
        min_size: group.min_size().unwrap_or_default(),
        max_size: group.max_size().unwrap_or_default(),
        desired_capacity: group.desired_capacity().unwrap_or_default(),
        tags: group
            .tags()
            .iter()
            .filter_map(|tag| {
                Some((
                    tag.key()?.to_owned(),
                    tag.value().unwrap_or_default().to_owned(),
                ))
            })
            .collect(),
        suspended_processes: group
            .suspended_processes()
            .iter()
            .filter_map(|p| p.process_name().map(str::to_owned))
            .collect(),
    }
}
