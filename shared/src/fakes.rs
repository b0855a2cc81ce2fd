//! In-memory fakes of every port, for handler tests (feature `test-util`).
//!
//! One `FakeAws` plays EC2, Auto Scaling and SNS: tests seed it with facts,
//! open lifecycle actions on it, make chosen operations fail, and read back
//! what the handler completed, published and called.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::alerts::Alert;
use crate::decision::LifecycleResult;
use crate::facts::{
    GroupFacts, HookFacts, ImageFacts, InstanceFacts, InstanceTypeSpec, SubnetFacts,
    TemplateLaunch, TemplateRef, VolumeFacts,
};
use crate::lifecycle::LifecycleAction;
use crate::policy::ClusterTag;
mod scenes;
pub use scenes::{OTHER_CLUSTER_TAG, guard_hook, guarded_group, launch_hook, suspended_by_guard};
mod events;
mod read_only;
pub use read_only::ReadOnlyAws;
mod launchers;
pub use launchers::FAKE_REGION;
mod security_hub;
pub use security_hub::FAKE_ACCOUNT;

use crate::ports::{
    AlarmRead, AlertPublish, AwsError, AwsResult, ClusterGroupsRead, ClusterInstancesRead,
    Completion, GroupRead, InstanceRead, InstanceTag, InstanceTypesRead, LaunchTemplateRead,
    LifecycleComplete, Metric, MetricsPublish, NetworkImageRead, RecommendedImagesRead,
    ScaleOutControl, VolumeRead,
};

#[derive(Debug, Default)]
struct State {
    instances: BTreeMap<String, InstanceFacts>,
    images: BTreeMap<String, ImageFacts>,
    subnets: BTreeMap<String, SubnetFacts>,
    volumes: BTreeMap<String, VolumeFacts>,
    /// SSM public parameters: name → image id.
    public_parameters: BTreeMap<String, String>,
    groups: BTreeMap<String, GroupFacts>,
    hooks: BTreeMap<String, Vec<HookFacts>>,
    instance_types: BTreeMap<String, InstanceTypeSpec>,
    /// Launch templates by id or name: what their version launches now.
    launch_templates: BTreeMap<String, TemplateLaunch>,
    /// Tokens of lifecycle actions still waiting for completion.
    open_tokens: BTreeSet<String>,
    completed: Vec<(LifecycleAction, LifecycleResult)>,
    published: Vec<Alert>,
    /// Decision events put on the bus (`fakes/events.rs`).
    events_sent: Vec<crate::events::DecisionEvent>,
    failing: BTreeSet<&'static str>,
    alarms_in_alarm: BTreeSet<String>,
    metrics: Vec<(String, Vec<Metric>)>,
    /// Every mutating Auto Scaling call, in order: `SuspendProcesses prod-a`, …
    group_changes: Vec<String>,
    /// Every remediation call, in order: `StopInstances i-0abc`, …
    instance_changes: Vec<String>,
    calls: BTreeMap<&'static str, usize>,
    /// Operations whose next call waits at a [`Gate`] (step-by-step interleavings).
    gates: BTreeMap<&'static str, Arc<Gate>>,
    /// Operations that take this long before they answer (a slow or throttled AWS).
    slow: BTreeMap<&'static str, Duration>,
    /// Operations whose next N calls fail, then succeed again.
    failing_times: BTreeMap<&'static str, usize>,
    /// Operations of which one call in N fails with `Throttling`.
    throttled: BTreeMap<&'static str, usize>,
    /// Groups still listed whose hooks Auto Scaling no longer knows (deleted
    /// between a listing and a read).
    vanished: BTreeSet<String>,
    /// Instances `DescribeInstances` does not know for the next N calls (EC2's
    /// eventual consistency right after a launch).
    hidden: BTreeMap<String, usize>,
    /// With [`FakeAws::show_tags_late`]: instance tags written but not yet
    /// shown by `DescribeInstances` (EC2's eventual consistency).
    late_tags: Option<BTreeMap<String, BTreeMap<String, String>>>,
    /// IAM roles by arn, with their inline policies: name → document.
    role_policies: BTreeMap<String, BTreeMap<String, String>>,
    /// Security Hub's findings and import calls.
    security_hub: security_hub::SecurityHub,
}

