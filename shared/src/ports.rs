//! The capabilities the handlers need, one small trait each (ports). The AWS
//! adapters in [`crate::aws`] implement them on the SDK clients; the fakes
//! behind the `test-util` feature implement them in memory.

use std::collections::BTreeMap;
use std::future::Future;

// The alert value is the domain's, below the port: `crate::alerts` (the
// publishing helper) depends on this module, never the other way round.
use guard_core::alerts::Alert;

use crate::decision::LifecycleResult;

use crate::facts::{
    GroupFacts, HookFacts, ImageFacts, InstanceFacts, InstanceTypeSpec, SubnetFacts,
    TemplateLaunch, TemplateRef, VolumeFacts,
};
use crate::lifecycle::LifecycleAction;
use crate::policy::ClusterTag;

/// An AWS call failed after the SDK's own retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{operation}` failed: {message}")]
pub struct AwsError {
    /// The API operation, e.g. `DescribeInstances`.
    pub operation: &'static str,
    /// The service's error code (`Throttling`, `ValidationError`, …) when it gave one.
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn new(operation: &'static str, code: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            operation,
            code: code.map(str::to_owned),
            message: message.into(),
        }
    }
}

pub type AwsResult<T> = Result<T, AwsError>;

mod findings;
pub use findings::{FailedFinding, FindingsPublish, IMPORT_BATCH, Imported};
mod events;
pub use events::EventPublish;
mod roles;
pub use roles::RolePoliciesRead;

/// Reads instances (never cached: their state is what is being decided).
pub trait InstanceRead: Send + Sync {
    /// `Ok(None)` when EC2 does not know the instance.
    fn instance(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = AwsResult<Option<InstanceFacts>>> + Send;
    /// The named instances in one `DescribeInstances` (an SQS batch's
    /// launches); those EC2 does not know (yet) are absent, not an error.
    fn instances(
        &self,
        instance_ids: &[String],
    ) -> impl Future<Output = AwsResult<Vec<InstanceFacts>>> + Send;
}

/// Reads images and subnets (cacheable: they change rarely).
pub trait NetworkImageRead: Send + Sync {
    fn image(&self, image_id: &str) -> impl Future<Output = AwsResult<Option<ImageFacts>>> + Send;
    fn subnet(
        &self,
        subnet_id: &str,
    ) -> impl Future<Output = AwsResult<Option<SubnetFacts>>> + Send;
}

/// Reads EBS volumes (never cached: each node has new ones).
pub trait VolumeRead: Send + Sync {
    /// One `DescribeVolumes` of the named volumes; a volume EC2 does not
    /// know is absent from the result.
    fn volumes(
        &self,
        volume_ids: &[String],
    ) -> impl Future<Output = AwsResult<Vec<VolumeFacts>>> + Send;
}

/// Reads AWS's recommended images, named by SSM public parameters
/// (`image.outdated`): cacheable, AWS changes them every week or two.
pub trait RecommendedImagesRead: Send + Sync {
    /// One `GetParameters` of `parameters` (at most 10), then one
    /// `DescribeImages` of the image ids they hold. Parameters AWS does not
    /// publish (a family without that Kubernetes version) are skipped.
    fn recommended_images(
        &self,
        parameters: &[String],
    ) -> impl Future<Output = AwsResult<Vec<ImageFacts>>> + Send;
}

/// Reads every instance of the cluster (all pages).
pub trait ClusterInstancesRead: Send + Sync {
    /// Instances carrying the cluster tag (key and, when pinned, value), in
    /// state `pending` or `running`.
    fn cluster_instances(
        &self,
        tag: &ClusterTag,
    ) -> impl Future<Output = AwsResult<Vec<InstanceFacts>>> + Send;
}

/// Reads instance type specs (immutable: cacheable for the environment's life).
pub trait InstanceTypesRead: Send + Sync {
    /// Specs of the named types, keyed by type name; unknown names are absent.
    fn instance_types(
        &self,
        names: &[String],
    ) -> impl Future<Output = AwsResult<BTreeMap<String, InstanceTypeSpec>>> + Send;
}

/// Reads the cluster's groups and their hooks.
pub trait ClusterGroupsRead: Send + Sync {
    /// Every group carrying the cluster tag (key and, when pinned, value;
    /// all pages).
    fn cluster_groups(
        &self,
        tag: &ClusterTag,
    ) -> impl Future<Output = AwsResult<Vec<GroupFacts>>> + Send;
    /// Every group of the region, whatever its tags (all pages): a release
    /// finds the guard's hook by name also on a group that lost the cluster
    /// tag.
    fn all_groups(&self) -> impl Future<Output = AwsResult<Vec<GroupFacts>>> + Send;
    /// The group's lifecycle hooks.
    fn lifecycle_hooks(
        &self,
        group: &str,
    ) -> impl Future<Output = AwsResult<Vec<HookFacts>>> + Send;
}

/// Reads launch templates: what a group launches now (budget-guard prices a
/// resume with it).
pub trait LaunchTemplateRead: Send + Sync {
    /// The instance type or instance requirements of one template version
    /// (`DescribeLaunchTemplateVersions`); `Ok(None)` when EC2 does not know
    /// the template or the version.
    fn launch_template(
        &self,
        template: &TemplateRef,
    ) -> impl Future<Output = AwsResult<Option<TemplateLaunch>>> + Send;
}

/// Reads Auto Scaling groups.
pub trait GroupRead: Send + Sync {
    /// `Ok(None)` when the group does not exist.
    fn group(&self, name: &str) -> impl Future<Output = AwsResult<Option<GroupFacts>>> + Send;
}

/// How `CompleteLifecycleAction` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// This call completed the action.
    Completed,
    /// No active action matched: a duplicate event, or the action was already
    /// completed or timed out.
    NoActiveAction,
}

