//! Identity changes and removal end to end (issue 21, scenarios 7 and 8):
//! the real `target/debug/stack-guard` against the emulator, Auto Scaling
//! throttled by the emulator's fault injection.
//!
//! - a delete at 50 groups, a third of Auto Scaling's calls throttled, leaves
//!   no guard hook (also on a group that lost the cluster tag), suspension or
//!   clamp;
//! - an update that changes the cluster tag releases the groups only the old
//!   tag marked; one that cannot finish fails (and a retry finishes).
//!
//! Build the binary first: `cargo build -p stack-guard`.

use std::time::{Duration, SystemTime};

use aws_sdk_autoscaling::types::Tag;
use scaling_guard_e2e::{CLUSTER, FaultRule, HOOK, RECORD_KEY};
use shared::suspension::{RecordKey, SuspensionRecord};

mod support;

use support::{Bed, SUSPENDED_TAG};

const DEFAULT_KEY: &str = "kubernetes.io/cluster/prod";
const EKS_KEY: &str = "eks:cluster-name";

fn asg_tag(group: &str, key: &str) -> Tag {
    Tag::builder()
        .resource_id(group)
        .resource_type("auto-scaling-group")
        .key(key)
        .build()
}

impl Bed {
    /// The guard's suspension with a clamp to 1, written as the functions
    /// write it (record, then `Launch`, then MaxSize), an hour old.
    async fn suspend_and_clamp(&self, group: &str) {
        let before = self.group(group).await.max_size;
        let mut record = SuspensionRecord::new(
            "vCPU usage at 100% of the budget".to_owned(),
            "schedule",
            SystemTime::now() - Duration::from_secs(3600),
            Vec::new(),
        );
        record.original_max_size = Some(before);
        record.clamped_to = Some(1);
        let value = record.to_tag_value(group, Some(&RecordKey::new(RECORD_KEY)));
        let tag = Tag::builder()
            .resource_id(group)
            .resource_type("auto-scaling-group")
            .key(SUSPENDED_TAG)
            .value(value)
            .propagate_at_launch(false)
            .build();
        self.clients
            .autoscaling
            .create_or_update_tags()
            .tags(tag)
            .send()
            .await
            .unwrap();
        self.cluster
            .suspend_processes(group, &["Launch"])
            .await
            .unwrap();
        self.cluster.set_max_size(group, 1).await.unwrap();
    }

    async fn hook_names(&self, group: &str) -> Vec<String> {
        let hooks = self.cluster.lifecycle_hooks(group).await.unwrap();
        hooks
            .iter()
            .filter_map(|h| h.lifecycle_hook_name().map(str::to_owned))
            .collect()
    }

    async fn untag(&self, group: &str, key: &str) {
        self.clients
            .autoscaling
            .delete_tags()
            .tags(asg_tag(group, key))
            .send()
            .await
            .unwrap();
    }