/// Holds the next call of one operation before it takes effect, so that a test
/// can run another handler at exactly that step and then let the call go on.
#[derive(Debug, Default)]
pub struct Gate {
    reached: Notify,
    released: Notify,
}

impl Gate {
    /// Waits until the held call has arrived at the gate.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the held call go on.
    pub fn release(&self) {
        self.released.notify_one();
    }
}

/// The fake AWS account.
#[derive(Debug, Default)]
pub struct FakeAws {
    state: Mutex<State>,
}

impl FakeAws {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn add_instance(&self, instance: InstanceFacts) {
        self.state()
            .instances
            .insert(instance.instance_id.clone(), instance);
    }

    pub fn add_image(&self, image: ImageFacts) {
        self.state().images.insert(image.image_id.clone(), image);
    }

    pub fn add_subnet(&self, subnet: SubnetFacts) {
        self.state()
            .subnets
            .insert(subnet.subnet_id.clone(), subnet);
    }

    pub fn add_volume(&self, volume: VolumeFacts) {
        self.state()
            .volumes
            .insert(volume.volume_id.clone(), volume);
    }

    /// An SSM public parameter naming a recommended image (`image.outdated`).
    pub fn add_public_parameter(&self, name: &str, image_id: &str) {
        self.state()
            .public_parameters
            .insert(name.to_owned(), image_id.to_owned());
    }

    pub fn add_group(&self, group: GroupFacts) {
        self.state().groups.insert(group.name.clone(), group);
    }

    pub fn add_hook(&self, group: &str, hook: HookFacts) {
        self.state()
            .hooks
            .entry(group.to_owned())
            .or_default()
            .push(hook);
    }

    pub fn add_instance_type(&self, name: &str, spec: InstanceTypeSpec) {
        self.state().instance_types.insert(name.to_owned(), spec);
    }

    /// A launch template (by id or name) and what it launches now: a later
    /// call replaces it, as a new `$Default`/`$Latest` version does.
    pub fn add_launch_template(&self, id: &str, launch: TemplateLaunch) {
        self.state().launch_templates.insert(id.to_owned(), launch);
    }

    /// Changes a stored group in place (tests of suspension, clamping, …).
    pub fn update_group(&self, name: &str, change: impl FnOnce(&mut GroupFacts)) {
        if let Some(group) = self.state().groups.get_mut(name) {
            change(group);
        }
    }

    pub fn group_facts(&self, name: &str) -> Option<GroupFacts> {
        self.state().groups.get(name).cloned()
    }

    /// The instance as it is, with every tag written to it (also those
    /// `DescribeInstances` does not show yet).
    pub fn instance_facts(&self, id: &str) -> Option<InstanceFacts> {
        let state = self.state();
        let mut instance = state.instances.get(id).cloned()?;
        if let Some(late) = state.late_tags.as_ref().and_then(|late| late.get(id)) {
            instance.tags.extend(late.clone());
        }
        Some(instance)
    }

    /// From now on, tags written to instances are not shown by
    /// `DescribeInstances` (as EC2 may not, for a while, after `CreateTags`).
    pub fn show_tags_late(&self) {
        self.state().late_tags = Some(BTreeMap::new());
    }

    /// Puts the alarm `name` into state `ALARM` (or takes it out).
    pub fn set_alarm(&self, name: &str, in_alarm: bool) {
        let mut state = self.state();
        if in_alarm {
            state.alarms_in_alarm.insert(name.to_owned());
        } else {
            state.alarms_in_alarm.remove(name);
        }
    }

    pub fn metrics(&self) -> Vec<(String, Vec<Metric>)> {
        self.state().metrics.clone()
    }

    /// Every mutating Auto Scaling call so far, as `Operation group`.
    pub fn group_changes(&self) -> Vec<String> {
        self.state().group_changes.clone()
    }

