//! The seeded cluster: what an EKS/eksctl deployment looks like from EC2 and
//! Auto Scaling, created in the emulator.

mod fleet;
mod seed;

pub use fleet::{NODECLAIM_TAG, NODECLASS_TAG, NODEPOOL_TAG};

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_autoscaling::types::{AutoScalingGroup, LaunchTemplateSpecification};
use aws_sdk_ec2::types::{Instance, InstanceType};

use crate::clients::Clients;
use crate::emulator::{ACCOUNT, PendingAction};
use crate::error::{Error, Result};

/// The guarded cluster and the other one sharing the account.
pub const CLUSTER: &str = "prod";
pub const OTHER_CLUSTER: &str = "staging";
/// The guard's launch hook, on every group of both clusters.
pub const HOOK: &str = "scaling-guard-prod";
/// The key that signs the guard's suspension records (`GUARD_RECORD_KEY`),
/// as the stack's generated secret would be.
pub const RECORD_KEY: &str = "e2e-record-key-e2e-record-key-e2e-record-key-e2e-record-key-0001";
/// The node type every compliant template uses.
pub const NODE_TYPE: &str = "m6i.large";
/// A type outside the policy's `m6i.*`.
pub const DENIED_TYPE: &str = "p5.48xlarge";
/// Oldest allowed image, in days (`GUARD_MAX_AMI_AGE_DAYS`).
pub const MAX_AMI_AGE_DAYS: u32 = 90;

/// Image ids.
#[derive(Debug, Clone)]
pub struct Images {
    /// Approved name, created now.
    pub fresh: String,
    /// Approved name, created long before `MAX_AMI_AGE_DAYS`.
    pub old: String,
    /// Approved name, created now, deprecated since yesterday.
    pub deprecated: String,
    /// A name outside the approved pattern.
    pub unapproved: String,
}

/// Launch template names: the compliant one and one variant per violation.
#[derive(Debug, Clone)]
pub struct Templates {
    pub compliant: String,
    pub denied_type: String,
    pub foreign_security_group: String,
    pub old_image: String,
    pub deprecated_image: String,
    pub unapproved_image: String,
    pub imdsv1: String,
    pub staging_profile: String,
    /// The staging cluster's own nodes.
    pub staging: String,
}

/// The seeded cluster. Ids are public so that scenarios can reconfigure
/// groups; the methods cover what most scenarios do.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub vpc_id: String,
    pub private_subnet_ids: Vec<String>,
    pub public_subnet_id: String,
    /// The node and cluster-shared security groups: the allowed ones.
    pub node_security_group_ids: Vec<String>,
    /// A group of the same VPC that nodes must not carry.
    pub foreign_security_group_id: String,
    pub images: Images,
    pub prod_profile_arn: String,
    pub staging_profile_arn: String,
    pub templates: Templates,
    /// The three node groups of `prod`.
    pub groups: Vec<String>,
    /// The node group of `staging` (same account, same hook name).
    pub staging_group: String,
    pub topic_arn: String,
    /// Subscribed with the filter policy `severity` ∈ {warning, critical}.
    pub paging_queue_url: String,
    /// Subscribed without a filter: receives every alert.
    pub archive_queue_url: String,
    clients: Clients,
    /// The subnet of [`Cluster::run_nodes`], once made.
    nodes_subnet: std::sync::Arc<std::sync::OnceLock<String>>,
}

/// A group as `DescribeAutoScalingGroups` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    pub name: String,
    pub desired_capacity: i32,
    pub max_size: i32,
    /// Names of the suspended processes, sorted.
    pub suspended_processes: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// Instance id → lifecycle state (`Pending:Wait`, `InService`, ...).
    pub instances: BTreeMap<String, String>,
}

