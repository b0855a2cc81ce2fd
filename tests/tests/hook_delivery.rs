//! Launches delivered through an SQS queue (issue 20, scenario 5), end to
//! end: with `LaunchQueueArn` the template turns the EventBridge launch rule
//! off, so a hook that does not notify the queue reaches no guard. The real
//! `target/debug/budget-guard` enrolls a new group with the queue as the
//! hook's target (and puts the seeded groups' target-less hooks again), the
//! emulator delivers the group's launch to the queue (scripts/emulator
//! extension 12), and the real `target/debug/launch-guard`, invoked with the
//! SQS batch read from that queue, decides it.
//!
//! Build the binaries first: `cargo build -p launch-guard -p budget-guard`.

use aws_sdk_sqs::types::QueueAttributeName;
use scaling_guard_e2e::{CLUSTER, HOOK, events};
use serde_json::{Value, json};

mod support;

use support::{Bed, alert_groups, alert_list, sorted, strings};

/// The role Auto Scaling assumes to notify the queue (the template's
/// `HookNotificationRole`; the emulator does not assume it).
const ROLE: &str = "arn:aws:iam::123456789012:role/scaling-guard-hook-notification";
const TEST_NOTIFICATION: &str = "autoscaling:TEST_NOTIFICATION";

/// What only this file asks of the bed: the stack's launch queue.
impl Bed {
    /// Creates the launch queue: its URL and ARN.
    async fn launch_queue(&self) -> (String, String) {
        let sqs = &self.clients.sqs;
        let url = sqs
            .create_queue()
            .queue_name("scaling-guard-launches")
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .unwrap();
        (url, arn)
    }

    /// Every message now in the queue, its body, in order; deleted, as the
    /// event source mapping deletes a batch the function answered.
    async fn received(&self, url: &str) -> Vec<String> {
        let sqs = &self.clients.sqs;
        let mut bodies = Vec::new();
        loop {
            let output = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            if output.messages().is_empty() {
                return bodies;
            }
            for message in output.messages() {
                bodies.push(message.body().unwrap().to_owned());
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Where the guard's one hook on `group` notifies, and with which role.
    async fn hook_delivery(&self, group: &str) -> (Option<String>, Option<String>) {
        let hooks = self.cluster.lifecycle_hooks(group).await.unwrap();
        let [hook] = hooks.as_slice() else {
            panic!("one hook on {group}: {hooks:?}");
        };
        assert_eq!(hook.lifecycle_hook_name(), Some(HOOK));
        (
            hook.notification_target_arn().map(str::to_owned),
            hook.role_arn().map(str::to_owned),
        )
    }
}

fn parsed(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn with_sqs_delivery_a_new_group_is_enrolled_to_the_queue_and_its_launch_is_decided_from_it()
{
    // Given the stack's launch queue, the guard's policy in SQS mode, and a
    // new cluster group without the hook (the seeded groups carry hooks put
    // without a target, as in EventBridge mode)
    let bed = Bed::new().await;
    let (url, queue) = bed.launch_queue().await;
    let policy = bed.policy_with(&[
        ("GUARD_HOOK_NOTIFICATION_TARGET_ARN", &queue),
        ("GUARD_HOOK_NOTIFICATION_ROLE_ARN", ROLE),
    ]);
    let gpu = bed
        .cluster
        .add_node_group(CLUSTER, "gpu", false)
        .await
        .unwrap();
    let budget_guard = bed.budget_guard(&policy).await;

    // When budget-guard's schedule runs
    let summary = budget_guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();

    // Then the new group is enrolled and the seeded groups' hooks are put
    // again, every one notifying the queue with the role
    assert_eq!(summary["enrolled"], json!([gpu]), "{summary}");
    let seeded = sorted(&bed.cluster.groups);
    assert_eq!(strings(&summary["repaired"]), seeded, "{summary}");
    for group in seeded.iter().chain([&gpu]) {
        assert_eq!(
            bed.hook_delivery(group).await,
            (Some(queue.clone()), Some(ROLE.to_owned())),
            "{group}"
        );
    }
    let alerts = bed.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].attribute("kind"), Some("group_enrolled"));
    assert_eq!(
        alert_groups(&alerts[0]),
        sorted(&[seeded.clone(), vec![gpu.clone()]].concat())
    );
    assert_eq!(alert_list(&alerts[0], "repaired"), seeded);
    // Auto Scaling tested the queue once per hook put.
    let tests = bed.received(&url).await;
    assert_eq!(tests.len(), 4, "{tests:?}");
    assert!(
        tests
            .iter()
            .all(|body| parsed(body)["Event"] == TEST_NOTIFICATION),
        "{tests:?}"
    );

    // When the new group launches
    let waiting = bed.cluster.scale_to(&gpu, 1).await.unwrap();

    // Then the launch is delivered to the queue
    let [action] = waiting.as_slice() else {
        panic!("one launch waits: {waiting:?}");
    };
    assert_eq!(action.hook, HOOK);
    let delivered = bed.received(&url).await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let message = parsed(&delivered[0]);
    assert_eq!(message["LifecycleActionToken"], json!(action.token));
    assert_eq!(message["EC2InstanceId"], json!(action.instance_id));
    assert_eq!(message["AutoScalingGroupName"], json!(gpu));

    // When launch-guard is invoked with what the queue delivered (the test
    // messages in the same batch)
    let launch_guard = bed.launch_guard(&policy).await;
    let batch = events::sqs_batch(&[tests, delivered].concat()).unwrap();
    let response = launch_guard.invoke(&batch).await.unwrap();

    // Then the launch is decided by the guard: CONTINUE, not the heartbeat
    assert_eq!(response, json!({ "batchItemFailures": [] }));
    assert_eq!(
        bed.lifecycle_state(&action.instance_id).await.as_deref(),
        Some("InService")
    );
    let ended = bed.clients.control.ended_actions(Some(&gpu)).unwrap();
    let [ended] = ended.as_slice() else {
        panic!("one action ended: {ended:?}");
    };
    assert_eq!(ended.token, action.token);
    assert_eq!(ended.by, "CompleteLifecycleAction");
    assert_eq!(ended.result.as_deref(), Some("CONTINUE"));

    // And the next schedule finds every hook in place: no call, no alert.
    let summary = budget_guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();
    assert_eq!(summary["enrolled"], json!([]), "{summary}");
    assert_eq!(summary["repaired"], json!([]), "{summary}");
    assert_eq!(bed.received(&url).await, Vec::<String>::new());
    assert_eq!(bed.alerts().await, []);
}