    /// Opens a lifecycle action that `complete` may then complete once.
    pub fn open_action(&self, token: &str) {
        self.state().open_tokens.insert(token.to_owned());
    }

    /// Holds the next call of `operation` (e.g. `DeleteTags`) before it takes
    /// effect, until the returned gate is released.
    pub fn pause_before(&self, operation: &'static str) -> Arc<Gate> {
        let gate = Arc::new(Gate::default());
        self.state().gates.insert(operation, Arc::clone(&gate));
        gate
    }

    /// Waits at the gate of `operation`, if a test set one for this call.
    async fn gate(&self, operation: &'static str) {
        let gate = self.state().gates.remove(operation);
        if let Some(gate) = gate {
            gate.reached.notify_one();
            gate.released.notified().await;
        }
    }

    /// Makes every later call of `operation` take `delay` before it answers
    /// (a slow, throttled AWS; with paused tokio time, no real waiting).
    pub fn slow_down(&self, operation: &'static str, delay: Duration) {
        self.state().slow.insert(operation, delay);
    }

    /// Makes the next `times` calls of `operation` fail, and later ones succeed.
    pub fn fail_times(&self, operation: &'static str, times: usize) {
        self.state().failing_times.insert(operation, times);
    }

    /// `DescribeInstances` does not know `instance_id` for its next `times`
    /// calls (`InvalidInstanceID.NotFound` right after a launch).
    pub fn hide_instance(&self, instance_id: &str, times: usize) {
        self.state().hidden.insert(instance_id.to_owned(), times);
    }

    /// Waits as long as `operation` is set to take.
    async fn pace(&self, operation: &'static str) {
        let delay = self.state().slow.get(operation).copied();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
    }

    /// Throttles `operation`: of every `one_in` calls, one fails with
    /// `Throttling` (Auto Scaling's rate limit), the others go through;
    /// `0` ends the throttling.
    pub fn throttle(&self, operation: &'static str, one_in: usize) {
        let mut state = self.state();
        match one_in {
            0 => state.throttled.remove(operation),
            one_in => state.throttled.insert(operation, one_in),
        };
    }

    /// `group` stays listed, but reading its hooks answers that it is not
    /// found: it was deleted between a listing and the read.
    pub fn vanish_after_listing(&self, group: &str) {
        self.state().vanished.insert(group.to_owned());
    }

    /// Makes every later call of `operation` (e.g. `DescribeInstances`) fail.
    pub fn fail(&self, operation: &'static str) {
        self.state().failing.insert(operation);
    }

    pub fn completed(&self) -> Vec<(LifecycleAction, LifecycleResult)> {
        self.state().completed.clone()
    }

    pub fn published(&self) -> Vec<Alert> {
        self.state().published.clone()
    }

    /// How often `operation` was called.
    pub fn calls(&self, operation: &str) -> usize {
        self.state()
            .calls
            .get(operation)
            .copied()
            .unwrap_or_default()
    }

    /// Names of the operations that change something, with their call counts.
    pub fn mutations(&self) -> BTreeMap<&'static str, usize> {
        self.state()
            .calls
            .iter()
            .filter(|(op, _)| !op.starts_with("Describe"))
            .map(|(op, n)| (*op, *n))
            .collect()
    }

    fn call(&self, operation: &'static str) -> AwsResult<MutexGuard<'_, State>> {
        let mut state = self.state();
        *state.calls.entry(operation).or_default() += 1;
        let fails_now = match state.failing_times.get_mut(operation) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        };
        let count = state.calls.get(operation).copied().unwrap_or_default();
        if state
            .throttled
            .get(operation)
            .is_some_and(|one_in| count % one_in == 0)
        {
            return Err(AwsError::new(
                operation,
                Some("Throttling"),
                "Rate exceeded",
            ));
        }
        if fails_now || state.failing.contains(operation) {
            return Err(AwsError::new(
                operation,
                Some("InternalError"),
                "injected failure",
            ));
        }
        Ok(state)
    }
}

