//! Reads what an audit needs through the read ports, with a bounded number
//! of calls: the cluster's instances once (all pages), each group's hooks
//! once, and the node facts of them all through the one gatherer
//! ([`crate::node_facts`]: each distinct image and subnet once, the volumes
//! [`VOLUMES_PER_CALL`] at a time and AWS's recommended images once, when
//! their checks are on); a few requests at a time.
//!
//! An instance of a group with the guard's hook that launch-guard has not
//! recorded is undecided only while its group may still hold its launch:
//! once the group reports the launch over ([`launch_is_over`]), it is
//! unvetted. That is how the first instances of a new EKS managed node
//! group, launched before enrollment put the hook on, are caught at once
//! rather than after the hook's heartbeat (or never, by the events). The
//! group is read *before* the instance whose record decides it, so that a
//! decision launch-guard records and then completes is never missed.

use std::collections::BTreeSet;
use std::time::SystemTime;

use super::InstanceAudit;
use crate::checks::membership::{Membership, auto_scaling_group};
use crate::facts::{GroupFacts, HookFacts, InstanceFacts};
use crate::lifecycle::launch_is_over;
use crate::node_facts::{
    ClusterNodeFacts, Fetched, distinct, fetch_each, gather_cluster_node_facts,
};
use crate::policy::Policy;
use crate::ports::{
    AwsResult, ClusterGroupsRead, ClusterInstancesRead, GroupRead, InstanceRead, NetworkImageRead,
    RecommendedImagesRead, VolumeRead,
};

pub use crate::node_facts::{CONCURRENCY, VOLUMES_PER_CALL};

/// Whether an instance is one the audit looks at: a cluster member in state
/// `pending` or `running`.
pub fn is_audited(policy: &Policy, instance: &InstanceFacts) -> bool {
    policy.cluster_tag.matches(&instance.tags) && instance.instance_state().is_live()
}

/// How the instance came into the cluster at `now`: reads its group's hooks
/// when it has a group.
pub async fn membership<G: ClusterGroupsRead>(
    policy: &Policy,
    groups: &G,
    instance: &InstanceFacts,
    now: SystemTime,
) -> AwsResult<Membership> {
    let hooks = match auto_scaling_group(instance) {
        Some(group) => groups.lifecycle_hooks(group).await?,
        None => Vec::new(),
    };
    Ok(Membership::of(policy, instance, &hooks, now))
}

/// How the instance an event names came into the cluster at `now`, with
/// the instance as last read. When launch-guard's decision looks open
/// (undecided) and the instance's group reports its launch over, the
/// instance is read again, after the group: without launch-guard's record
/// then, it is unvetted. An instance EC2 no longer knows stays undecided.
pub async fn event_membership<I, G>(
    policy: &Policy,
    instances: &I,
    groups: &G,
    instance: InstanceFacts,
    now: SystemTime,
) -> AwsResult<(InstanceFacts, Membership)>
where
    I: InstanceRead,
    G: ClusterGroupsRead + GroupRead,
{
    let Some(group) = auto_scaling_group(&instance).map(str::to_owned) else {
        let membership = Membership::of(policy, &instance, &[], now);
        return Ok((instance, membership));
    };
    let hooks = groups.lifecycle_hooks(&group).await?;
    let membership = Membership::of(policy, &instance, &hooks, now);
    if !membership.is_undecided() {
        return Ok((instance, membership));
    }
    let described = groups.group(&group).await?;
    if !described.is_some_and(|found| reports_launch_over(&found, &instance.instance_id)) {
        return Ok((instance, membership));
    }
    Ok(match instances.instance(&instance.instance_id).await? {
        Some(fresh) => {
            let settled = Membership::of(policy, &fresh, &hooks, now).launch_completed();
            (fresh, settled)
        }
        None => (instance, membership),
    })
}

/// Whether `group` lists the instance in a state past its launch.
fn reports_launch_over(group: &GroupFacts, instance_id: &str) -> bool {
    group
        .instances
        .iter()
        .any(|member| member.instance_id == instance_id && launch_is_over(&member.lifecycle_state))
}

/// The ids of the instances whose group reports their launch over.
fn launches_over(groups: &[GroupFacts]) -> BTreeSet<String> {
    groups
        .iter()
        .flat_map(|group| &group.instances)
        .filter(|member| launch_is_over(&member.lifecycle_state))
        .map(|member| member.instance_id.clone())
        .collect()
}