/// Completes lifecycle actions.
pub trait LifecycleComplete: Send + Sync {
    fn complete(
        &self,
        action: &LifecycleAction,
        result: LifecycleResult,
    ) -> impl Future<Output = AwsResult<Completion>> + Send;
}

/// Publishes alerts to the topic (and, in production, each as a decision
/// event to the bus: [`crate::aws::Notifier`]).
pub trait AlertPublish: Send + Sync {
    fn publish(&self, alert: &Alert) -> impl Future<Output = AwsResult<()>> + Send;
}

/// The unit of a published metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricUnit {
    Count,
    Percent,
    Megabytes,
}

/// One metric datum (namespace `ScalingGuard`, dimension `Cluster`).
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    pub unit: MetricUnit,
}

/// Publishes metrics: every call is one `PutMetricData`.
pub trait MetricsPublish: Send + Sync {
    fn put_metrics(
        &self,
        cluster: &str,
        metrics: &[Metric],
    ) -> impl Future<Output = AwsResult<()>> + Send;
}

/// Reads CloudWatch alarm states.
pub trait AlarmRead: Send + Sync {
    /// The names among `names` whose alarm is in state `ALARM` now.
    fn alarms_in_alarm(
        &self,
        names: &[String],
    ) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
    /// The alarms whose name starts with `prefix` that are in `ALARM` now
    /// (a suspension record that knows its alarms by digest only).
    fn alarms_in_alarm_with_prefix(
        &self,
        prefix: &str,
    ) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
}