impl InstanceRead for FakeAws {
    async fn instance(&self, instance_id: &str) -> AwsResult<Option<InstanceFacts>> {
        self.pace("DescribeInstances").await;
        let mut state = self.call("DescribeInstances")?;
        if let Some(left) = state.hidden.get_mut(instance_id).filter(|left| **left > 0) {
            *left -= 1;
            return Ok(None);
        }
        Ok(state.instances.get(instance_id).cloned())
    }

    async fn instances(&self, instance_ids: &[String]) -> AwsResult<Vec<InstanceFacts>> {
        self.pace("DescribeInstances").await;
        let mut state = self.call("DescribeInstances")?;
        let mut found = Vec::new();
        for id in instance_ids {
            if let Some(left) = state.hidden.get_mut(id).filter(|left| **left > 0) {
                *left -= 1;
                continue;
            }
            found.extend(state.instances.get(id).cloned());
        }
        Ok(found)
    }
}

impl ClusterInstancesRead for FakeAws {
    async fn cluster_instances(&self, tag: &ClusterTag) -> AwsResult<Vec<InstanceFacts>> {
        self.pace("DescribeInstances").await;
        // Yield like a real call would, so concurrent handlers interleave.
        tokio::task::yield_now().await;
        let state = self.call("DescribeInstances")?;
        Ok(state
            .instances
            .values()
            .filter(|i| tag.matches(&i.tags) && matches!(i.state.as_str(), "pending" | "running"))
            .cloned()
            .collect())
    }
}

impl InstanceTag for FakeAws {
    /// Like EC2: one unknown instance fails the whole call, and nothing is tagged.
    async fn tag_instances(&self, instance_ids: &[&str], tags: &[(&str, &str)]) -> AwsResult<()> {
        self.pace("CreateTags").await;
        self.gate("CreateTags").await;
        let written: BTreeMap<String, String> = tags
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        let mut state = self.call("CreateTags")?;
        if let Some(unknown) = instance_ids
            .iter()
            .find(|id| !state.instances.contains_key(**id))
        {
            state.instance_changes.push(format!("CreateTags {unknown}"));
            return Err(AwsError::new(
                "CreateTags",
                Some("InvalidInstanceID.NotFound"),
                format!("The instance ID '{unknown}' does not exist"),
            ));
        }
        for id in instance_ids {
            state.instance_changes.push(format!("CreateTags {id}"));
            let late = state.late_tags.is_some();
            if let Some(instance) = state.instances.get_mut(*id)
                && !late
            {
                instance.tags.extend(written.clone());
            }
            if let Some(late) = state.late_tags.as_mut() {
                // Not shown yet: kept aside.
                late.entry((*id).to_owned())
                    .or_default()
                    .extend(written.clone());
            }
        }
        Ok(())
    }
}

impl InstanceTypesRead for FakeAws {
    async fn instance_types(
        &self,
        names: &[String],
    ) -> AwsResult<BTreeMap<String, InstanceTypeSpec>> {
        self.pace("DescribeInstanceTypes").await;
        // Yield like a real call would, so concurrent handlers interleave.
        tokio::task::yield_now().await;
        let state = self.call("DescribeInstanceTypes")?;
        Ok(names
            .iter()
            .filter_map(|n| Some((n.clone(), *state.instance_types.get(n)?)))
            .collect())
    }
}

impl LaunchTemplateRead for FakeAws {
    async fn launch_template(&self, template: &TemplateRef) -> AwsResult<Option<TemplateLaunch>> {
        self.pace("DescribeLaunchTemplateVersions").await;
        let state = self.call("DescribeLaunchTemplateVersions")?;
        let key = template.id.as_ref().or(template.name.as_ref());
        Ok(key.and_then(|key| state.launch_templates.get(key).cloned()))
    }
}

impl ClusterGroupsRead for FakeAws {
    async fn cluster_groups(&self, tag: &ClusterTag) -> AwsResult<Vec<GroupFacts>> {
        self.pace("DescribeAutoScalingGroups").await;
        let state = self.call("DescribeAutoScalingGroups")?;
        Ok(state
            .groups
            .values()
            .filter(|g| tag.matches(&g.tags))
            .cloned()
            .collect())
    }