/// The cluster's instances whose group reports their launch over: read it
/// *before* listing the instances ([`ClusterRead::with_launches_over`]).
/// When the groups cannot be read, none: undecided instances then stay
/// undecided until the hook's heartbeat is over, never unvetted on a guess.
async fn read_launches_over<G: ClusterGroupsRead>(policy: &Policy, groups: &G) -> BTreeSet<String> {
    match groups.cluster_groups(&policy.cluster_tag).await {
        Ok(found) => launches_over(&found),
        Err(err) => {
            tracing::warn!(%err, "groups unread: undecided launches stay undecided");
            BTreeSet::new()
        }
    }
}

/// One cluster instance and its audit, or why it could not be audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audited {
    pub instance: InstanceFacts,
    pub audit: Result<InstanceAudit, String>,
}

/// The cluster's instances and everything their audits read, audited one at
/// a time by [`ClusterRead::audits`]: a sweep that consumes each audit
/// before the next holds one, not one per instance (at 10,000 non-compliant
/// nodes, the findings of every node would outweigh the instances).
#[derive(Debug)]
pub struct ClusterRead<'p> {
    policy: &'p Policy,
    listed: Vec<InstanceFacts>,
    read: Read,
    now: SystemTime,
}

impl ClusterRead<'_> {
    /// The read, knowing which launches the groups reported over
    /// ([`read_launches_over`], read before the instances were listed): an
    /// undecided instance among them is unvetted.
    #[must_use]
    fn with_launches_over(mut self, launches_over: BTreeSet<String>) -> Self {
        self.read.launches_over = launches_over;
        self
    }

    /// Each instance with its audit, in instance-id order, audited as it is
    /// taken.
    pub fn audits(self) -> impl Iterator<Item = Audited> {
        let Self {
            policy,
            listed,
            read,
            now,
        } = self;
        listed.into_iter().map(move |instance| {
            let audit = audit_one(policy, &instance, &read, now);
            Audited { instance, audit }
        })
    }
}

/// What the audit of every cluster instance reads: which launches the
/// cluster's groups report over (first), the instances, their groups' hooks,
/// images, subnets and volumes, and AWS's recommended images; nothing
/// audited yet.
pub async fn read_audit<'p, E, N, G>(
    policy: &'p Policy,
    instances: &E,
    images: &N,
    groups: &G,
    now: SystemTime,
) -> AwsResult<ClusterRead<'p>>
where
    E: ClusterInstancesRead + VolumeRead,
    N: NetworkImageRead + RecommendedImagesRead,
    G: ClusterGroupsRead,
{
    let launches_over = read_launches_over(policy, groups).await;
    let listed = instances.cluster_instances(&policy.cluster_tag).await?;
    let read = read_listed(policy, listed, instances, images, groups, now).await;
    Ok(read.with_launches_over(launches_over))
}

/// [`read_audit`] of instances already listed (`cluster_instances`): the
/// CLI lists them once for both its audit and its budget measurement.
pub async fn read_listed<'p, E, N, G>(
    policy: &'p Policy,
    mut listed: Vec<InstanceFacts>,
    instances: &E,
    images: &N,
    groups: &G,
    now: SystemTime,
) -> ClusterRead<'p>
where
    E: VolumeRead,
    N: NetworkImageRead + RecommendedImagesRead,
    G: ClusterGroupsRead,
{
    listed.retain(|instance| is_audited(policy, instance));
    // Unstable: no scratch copy of the list; equal ids are one instance.
    listed.sort_unstable_by(|a, b| a.instance_id.cmp(&b.instance_id));
    listed.dedup_by(|a, b| a.instance_id == b.instance_id);

    let group_names = distinct(listed.iter().filter_map(auto_scaling_group));
    let (hooks, nodes) = futures::join!(
        fetch_each(group_names, |group| async move {
            groups.lifecycle_hooks(&group).await
        }),
        gather_cluster_node_facts(policy, &listed, instances, images),
    );
    ClusterRead {
        policy,
        listed,
        read: Read {
            hooks,
            nodes,
            launches_over: BTreeSet::new(),
        },
        now,
    }
}

/// What the sweep read, shared by every instance's audit.
#[derive(Debug)]
struct Read {
    hooks: Fetched<Vec<HookFacts>>,
    nodes: ClusterNodeFacts,
    /// Instances whose group reported their launch over before they were
    /// listed ([`read_launches_over`]).
    launches_over: BTreeSet<String>,
}