impl Cluster {
    /// Creates the whole cluster in the emulator behind `clients`, part by
    /// part (see [`seed`]).
    pub async fn seed(clients: &Clients) -> Result<Self> {
        let network = seed::network(clients).await?;
        let security_groups = seed::security_groups(clients, &network.vpc_id).await?;
        let images = seed::images(clients).await?;
        let profiles = seed::profiles();
        let templates = seed::templates(clients, &images, &security_groups, &profiles).await?;
        let groups = seed::node_groups(clients, &templates, &network.private_subnet_ids).await?;
        let alerts = seed::alert_topic(clients).await?;
        Ok(Cluster {
            name: CLUSTER.to_owned(),
            vpc_id: network.vpc_id,
            private_subnet_ids: network.private_subnet_ids,
            public_subnet_id: network.public_subnet_id,
            node_security_group_ids: security_groups.node,
            foreign_security_group_id: security_groups.foreign,
            images,
            prod_profile_arn: profiles.prod,
            staging_profile_arn: profiles.staging,
            templates,
            groups: groups.prod,
            staging_group: groups.staging,
            topic_arn: alerts.topic_arn,
            paging_queue_url: alerts.paging_queue_url,
            archive_queue_url: alerts.archive_queue_url,
            clients: clients.clone(),
            nodes_subnet: std::sync::Arc::default(),
        })
    }

    /// The `GUARD_*` variables of a deployment that guards this cluster, as
    /// the SAM template sets them: every variable, empty where not used.
    pub fn policy_env(&self) -> BTreeMap<String, String> {
        self.check_env()
            .into_iter()
            .chain(budget_env())
            .chain(self.response_env())
            .map(|(key, value)| (key.to_owned(), value))
            .collect()
    }

    /// The launch checks: which cluster, which images, subnets, security
    /// groups, types and profiles.
    fn check_env(&self) -> Vec<(&'static str, String)> {
        let join = |items: &[String]| items.join(",");
        vec![
            ("GUARD_CLUSTER", CLUSTER.to_owned()),
            ("GUARD_CLUSTER_TAG_KEY", String::new()),
            ("GUARD_CLUSTER_TAG_VALUE", String::new()),
            ("GUARD_MODE", "enforce".to_owned()),
            ("GUARD_AUDIT_ONLY_CHECKS", String::new()),
            ("GUARD_ALLOWED_AMI_IDS", String::new()),
            ("GUARD_ALLOWED_AMI_OWNERS", ACCOUNT.to_owned()),
            (
                "GUARD_ALLOWED_AMI_NAME_PATTERNS",
                "amazon-eks-node-al2023-x86_64-standard-*".to_owned(),
            ),
            ("GUARD_MAX_AMI_AGE_DAYS", MAX_AMI_AGE_DAYS.to_string()),
            ("GUARD_DENY_DEPRECATED_AMIS", "true".to_owned()),
            ("GUARD_ALLOWED_SUBNET_IDS", join(&self.private_subnet_ids)),
            ("GUARD_REQUIRE_PRIVATE_SUBNET", "true".to_owned()),
            (
                "GUARD_ALLOWED_SECURITY_GROUP_IDS",
                join(&self.node_security_group_ids),
            ),
            ("GUARD_ALLOWED_INSTANCE_TYPES", "m6i.*".to_owned()),
            ("GUARD_DENIED_INSTANCE_TYPES", String::new()),
            ("GUARD_REQUIRE_IMDSV2", "true".to_owned()),
            (
                "GUARD_ALLOWED_INSTANCE_PROFILES",
                self.prod_profile_arn.clone(),
            ),
        ]
    }

