//! Auto Scaling: group reads and lifecycle completion.

use aws_sdk_autoscaling::Client;
use aws_sdk_autoscaling::types::{AutoScalingGroup, Filter, Tag};

use super::aws_error;
use super::convert::{instance_requirements, tag_entry};
use crate::decision::LifecycleResult;
use crate::facts::{
    CapacityUnit, GroupFacts, GroupInstance, GroupLaunch, HookFacts, LaunchOverride, TemplateRef,
};
use crate::lifecycle::LifecycleAction;
use crate::policy::ClusterTag;
use crate::ports::{
    AwsResult, ClusterGroupsRead, Completion, GroupRead, LifecycleComplete, ScaleOutControl,
};

/// The only process the guard ever suspends or resumes.
const LAUNCH: &str = "Launch";

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

/// `tag:<key>` = value when the value is pinned, else `tag-key` = key: the
/// server returns only this cluster's groups, never another cluster's that
/// shares the key.
fn cluster_tag_filter(tag: &ClusterTag) -> Filter {
    match tag.value() {
        Some(value) => Filter::builder()
            .name(format!("tag:{}", tag.key))
            .values(value)
            .build(),
        None => Filter::builder().name("tag-key").values(&tag.key).build(),
    }
}

impl ClusterGroupsRead for AutoScaling {
    /// All pages (100 groups a page), each reduced to the facts as it
    /// arrives.
    async fn cluster_groups(&self, tag: &ClusterTag) -> AwsResult<Vec<GroupFacts>> {
        let mut groups = self.describe_groups(Some(cluster_tag_filter(tag))).await?;
        // The filter is the server's; the tag is checked again here.
        groups.retain(|group| tag.matches(&group.tags));
        Ok(groups)
    }

    /// All pages, 100 groups a page: one call per 100 groups.
    async fn all_groups(&self) -> AwsResult<Vec<GroupFacts>> {
        self.describe_groups(None).await
    }

    async fn lifecycle_hooks(&self, group: &str) -> AwsResult<Vec<HookFacts>> {
        let output = self
            .client
            .describe_lifecycle_hooks()
            .auto_scaling_group_name(group)
            .send()
            .await
            .map_err(|err| aws_error("DescribeLifecycleHooks", err))?;
        Ok(output
            .lifecycle_hooks()
            .iter()
            .map(|hook| HookFacts {
                name: hook.lifecycle_hook_name().unwrap_or_default().to_owned(),
                transition: hook.lifecycle_transition().unwrap_or_default().to_owned(),
                default_result: hook.default_result().map(str::to_owned),
                heartbeat_timeout: hook.heartbeat_timeout(),
                notification_target_arn: hook.notification_target_arn().map(str::to_owned),
                role_arn: hook.role_arn().map(str::to_owned),
                notification_metadata: hook.notification_metadata().map(str::to_owned),
            })
            .collect())
    }
}

impl AutoScaling {
    /// Every group `filter` selects (every group without one), all pages of
    /// 100 groups, each page reduced to the facts as it arrives.
    async fn describe_groups(&self, filter: Option<Filter>) -> AwsResult<Vec<GroupFacts>> {
        let mut pages = self
            .client
            .describe_auto_scaling_groups()
            .set_filters(filter.map(|filter| vec![filter]))
            .max_records(100)
            .into_paginator()
            .send();
        let mut groups = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| aws_error("DescribeAutoScalingGroups", err))?;
            groups.extend(page.auto_scaling_groups().iter().map(group_facts));
        }
        Ok(groups)
    }
}

impl ScaleOutControl for AutoScaling {
    async fn suspend_launch(&self, group: &str) -> AwsResult<()> {
        self.client
            .suspend_processes()
            .auto_scaling_group_name(group)
            .scaling_processes(LAUNCH)
            .send()
            .await
            .map_err(|err| aws_error("SuspendProcesses", err))?;
        Ok(())
    }

    async fn resume_launch(&self, group: &str) -> AwsResult<()> {
        self.client
            .resume_processes()
            .auto_scaling_group_name(group)
            .scaling_processes(LAUNCH)
            .send()
            .await
            .map_err(|err| aws_error("ResumeProcesses", err))?;
        Ok(())
    }

    async fn set_max_size(&self, group: &str, max_size: i32) -> AwsResult<()> {
        self.client
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .max_size(max_size)
            .send()
            .await
            .map_err(|err| aws_error("UpdateAutoScalingGroup", err))?;
        Ok(())
    }

    async fn tag_group(&self, group: &str, key: &str, value: &str) -> AwsResult<()> {
        self.client
            .create_or_update_tags()
            .tags(
                group_tag(group, key)
                    .value(value)
                    .propagate_at_launch(false)
                    .build(),
            )
            .send()
            .await
            .map_err(|err| aws_error("CreateOrUpdateTags", err))?;
        Ok(())
    }

