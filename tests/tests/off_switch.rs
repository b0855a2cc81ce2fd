//! Audit mode is the off switch (issue 21, scenario 6), end to end: the real
//! `target/debug/budget-guard` suspends and clamps in enforce mode; the same
//! guard switched to audit lifts, on its next scheduled run, every
//! suspension and clamp it made, its hooks stop abandoning, and one alert
//! says so; later runs change nothing. The real `target/debug/stack-guard`
//! does the same at once when an update switches `Mode` to audit.
//!
//! Build the binaries first: `cargo build -p budget-guard -p stack-guard`.

use std::collections::BTreeMap;

use scaling_guard_e2e::{Function, HOOK, events};
use serde_json::json;

mod support;

use support::{Bed, alert_list, of_kind, per_operation, sorted};

/// The operations that change a group or its hooks.
const GROUP_CHANGES: [&str; 5] = [
    "SuspendProcesses",
    "ResumeProcesses",
    "UpdateAutoScalingGroup",
    "PutLifecycleHook",
    "DeleteTags",
];

impl Bed {
    /// The guard's hook's DefaultResult on `group`.
    async fn hook_default(&self, group: &str) -> Option<String> {
        self.cluster
            .lifecycle_hooks(group)
            .await
            .unwrap()
            .iter()
            .find(|h| h.lifecycle_hook_name() == Some(HOOK))
            .and_then(|h| h.default_result().map(str::to_owned))
    }

    /// How many group-changing requests the emulator served since the last
    /// [`Bed::forget_requests`].
    fn group_changes(&self) -> BTreeMap<String, usize> {
        per_operation(&self.clients.control.requests(None).unwrap())
            .into_iter()
            .filter(|(op, _)| GROUP_CHANGES.contains(&op.as_str()))
            .collect()
    }

    fn forget_requests(&self) {
        self.clients.control.clear_requests().unwrap();
    }