    /// What the guard does about a launch or a node, and whom it tells.
    fn response_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GUARD_FAIL_MODE", "abandon".to_owned()),
            ("GUARD_HOOK_NAME", HOOK.to_owned()),
            ("GUARD_ENROLL_GROUPS", "true".to_owned()),
            ("GUARD_AUDIT_ACTION", "alert".to_owned()),
            ("GUARD_QUARANTINE_SECURITY_GROUP_ID", String::new()),
            ("GUARD_ALERT_TOPIC_ARN", self.topic_arn.clone()),
            // The template's budget alarms and default surge prefix, for
            // a stack named `scaling-guard` (the sample events' alarms).
            (
                "GUARD_BUDGET_ALARM_NAMES",
                [
                    "scaling-guard-VcpuPercentOfBudget",
                    "scaling-guard-MemoryPercentOfBudget",
                    "scaling-guard-InstancesPercentOfBudget",
                ]
                .join(","),
            ),
            (
                "GUARD_SURGE_ALARM_PREFIX",
                "scaling-guard-surge-".to_owned(),
            ),
            ("GUARD_HOOK_NOTIFICATION_TARGET_ARN", String::new()),
            ("GUARD_HOOK_NOTIFICATION_ROLE_ARN", String::new()),
            // Set on launch-guard, budget-guard and stack-guard only by the
            // template; the others ignore it.
            ("GUARD_RECORD_KEY", RECORD_KEY.to_owned()),
        ]
    }

    /// Points a group at another launch template (`$Latest`).
    pub async fn use_template(&self, group: &str, template: &str) -> Result<()> {
        self.clients
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .launch_template(template_spec(template))
            .send()
            .await
            .map_err(Error::aws("UpdateAutoScalingGroup"))?;
        Ok(())
    }

    /// Moves a group to other subnets.
    pub async fn use_subnets(&self, group: &str, subnets: &[String]) -> Result<()> {
        self.clients
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .vpc_zone_identifier(subnets.join(","))
            .send()
            .await
            .map_err(Error::aws("UpdateAutoScalingGroup"))?;
        Ok(())
    }

    /// Raises the group's desired capacity by one and returns the lifecycle
    /// action of the instance it launched (waiting in `Pending:Wait`).
    pub async fn launch(&self, group: &str) -> Result<PendingAction> {
        let before = self.pending_tokens(group)?;
        let desired = self
            .describe_group(group)
            .await?
            .desired_capacity()
            .ok_or_else(|| Error::Fixture(format!("no group `{group}`")))?;
        self.set_desired(group, desired.saturating_add(1)).await?;
        let mut new = self.pending_since(group, &before)?;
        match (new.pop(), new.is_empty()) {
            (Some(action), true) => Ok(action),
            (found, _) => Err(Error::Fixture(format!(
                "scaling `{group}` out by one should leave one new pending action, found {}",
                usize::from(found.is_some()).saturating_add(new.len())
            ))),
        }
    }

    /// Points the group at `template`, then launches one instance.
    pub async fn launch_with(&self, group: &str, template: &str) -> Result<PendingAction> {
        self.use_template(group, template).await?;
        self.launch(group).await
    }

    /// The instance's Auto Scaling lifecycle state (`Pending:Wait`,
    /// `InService`, ...), or `None` when it is in no group (any more).
    pub async fn lifecycle_state(&self, instance_id: &str) -> Result<Option<String>> {
        let output = self
            .clients
            .autoscaling
            .describe_auto_scaling_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(Error::aws("DescribeAutoScalingInstances"))?;
        Ok(output
            .auto_scaling_instances()
            .iter()
            .find(|i| i.instance_id() == Some(instance_id))
            .and_then(|i| i.lifecycle_state())
            .map(str::to_owned))
    }

    /// Creates another node group `<cluster>-<nodegroup>` of `cluster`
    /// (`CLUSTER` or `OTHER_CLUSTER`), tagged as the seeded ones, empty,
    /// with the guard's launch hook only when `hooked`. Returns its name.
    pub async fn add_node_group(
        &self,
        cluster: &str,
        nodegroup: &str,
        hooked: bool,
    ) -> Result<String> {
        let name = format!("{cluster}-{nodegroup}");
        let template = if cluster == CLUSTER {
            &self.templates.compliant
        } else {
            &self.templates.staging
        };
        seed::node_group(
            &self.clients,
            &name,
            cluster,
            nodegroup,
            template,
            &self.private_subnet_ids,
            hooked,
        )
        .await?;
        Ok(name)
    }

    /// The group as `DescribeAutoScalingGroups` answers it now.
    pub async fn describe_group(&self, group: &str) -> Result<AutoScalingGroup> {
        self.clients
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .map_err(Error::aws("DescribeAutoScalingGroups"))?
            .auto_scaling_groups()
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(group))
            .cloned()
            .ok_or_else(|| Error::Fixture(format!("no group `{group}`")))
    }

    /// The group as Auto Scaling describes it now.
    pub async fn group_state(&self, group: &str) -> Result<GroupState> {
        let found = self.describe_group(group).await?;
        let mut suspended_processes: Vec<String> = found
            .suspended_processes()
            .iter()
            .filter_map(|p| p.process_name().map(str::to_owned))
            .collect();
        suspended_processes.sort();
        Ok(GroupState {
            name: group.to_owned(),
            desired_capacity: found.desired_capacity().unwrap_or_default(),
            max_size: found.max_size().unwrap_or_default(),
            suspended_processes,
            tags: found
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                .collect(),
            instances: found
                .instances()
                .iter()
                .filter_map(|i| {
                    let state = i.lifecycle_state()?.as_str().to_owned();
                    Some((i.instance_id()?.to_owned(), state))
                })
                .collect(),
        })
    }

    /// The group's lifecycle hooks.
    pub async fn lifecycle_hooks(
        &self,
        group: &str,
    ) -> Result<Vec<aws_sdk_autoscaling::types::LifecycleHook>> {
        Ok(self
            .clients
            .autoscaling
            .describe_lifecycle_hooks()
            .auto_scaling_group_name(group)
            .send()
            .await
            .map_err(Error::aws("DescribeLifecycleHooks"))?
            .lifecycle_hooks()
            .to_vec())
    }

    /// Sets the group's desired capacity to `desired` (raising its MaxSize
    /// when needed) in one `SetDesiredCapacity`, and returns the lifecycle
    /// actions of the instances it launched (all waiting in `Pending:Wait`).
    pub async fn scale_to(&self, group: &str, desired: i32) -> Result<Vec<PendingAction>> {
        let before = self.pending_tokens(group)?;
        if self.group_state(group).await?.max_size < desired {
            self.set_max_size(group, desired).await?;
        }
        self.set_desired(group, desired).await?;
        self.pending_since(group, &before)
    }

    /// The tokens of the group's lifecycle actions waiting now.
    fn pending_tokens(&self, group: &str) -> Result<BTreeSet<String>> {
        Ok(self
            .clients
            .control
            .lifecycle_actions(Some(group))?
            .into_iter()
            .map(|a| a.token)
            .collect())
    }

    /// The group's waiting lifecycle actions that were not in `before`.
    fn pending_since(&self, group: &str, before: &BTreeSet<String>) -> Result<Vec<PendingAction>> {
        Ok(self
            .clients
            .control
            .lifecycle_actions(Some(group))?
            .into_iter()
            .filter(|a| !before.contains(&a.token))
            .collect())
    }

    /// Completes a lifecycle action with `result` (`CONTINUE` or `ABANDON`)
    /// as the guard would, without the guard.
    pub async fn complete(&self, action: &PendingAction, result: &str) -> Result<()> {
        self.clients
            .autoscaling
            .complete_lifecycle_action()
            .auto_scaling_group_name(&action.group)
            .lifecycle_hook_name(&action.hook)
            .lifecycle_action_token(&action.token)
            .lifecycle_action_result(result)
            .send()
            .await
            .map_err(Error::aws("CompleteLifecycleAction"))?;
        Ok(())
    }

    /// Launches `count` more instances into the group and puts them
    /// `InService` (their actions completed with `CONTINUE`, as if admitted).
    /// Returns their ids.
    pub async fn launch_in_service(&self, group: &str, count: i32) -> Result<Vec<String>> {
        let desired = self.group_state(group).await?.desired_capacity;
        let actions = self.scale_to(group, desired.saturating_add(count)).await?;
        if actions.len() != usize::try_from(count).unwrap_or_default() {
            return Err(Error::Fixture(format!(
                "scaling `{group}` out by {count} left {} new pending actions",
                actions.len()
            )));
        }
        let mut ids = Vec::new();
        for action in &actions {
            self.complete(action, "CONTINUE").await?;
            ids.push(action.instance_id.clone());
        }
        Ok(ids)
    }

    /// Terminates a group's instance and lowers the desired capacity, so that
    /// the group launches no replacement (`TerminateInstanceInAutoScalingGroup`).
    pub async fn terminate_in_group(&self, instance_id: &str) -> Result<()> {
        self.clients
            .autoscaling
            .terminate_instance_in_auto_scaling_group()
            .instance_id(instance_id)
            .should_decrement_desired_capacity(true)
            .send()
            .await
            .map_err(Error::aws("TerminateInstanceInAutoScalingGroup"))?;
        Ok(())
    }

    /// Suspends `processes` on a group directly, as an operator would.
    pub async fn suspend_processes(&self, group: &str, processes: &[&str]) -> Result<()> {
        self.clients
            .autoscaling
            .suspend_processes()
            .auto_scaling_group_name(group)
            .set_scaling_processes(Some(processes.iter().map(|p| (*p).to_owned()).collect()))
            .send()
            .await
            .map_err(Error::aws("SuspendProcesses"))?;
        Ok(())
    }

    /// Runs one instance outside any group (`RunInstances`), tagged as a node
    /// of `cluster`, optionally with `CpuOptions` (cores, threads per core).
    /// Returns its id.
    pub async fn run_node(
        &self,
        cluster: &str,
        instance_type: &str,
        cpu: Option<(i32, i32)>,
    ) -> Result<String> {
        let tags = node_tags(cluster);
        let mut run = self
            .clients
            .ec2
            .run_instances()
            .image_id(&self.images.fresh)
            .instance_type(InstanceType::from(instance_type))
            .min_count(1)
            .max_count(1)
            .set_subnet_id(self.private_subnet_ids.first().cloned())
            .tag_specifications(tags);
        if let Some((cores, threads)) = cpu {
            run = run.cpu_options(
                aws_sdk_ec2::types::CpuOptionsRequest::builder()
                    .core_count(cores)
                    .threads_per_core(threads)
                    .build(),
            );
        }
        run.send()
            .await
            .map_err(Error::aws("RunInstances"))?
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .map(str::to_owned)
            .ok_or_else(|| missing("RunInstances", "InstanceId"))
    }

    /// Runs `count` m6i.large nodes of the cluster outside any group (they
    /// count in its usage), 500 per `RunInstances`, in a /17 subnet of
    /// their own (the cluster's /24s hold 251 addresses each), made by the
    /// first call. For clusters of thousands of nodes.
    pub async fn run_nodes(&self, count: usize) -> Result<()> {
        let subnet = self.nodes_subnet().await?;
        let groups = Some(self.node_security_group_ids.clone());
        let mut left = count;
        while left > 0 {
            let n = left.min(500);
            self.run_batch(CLUSTER, &subnet, n, groups.clone()).await?;
            left -= n;
        }
        Ok(())
    }

    /// Runs `count` m6i.large nodes of another cluster, `cluster`, outside
    /// any group (500 per `RunInstances`, in the subnet of
    /// [`Self::run_nodes`]) and returns their ids: another stack's burst,
    /// whose state changes every stack of the account hears.
    pub async fn run_foreign_nodes(&self, cluster: &str, count: usize) -> Result<Vec<String>> {
        let subnet = self.nodes_subnet().await?;
        let mut ids = Vec::with_capacity(count);
        while ids.len() < count {
            let n = (count - ids.len()).min(500);
            ids.extend(self.run_batch(cluster, &subnet, n, None).await?);
        }
        Ok(ids)
    }

    /// One `RunInstances` of `count` m6i.large nodes of `cluster` in
    /// `subnet`, with `security_groups` when given (else the VPC's default).
    /// Returns their ids.
    async fn run_batch(
        &self,
        cluster: &str,
        subnet: &str,
        count: usize,
        security_groups: Option<Vec<String>>,
    ) -> Result<Vec<String>> {
        let n = i32::try_from(count).map_err(|_| missing("RunInstances", "a count"))?;
        let output = self
            .clients
            .ec2
            .run_instances()
            .image_id(&self.images.fresh)
            .instance_type(InstanceType::M6iLarge)
            .min_count(n)
            .max_count(n)
            .subnet_id(subnet)
            .set_security_group_ids(security_groups)
            .tag_specifications(node_tags(cluster))
            .send()
            .await
            .map_err(Error::aws("RunInstances"))?;
        Ok(output
            .instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect())
    }

    /// The /17 subnet of the nodes run outside the groups, made by the first
    /// call.
    async fn nodes_subnet(&self) -> Result<String> {
        if let Some(subnet) = self.nodes_subnet.get() {
            return Ok(subnet.clone());
        }
        let made = seed::subnet(&self.clients, &self.vpc_id, "10.0.128.0/17", "a", false).await?;
        Ok(self.nodes_subnet.get_or_init(|| made).clone())
    }

    /// The instance as `DescribeInstances` shows it, if EC2 knows it.
    pub async fn instance(&self, instance_id: &str) -> Result<Option<Instance>> {
        let output = self
            .clients
            .ec2
            .describe_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(Error::aws("DescribeInstances"))?;
        Ok(output
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(instance_id))
            .cloned())
    }

    /// The instance's EC2 state (`running`, `terminated`, ...).
    pub async fn instance_state(&self, instance_id: &str) -> Result<Option<String>> {
        Ok(self.instance(instance_id).await?.and_then(|i| {
            i.state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_owned())
        }))
    }

    /// The value of the instance's tag `key`, if it carries it.
    pub async fn instance_tag(&self, instance_id: &str, key: &str) -> Result<Option<String>> {
        Ok(self.instance(instance_id).await?.and_then(|i| {
            i.tags()
                .iter()
                .find(|t| t.key() == Some(key))
                .and_then(|t| t.value())
                .map(str::to_owned)
        }))
    }

    /// Sets the group's MaxSize alone (`UpdateAutoScalingGroup`). As on AWS,
    /// a MaxSize below the desired capacity lowers the desired capacity to it
    /// and the group terminates the instances above it.
    pub async fn set_max_size(&self, group: &str, max: i32) -> Result<()> {
        self.clients
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .max_size(max)
            .send()
            .await
            .map_err(Error::aws("UpdateAutoScalingGroup"))?;
        Ok(())
    }

    /// Sets the group's desired capacity (`SetDesiredCapacity`), as an
    /// autoscaler would: no MaxSize change, no lifecycle action completed.
    pub async fn set_desired(&self, group: &str, desired: i32) -> Result<()> {
        self.clients
            .autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(group)
            .desired_capacity(desired)
            .send()
            .await
            .map_err(Error::aws("SetDesiredCapacity"))?;
        Ok(())
    }

    /// Puts another launch hook (not the guard's) on a group
    /// (`PutLifecycleHook`, transition `autoscaling:EC2_INSTANCE_LAUNCHING`),
    /// with `default_result` `CONTINUE` or `ABANDON`. Each launch then waits
    /// for one action of each hook.
    pub async fn add_launch_hook(
        &self,
        group: &str,
        hook_name: &str,
        heartbeat_seconds: i32,
        default_result: &str,
    ) -> Result<()> {
        self.clients
            .autoscaling
            .put_lifecycle_hook()
            .auto_scaling_group_name(group)
            .lifecycle_hook_name(hook_name)
            .lifecycle_transition("autoscaling:EC2_INSTANCE_LAUNCHING")
            .heartbeat_timeout(heartbeat_seconds)
            .default_result(default_result)
            .send()
            .await
            .map_err(Error::aws("PutLifecycleHook"))?;
        Ok(())
    }

    /// Puts a warm pool on a group (`PutWarmPool`) whose instances wait in
    /// `pool_state` (`Running`, `Stopped` or `Hibernated`). The emulator fills
    /// it only through [`crate::Control::warm_pool_launch`].
    pub async fn put_warm_pool(&self, group: &str, pool_state: &str) -> Result<()> {
        self.clients
            .autoscaling
            .put_warm_pool()
            .auto_scaling_group_name(group)
            .pool_state(aws_sdk_autoscaling::types::WarmPoolState::from(pool_state))
            .min_size(0)
            .send()
            .await
            .map_err(Error::aws("PutWarmPool"))?;
        Ok(())
    }

    /// The group's warm pool as `DescribeWarmPool` shows it: instance id →
    /// lifecycle state (`Warmed:Pending:Wait`, `Warmed:Running`, ...).
    pub async fn warm_pool(&self, group: &str) -> Result<BTreeMap<String, String>> {
        let output = self
            .clients
            .autoscaling
            .describe_warm_pool()
            .auto_scaling_group_name(group)
            .send()
            .await
            .map_err(Error::aws("DescribeWarmPool"))?;
        Ok(output
            .instances()
            .iter()
            .filter_map(|i| {
                let state = i.lifecycle_state()?.as_str().to_owned();
                Some((i.instance_id()?.to_owned(), state))
            })
            .collect())
    }

    /// Creates (or replaces) a composite alarm (`PutCompositeAlarm`) with
    /// `rule`, e.g. `ALARM("a") OR ALARM("b")`; the alarms it names must
    /// exist. The emulator evaluates the rule whenever one of them changes
    /// state, as CloudWatch does.
    pub async fn put_composite_alarm(&self, name: &str, rule: &str) -> Result<()> {
        self.clients
            .cloudwatch
            .put_composite_alarm()
            .alarm_name(name)
            .alarm_rule(rule)
            .send()
            .await
            .map_err(Error::aws("PutCompositeAlarm"))?;
        Ok(())
    }

    /// Sets an alarm's state (`SetAlarmState`; `OK`, `ALARM` or
    /// `INSUFFICIENT_DATA`), metric or composite. On a composite alarm it
    /// holds until one of the alarms of its rule changes state.
    pub async fn set_alarm_state(&self, name: &str, state: &str) -> Result<()> {
        self.clients
            .cloudwatch
            .set_alarm_state()
            .alarm_name(name)
            .state_value(aws_sdk_cloudwatch::types::StateValue::from(state))
            .state_reason("set by the end-to-end harness")
            .send()
            .await
            .map_err(Error::aws("SetAlarmState"))?;
        Ok(())
    }
}

/// The budgets: none set (scenarios set the ones they test), suspension at
/// 100 %, resumption below 90 %, MaxSize not clamped.
fn budget_env() -> Vec<(&'static str, String)> {
    vec![
        ("GUARD_MAX_VCPUS", String::new()),
        ("GUARD_MAX_MEMORY_MIB", String::new()),
        ("GUARD_MAX_INSTANCES", String::new()),
        ("GUARD_SUSPEND_AT_PERCENT", "100".to_owned()),
        ("GUARD_RESUME_BELOW_PERCENT", "90".to_owned()),
        ("GUARD_CLAMP_MAX_SIZE", "false".to_owned()),
    ]
}

/// The tag of a node of `cluster`, on the instances `RunInstances` starts.
fn node_tags(cluster: &str) -> aws_sdk_ec2::types::TagSpecification {
    aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key(format!("kubernetes.io/cluster/{cluster}"))
                .value("owned")
                .build(),
        )
        .build()
}

fn missing(operation: &str, field: &str) -> Error {
    Error::Fixture(format!("{operation} answered without {field}"))
}

fn template_spec(name: &str) -> LaunchTemplateSpecification {
    LaunchTemplateSpecification::builder()
        .launch_template_name(name)
        .version("$Latest")
        .build()
}
