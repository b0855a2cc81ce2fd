//! The seeded cluster: what an EKS/eksctl deployment looks like from EC2 and
//! Auto Scaling, created in the emulator.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};
use aws_sdk_ec2::primitives::DateTime;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Instance, InstanceType, LaunchTemplateHttpTokensState,
    LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataOptionsRequest, RequestLaunchTemplateData,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::clients::{Clients, REGION};
use crate::emulator::{ACCOUNT, ImageDates, PendingAction};
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

/// What one launch template puts on a node.
struct NodeSpec<'a> {
    image: &'a str,
    instance_type: &'a str,
    security_groups: &'a [String],
    profile: &'a str,
    imdsv2: bool,
}

impl Cluster {
    /// Creates the whole cluster in the emulator behind `clients`.
    pub async fn seed(clients: &Clients) -> Result<Self> {
        let ec2 = &clients.ec2;

        // Network: one VPC, two private subnets (room for 4,000 nodes each:
        // the large scale-ups), one public subnet.
        let vpc_id = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .map_err(Error::aws("CreateVpc"))?
            .vpc()
            .and_then(|v| v.vpc_id())
            .map(str::to_owned)
            .ok_or_else(|| missing("CreateVpc", "VpcId"))?;
        let mut private_subnet_ids = Vec::new();
        for (cidr, zone) in [("10.0.16.0/20", "a"), ("10.0.32.0/20", "b")] {
            private_subnet_ids.push(subnet(clients, &vpc_id, cidr, zone, false).await?);
        }
        let public_subnet_id = subnet(clients, &vpc_id, "10.0.100.0/24", "a", true).await?;

        // Security groups: the node group and the cluster-shared group are
        // allowed; an "ssh from anywhere" group is not.
        let mut node_security_group_ids = Vec::new();
        for name in ["eks-prod-nodes", "eks-prod-cluster-shared"] {
            node_security_group_ids.push(security_group(clients, &vpc_id, name).await?);
        }
        let foreign_security_group_id =
            security_group(clients, &vpc_id, "ssh-from-anywhere").await?;

        // Images.
        let images = Images {
            fresh: image(
                clients,
                "amazon-eks-node-al2023-x86_64-standard-1.31-v20261101",
            )
            .await?,
            old: image(
                clients,
                "amazon-eks-node-al2023-x86_64-standard-1.31-v20250115",
            )
            .await?,
            deprecated: image(
                clients,
                "amazon-eks-node-al2023-x86_64-standard-1.31-v20260601",
            )
            .await?,
            unapproved: image(clients, "ubuntu-jammy-22.04-amd64-server-20261101").await?,
        };
        clients.control.set_image_dates(
            &images.old,
            &ImageDates {
                creation_date: Some("2025-01-15T00:00:00.000Z".to_owned()),
                deprecation_time: None,
            },
        )?;
        let yesterday = SystemTime::now()
            .checked_sub(Duration::from_secs(86_400))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        ec2.enable_image_deprecation()
            .image_id(&images.deprecated)
            .deprecate_at(DateTime::from(yesterday))
            .send()
            .await
            .map_err(Error::aws("EnableImageDeprecation"))?;

        // Instance profiles of the two environments (moto does not check
        // them against IAM; AWS would).
        let prod_profile_arn = format!("arn:aws:iam::{ACCOUNT}:instance-profile/prod-node");
        let staging_profile_arn = format!("arn:aws:iam::{ACCOUNT}:instance-profile/staging-node");

        // Launch templates.
        let compliant = NodeSpec {
            image: &images.fresh,
            instance_type: NODE_TYPE,
            security_groups: &node_security_group_ids,
            profile: &prod_profile_arn,
            imdsv2: true,
        };
        let foreign = [foreign_security_group_id.clone()];
        let variants = [
            ("prod-node", NodeSpec { ..compliant }),
            (
                "prod-node-p5",
                NodeSpec {
                    instance_type: DENIED_TYPE,
                    ..compliant
                },
            ),
            (
                "prod-node-ssh-sg",
                NodeSpec {
                    security_groups: &foreign,
                    ..compliant
                },
            ),
            (
                "prod-node-old-ami",
                NodeSpec {
                    image: &images.old,
                    ..compliant
                },
            ),
            (
                "prod-node-deprecated-ami",
                NodeSpec {
                    image: &images.deprecated,
                    ..compliant
                },
            ),
            (
                "prod-node-ubuntu",
                NodeSpec {
                    image: &images.unapproved,
                    ..compliant
                },
            ),
            (
                "prod-node-imdsv1",
                NodeSpec {
                    imdsv2: false,
                    ..compliant
                },
            ),
            (
                "prod-node-staging-profile",
                NodeSpec {
                    profile: &staging_profile_arn,
                    ..compliant
                },
            ),
            (
                "staging-node",
                NodeSpec {
                    profile: &staging_profile_arn,
                    ..compliant
                },
            ),
        ];
        for (name, spec) in &variants {
            launch_template(clients, name, spec).await?;
        }
        let templates = Templates {
            compliant: "prod-node".into(),
            denied_type: "prod-node-p5".into(),
            foreign_security_group: "prod-node-ssh-sg".into(),
            old_image: "prod-node-old-ami".into(),
            deprecated_image: "prod-node-deprecated-ami".into(),
            unapproved_image: "prod-node-ubuntu".into(),
            imdsv1: "prod-node-imdsv1".into(),
            staging_profile: "prod-node-staging-profile".into(),
            staging: "staging-node".into(),
        };

        // Node groups, as EKS managed node groups tag them, each with the
        // guard's launch hook. They start empty: scenarios scale them.
        let mut groups = Vec::new();
        for nodegroup in ["general", "system", "batch"] {
            let name = format!("{CLUSTER}-{nodegroup}");
            node_group(
                clients,
                &name,
                CLUSTER,
                nodegroup,
                &templates.compliant,
                &private_subnet_ids,
                true,
            )
            .await?;
            groups.push(name);
        }
        let staging_group = format!("{OTHER_CLUSTER}-general");
        node_group(
            clients,
            &staging_group,
            OTHER_CLUSTER,
            "general",
            &templates.staging,
            &private_subnet_ids,
            true,
        )
        .await?;

        // Alerts: the topic, a paging queue that only takes warning and
        // critical alerts (filter policy on the `severity` attribute), and an
        // archive queue that takes everything.
        let topic_arn = clients
            .sns
            .create_topic()
            .name("scaling-guard-alerts")
            .send()
            .await
            .map_err(Error::aws("CreateTopic"))?
            .topic_arn()
            .map(str::to_owned)
            .ok_or_else(|| missing("CreateTopic", "TopicArn"))?;
        let paging_queue_url = subscribed_queue(
            clients,
            &topic_arn,
            "scaling-guard-paging",
            Some(r#"{"severity":["warning","critical"]}"#),
        )
        .await?;
        let archive_queue_url =
            subscribed_queue(clients, &topic_arn, "scaling-guard-archive", None).await?;

        Ok(Cluster {
            name: CLUSTER.to_owned(),
            vpc_id,
            private_subnet_ids,
            public_subnet_id,
            node_security_group_ids,
            foreign_security_group_id,
            images,
            prod_profile_arn,
            staging_profile_arn,
            templates,
            groups,
            staging_group,
            topic_arn,
            paging_queue_url,
            archive_queue_url,
            clients: clients.clone(),
            nodes_subnet: std::sync::Arc::default(),
        })
    }

    /// The `GUARD_*` variables of a deployment that guards this cluster, as
    /// the SAM template sets them: every variable, empty where not used.
    pub fn policy_env(&self) -> BTreeMap<String, String> {
        let join = |items: &[String]| items.join(",");
        [
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
            ("GUARD_MAX_VCPUS", String::new()),
            ("GUARD_MAX_MEMORY_MIB", String::new()),
            ("GUARD_MAX_INSTANCES", String::new()),
            ("GUARD_SUSPEND_AT_PERCENT", "100".to_owned()),
            ("GUARD_RESUME_BELOW_PERCENT", "90".to_owned()),
            ("GUARD_CLAMP_MAX_SIZE", "false".to_owned()),
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
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
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
        let before: BTreeSet<String> = self
            .clients
            .control
            .lifecycle_actions(Some(group))?
            .into_iter()
            .map(|a| a.token)
            .collect();
        let desired = self
            .clients
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .map_err(Error::aws("DescribeAutoScalingGroups"))?
            .auto_scaling_groups()
            .first()
            .and_then(|g| g.desired_capacity())
            .ok_or_else(|| Error::Fixture(format!("no group `{group}`")))?;
        self.clients
            .autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(group)
            .desired_capacity(desired.saturating_add(1))
            .send()
            .await
            .map_err(Error::aws("SetDesiredCapacity"))?;
        let mut new: Vec<PendingAction> = self
            .clients
            .control
            .lifecycle_actions(Some(group))?
            .into_iter()
            .filter(|a| !before.contains(&a.token))
            .collect();
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
        node_group(
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

    /// The group as Auto Scaling describes it now.
    pub async fn group_state(&self, group: &str) -> Result<GroupState> {
        let output = self
            .clients
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .map_err(Error::aws("DescribeAutoScalingGroups"))?;
        let found = output
            .auto_scaling_groups()
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(group))
            .ok_or_else(|| Error::Fixture(format!("no group `{group}`")))?;
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
        let before: BTreeSet<String> = self
            .clients
            .control
            .lifecycle_actions(Some(group))?
            .into_iter()
            .map(|a| a.token)
            .collect();
        if self.group_state(group).await?.max_size < desired {
            self.clients
                .autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(group)
                .max_size(desired)
                .send()
                .await
                .map_err(Error::aws("UpdateAutoScalingGroup"))?;
        }
        self.clients
            .autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(group)
            .desired_capacity(desired)
            .send()
            .await
            .map_err(Error::aws("SetDesiredCapacity"))?;
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
        let mut left = count;
        while left > 0 {
            let n = left.min(500);
            let tags = node_tags(CLUSTER);
            let n32 = i32::try_from(n).map_err(|_| missing("RunInstances", "a count"))?;
            self.clients
                .ec2
                .run_instances()
                .image_id(&self.images.fresh)
                .instance_type(InstanceType::M6iLarge)
                .min_count(n32)
                .max_count(n32)
                .subnet_id(&subnet)
                .set_security_group_ids(Some(self.node_security_group_ids.clone()))
                .tag_specifications(tags)
                .send()
                .await
                .map_err(Error::aws("RunInstances"))?;
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
            let n = i32::try_from((count - ids.len()).min(500))
                .map_err(|_| missing("RunInstances", "a count"))?;
            let output = self
                .clients
                .ec2
                .run_instances()
                .image_id(&self.images.fresh)
                .instance_type(InstanceType::M6iLarge)
                .min_count(n)
                .max_count(n)
                .subnet_id(&subnet)
                .tag_specifications(node_tags(cluster))
                .send()
                .await
                .map_err(Error::aws("RunInstances"))?;
            ids.extend(
                output
                    .instances()
                    .iter()
                    .filter_map(|i| i.instance_id().map(str::to_owned)),
            );
        }
        Ok(ids)
    }

    /// The /17 subnet of the nodes run outside the groups, made by the first
    /// call.
    async fn nodes_subnet(&self) -> Result<String> {
        if let Some(subnet) = self.nodes_subnet.get() {
            return Ok(subnet.clone());
        }
        let made = subnet(&self.clients, &self.vpc_id, "10.0.128.0/17", "a", false).await?;
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

async fn subnet(
    clients: &Clients,
    vpc_id: &str,
    cidr: &str,
    zone: &str,
    public: bool,
) -> Result<String> {
    let id = clients
        .ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block(cidr)
        .availability_zone(format!("{REGION}{zone}"))
        .send()
        .await
        .map_err(Error::aws("CreateSubnet"))?
        .subnet()
        .and_then(|s| s.subnet_id())
        .map(str::to_owned)
        .ok_or_else(|| missing("CreateSubnet", "SubnetId"))?;
    clients
        .ec2
        .modify_subnet_attribute()
        .subnet_id(&id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(public).build())
        .send()
        .await
        .map_err(Error::aws("ModifySubnetAttribute"))?;
    Ok(id)
}

async fn security_group(clients: &Clients, vpc_id: &str, name: &str) -> Result<String> {
    clients
        .ec2
        .create_security_group()
        .group_name(name)
        .description(name)
        .vpc_id(vpc_id)
        .send()
        .await
        .map_err(Error::aws("CreateSecurityGroup"))?
        .group_id()
        .map(str::to_owned)
        .ok_or_else(|| missing("CreateSecurityGroup", "GroupId"))
}

async fn image(clients: &Clients, name: &str) -> Result<String> {
    clients
        .ec2
        .register_image()
        .name(name)
        .description(name)
        .architecture(aws_sdk_ec2::types::ArchitectureValues::X8664)
        .send()
        .await
        .map_err(Error::aws("RegisterImage"))?
        .image_id()
        .map(str::to_owned)
        .ok_or_else(|| missing("RegisterImage", "ImageId"))
}

async fn launch_template(clients: &Clients, name: &str, spec: &NodeSpec<'_>) -> Result<()> {
    let tokens = if spec.imdsv2 {
        LaunchTemplateHttpTokensState::Required
    } else {
        LaunchTemplateHttpTokensState::Optional
    };
    let data = RequestLaunchTemplateData::builder()
        .image_id(spec.image)
        .instance_type(InstanceType::from(spec.instance_type))
        .set_security_group_ids(Some(spec.security_groups.to_vec()))
        .iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .arn(spec.profile)
                .build(),
        )
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(tokens)
                .http_put_response_hop_limit(2)
                .build(),
        )
        .build();
    clients
        .ec2
        .create_launch_template()
        .launch_template_name(name)
        .launch_template_data(data)
        .send()
        .await
        .map_err(Error::aws("CreateLaunchTemplate"))?;
    Ok(())
}

async fn node_group(
    clients: &Clients,
    name: &str,
    cluster: &str,
    nodegroup: &str,
    template: &str,
    subnets: &[String],
    hooked: bool,
) -> Result<()> {
    let tag = |key: String, value: &str| {
        Tag::builder()
            .resource_id(name)
            .resource_type("auto-scaling-group")
            .key(key)
            .value(value)
            .propagate_at_launch(true)
            .build()
    };
    clients
        .autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_template(template_spec(template))
        .min_size(0)
        .max_size(10)
        .desired_capacity(0)
        .vpc_zone_identifier(subnets.join(","))
        .tags(tag(format!("kubernetes.io/cluster/{cluster}"), "owned"))
        .tags(tag("eks:cluster-name".into(), cluster))
        .tags(tag("eks:nodegroup-name".into(), nodegroup))
        .tags(tag("k8s.io/cluster-autoscaler/enabled".into(), "true"))
        .tags(tag(format!("k8s.io/cluster-autoscaler/{cluster}"), "owned"))
        .send()
        .await
        .map_err(Error::aws("CreateAutoScalingGroup"))?;
    if !hooked {
        return Ok(());
    }
    clients
        .autoscaling
        .put_lifecycle_hook()
        .auto_scaling_group_name(name)
        .lifecycle_hook_name(HOOK)
        .lifecycle_transition("autoscaling:EC2_INSTANCE_LAUNCHING")
        .default_result("ABANDON")
        .heartbeat_timeout(300)
        .notification_metadata(format!(r#"{{"cluster":"{cluster}"}}"#))
        .send()
        .await
        .map_err(Error::aws("PutLifecycleHook"))?;
    Ok(())
}

/// Creates a queue, subscribes it to the topic and returns its URL. Delivery
/// is not raw: the subscriber gets the SNS envelope, whose
/// `MessageAttributes` the tests read.
async fn subscribed_queue(
    clients: &Clients,
    topic_arn: &str,
    name: &str,
    filter_policy: Option<&str>,
) -> Result<String> {
    let url = clients
        .sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(Error::aws("CreateQueue"))?
        .queue_url()
        .map(str::to_owned)
        .ok_or_else(|| missing("CreateQueue", "QueueUrl"))?;
    let arn = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(Error::aws("GetQueueAttributes"))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| missing("GetQueueAttributes", "QueueArn"))?;
    let mut subscribe = clients
        .sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(arn)
        .attributes("RawMessageDelivery", "false")
        .return_subscription_arn(true);
    if let Some(policy) = filter_policy {
        subscribe = subscribe
            .attributes("FilterPolicyScope", "MessageAttributes")
            .attributes("FilterPolicy", policy);
    }
    subscribe.send().await.map_err(Error::aws("Subscribe"))?;
    Ok(url)
}