    async fn all_groups(&self) -> AwsResult<Vec<GroupFacts>> {
        self.pace("DescribeAutoScalingGroups").await;
        let state = self.call("DescribeAutoScalingGroups")?;
        Ok(state.groups.values().cloned().collect())
    }

    async fn lifecycle_hooks(&self, group: &str) -> AwsResult<Vec<HookFacts>> {
        self.pace("DescribeLifecycleHooks").await;
        let state = self.call("DescribeLifecycleHooks")?;
        if state.vanished.contains(group) {
            return Err(AwsError::new(
                "DescribeLifecycleHooks",
                Some("ValidationError"),
                format!("Group {group} not found"),
            ));
        }
        Ok(state.hooks.get(group).cloned().unwrap_or_default())
    }
}

impl NetworkImageRead for FakeAws {
    async fn image(&self, image_id: &str) -> AwsResult<Option<ImageFacts>> {
        self.pace("DescribeImages").await;
        Ok(self.call("DescribeImages")?.images.get(image_id).cloned())
    }

    async fn subnet(&self, subnet_id: &str) -> AwsResult<Option<SubnetFacts>> {
        self.pace("DescribeSubnets").await;
        Ok(self
            .call("DescribeSubnets")?
            .subnets
            .get(subnet_id)
            .cloned())
    }
}

impl VolumeRead for FakeAws {
    async fn volumes(&self, volume_ids: &[String]) -> AwsResult<Vec<VolumeFacts>> {
        if volume_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.pace("DescribeVolumes").await;
        let state = self.call("DescribeVolumes")?;
        Ok(volume_ids
            .iter()
            .filter_map(|id| state.volumes.get(id).cloned())
            .collect())
    }
}

impl RecommendedImagesRead for FakeAws {
    async fn recommended_images(&self, parameters: &[String]) -> AwsResult<Vec<ImageFacts>> {
        self.pace("GetParameters").await;
        let ids: Vec<String> = {
            let state = self.call("GetParameters")?;
            parameters
                .iter()
                .filter_map(|name| state.public_parameters.get(name).cloned())
                .collect()
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.pace("DescribeImages").await;
        let state = self.call("DescribeImages")?;
        Ok(ids
            .iter()
            .filter_map(|id| state.images.get(id).cloned())
            .collect())
    }
}

impl GroupRead for FakeAws {
    async fn group(&self, name: &str) -> AwsResult<Option<GroupFacts>> {
        self.pace("DescribeAutoScalingGroups").await;
        self.gate("DescribeAutoScalingGroups").await;
        Ok(self
            .call("DescribeAutoScalingGroups")?
            .groups
            .get(name)
            .cloned())
    }
}

impl LifecycleComplete for FakeAws {
    async fn complete(
        &self,
        action: &LifecycleAction,
        result: LifecycleResult,
    ) -> AwsResult<Completion> {
        self.pace("CompleteLifecycleAction").await;
        tokio::task::yield_now().await;
        self.gate("CompleteLifecycleAction").await;
        let mut state = self.call("CompleteLifecycleAction")?;
        if !state.open_tokens.remove(&action.token) {
            return Ok(Completion::NoActiveAction);
        }
        state.completed.push((action.clone(), result));
        Ok(Completion::Completed)
    }
}

impl MetricsPublish for FakeAws {
    async fn put_metrics(&self, cluster: &str, metrics: &[Metric]) -> AwsResult<()> {
        self.pace("PutMetricData").await;
        self.call("PutMetricData")?
            .metrics
            .push((cluster.to_owned(), metrics.to_vec()));
        Ok(())
    }
}

impl AlarmRead for FakeAws {
    async fn alarms_in_alarm(&self, names: &[String]) -> AwsResult<Vec<String>> {
        self.pace("DescribeAlarms").await;
        let state = self.call("DescribeAlarms")?;
        Ok(names
            .iter()
            .filter(|n| state.alarms_in_alarm.contains(*n))
            .cloned()
            .collect())
    }