    /// The cluster after an enforcing budget-guard run at 10 of 10
    /// instances: general (MaxSize 20, clamped to 10) and system suspended by
    /// the guard (and clamped to what it has), batch's `Launch` suspended by
    /// an operator. Returns the enforcing policy.
    async fn enforced(&self) -> BTreeMap<String, String> {
        let [general, system, batch] = [0, 1, 2].map(|i| self.cluster.groups[i].clone());
        self.clients
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&general)
            .max_size(20)
            .send()
            .await
            .unwrap();
        self.cluster.launch_in_service(&general, 10).await.unwrap();
        self.cluster
            .suspend_processes(&batch, &["Launch"])
            .await
            .unwrap();
        let mut policy = self.policy(None, None, Some(10));
        policy.insert("GUARD_CLAMP_MAX_SIZE".into(), "true".into());
        let enforcing = self.budget_guard(&policy).await;
        enforcing
            .invoke(&events::budget_schedule().unwrap())
            .await
            .unwrap();
        for group in [&general, &system] {
            self.assert_suspended_by_guard(group).await;
        }
        assert_eq!(self.group(&general).await.max_size, 10, "clamped");
        assert_eq!(
            self.hook_default(&general).await.as_deref(),
            Some("ABANDON")
        );
        self.alerts().await;
        self.paged().await;
        policy
    }

    /// What the enforcing guard made is gone, and only that: general's
    /// MaxSize is 20 again, system's what it was seeded with (`system_max`).
    async fn assert_handed_over(&self, system_max: i32) {
        let [general, system, batch] = [0, 1, 2].map(|i| self.cluster.groups[i].clone());
        for group in [&general, &system] {
            self.assert_not_suspended(group).await;
        }
        assert_eq!(self.group(&general).await.max_size, 20, "MaxSize restored");
        assert_eq!(self.group(&system).await.max_size, system_max, "restored");
        assert_eq!(
            self.group(&batch).await.suspended_processes,
            ["Launch"],
            "the operator's suspension stays"
        );
        for group in &self.cluster.groups {
            assert_eq!(
                self.hook_default(group).await.as_deref(),
                Some("CONTINUE"),
                "{group}"
            );
        }
        assert_eq!(
            self.hook_default(&self.cluster.staging_group)
                .await
                .as_deref(),
            Some("ABANDON"),
            "another cluster's hook is its guard's"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_audit_run_of_budget_guard_undoes_what_enforce_made_and_then_nothing() {
    let bed = Bed::new().await;
    let [general, system, _] = [0, 1, 2].map(|i| bed.cluster.groups[i].clone());
    let system_max = bed.group(&system).await.max_size;
    let mut policy = bed.enforced().await;

    // When the guard, switched to audit, runs on its schedule (usage still
    // at the budget: the hand-over waits for nothing).
    policy.insert("GUARD_MODE".into(), "audit".into());
    let auditing = bed.budget_guard(&policy).await;
    let schedule = events::budget_schedule().unwrap();
    let summary = auditing.invoke(&schedule).await.unwrap();

    // Then what it made is undone, in one run, and one alert says what.
    bed.assert_handed_over(system_max).await;
    assert_eq!(
        summary["handed_over"]["resumed"],
        json!(sorted(&[general.clone(), system.clone()])),
        "{summary}"
    );
    let received = bed.alerts().await;
    let handovers = of_kind(&received, "audit_handover");
    assert_eq!(handovers.len(), 1, "{received:?}");
    assert_eq!(received.len(), 1, "one alert: {received:?}");
    assert_eq!(
        alert_list(handovers[0], "resumed"),
        sorted(&[general.clone(), system.clone()])
    );
    assert_eq!(
        alert_list(handovers[0], "max_size_restored"),
        sorted(&[format!("{general}=20"), format!("{system}={system_max}")])
    );
    assert_eq!(
        alert_list(handovers[0], "hooks_continue"),
        sorted(&bed.cluster.groups)
    );

    let paged = bed.paged().await;
    assert_eq!(
        of_kind(&paged, "audit_handover").len(),
        1,
        "it pages: {paged:?}"
    );

    // And later runs, in this environment and a new one, change nothing and
    // alert nothing (usage below the suspend threshold: audit mode has
    // nothing else to report).
    bed.forget_requests();
    let nodes = bed.cluster.group_state(&general).await.unwrap().instances;
    for node in nodes.keys().take(3) {
        bed.cluster.terminate_in_group(node).await.unwrap();
    }
    auditing.invoke(&schedule).await.unwrap();
    bed.budget_guard(&policy)
        .await
        .invoke(&schedule)
        .await
        .unwrap();
    assert_eq!(bed.group_changes(), BTreeMap::new());
    bed.assert_no_alert("the hand-over is done").await;
    bed.assert_handed_over(system_max).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_update_to_audit_mode_undoes_what_enforce_made_at_once() {
    let bed = Bed::new().await;
    let system_max = bed.group(&bed.cluster.groups[1]).await.max_size;
    let enforcing = bed.enforced().await;
    // stack-guard gets the stack's environment (the template's Globals):
    // the alert topic.
    let topic = enforcing["GUARD_ALERT_TOPIC_ARN"].clone();
    let binary = Function::binary("stack-guard").unwrap();
    let function = Function::start(&binary, &bed.endpoint(), [("GUARD_ALERT_TOPIC_ARN", topic)])
        .await
        .expect("stack-guard starts");

    // When the stack is updated from enforce to audit.
    let mut auditing = enforcing.clone();
    auditing.insert("GUARD_MODE".into(), "audit".into());
    let answer = bed.update_from(&function, &enforcing, &auditing).await;

    // Then the update succeeds, what the guard made is undone at once, and
    // one alert says what.
    assert_eq!(answer.body["Status"], "SUCCESS", "{:?}", answer.body);
    assert_eq!(
        answer.body["Data"]["NotHandedOver"], "",
        "{:?}",
        answer.body
    );
    bed.assert_handed_over(system_max).await;
    let received = bed.alerts().await;
    assert_eq!(
        of_kind(&received, "audit_handover").len(),
        1,
        "{received:?}"
    );

    // And budget-guard's first audit run finds nothing left to undo.
    bed.forget_requests();
    bed.budget_guard(&auditing)
        .await
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();
    assert_eq!(bed.group_changes(), BTreeMap::new());
    assert_eq!(
        of_kind(&bed.alerts().await, "audit_handover"),
        Vec::<&_>::new()
    );
}
