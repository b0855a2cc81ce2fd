//! How [`Cluster::seed`](super::Cluster::seed) builds the world, one part at
//! a time and in this order (each part needs the ones before it): the
//! network, the security groups, the images, the launch templates, the node
//! groups with the guard's hook, and the alert topic with its queues.

use std::time::{Duration, SystemTime};

use aws_sdk_autoscaling::types::Tag;
use aws_sdk_ec2::primitives::DateTime;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, InstanceType, LaunchTemplateHttpTokensState,
    LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataOptionsRequest, RequestLaunchTemplateData,
};
use aws_sdk_sqs::types::QueueAttributeName;

use super::{
    CLUSTER, DENIED_TYPE, HOOK, Images, NODE_TYPE, OTHER_CLUSTER, Templates, missing, template_spec,
};
use crate::clients::{Clients, REGION};
use crate::emulator::{ACCOUNT, ImageDates};
use crate::error::{Error, Result};

/// One VPC, two private subnets (room for 4,000 nodes each: the large
/// scale-ups), one public subnet.
pub(super) struct Network {
    pub vpc_id: String,
    pub private_subnet_ids: Vec<String>,
    pub public_subnet_id: String,
}

/// The node group and the cluster-shared security groups are allowed; an
/// "ssh from anywhere" group is not.
pub(super) struct SecurityGroups {
    pub node: Vec<String>,
    pub foreign: String,
}

/// The instance profiles of the two environments (moto does not check them
/// against IAM; AWS would).
pub(super) struct Profiles {
    pub prod: String,
    pub staging: String,
}

/// The three node groups of `prod` and the one of `staging`.
pub(super) struct NodeGroups {
    pub prod: Vec<String>,
    pub staging: String,
}

/// The alert topic, a paging queue that only takes warning and critical
/// alerts (filter policy on the `severity` attribute), and an archive queue
/// that takes everything.
pub(super) struct AlertTopic {
    pub topic_arn: String,
    pub paging_queue_url: String,
    pub archive_queue_url: String,
}

/// What one launch template puts on a node.
#[derive(Clone, Copy)]
struct NodeSpec<'a> {
    image: &'a str,
    instance_type: &'a str,
    security_groups: &'a [String],
    profile: &'a str,
    imdsv2: bool,
}

/// The compliant spec with one thing changed: one violation each.
impl<'a> NodeSpec<'a> {
    fn image(self, image: &'a str) -> Self {
        Self { image, ..self }
    }

    fn instance_type(self, instance_type: &'a str) -> Self {
        Self {
            instance_type,
            ..self
        }
    }

    fn security_groups(self, security_groups: &'a [String]) -> Self {
        Self {
            security_groups,
            ..self
        }
    }

    fn profile(self, profile: &'a str) -> Self {
        Self { profile, ..self }
    }

    fn imdsv1(self) -> Self {
        Self {
            imdsv2: false,
            ..self
        }
    }
}

pub(super) async fn network(clients: &Clients) -> Result<Network> {
    let vpc_id = clients
        .ec2
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
    Ok(Network {
        vpc_id,
        private_subnet_ids,
        public_subnet_id,
    })
}

pub(super) async fn security_groups(clients: &Clients, vpc_id: &str) -> Result<SecurityGroups> {
    let mut node = Vec::new();
    for name in ["eks-prod-nodes", "eks-prod-cluster-shared"] {
        node.push(security_group(clients, vpc_id, name).await?);
    }
    let foreign = security_group(clients, vpc_id, "ssh-from-anywhere").await?;
    Ok(SecurityGroups { node, foreign })
}

/// Registers the four images, then ages `old` and deprecates `deprecated`
/// (since yesterday).
pub(super) async fn images(clients: &Clients) -> Result<Images> {
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
    deprecate_since_yesterday(clients, &images.deprecated).await?;
    Ok(images)
}

async fn deprecate_since_yesterday(clients: &Clients, image_id: &str) -> Result<()> {
    let yesterday = SystemTime::now()
        .checked_sub(Duration::from_secs(86_400))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    clients
        .ec2
        .enable_image_deprecation()
        .image_id(image_id)
        .deprecate_at(DateTime::from(yesterday))
        .send()
        .await
        .map_err(Error::aws("EnableImageDeprecation"))?;
    Ok(())
}