fn audit_one(
    policy: &Policy,
    instance: &InstanceFacts,
    read: &Read,
    now: SystemTime,
) -> Result<InstanceAudit, String> {
    let no_hooks = Vec::new();
    let group_hooks = match auto_scaling_group(instance).map(|group| read.hooks.get(group)) {
        Some(Some(Err(err))) => return Err(err.to_string()),
        Some(Some(Ok(found))) => found,
        Some(None) | None => &no_hooks,
    };
    let facts = read.nodes.of(instance)?;
    let membership = Membership::of(policy, instance, group_hooks, now);
    let membership = if read.launches_over.contains(&instance.instance_id) {
        membership.launch_completed()
    } else {
        membership
    };
    Ok(InstanceAudit::of(policy, &facts, membership, now))
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::checks::CheckName;
    use crate::checks::membership::{GROUP_NAME_TAG, VETTED_TAG, Vetting};
    use crate::facts::{GroupInstance, HookFacts};
    use crate::fakes::FakeAws;
    use crate::fixtures::{CLUSTER_TAG, compliant_node, now, strict_policy};
    use crate::lifecycle::LAUNCHING;

    fn member(id: &str, group: Option<&str>) -> InstanceFacts {
        let mut instance = compliant_node().instance;
        instance.instance_id = id.into();
        instance.state = "running".into();
        instance.tags.insert(CLUSTER_TAG.into(), "owned".into());
        if let Some(group) = group {
            instance.tags.insert(GROUP_NAME_TAG.into(), group.into());
        }
        instance
    }

    fn cluster(size: usize) -> FakeAws {
        let aws = FakeAws::new();
        let node = compliant_node();
        aws.add_image(node.image.unwrap());
        aws.add_subnet(node.subnet.unwrap());
        aws.add_hook(
            "prod-a",
            HookFacts {
                name: "scaling-guard-prod".into(),
                transition: LAUNCHING.into(),
                ..HookFacts::default()
            },
        );
        for n in 0..size {
            let group = ["prod-a", "prod-b", "prod-c"][n % 3];
            aws.add_instance(member(&format!("i-{n:017x}"), Some(group)));
        }
        aws
    }

    /// Every cluster instance's audit, collected (the sweep and the CLI take
    /// them one at a time). Fails only when the instances cannot be listed; a
    /// group, image or subnet that cannot be read leaves the instances that
    /// need it unaudited (`Err` with the reason), the others are audited.
    /// Sorted by instance id.
    async fn audit_cluster<E, N, G>(
        policy: &Policy,
        instances: &E,
        images: &N,
        groups: &G,
        now: SystemTime,
    ) -> AwsResult<Vec<Audited>>
    where
        E: ClusterInstancesRead + VolumeRead,
        N: NetworkImageRead + RecommendedImagesRead,
        G: ClusterGroupsRead,
    {
        Ok(read_audit(policy, instances, images, groups, now)
            .await?
            .audits()
            .collect())
    }

    #[tokio::test]
    async fn a_large_cluster_is_read_with_one_call_per_group_image_and_subnet() {
        let (policy, aws) = (strict_policy(&[]), cluster(300));

        let audited = audit_cluster(&policy, &aws, &aws, &aws, now())
            .await
            .unwrap();

        assert_eq!(audited.len(), 300);
        assert_eq!(
            (
                aws.calls("DescribeInstances"),
                aws.calls("DescribeLifecycleHooks"),
                aws.calls("DescribeImages"),
                aws.calls("DescribeSubnets")
            ),
            (1, 3, 1, 1)
        );
        let unguarded = audited
            .iter()
            .filter(|a| {
                a.audit.as_ref().unwrap().checks() == vec![CheckName::MembershipUnguardedGroup]
            })
            .count();
        assert_eq!(unguarded, 200, "prod-b and prod-c lack the hook");
    }

    #[tokio::test]
    async fn other_clusters_and_stopped_instances_are_not_audited() {
        let (policy, aws) = (strict_policy(&[]), cluster(0));
        let mut other = member("i-0000000000000000a", None);
        other.tags.clear();
        other
            .tags
            .insert("kubernetes.io/cluster/staging".into(), "owned".into());
        aws.add_instance(other);
        let mut stopped = member("i-0000000000000000b", None);
        stopped.state = "stopped".into();
        aws.add_instance(stopped);

        let audited = audit_cluster(&policy, &aws, &aws, &aws, now())
            .await
            .unwrap();

        assert_eq!(audited, vec![]);
    }

    #[tokio::test]
    async fn an_unreadable_image_leaves_only_its_instances_unaudited() {
        let (policy, aws) = (strict_policy(&[]), cluster(2));
        aws.fail("DescribeImages");

        let audited = audit_cluster(&policy, &aws, &aws, &aws, now())
            .await
            .unwrap();

        assert_eq!(audited.len(), 2);
        assert_eq!(
            audited[0].audit,
            Err("`DescribeImages` failed: injected failure".to_owned())
        );
    }

    /// A cluster whose group `prod-a` carries the guard's hook and lists
    /// `members` (id, lifecycle state), each launched a minute ago (well
    /// within the hook's heartbeat) and not recorded by launch-guard.
    fn fresh_group(members: &[(&str, &str)]) -> FakeAws {
        let aws = cluster(0);
        let mut group = GroupFacts {
            name: "prod-a".into(),
            ..GroupFacts::default()
        };
        group.tags.insert(CLUSTER_TAG.into(), "owned".into());
        for (id, state) in members {
            let mut instance = member(id, Some("prod-a"));
            instance.launch_time = Some(now() - std::time::Duration::from_secs(60));
            aws.add_instance(instance);
            group.instances.push(GroupInstance {
                instance_id: (*id).into(),
                lifecycle_state: (*state).into(),
            });
        }
        aws.add_group(group);
        aws
    }

    fn vetting_of(audited: &[Audited]) -> Vec<(String, Membership)> {
        audited
            .iter()
            .map(|a| {
                let audit = a.audit.as_ref().unwrap();
                (a.instance.instance_id.clone(), audit.membership.clone())
            })
            .collect()
    }

    fn guarded(vetting: Vetting) -> Membership {
        Membership::GuardedGroup {
            group: "prod-a".into(),
            vetting,
        }
    }

    #[tokio::test]
    async fn the_sweep_finds_an_unrecorded_instance_its_group_let_in_unvetted_at_once() {
        // Launched before the hook was put on: in service, never recorded.
        let aws = fresh_group(&[
            ("i-0000000000000000a", "InService"),
            ("i-0000000000000000b", "Pending:Wait"),
        ]);
        let policy = strict_policy(&[]);

        let audited = audit_cluster(&policy, &aws, &aws, &aws, now())
            .await
            .unwrap();

        assert_eq!(
            vetting_of(&audited),
            vec![
                ("i-0000000000000000a".into(), guarded(Vetting::Unvetted)),
                ("i-0000000000000000b".into(), guarded(Vetting::Undecided)),
            ]
        );
        assert_eq!(aws.calls("DescribeAutoScalingGroups"), 1);
    }

    #[tokio::test]
    async fn when_the_groups_cannot_be_read_an_undecided_launch_stays_undecided() {
        let aws = fresh_group(&[("i-0000000000000000a", "InService")]);
        aws.fail("DescribeAutoScalingGroups");

        let audited = audit_cluster(&strict_policy(&[]), &aws, &aws, &aws, now())
            .await
            .unwrap();

        assert_eq!(
            vetting_of(&audited),
            vec![("i-0000000000000000a".into(), guarded(Vetting::Undecided))]
        );
    }

    #[tokio::test]
    async fn an_event_finds_an_unrecorded_instance_its_group_let_in_unvetted() {
        let aws = fresh_group(&[
            ("i-0000000000000000a", "InService"),
            ("i-0000000000000000b", "Pending:Wait"),
        ]);
        let policy = strict_policy(&[]);
        let read = |id: &str| aws.instance_facts(id).unwrap();

        let (_, over) = event_membership(&policy, &aws, &aws, read("i-0000000000000000a"), now())
            .await
            .unwrap();
        let (_, waiting) =
            event_membership(&policy, &aws, &aws, read("i-0000000000000000b"), now())
                .await
                .unwrap();

        assert_eq!(over, guarded(Vetting::Unvetted));
        assert_eq!(waiting, guarded(Vetting::Undecided));
    }

    #[tokio::test]
    async fn an_event_sees_the_record_launch_guard_wrote_before_letting_the_launch_go() {
        // Given the instance as the event first read it (no record), and
        // launch-guard recording it and completing its launch since.
        let aws = fresh_group(&[("i-0000000000000000a", "InService")]);
        let first_read = aws.instance_facts("i-0000000000000000a").unwrap();
        let mut recorded = first_read.clone();
        recorded
            .tags
            .insert(VETTED_TAG.into(), "2026-09-14T14:13:20Z".into());
        aws.add_instance(recorded.clone());

        let (instance, membership) =
            event_membership(&strict_policy(&[]), &aws, &aws, first_read, now())
                .await
                .unwrap();

        assert_eq!(membership, guarded(Vetting::Vetted));
        assert_eq!(instance, recorded, "the instance as read after its group");
    }

    #[tokio::test]
    async fn when_the_instances_cannot_be_listed_the_sweep_fails() {
        let (policy, aws) = (strict_policy(&[]), cluster(2));
        aws.fail("DescribeInstances");
        let err = audit_cluster(&policy, &aws, &aws, &aws, now())
            .await
            .unwrap_err();
        assert_eq!(err.operation, "DescribeInstances");
    }
}