    /// Whether the guard left nothing on `group`: no hook of its name, no
    /// suspension, no record, MaxSize back to `max_size`.
    async fn assert_released(&self, group: &str, max_size: i32) {
        assert!(
            !self.hook_names(group).await.contains(&HOOK.to_owned()),
            "{group} keeps the hook"
        );
        self.assert_not_suspended(group).await;
        assert_eq!(self.group(group).await.max_size, max_size, "{group}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_at_50_groups_under_throttling_leaves_nothing_of_the_guard() {
    // Given: 50 hooked cluster groups (the 3 seeded and 47 more), every fifth
    // suspended and clamped by the guard, one whose cluster tags were removed
    let bed = Bed::new().await;
    let mut groups: Vec<String> = bed.cluster.groups.to_vec();
    for i in 0..47 {
        let name = bed
            .cluster
            .add_node_group(CLUSTER, &format!("ng{i:02}"), true)
            .await
            .unwrap();
        groups.push(name);
    }
    assert_eq!(groups.len(), 50);
    let mut max_sizes = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        max_sizes.push(bed.group(group).await.max_size);
        if i % 5 == 0 {
            bed.suspend_and_clamp(group).await;
        }
    }
    let lost = groups[1].clone();
    bed.untag(&lost, DEFAULT_KEY).await;
    bed.untag(&lost, EKS_KEY).await;
    let staging = bed.cluster.staging_group.clone();
    assert_eq!(bed.hook_names(&staging).await, [HOOK]);
    // Auto Scaling throttles a third of the calls.
    let control = &bed.clients.control;
    control
        .set_faults(
            &[FaultRule::throttle("*").service("autoscaling").share(0.33)],
            21,
        )
        .unwrap();

    // When: CloudFormation deletes the custom resource.
    let function = bed.stack_guard().await;
    let answer = bed
        .custom_resource(&function, "Delete", &bed.cluster.policy_env())
        .await;
    let faults = control.clear_faults().unwrap();

    // Then: SUCCESS, and nothing of the guard is left
    assert_eq!(
        answer.body["Status"], "SUCCESS",
        "{:?}",
        answer.body["Reason"]
    );
    assert_eq!(answer.body["Data"]["NotUndone"], "");
    assert!(faults.injected > 10, "the calls were throttled: {faults:?}");
    for (group, max_size) in groups.iter().zip(max_sizes) {
        bed.assert_released(group, max_size).await;
    }
    // another cluster's hook of the same name stays
    assert_eq!(bed.hook_names(&staging).await, [HOOK]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_cluster_tag_releases_the_old_ones_groups_and_a_cleanup_that_cannot_finish_fails() {
    // Given: the guard knew its groups by `eks:cluster-name` = `prod`; the
    // first group lost the default key, so only the old tag marks it; both
    // are suspended and clamped by the guard
    let bed = Bed::new().await;
    let [old_only, both] = [0, 1].map(|i| bed.cluster.groups[i].clone());
    let max_sizes = [
        bed.group(&old_only).await.max_size,
        bed.group(&both).await.max_size,
    ];
    bed.untag(&old_only, DEFAULT_KEY).await;
    bed.suspend_and_clamp(&old_only).await;
    bed.suspend_and_clamp(&both).await;
    let mut old = bed.cluster.policy_env();
    old.insert("GUARD_CLUSTER_TAG_KEY".into(), EKS_KEY.into());
    old.insert("GUARD_CLUSTER_TAG_VALUE".into(), CLUSTER.into());
    let mut new = bed.cluster.policy_env();
    new.insert("GUARD_CLUSTER_TAG_KEY".into(), DEFAULT_KEY.into());
    new.remove("GUARD_CLUSTER_TAG_VALUE");
    let function = bed.stack_guard().await;

    // When: the update runs while Auto Scaling refuses every resume
    let control = &bed.clients.control;
    control
        .set_faults(&[FaultRule::error("ResumeProcesses").status(500)], 21)
        .unwrap();
    let failed = bed.update_from(&function, &old, &new).await;
    control.clear_faults().unwrap();

    // Then: FAILED (CloudFormation rolls back), naming the leftover
    assert_eq!(failed.body["Status"], "FAILED", "{:?}", failed.body);
    assert_eq!(failed.body["Data"]["OldHooksRemoved"], old_only.as_str());
    assert!(
        failed.body["Data"]["NotUndone"]
            .as_str()
            .unwrap()
            .contains(&format!("the suspension of {old_only} may remain")),
        "{:?}",
        failed.body["Data"]
    );

    // When: the update is tried again
    let answer = bed.update_from(&function, &old, &new).await;

    // Then: the group only the old tag marked is released; the other stays guarded
    assert_eq!(
        answer.body["Status"], "SUCCESS",
        "{:?}",
        answer.body["Reason"]
    );
    assert_eq!(answer.body["Data"]["OldResumed"], old_only.as_str());
    assert_eq!(answer.body["Data"]["NotUndone"], "");
    bed.assert_released(&old_only, max_sizes[0]).await;
    assert_eq!(bed.hook_names(&both).await, [HOOK]);
    bed.assert_suspended_by_guard(&both).await;
    assert_eq!(bed.group(&both).await.max_size, 1);
    assert_ne!(max_sizes[1], 1);
}