    async fn alarms_in_alarm_with_prefix(&self, prefix: &str) -> AwsResult<Vec<String>> {
        self.pace("DescribeAlarms").await;
        let state = self.call("DescribeAlarms")?;
        Ok(state
            .alarms_in_alarm
            .iter()
            .filter(|name| name.starts_with(prefix))
            .cloned()
            .collect())
    }
}

impl FakeAws {
    async fn change_group(
        &self,
        operation: &'static str,
        group: &str,
        change: impl FnOnce(&mut GroupFacts),
    ) -> AwsResult<()> {
        self.pace(operation).await;
        self.gate(operation).await;
        let mut state = self.call(operation)?;
        state.group_changes.push(format!("{operation} {group}"));
        match state.groups.get_mut(group) {
            Some(facts) => {
                change(facts);
                Ok(())
            }
            None => Err(AwsError::new(
                operation,
                Some("ValidationError"),
                format!("group {group} not found"),
            )),
        }
    }
}

impl ScaleOutControl for FakeAws {
    async fn suspend_launch(&self, group: &str) -> AwsResult<()> {
        self.change_group("SuspendProcesses", group, |g| {
            if !g.suspended_processes.iter().any(|p| p == "Launch") {
                g.suspended_processes.push("Launch".to_owned());
            }
        })
        .await
    }

    async fn resume_launch(&self, group: &str) -> AwsResult<()> {
        self.change_group("ResumeProcesses", group, |g| {
            g.suspended_processes.retain(|p| p != "Launch")
        })
        .await
    }

    /// Like Auto Scaling: a MaxSize below the desired capacity lowers the
    /// desired capacity, and instances above it are terminated (recorded in
    /// [`FakeAws::instance_changes`] as `ScaleIn i-…`).
    async fn set_max_size(&self, group: &str, max_size: i32) -> AwsResult<()> {
        let mut removed = Vec::new();
        self.change_group("UpdateAutoScalingGroup", group, |g| {
            g.max_size = max_size;
            g.desired_capacity = g.desired_capacity.min(max_size);
            let keep = usize::try_from(max_size).unwrap_or_default();
            if g.instances.len() > keep {
                removed = g.instances.split_off(keep);
            }
        })
        .await?;
        let mut state = self.state();
        for instance in removed {
            let id = instance.instance_id;
            state.instance_changes.push(format!("ScaleIn {id}"));
            if let Some(facts) = state.instances.get_mut(&id) {
                facts.state = "shutting-down".to_owned();
            }
        }
        Ok(())
    }

    async fn tag_group(&self, group: &str, key: &str, value: &str) -> AwsResult<()> {
        self.change_group("CreateOrUpdateTags", group, |g| {
            g.tags.insert(key.to_owned(), value.to_owned());
        })
        .await
    }

    async fn untag_group(&self, group: &str, key: &str) -> AwsResult<()> {
        self.change_group("DeleteTags", group, |g| {
            g.tags.remove(key);
        })
        .await
    }

    /// Like Auto Scaling: a hook of the same name is replaced.
    async fn put_hook(&self, group: &str, hook: &HookFacts) -> AwsResult<()> {
        self.change_group("PutLifecycleHook", group, |_| {}).await?;
        let mut state = self.state();
        let hooks = state.hooks.entry(group.to_owned()).or_default();
        hooks.retain(|h| h.name != hook.name);
        hooks.push(hook.clone());
        Ok(())
    }

    /// Like Auto Scaling (as the adapter reads it): a hook or a group that
    /// is not there is nothing to delete, not an error.
    async fn delete_launch_hook(&self, group: &str, hook: &str) -> AwsResult<()> {
        self.pace("DeleteLifecycleHook").await;
        let mut state = self.call("DeleteLifecycleHook")?;
        state
            .group_changes
            .push(format!("DeleteLifecycleHook {group}"));
        if let Some(hooks) = state.hooks.get_mut(group) {
            hooks.retain(|h| h.name != hook);
        }
        Ok(())
    }
}

impl AlertPublish for FakeAws {
    async fn publish(&self, alert: &Alert) -> AwsResult<()> {
        self.pace("Publish").await;
        // As the production alert port (`aws::Notifier`): every alert is
        // also a decision event, sent whatever the topic answers.
        let event = crate::events::DecisionEvent::of(alert);
        let _ = crate::ports::EventPublish::put_event(self, &event).await;
        self.call("Publish")?.published.push(alert.clone());
        Ok(())
    }
}

impl FakeAws {
    /// Every remediation call so far, as `Operation instance`.
    pub fn instance_changes(&self) -> Vec<String> {
        self.state().instance_changes.clone()
    }