pub(super) fn profiles() -> Profiles {
    Profiles {
        prod: format!("arn:aws:iam::{ACCOUNT}:instance-profile/prod-node"),
        staging: format!("arn:aws:iam::{ACCOUNT}:instance-profile/staging-node"),
    }
}

/// Creates the compliant launch template and one variant per violation.
pub(super) async fn templates(
    clients: &Clients,
    images: &Images,
    groups: &SecurityGroups,
    profiles: &Profiles,
) -> Result<Templates> {
    let templates = template_names();
    let compliant = NodeSpec {
        image: &images.fresh,
        instance_type: NODE_TYPE,
        security_groups: &groups.node,
        profile: &profiles.prod,
        imdsv2: true,
    };
    let foreign = [groups.foreign.clone()];
    let t = &templates;
    let variants = [
        (&t.compliant, compliant),
        (&t.denied_type, compliant.instance_type(DENIED_TYPE)),
        (
            &t.foreign_security_group,
            compliant.security_groups(&foreign),
        ),
        (&t.old_image, compliant.image(&images.old)),
        (&t.deprecated_image, compliant.image(&images.deprecated)),
        (&t.unapproved_image, compliant.image(&images.unapproved)),
        (&t.imdsv1, compliant.imdsv1()),
        (&t.staging_profile, compliant.profile(&profiles.staging)),
        (&t.staging, compliant.profile(&profiles.staging)),
    ];
    for (name, spec) in &variants {
        launch_template(clients, name, spec).await?;
    }
    Ok(templates)
}

fn template_names() -> Templates {
    Templates {
        compliant: "prod-node".into(),
        denied_type: "prod-node-p5".into(),
        foreign_security_group: "prod-node-ssh-sg".into(),
        old_image: "prod-node-old-ami".into(),
        deprecated_image: "prod-node-deprecated-ami".into(),
        unapproved_image: "prod-node-ubuntu".into(),
        imdsv1: "prod-node-imdsv1".into(),
        staging_profile: "prod-node-staging-profile".into(),
        staging: "staging-node".into(),
    }
}

/// Node groups, as EKS managed node groups tag them, each with the guard's
/// launch hook. They start empty: scenarios scale them.
pub(super) async fn node_groups(
    clients: &Clients,
    templates: &Templates,
    subnets: &[String],
) -> Result<NodeGroups> {
    let mut prod = Vec::new();
    for nodegroup in ["general", "system", "batch"] {
        let name = format!("{CLUSTER}-{nodegroup}");
        node_group(
            clients,
            &name,
            CLUSTER,
            nodegroup,
            &templates.compliant,
            subnets,
            true,
        )
        .await?;
        prod.push(name);
    }
    let staging = format!("{OTHER_CLUSTER}-general");
    node_group(
        clients,
        &staging,
        OTHER_CLUSTER,
        "general",
        &templates.staging,
        subnets,
        true,
    )
    .await?;
    Ok(NodeGroups { prod, staging })
}

pub(super) async fn alert_topic(clients: &Clients) -> Result<AlertTopic> {
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
    Ok(AlertTopic {
        topic_arn,
        paging_queue_url,
        archive_queue_url,
    })
}

pub(super) async fn subnet(
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

/// Creates the empty group `name` of `cluster`, tagged as an EKS managed
/// node group, with the guard's launch hook when `hooked`.
pub(super) async fn node_group(
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
    if hooked {
        guard_hook(clients, name, cluster).await?;
    }
    Ok(())
}

/// The guard's launch hook on group `name`, its metadata naming `cluster`.
async fn guard_hook(clients: &Clients, name: &str, cluster: &str) -> Result<()> {
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
    let arn = queue_arn(clients, &url).await?;
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

async fn queue_arn(clients: &Clients, url: &str) -> Result<String> {
    clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(Error::aws("GetQueueAttributes"))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| missing("GetQueueAttributes", "QueueArn"))
}
