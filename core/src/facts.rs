//! Plain facts about the resources a decision looks at. Adapters fill them from
//! AWS; checks read them. No SDK type crosses this line.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// The instance metadata service setting that matters for `imds.v2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpTokens {
    Required,
    Optional,
}

/// An instance's CPU options, when set explicitly at launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuOptions {
    pub core_count: u32,
    pub threads_per_core: u32,
}

/// The EC2 instance states the guard tells apart; the others (`stopping`,
/// `stopped`, `shutting-down`, `terminated`) are [`InstanceState::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    Pending,
    Running,
    Other,
}

impl InstanceState {
    /// The states of an instance that runs or is about to: counted by the
    /// budgets, looked at by the audit.
    pub const LIVE: [&'static str; 2] = ["pending", "running"];

    /// The state EC2 names `text`.
    pub fn of(text: &str) -> Self {
        match text {
            "pending" => Self::Pending,
            "running" => Self::Running,
            _ => Self::Other,
        }
    }

    /// `pending` or `running`.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }
}

/// The lifecycle state of a group's instance whose launch waits for a hook.
pub const PENDING_WAIT: &str = "Pending:Wait";

/// What `DescribeInstances` says about one instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceFacts {
    pub instance_id: String,
    pub instance_type: String,
    pub image_id: String,
    /// `pending`, `running`, `stopping`, …
    pub state: String,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub public_ip: Option<String>,
    /// `None` when the instance reports no metadata options.
    pub http_tokens: Option<HttpTokens>,
    pub instance_profile_arn: Option<String>,
    /// The account that owns the instance (its reservation's owner).
    pub owner_account: Option<String>,
    pub cpu_options: Option<CpuOptions>,
    pub launch_time: Option<SystemTime>,
    pub tags: BTreeMap<String, String>,
    /// `MetadataOptions.HttpPutResponseHopLimit`; `None` when not reported.
    pub http_put_response_hop_limit: Option<u32>,
    /// The SSH key pair the instance was launched with (`KeyName`).
    pub key_name: Option<String>,
    /// The EBS volumes attached to the instance (its block-device mappings).
    pub volume_ids: Vec<String>,
    /// `Operator`: the AWS service that runs the instance for the account,
    /// when EC2 says one does; `None` when EC2 reports no operator.
    pub operator: Option<Operator>,
}

/// What EC2 says runs an instance (`Operator`). A *managed instance*
/// (`managed`) is launched and run by an AWS service for the account (EKS
/// Auto Mode nodes: principal `eks.amazonaws.com`): the service owns its
/// lifecycle, so the guard counts and reports it but never changes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Operator {
    pub managed: bool,
    /// The service that manages it, e.g. `eks.amazonaws.com`.
    pub principal: Option<String>,
}

/// What `DescribeImages` says about one image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageFacts {
    pub image_id: String,
    pub name: Option<String>,
    pub owner_id: Option<String>,
    /// `amazon`, `aws-marketplace`, or `None` for account-owned images.
    pub owner_alias: Option<String>,
    pub creation_date: Option<SystemTime>,
    pub deprecation_time: Option<SystemTime>,
    /// `x86_64`, `arm64`, …
    pub architecture: Option<String>,
}

/// What `DescribeVolumes` says about one EBS volume.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolumeFacts {
    pub volume_id: String,
    pub encrypted: bool,
    /// The KMS key's ARN, for an encrypted volume.
    pub kms_key_id: Option<String>,
}

/// What `DescribeSubnets` says about one subnet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubnetFacts {
    pub subnet_id: String,
    pub vpc_id: Option<String>,
    pub map_public_ip_on_launch: bool,
}

/// Everything the node checks look at. `image` and `subnet` are `None` when
/// AWS does not know them (deregistered image, deleted subnet); the checks
/// that need them then report a violation instead of passing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeFacts {
    pub instance: InstanceFacts,
    pub image: Option<ImageFacts>,
    pub subnet: Option<SubnetFacts>,
    /// The instance's attached volumes that `DescribeVolumes` reported (read
    /// only when `volumes.encrypted` is on).
    pub volumes: Vec<VolumeFacts>,
    /// AWS's recommended images of the policy's SSM public parameters (read
    /// only when `image.outdated` is on; cached).
    pub recommended_images: Vec<ImageFacts>,
}

/// One instance as its Auto Scaling group sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupInstance {
    pub instance_id: String,
    /// `Pending:Wait`, `InService`, `Terminating`, …
    pub lifecycle_state: String,
}