    fn change_instance(
        &self,
        operation: &'static str,
        instance_id: &str,
        change: impl FnOnce(&mut InstanceFacts),
    ) -> AwsResult<()> {
        let mut state = self.call(operation)?;
        state
            .instance_changes
            .push(format!("{operation} {instance_id}"));
        match state.instances.get_mut(instance_id) {
            Some(facts) => {
                change(facts);
                Ok(())
            }
            None => Err(AwsError::new(
                operation,
                Some("InvalidInstanceID.NotFound"),
                format!("The instance ID '{instance_id}' does not exist"),
            )),
        }
    }
}

/// Like EC2: stop and terminate move the instance out of `pending`/`running`
/// at once (`stopping`, `shutting-down`); isolate swaps the groups, then tags.
impl crate::ports::InstanceRemediate for FakeAws {
    async fn stop(&self, instance_id: &str) -> AwsResult<()> {
        self.change_instance("StopInstances", instance_id, |i| {
            i.state = "stopping".to_owned();
        })
    }

    async fn terminate(&self, instance_id: &str) -> AwsResult<()> {
        self.change_instance("TerminateInstances", instance_id, |i| {
            i.state = "shutting-down".to_owned();
        })
    }

    async fn isolate(
        &self,
        instance_id: &str,
        security_group_id: &str,
        tags: &[(String, String)],
    ) -> AwsResult<()> {
        self.change_instance("ModifyInstanceAttribute", instance_id, |i| {
            i.security_group_ids = vec![security_group_id.to_owned()];
        })?;
        self.change_instance("CreateTags", instance_id, |i| {
            i.tags.extend(tags.iter().cloned());
        })
    }
}

/// Like EC2: every state, `terminated` included (EC2 shows those for about
/// an hour; the fake keeps them until a test removes them).
impl crate::ports::TaggedInstancesRead for FakeAws {
    async fn tagged_instances(&self, tag_keys: &[&str]) -> AwsResult<Vec<InstanceFacts>> {
        tokio::task::yield_now().await;
        let state = self.call("DescribeInstances")?;
        Ok(state
            .instances
            .values()
            .filter(|i| tag_keys.iter().any(|key| i.tags.contains_key(*key)))
            .cloned()
            .collect())
    }
}

/// The in-memory account, as read ports.
impl crate::ports::ReadPorts for FakeAws {
    type Instances = Self;
    type Images = Self;
    type Groups = Self;
    type Metrics = Self;

    fn instances(&self) -> &Self {
        self
    }
    fn images(&self) -> &Self {
        self
    }
    fn groups(&self) -> &Self {
        self
    }
    fn metrics(&self) -> &Self {
        self
    }
}

/// The in-memory account: every port in one.
impl crate::ports::Ports for FakeAws {
    type Remediation = Self;
    type Alerts = Self;
    type Launchers = Self;
    type Findings = Self;

    fn launchers(&self) -> &Self {
        self
    }
    fn findings(&self) -> &Self {
        self
    }

    fn remediation(&self) -> &Self {
        self
    }
    fn alerts(&self) -> &Self {
        self
    }
}

pub use guard_core::fixtures::test_policy;

/// The checks `findings` name, in order: what a test of a decision or an
/// audit compares (`checks_of(&summary.violations)`).
pub fn checks_of(findings: &[crate::decision::Finding]) -> Vec<&'static str> {
    findings
        .iter()
        .map(|finding| finding.violation.check.as_str())
        .collect()
}