    async fn untag_group(&self, group: &str, key: &str) -> AwsResult<()> {
        self.client
            .delete_tags()
            .tags(group_tag(group, key).build())
            .send()
            .await
            .map_err(|err| aws_error("DeleteTags", err))?;
        Ok(())
    }

    async fn put_hook(&self, group: &str, hook: &HookFacts) -> AwsResult<()> {
        self.client
            .put_lifecycle_hook()
            .auto_scaling_group_name(group)
            .lifecycle_hook_name(&hook.name)
            .lifecycle_transition(&hook.transition)
            .set_default_result(hook.default_result.clone())
            .set_heartbeat_timeout(hook.heartbeat_timeout)
            .set_notification_target_arn(hook.notification_target_arn.clone())
            .set_role_arn(hook.role_arn.clone())
            .set_notification_metadata(hook.notification_metadata.clone())
            .send()
            .await
            .map_err(|err| aws_error("PutLifecycleHook", err))?;
        Ok(())
    }

    async fn delete_launch_hook(&self, group: &str, hook: &str) -> AwsResult<()> {
        let sent = self
            .client
            .delete_lifecycle_hook()
            .auto_scaling_group_name(group)
            .lifecycle_hook_name(hook)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(err) => {
                let err = aws_error("DeleteLifecycleHook", err);
                if is_already_gone(&err) {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }
}

/// Whether a failed `DeleteLifecycleHook` says the hook (or its group) is not
/// there. The API reference names no error for it (only
/// `ResourceContention`); Auto Scaling answers a `ValidationError` whose
/// message says the hook or the group was not found, so the message decides.
fn is_already_gone(err: &crate::ports::AwsError) -> bool {
    let message = err.message.to_ascii_lowercase();
    err.code.as_deref() == Some("ValidationError")
        && (message.contains("no lifecycle hook found") || message.contains("not found"))
}

fn group_tag(group: &str, key: &str) -> aws_sdk_autoscaling::types::builders::TagBuilder {
    Tag::builder()
        .resource_id(group)
        .resource_type("auto-scaling-group")
        .key(key)
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
            .filter_map(|tag| tag_entry(tag.key(), tag.value()))
            .collect(),
        suspended_processes: group
            .suspended_processes()
            .iter()
            .filter_map(|p| p.process_name().map(str::to_owned))
            .collect(),
        instances: group
            .instances()
            .iter()
            .map(|i| GroupInstance {
                instance_id: i.instance_id().unwrap_or_default().to_owned(),
                lifecycle_state: i
                    .lifecycle_state()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            })
            .collect(),
        instance_types: group
            .instances()
            .iter()
            .filter_map(|i| i.instance_type())
            .chain(
                group
                    .mixed_instances_policy()
                    .and_then(|p| p.launch_template())
                    .map(|t| t.overrides())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|o| o.instance_type()),
            )
            .map(str::to_owned)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        launch: group_launch(group),
    }
}

/// What the group launches now: its template (its own, or its
/// mixed-instances policy's), its overrides with their weights or
/// requirements, the unit of its desired capacity, its instances' weights.
fn group_launch(group: &AutoScalingGroup) -> GroupLaunch {
    let mixed = group
        .mixed_instances_policy()
        .and_then(|p| p.launch_template());
    let template = group
        .launch_template()
        .or_else(|| mixed.and_then(|t| t.launch_template_specification()))
        .map(|t| TemplateRef {
            id: t.launch_template_id().map(str::to_owned),
            name: t.launch_template_name().map(str::to_owned),
            version: t.version().map(str::to_owned),
        });
    let overrides = mixed
        .map(|t| t.overrides())
        .unwrap_or_default()
        .iter()
        .map(|o| LaunchOverride {
            instance_type: o.instance_type().map(str::to_owned),
            weight: o.weighted_capacity().and_then(|w| w.parse().ok()),
            requirements: o.instance_requirements().map(|r| {
                let (vcpus, memory) = (r.v_cpu_count(), r.memory_mib());
                instance_requirements(
                    (vcpus.and_then(|c| c.min()), vcpus.and_then(|c| c.max())),
                    (memory.and_then(|m| m.min()), memory.and_then(|m| m.max())),
                )
            }),
        })
        .collect();
    GroupLaunch {
        capacity_unit: CapacityUnit::of(group.desired_capacity_type()),
        template,
        overrides,
        instance_weights: group
            .instances()
            .iter()
            .filter_map(|i| {
                let weight = i.weighted_capacity()?.parse().ok()?;
                Some((i.instance_id()?.to_owned(), weight))
            })
            .collect(),
    }
}
