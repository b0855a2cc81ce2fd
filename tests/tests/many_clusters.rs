//! Three clusters in one account, each with its own guard (issue 20,
//! scenario 6): `prod` and `staging` share the tag key `eks:cluster-name` (as
//! EKS managed node groups tag them), `prod-eu` has the default key. prod's
//! guard goes through a surge (suspension and clamp), a hand-launched
//! non-compliant node, an enrollment and its stack's removal; the emulator's journal, which names
//! the access key that signed each request and the groups and instances it
//! names, shows that prod's guard changed nothing of the other two, and their
//! own guards decided their launches inside their heartbeats meanwhile.
//!
//! Build the binaries first: `cargo build --workspace --bins`.

use std::collections::{BTreeMap, BTreeSet};

use scaling_guard_e2e::{CLUSTER, Function, HOOK, OTHER_CLUSTER, PendingAction, events};
use serde_json::Value;

mod support;

use support::{Bed, decide};

const EU: &str = "prod-eu";
const STAGING_HOOK: &str = "scaling-guard-staging";
const EU_HOOK: &str = "scaling-guard-prod-eu";
/// The access key prod's functions sign with: the journal's `caller`.
const PROD_KEY: &str = "prod-guard";
const HEARTBEAT_SECONDS: i32 = 300;

/// Every call that changes a group or an instance.
const MUTATING: &[&str] = &[
    "CompleteLifecycleAction",
    "SuspendProcesses",
    "ResumeProcesses",
    "UpdateAutoScalingGroup",
    "PutLifecycleHook",
    "DeleteLifecycleHook",
    "CreateOrUpdateTags",
    "DeleteTags",
    "CreateTags",
    "StopInstances",
    "TerminateInstances",
    "ModifyInstanceAttribute",
];

/// One cluster's guard: its three event-driven functions.
struct Guard {
    launch: Function,
    budget: Function,
    audit: Function,
}

impl Guard {
    async fn start(bed: &Bed, policy: &BTreeMap<String, String>) -> Self {
        Guard {
            launch: bed.launch_guard(policy).await,
            budget: bed.budget_guard(policy).await,
            audit: bed.instance_audit(policy).await,
        }
    }

    /// Decides `action` and checks that the guard completed it.
    async fn admits(&self, bed: &Bed, action: &PendingAction) {
        let summary = decide(&self.launch, action).await;
        assert_eq!(summary["decision"], "CONTINUE", "{summary}");
        assert_eq!(bed.pending(&action.instance_id), None, "{summary}");
    }
}

impl Bed {
    /// The fixture's policy for `cluster`, enforcing, remediating by
    /// termination, with `settings` on top.
    fn cluster_policy(&self, cluster: &str, settings: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut policy = self.policy_with(&[
            ("GUARD_CLUSTER", cluster),
            ("GUARD_MODE", "enforce"),
            ("GUARD_AUDIT_ACTION", "terminate"),
        ]);
        for (key, value) in settings {
            policy.insert((*key).to_owned(), (*value).to_owned());
        }
        policy
    }

    /// Replaces the seeded group's hook (the guards once shared one name)
    /// with `hook`, the name of its own cluster's guard.
    async fn rehook(&self, group: &str, hook: &str) {
        for old in self.cluster.lifecycle_hooks(group).await.unwrap() {
            self.clients
                .autoscaling
                .delete_lifecycle_hook()
                .auto_scaling_group_name(group)
                .lifecycle_hook_name(old.lifecycle_hook_name().unwrap_or_default())
                .send()
                .await
                .unwrap();
        }
        self.cluster
            .add_launch_hook(group, hook, HEARTBEAT_SECONDS, "ABANDON")
            .await
            .unwrap();
    }