/// What `DescribeAutoScalingGroups` says about one group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupFacts {
    pub name: String,
    pub min_size: i32,
    pub max_size: i32,
    pub desired_capacity: i32,
    pub tags: BTreeMap<String, String>,
    pub suspended_processes: Vec<String>,
    pub instances: Vec<GroupInstance>,
    /// The instance types the group launches that its description names
    /// (the types of its instances, its mixed-instances overrides).
    pub instance_types: Vec<String>,
    /// What it launches now: its launch template, mixed-instances overrides
    /// and the unit of its desired capacity.
    pub launch: GroupLaunch,
}

/// What a group launches when it scales out, as its description says
/// (`DescribeAutoScalingGroups`): what the guard prices a resume with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupLaunch {
    /// The unit of the desired capacity (`DesiredCapacityType`).
    pub capacity_unit: CapacityUnit,
    /// The launch template, the group's own or its mixed-instances
    /// policy's; `None` for a launch configuration.
    pub template: Option<TemplateRef>,
    /// The mixed-instances policy's overrides.
    pub overrides: Vec<LaunchOverride>,
    /// Each instance's weighted capacity as the group reports it
    /// (`Instances[].WeightedCapacity`), by instance id.
    pub instance_weights: BTreeMap<String, u64>,
}

/// `DesiredCapacityType`: what one unit of desired capacity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CapacityUnit {
    /// Instances, or the overrides' `WeightedCapacity` units.
    #[default]
    Units,
    /// vCPUs (attribute-based instance type selection).
    Vcpu,
    /// MiB of memory (attribute-based instance type selection).
    MemoryMib,
}

impl CapacityUnit {
    /// The unit of `DesiredCapacityType`'s value (`units` when absent).
    pub fn of(value: Option<&str>) -> Self {
        match value {
            Some("vcpu") => Self::Vcpu,
            Some("memory-mib") => Self::MemoryMib,
            _ => Self::Units,
        }
    }
}

/// A launch template and the version a group launches.
#[derive(Debug, Clone, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct TemplateRef {
    pub id: Option<String>,
    pub name: Option<String>,
    /// A number, `$Latest` or `$Default` (`None`: `$Default`).
    pub version: Option<String>,
}

impl std::fmt::Display for TemplateRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.id.as_deref().or(self.name.as_deref()).unwrap_or("?");
        let version = self.version.as_deref().unwrap_or("$Default");
        write!(f, "{name} version {version}")
    }
}

/// One override of a mixed-instances policy: a type with its weight, or
/// instance requirements (attribute-based selection).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LaunchOverride {
    pub instance_type: Option<String>,
    /// `WeightedCapacity` (`None`: 1).
    pub weight: Option<u64>,
    pub requirements: Option<InstanceRequirements>,
}

/// Attribute-based instance type selection: the bounds the guard prices
/// with (`None` maximum: unbounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InstanceRequirements {
    pub vcpus_min: u64,
    pub vcpus_max: Option<u64>,
    pub memory_mib_min: u64,
    pub memory_mib_max: Option<u64>,
}

/// What a launch template version launches: a type, or requirements.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplateLaunch {
    pub instance_type: Option<String>,
    pub requirements: Option<InstanceRequirements>,
}

/// One lifecycle hook of a group (`DescribeLifecycleHooks`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookFacts {
    pub name: String,
    pub transition: String,
    pub default_result: Option<String>,
    pub heartbeat_timeout: Option<i32>,
    /// Where the hook notifies (`NotificationTargetARN`); `None`: EventBridge
    /// alone.
    pub notification_target_arn: Option<String>,
    /// The role Auto Scaling assumes to notify the target (`RoleARN`).
    pub role_arn: Option<String>,
    /// `NotificationMetadata`, passed with every notification.
    pub notification_metadata: Option<String>,
}

/// What `DescribeInstanceTypes` says about one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InstanceTypeSpec {
    pub default_vcpus: u32,
    pub memory_mib: u64,
}

impl InstanceFacts {
    /// Its state, as the guard tells them apart.
    pub fn instance_state(&self) -> InstanceState {
        InstanceState::of(&self.state)
    }

    /// The operator of a managed instance (`Operator.Managed` true); `None`
    /// for an instance the account runs itself.
    pub fn managed_by(&self) -> Option<&Operator> {
        self.operator.as_ref().filter(|operator| operator.managed)
    }
}

impl GroupInstance {
    /// Its launch waits for a hook (`Pending:Wait`).
    pub fn waits(&self) -> bool {
        self.lifecycle_state == PENDING_WAIT
    }
}
