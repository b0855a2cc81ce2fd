//! The stack's custom resource end to end (issue 11): the real
//! `target/debug/stack-guard` answers CloudFormation's requests by `PUT` to
//! the request's `ResponseURL`, here a local HTTP server standing in for the
//! pre-signed S3 URL. Create and Update validate the policy; Delete removes
//! the guard's hooks and lifts its suspensions on the seeded cluster's
//! groups, and nothing else.
//!
//! Build the binary first: `cargo build -p stack-guard`.

use std::time::{Duration, SystemTime};

use aws_sdk_autoscaling::types::Tag;
use scaling_guard_e2e::{CLUSTER, HOOK, RECORD_KEY, events};
use serde_json::json;
use shared::suspension::{RecordKey, SuspensionRecord};

mod support;

use support::{Bed, SUSPENDED_TAG};

impl Bed {
    /// The guard's suspension, written exactly as the functions write it:
    /// the record first, then `Launch`, then (with `clamp_to`) MaxSize.
    async fn suspend_as_the_guard(&self, group: &str, clamp_to: Option<i32>) {
        let before = self.group(group).await.max_size;
        // Older than the settling time: a finished suspension.
        let mut record = SuspensionRecord::new(
            "vCPU usage at 100% of the budget".to_owned(),
            "schedule",
            SystemTime::now() - Duration::from_secs(3600),
            Vec::new(),
        );
        if let Some(clamped) = clamp_to {
            record.original_max_size = Some(before);
            record.clamped_to = Some(clamped);
        }
        self.clients
            .autoscaling
            .create_or_update_tags()
            .tags(
                Tag::builder()
                    .resource_id(group)
                    .resource_type("auto-scaling-group")
                    .key(SUSPENDED_TAG)
                    .value(record.to_tag_value(group, Some(&RecordKey::new(RECORD_KEY))))
                    .propagate_at_launch(false)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        self.cluster
            .suspend_processes(group, &["Launch"])
            .await
            .unwrap();
        if let Some(clamped) = clamp_to {
            self.cluster.set_max_size(group, clamped).await.unwrap();
        }
    }

    async fn has_guard_hook(&self, group: &str) -> bool {
        self.cluster
            .lifecycle_hooks(group)
            .await
            .unwrap()
            .iter()
            .any(|h| h.lifecycle_hook_name() == Some(HOOK))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_update_answer_success_for_a_valid_policy_and_failed_with_every_problem() {
    let bed = Bed::new().await;
    let function = bed.stack_guard().await;
    let valid = bed.cluster.policy_env();

    // A valid policy: SUCCESS, the cluster's stable id.
    for kind in ["Create", "Update"] {
        let answer = bed.custom_resource(&function, kind, &valid).await;
        assert_eq!(
            answer.body["Status"], "SUCCESS",
            "{kind}: {:?}",
            answer.body
        );
        assert_eq!(answer.body["PhysicalResourceId"], "scaling-guard-prod");
        assert_eq!(answer.body["Data"]["Cluster"], "prod");
        assert_eq!(answer.body["Data"]["HookName"], HOOK);
        assert_eq!(answer.body["Data"]["Mode"], "enforce");
    }

    // An invalid policy: FAILED, every problem in the Reason.
    let mut invalid = valid.clone();
    invalid.insert("GUARD_MODE".to_owned(), "block".to_owned());
    invalid.insert("GUARD_RESUME_BELOW_PERCENT".to_owned(), "100".to_owned());
    invalid.insert("GUARD_MAX_VCPUS".to_owned(), "many".to_owned());
    let answer = bed.custom_resource(&function, "Create", &invalid).await;
    assert_eq!(answer.body["Status"], "FAILED", "{:?}", answer.body);
    let reason = answer.body["Reason"].as_str().unwrap();
    assert!(reason.starts_with("invalid policy ("), "{reason}");
    for named in [
        "GUARD_MODE",
        "GUARD_RESUME_BELOW_PERCENT",
        "GUARD_MAX_VCPUS",
    ] {
        assert!(reason.contains(named), "{named} in {reason}");
    }
    // Nothing on the cluster changed.
    for group in &bed.cluster.groups {
        assert!(bed.has_guard_hook(group).await, "{group} keeps its hook");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_guards_hooks_and_lifts_only_its_own_suspensions() {
    let bed = Bed::new().await;
    let [general, system, batch] = [0, 1, 2].map(|i| bed.cluster.groups[i].clone());
    let staging = bed.cluster.staging_group.clone();
    // Given: every group enrolled (the seeded cluster carries the guard's
    // hook); the guard suspended general (with a clamp of MaxSize 10 → 2) and
    // system; an operator suspended batch; the staging cluster's group
    // carries a guard suspension of its own guard.
    for group in [&general, &system, &batch, &staging] {
        assert!(bed.has_guard_hook(group).await, "{group} is enrolled");
    }
    assert_eq!(bed.group(&general).await.max_size, 10);
    bed.suspend_as_the_guard(&general, Some(2)).await;
    bed.suspend_as_the_guard(&system, None).await;
    bed.cluster
        .suspend_processes(&batch, &["Launch"])
        .await
        .unwrap();
    bed.suspend_as_the_guard(&staging, None).await;
    bed.assert_suspended_by_guard(&general).await;
    assert_eq!(bed.group(&general).await.max_size, 2);

    // When: CloudFormation deletes the custom resource.
    let function = bed.stack_guard().await;
    let answer = bed
        .custom_resource(&function, "Delete", &bed.cluster.policy_env())
        .await;

    // Then: SUCCESS, listing what was done.
    assert_eq!(answer.body["Status"], "SUCCESS", "{:?}", answer.body);
    assert_eq!(answer.body["PhysicalResourceId"], "scaling-guard-prod");
    let data = &answer.body["Data"];
    let listed = |key: &str| {
        let mut items: Vec<String> = data[key]
            .as_str()
            .unwrap()
            .split(", ")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        items.sort();
        items
    };
    let mut all = vec![general.clone(), system.clone(), batch.clone()];
    all.sort();
    let mut guarded = vec![general.clone(), system.clone()];
    guarded.sort();
    assert_eq!(data["Cluster"], "prod");
    assert_eq!(listed("HooksRemoved"), all);
    assert_eq!(listed("Resumed"), guarded);
    assert_eq!(listed("MaxSizeRestored"), [format!("{general}=10")]);
    assert_eq!(listed("LeftSuspendedByOthers"), [batch.as_str()]);
    assert_eq!(data["NotUndone"], "", "{:?}", answer.body["Reason"]);
    assert!(
        !answer.body["Reason"]
            .as_str()
            .unwrap()
            .contains("NOT UNDONE"),
        "{:?}",
        answer.body["Reason"]
    );

    // No guard hook, no guard suspension, no clamp on any cluster group.
    for group in [&general, &system, &batch] {
        assert!(
            !bed.has_guard_hook(group).await,
            "{group} has no guard hook"
        );
        assert!(
            !bed.group(group).await.tags.contains_key(SUSPENDED_TAG),
            "{group} has no suspension record"
        );
    }
    bed.assert_not_suspended(&general).await;
    bed.assert_not_suspended(&system).await;
    assert_eq!(
        bed.group(&general).await.max_size,
        10,
        "the clamp is lifted"
    );
    assert_eq!(bed.group(&system).await.max_size, 10);
    // The operator's suspension stays.
    assert_eq!(bed.group(&batch).await.suspended_processes, ["Launch"]);
    // Another cluster's group is never touched.
    assert!(bed.has_guard_hook(&staging).await, "staging keeps its hook");
    bed.assert_suspended_by_guard(&staging).await;

    // A repeated Delete (Lambda retrying) finds nothing left and succeeds.
    let again = bed
        .custom_resource(&function, "Delete", &bed.cluster.policy_env())
        .await;
    assert_eq!(again.body["Status"], "SUCCESS", "{:?}", again.body);
    assert_eq!(again.body["Data"]["HooksRemoved"], "");
    assert_eq!(again.body["Data"]["Resumed"], "");
    assert_eq!(again.body["Data"]["LeftSuspendedByOthers"], batch.as_str());
}

#[tokio::test]
async fn delete_removes_the_hook_budget_guard_enrolled() {
    let bed = Bed::new().await;
    // Given: a new cluster group without the hook, enrolled by budget-guard's schedule.
    let gpu = bed
        .cluster
        .add_node_group(CLUSTER, "gpu", false)
        .await
        .unwrap();
    assert!(
        !bed.has_guard_hook(&gpu).await,
        "{gpu} starts without the hook"
    );
    let budget_guard = bed.budget_guard(&bed.policy(Some(100), None, None)).await;
    let summary = budget_guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();
    assert_eq!(summary["enrolled"], json!([gpu]), "{summary}");
    assert!(bed.has_guard_hook(&gpu).await, "{gpu} is enrolled");

    // When: CloudFormation deletes the custom resource.
    let function = bed.stack_guard().await;
    let answer = bed
        .custom_resource(&function, "Delete", &bed.cluster.policy_env())
        .await;

    // Then: the enrolled hook is gone with the seeded ones.
    assert_eq!(answer.body["Status"], "SUCCESS", "{:?}", answer.body);
    let removed = answer.body["Data"]["HooksRemoved"].as_str().unwrap();
    assert!(removed.split(", ").any(|g| g == gpu), "{removed}");
    assert!(!bed.has_guard_hook(&gpu).await, "{gpu} has no guard hook");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_renames_the_hook_moves_it_on_the_clusters_groups_and_nowhere_else() {
    const NEW_HOOK: &str = "scaling-guard-prod-v2";
    let bed = Bed::new().await;
    let groups = bed.cluster.groups.clone();
    let staging = bed.cluster.staging_group.clone();
    // Given: the cluster's groups carry the guard's hook (heartbeat 300 s,
    // ABANDON, the cluster in its metadata), staging's group a hook of the
    // same name (its own guard's), and a new cluster group none
    let bare = bed
        .cluster
        .add_node_group(CLUSTER, "bare", false)
        .await
        .unwrap();
    let old = bed.cluster.policy_env();
    let mut new = old.clone();
    new.insert("GUARD_HOOK_NAME".to_owned(), NEW_HOOK.to_owned());
    let function = bed.stack_guard().await;
    bed.clients.control.clear_requests().unwrap();

    // When: CloudFormation updates the custom resource to the new hook name
    let answer = bed.update_from(&function, &old, &new).await;

    // Then: SUCCESS, every cluster group renamed
    assert_eq!(answer.body["Status"], "SUCCESS", "{:?}", answer.body);
    assert_eq!(answer.body["PhysicalResourceId"], "scaling-guard-prod");
    let data = &answer.body["Data"];
    assert_eq!(data["HookName"], NEW_HOOK);
    // the new hook has the old one's settings, the old one is gone
    for group in &groups {
        let hooks = bed.cluster.lifecycle_hooks(group).await.unwrap();
        let [hook] = hooks.as_slice() else {
            panic!("{group} carries one hook: {hooks:?}")
        };
        assert_eq!(hook.lifecycle_hook_name(), Some(NEW_HOOK));
        assert_eq!(
            hook.lifecycle_transition(),
            Some("autoscaling:EC2_INSTANCE_LAUNCHING")
        );
        assert_eq!(hook.heartbeat_timeout(), Some(300));
        assert_eq!(hook.default_result(), Some("ABANDON"));
        assert_eq!(hook.notification_metadata(), Some(r#"{"cluster":"prod"}"#));
    }
    // and the answer lists them
    let mut renamed: Vec<&str> = data["HooksRenamed"].as_str().unwrap().split(", ").collect();
    renamed.sort_unstable();
    let mut expected: Vec<&str> = groups.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(renamed, expected);
    assert_eq!(data["NotRenamed"], "", "{:?}", answer.body["Reason"]);
    // another cluster's group and a group without the hook are not touched
    let names = |hooks: Vec<aws_sdk_autoscaling::types::LifecycleHook>| {
        hooks
            .iter()
            .filter_map(|h| h.lifecycle_hook_name().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(bed.cluster.lifecycle_hooks(&staging).await.unwrap()),
        [HOOK]
    );
    assert!(names(bed.cluster.lifecycle_hooks(&bare).await.unwrap()).is_empty());
    let journal = bed.clients.control.requests(None).unwrap();
    let mutating: Vec<_> = journal
        .iter()
        .filter(|r| {
            r.operation
                .as_deref()
                .is_some_and(|op| !op.starts_with("Describe"))
        })
        .collect();
    assert_eq!(mutating.len(), 2 * groups.len(), "a put and a delete each");
    assert!(
        mutating
            .iter()
            .all(|r| r.targets.iter().all(|t| groups.contains(t))),
        "{mutating:?}"
    );
    // and a launch now waits on the new hook alone (the old one would hold
    // it until its heartbeat, with nothing to answer it)
    let action = bed.cluster.launch(&groups[0]).await.unwrap();
    assert_eq!(action.hook, NEW_HOOK);
}