    /// A node launched by hand into `cluster`, tagged the way that
    /// cluster's guard recognises its members.
    async fn hand_launched(&self, cluster: &str, extra_tag: Option<(&str, &str)>) -> String {
        let id = self
            .cluster
            .run_node(cluster, "m6i.large", None)
            .await
            .unwrap();
        if let Some((key, value)) = extra_tag {
            self.clients
                .ec2
                .create_tags()
                .resources(&id)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key(key)
                        .value(value)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
        id
    }

    /// Checks that the action ended by the guard's CONTINUE, inside the
    /// hook's heartbeat.
    fn assert_decided_in_time(&self, action: &PendingAction) {
        let ended = self
            .clients
            .control
            .ended_actions(Some(&action.group))
            .unwrap();
        let ended = ended
            .iter()
            .find(|e| e.token == action.token)
            .unwrap_or_else(|| panic!("{} ended: {ended:?}", action.instance_id));
        assert_eq!(ended.by, "CompleteLifecycleAction", "{ended:?}");
        assert_eq!(ended.result.as_deref(), Some("CONTINUE"), "{ended:?}");
        assert!(
            ended.seconds < f64::from(HEARTBEAT_SECONDS),
            "decided after {} s",
            ended.seconds
        );
    }
}

/// The ids of a group's instances now.
async fn instances_of(bed: &Bed, group: &str) -> BTreeSet<String> {
    bed.group(group).await.instances.into_keys().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_guards_in_one_account_each_act_on_their_own_cluster_alone() {
    // Given: prod's three groups, staging's and prod-eu's, each cluster with
    // its own guard and hook name.
    let bed = Bed::new().await;
    let prod_groups = bed.cluster.groups.clone();
    let staging_group = bed.cluster.staging_group.clone();
    bed.rehook(&staging_group, STAGING_HOOK).await;
    let eu_group = bed
        .cluster
        .add_node_group(EU, "general", false)
        .await
        .unwrap();
    bed.rehook(&eu_group, EU_HOOK).await;

    let staging_profile = bed.cluster.staging_profile_arn.clone();
    let mut prod_policy = bed.cluster_policy(
        CLUSTER,
        &[
            ("GUARD_CLUSTER_TAG_KEY", "eks:cluster-name"),
            ("GUARD_CLUSTER_TAG_VALUE", CLUSTER),
            ("GUARD_HOOK_NAME", HOOK),
            ("GUARD_MAX_INSTANCES", "2"),
            ("GUARD_CLAMP_MAX_SIZE", "true"),
        ],
    );
    prod_policy.insert("AWS_ACCESS_KEY_ID".into(), PROD_KEY.into());
    let staging_policy = bed.cluster_policy(
        OTHER_CLUSTER,
        &[
            ("GUARD_CLUSTER_TAG_KEY", "eks:cluster-name"),
            ("GUARD_CLUSTER_TAG_VALUE", OTHER_CLUSTER),
            ("GUARD_HOOK_NAME", STAGING_HOOK),
            ("GUARD_ALLOWED_INSTANCE_PROFILES", &staging_profile),
            ("AWS_ACCESS_KEY_ID", "staging-guard"),
        ],
    );
    let eu_policy = bed.cluster_policy(
        EU,
        &[
            ("GUARD_HOOK_NAME", EU_HOOK),
            ("GUARD_ALLOWED_INSTANCE_PROFILES", &staging_profile),
            ("AWS_ACCESS_KEY_ID", "prod-eu-guard"),
        ],
    );
    let prod = Guard::start(&bed, &prod_policy).await;
    let staging = Guard::start(&bed, &staging_policy).await;
    let eu = Guard::start(&bed, &eu_policy).await;
    bed.clients.control.clear_requests().unwrap();

    // When: a surge in prod. Two launches fit its budget of 2 instances, the
    // third is denied and prod's groups are suspended and clamped.
    let general = &prod_groups[0];
    let surge = bed.cluster.scale_to(general, 3).await.unwrap();
    assert_eq!(surge.len(), 3);
    let decisions: Vec<Value> = {
        let mut decisions = Vec::new();
        for action in &surge {
            decisions.push(decide(&prod.launch, action).await);
        }
        decisions
    };
    let verdicts: Vec<&str> = decisions
        .iter()
        .map(|d| d["decision"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        verdicts,
        ["CONTINUE", "CONTINUE", "ABANDON"],
        "{decisions:?}"
    );
    for group in &prod_groups {
        bed.assert_suspended_by_guard(group).await;
    }

    // ... while staging and prod-eu scale out, decided by their own guards
    // inside their heartbeats, and are neither suspended nor clamped.
    for (guard, group) in [(&staging, &staging_group), (&eu, &eu_group)] {
        let max_before = bed.group(group).await.max_size;
        for action in bed.cluster.scale_to(group, 2).await.unwrap() {
            guard.admits(&bed, &action).await;
            bed.assert_decided_in_time(&action);
        }
        bed.assert_not_suspended(group).await;
        assert_eq!(bed.group(group).await.max_size, max_before, "{group}");
    }

    // ... a node launched by hand into each cluster; prod's sweep terminates
    // its own alone.
    let prod_by_hand = bed
        .hand_launched(CLUSTER, Some(("eks:cluster-name", CLUSTER)))
        .await;
    let staging_by_hand = bed
        .hand_launched(OTHER_CLUSTER, Some(("eks:cluster-name", OTHER_CLUSTER)))
        .await;
    let eu_by_hand = bed.hand_launched(EU, None).await;
    let swept = prod
        .audit
        .invoke(&events::audit_sweep().unwrap())
        .await
        .unwrap();
    let state = bed.cluster.instance_state(&prod_by_hand).await.unwrap();
    assert!(
        matches!(state.as_deref(), Some("shutting-down" | "terminated")),
        "{state:?}: {swept}"
    );
    for id in [&staging_by_hand, &eu_by_hand] {
        assert_eq!(
            bed.cluster.instance_state(id).await.unwrap().as_deref(),
            Some("running"),
            "{id}: {swept}"
        );
    }

    // ... and new groups appear in each cluster: prod's budget-guard enrolls
    // its own alone.
    let prod_new = bed
        .cluster
        .add_node_group(CLUSTER, "new", false)
        .await
        .unwrap();
    let staging_new = bed
        .cluster
        .add_node_group(OTHER_CLUSTER, "gpu", false)
        .await
        .unwrap();
    let eu_new = bed.cluster.add_node_group(EU, "gpu", false).await.unwrap();
    let scheduled = prod
        .budget
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();
    assert_eq!(
        scheduled["enrolled"],
        serde_json::json!([prod_new]),
        "{scheduled}"
    );
    assert_eq!(
        scheduled["usage"]["instances"], 2,
        "prod's own: {scheduled}"
    );
    for group in [&staging_new, &eu_new] {
        assert!(
            bed.cluster.lifecycle_hooks(group).await.unwrap().is_empty(),
            "{group}"
        );
    }

    // ... and prod's stack is removed: stack-guard takes prod's hooks and
    // suspensions away, with prod's access key.
    let mut stack_env = BTreeMap::new();
    stack_env.insert("AWS_ACCESS_KEY_ID".to_owned(), PROD_KEY.to_owned());
    let stack_guard = Function::start(
        &Function::binary("stack-guard").unwrap(),
        &bed.endpoint(),
        &stack_env,
    )
    .await
    .unwrap();
    let mut removed_policy = prod_policy.clone();
    removed_policy.remove("AWS_ACCESS_KEY_ID");
    let removed = bed
        .custom_resource(&stack_guard, "Delete", &removed_policy)
        .await;
    assert_eq!(removed.body["Status"], "SUCCESS", "{:?}", removed.body);
    for group in prod_groups.iter().chain([&prod_new]) {
        bed.assert_not_suspended(group).await;
        assert!(
            bed.cluster.lifecycle_hooks(group).await.unwrap().is_empty(),
            "{group}"
        );
    }
    for (group, hook) in [(&staging_group, STAGING_HOOK), (&eu_group, EU_HOOK)] {
        let hooks = bed.cluster.lifecycle_hooks(group).await.unwrap();
        let names: Vec<_> = hooks
            .iter()
            .filter_map(|h| h.lifecycle_hook_name())
            .collect();
        assert_eq!(names, [hook], "{group}");
    }

    // Then: the journal shows prod's guard changed prod alone.
    let mut foreign: BTreeSet<String> = [&staging_group, &eu_group, &staging_new, &eu_new]
        .into_iter()
        .cloned()
        .collect();
    foreign.extend(instances_of(&bed, &staging_group).await);
    foreign.extend(instances_of(&bed, &eu_group).await);
    foreign.extend([staging_by_hand.clone(), eu_by_hand.clone()]);
    let journal = bed.clients.control.requests(None).unwrap();
    let by_prod: Vec<_> = journal
        .iter()
        .filter(|r| r.caller.as_deref() == Some(PROD_KEY))
        .filter(|r| MUTATING.contains(&r.operation.as_deref().unwrap_or_default()))
        .collect();
    let touched: BTreeSet<&String> = by_prod.iter().flat_map(|r| &r.targets).collect();
    assert!(
        touched.contains(general) && touched.contains(&prod_by_hand) && touched.contains(&prod_new),
        "prod's guard acted on prod: {touched:?}"
    );
    let operations: BTreeSet<&str> = by_prod
        .iter()
        .filter_map(|r| r.operation.as_deref())
        .collect();
    for expected in [
        "CompleteLifecycleAction",
        "SuspendProcesses",
        "UpdateAutoScalingGroup",
        "TerminateInstances",
        "PutLifecycleHook",
        "DeleteLifecycleHook",
        "ResumeProcesses",
    ] {
        assert!(
            operations.contains(expected),
            "{expected} in {operations:?}"
        );
    }
    let trespassed: Vec<_> = by_prod
        .iter()
        .filter(|r| r.targets.iter().any(|t| foreign.contains(t)))
        .collect();
    assert!(trespassed.is_empty(), "{trespassed:?}");
    // and every other guard's mutating calls stayed in its own group too
    for (key, group) in [
        ("staging-guard", &staging_group),
        ("prod-eu-guard", &eu_group),
    ] {
        let mut own = instances_of(&bed, group).await;
        own.insert(group.clone());
        let outside: Vec<_> = journal
            .iter()
            .filter(|r| r.caller.as_deref() == Some(key))
            .filter(|r| MUTATING.contains(&r.operation.as_deref().unwrap_or_default()))
            .filter(|r| r.targets.iter().any(|t| !own.contains(t)))
            .collect();
        assert!(outside.is_empty(), "{key}: {outside:?}");
    }
}

/// The launch rule `template.yaml` gives the stack of `cluster` (default hook
/// name), rendered by `scripts/template_tests/rule_pattern.py`.
fn launch_rule_pattern(cluster: &str) -> String {
    let root = scaling_guard_e2e::workspace_root();
    let output = std::process::Command::new(root.join(".venv/bin/python"))
        .arg(root.join("scripts/template_tests/rule_pattern.py"))
        .args([
            "LaunchGuardFunction",
            "LaunchLifecycleAction",
            &format!("ClusterName={cluster}"),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// Every message waiting in the queue, removed from it.
async fn drain(bed: &Bed, queue_url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let received = bed
            .clients
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let messages = received.messages();
        if messages.is_empty() {
            return bodies;
        }
        for message in messages {
            bodies.push(message.body().unwrap_or_default().to_owned());
            bed.clients
                .sqs
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_1000_launches_in_one_cluster_never_reaches_or_delays_another_clusters_guard() {
    // Given: prod and staging, each stack's launch rule as the template
    // renders it on the emulator's EventBridge, targeting a queue of its own.
    let bed = Bed::new().await;
    let staging_group = bed.cluster.staging_group.clone();
    bed.rehook(&staging_group, STAGING_HOOK).await;
    let config = bed.sdk_config().await;
    let eventbridge = aws_sdk_eventbridge::Client::new(&config);
    let mut queues = BTreeMap::new();
    for cluster in [CLUSTER, OTHER_CLUSTER] {
        let url = bed
            .clients
            .sqs
            .create_queue()
            .queue_name(format!("{cluster}-launches"))
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned();
        let rule = format!("{cluster}-launch-lifecycle-action");
        eventbridge
            .put_rule()
            .name(&rule)
            .event_pattern(launch_rule_pattern(cluster))
            .send()
            .await
            .unwrap();
        eventbridge
            .put_targets()
            .rule(&rule)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("launch-guard")
                    .arn(format!(
                        "arn:aws:sqs:{}:{}:{cluster}-launches",
                        scaling_guard_e2e::REGION,
                        scaling_guard_e2e::ACCOUNT
                    ))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        queues.insert(cluster, url);
    }
    let prod = bed.launch_guard(&bed.cluster.policy_env()).await;

    // When: staging launches 1,000 nodes and prod 3 in the middle of the
    // burst; Auto Scaling's events go to the default bus.
    let burst = bed.cluster.scale_to(&staging_group, 1000).await.unwrap();
    assert_eq!(burst.len(), 1000);
    let own = bed
        .cluster
        .scale_to(&bed.cluster.groups[0], 3)
        .await
        .unwrap();
    assert_eq!(own.len(), 3);
    let (before, after) = burst.split_at(500);
    let order: Vec<&PendingAction> = before.iter().chain(&own).chain(after).collect();
    for chunk in order.chunks(10) {
        let mut put = eventbridge.put_events();
        for action in chunk {
            let event = events::lifecycle_event(action).unwrap();
            put = put.entries(
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .source(event["source"].as_str().unwrap())
                    .detail_type(event["detail-type"].as_str().unwrap())
                    .detail(event["detail"].to_string())
                    .resources(event["resources"][0].as_str().unwrap())
                    .build(),
            );
        }
        let sent = put.send().await.unwrap();
        assert_eq!(sent.failed_entry_count(), 0, "{sent:?}");
    }

    // Then: prod's queue holds prod's three launches and nothing of
    // staging's, and prod's guard decides them at once, in one batch.
    let heard = drain(&bed, &queues[CLUSTER]).await;
    assert_eq!(heard.len(), 3, "{heard:?}");
    let batch = events::sqs_batch(&heard).unwrap();
    let answer = prod.invoke(&batch).await.unwrap();
    assert_eq!(
        answer["batchItemFailures"],
        serde_json::json!([]),
        "{answer}"
    );
    for action in &own {
        bed.assert_decided_in_time(action);
    }
    let logs = prod.logs();
    assert_eq!(logs.matches("\"launch decided\"").count(), 3, "{logs}");
    assert!(
        !logs.contains(&staging_group),
        "no event of staging reached prod: {logs}"
    );
    let waiting = bed
        .clients
        .sqs
        .get_queue_attributes()
        .queue_url(&queues[OTHER_CLUSTER])
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let waiting = waiting
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
        .cloned();
    assert_eq!(
        waiting.as_deref(),
        Some("1000"),
        "staging's queue heard its burst"
    );
}