/// Changes what an Auto Scaling group may launch. Each call is one API call
/// on one group; the IAM policy conditions them on the cluster tag.
pub trait ScaleOutControl: Send + Sync {
    /// `SuspendProcesses` with only `Launch`.
    fn suspend_launch(&self, group: &str) -> impl Future<Output = AwsResult<()>> + Send;
    /// `ResumeProcesses` with only `Launch`.
    fn resume_launch(&self, group: &str) -> impl Future<Output = AwsResult<()>> + Send;
    /// `UpdateAutoScalingGroup` with only `MaxSize`.
    fn set_max_size(
        &self,
        group: &str,
        max_size: i32,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    /// `CreateOrUpdateTags` with one tag that does not propagate to instances.
    fn tag_group(
        &self,
        group: &str,
        key: &str,
        value: &str,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    /// `DeleteTags` of one tag.
    fn untag_group(&self, group: &str, key: &str) -> impl Future<Output = AwsResult<()>> + Send;
    /// `PutLifecycleHook` with every setting of `hook`: its name, transition,
    /// heartbeat, default result, notification target and role, and
    /// metadata (stack-guard, moving the guard's hook to its new name).
    fn put_hook(&self, group: &str, hook: &HookFacts)
    -> impl Future<Output = AwsResult<()>> + Send;
    /// `DeleteLifecycleHook` of the hook named `hook` (stack-guard, when its
    /// stack is deleted). A hook, or a group, that no longer exists is
    /// `Ok`: there is nothing left to remove.
    fn delete_launch_hook(
        &self,
        group: &str,
        hook: &str,
    ) -> impl Future<Output = AwsResult<()>> + Send;
}

/// Tags instances: launch-guard's record of its decisions. The IAM policy
/// allows only the guard's own tag keys, on cluster instances.
pub trait InstanceTag: Send + Sync {
    /// One `CreateTags` of the same `tags` on every instance named (an SQS
    /// batch's admissions at once). It succeeds or fails as a whole.
    fn tag_instances(
        &self,
        instance_ids: &[&str],
        tags: &[(&str, &str)],
    ) -> impl Future<Output = AwsResult<()>> + Send;
}

/// Changes one instance: instance-audit's remediation (SPEC §6). The IAM
/// policy conditions every call on the cluster tag; callers decide whether
/// the change is needed (a repeated call is harmless but not free).
pub trait InstanceRemediate: Send + Sync {
    /// `StopInstances` of the one instance.
    fn stop(&self, instance_id: &str) -> impl Future<Output = AwsResult<()>> + Send;
    /// `TerminateInstances` of the one instance.
    fn terminate(&self, instance_id: &str) -> impl Future<Output = AwsResult<()>> + Send;
    /// Replaces every security group of the instance with `security_group_id`
    /// alone, then tags the instance with `tags` (`CreateTags`). The tags are
    /// written only once the groups are swapped.
    fn isolate(
        &self,
        instance_id: &str,
        security_group_id: &str,
        tags: &[(String, String)],
    ) -> impl Future<Output = AwsResult<()>> + Send;
}

/// Reads instances by tag in every state, `terminated` included (EC2 shows
/// those for about an hour): instance-audit's remediation records.
pub trait TaggedInstancesRead: Send + Sync {
    /// Every instance carrying at least one of `tag_keys` (all pages, any
    /// state, any cluster: the caller filters).
    fn tagged_instances(
        &self,
        tag_keys: &[&str],
    ) -> impl Future<Output = AwsResult<Vec<InstanceFacts>>> + Send;
}

/// How a breaker's delete ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerRemoval {
    /// The role carried it: deleted now.
    Removed,
    /// Neither the policy nor (perhaps) the role exists: nothing to delete.
    Absent,
}

/// Puts and deletes the launch breaker ([`crate::launch_breaker`]): one
/// inline policy of a fixed name on a launcher role. The IAM grant allows
/// these calls on the named roles only.
pub trait LauncherRoles: Send + Sync {
    /// The region the breaker's deny is scoped to (the adapter's own).
    fn region(&self) -> &str;
    /// `PutRolePolicy`: overwrites a breaker of the same name.
    fn put_breaker(
        &self,
        role_arn: &str,
        breaker: &crate::launch_breaker::LaunchBreaker,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    /// `DeleteRolePolicy`; a policy or role that no longer exists is
    /// [`BreakerRemoval::Absent`].
    fn delete_breaker(
        &self,
        role_arn: &str,
        policy_name: &str,
    ) -> impl Future<Output = AwsResult<BreakerRemoval>> + Send;
}

/// The read ports, one accessor each: what a caller that only looks needs
/// (`assess`, the CLI's `audit` and `explain`). A function that takes
/// `&impl ReadPorts` cannot tag, complete, suspend, remediate, publish or
/// put a metric: the bundle names no write trait, so the compiler refuses
/// the call, whatever type is behind it.
///
/// A function is generic over one type that hands out the ports it uses,
/// not over one type per port. The port traits return `impl Future`, so
/// they cannot be `dyn` objects, and in production each port is a different
/// adapter: the bundle names each port's type once. [`crate::aws::Adapters`]
/// in production; `FakeAws`, every port in one, in tests.
///
/// ```compile_fail,E0599
/// use shared::ports::{ReadPorts, ScaleOutControl};
///
/// // A read-only caller cannot suspend a group: `Groups` is read-only here.
/// async fn looks(aws: &impl ReadPorts) {
///     let _ = aws.groups().suspend_launch("prod-a").await;
/// }
/// ```
///
/// The same call through the whole bundle compiles:
///
/// ```no_run
/// use shared::ports::{Ports, ScaleOutControl};
///
/// async fn changes(aws: &impl Ports) {
///     let _ = aws.groups().suspend_launch("prod-a").await;
/// }
/// ```
pub trait ReadPorts: Send + Sync {
    /// EC2's instances: one by id, the cluster's, the tagged ones, their
    /// types, launch templates and volumes.
    type Instances: InstanceRead
        + ClusterInstancesRead
        + InstanceTypesRead
        + LaunchTemplateRead
        + TaggedInstancesRead
        + VolumeRead;
    /// Images and subnets, and AWS's recommended images, for the node checks.
    type Images: NetworkImageRead + RecommendedImagesRead;
    /// Auto Scaling: groups and their hooks.
    type Groups: GroupRead + ClusterGroupsRead;
    /// CloudWatch: alarm states.
    type Metrics: AlarmRead;

    fn instances(&self) -> &Self::Instances;
    fn images(&self) -> &Self::Images;
    fn groups(&self) -> &Self::Groups;
    fn metrics(&self) -> &Self::Metrics;
}

/// Every port: the read ports, whose EC2, Auto Scaling and CloudWatch ports
/// also write here (the guard's tags on instances; lifecycle completion and
/// suspension; metrics out), and the ports that only write (remediation,
/// alerts). The functions take it; read-only callers take [`ReadPorts`].
pub trait Ports:
    ReadPorts<
        Instances: InstanceTag,
        Groups: LifecycleComplete + ScaleOutControl,
        Metrics: MetricsPublish,
    >
{
    /// Stop, terminate, isolate (instance-audit).
    type Remediation: InstanceRemediate;
    /// The alert topic, and the event bus: every alert is also a decision
    /// event, and a decision without an alert is an event alone.
    type Alerts: AlertPublish + EventPublish;
    /// IAM: the launch breaker on launcher roles (budget-guard, stack-guard).
    type Launchers: LauncherRoles;
    /// Security Hub: the guard's findings (`GUARD_SECURITY_HUB`).
    type Findings: FindingsPublish;

    fn remediation(&self) -> &Self::Remediation;
    fn alerts(&self) -> &Self::Alerts;
    fn launchers(&self) -> &Self::Launchers;
    fn findings(&self) -> &Self::Findings;
}

#[cfg(test)]
mod tests;
