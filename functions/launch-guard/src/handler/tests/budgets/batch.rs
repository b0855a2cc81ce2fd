//! The SQS batch (issue 13): one read of the batch's instances, the
//! decisions in order against one cluster read, one `CreateTags` of the
//! admissions, the completions at once; and what happens when the batch's
//! tag write fails.

use pretty_assertions::assert_eq;
use shared::facts::GroupInstance;

use super::*;

/// Launches `range` of the waiting instances as one SQS batch of hook messages.
fn batch_of(range: std::ops::Range<usize>) -> String {
    let template: Value = serde_json::from_str(SQS_BATCH).unwrap();
    let record = &template["Records"][0];
    let body = record["body"].as_str().unwrap();
    let records: Vec<Value> = range
        .map(|n| {
            let id = format!("i-new{n:04}");
            let mut message = record.clone();
            message["messageId"] = json!(format!("message-{n}"));
            message["body"] = json!(
                body.replace(INSTANCE, &id)
                    .replace(TOKEN, &format!("token-{id}"))
            );
            message
        })
        .collect();
    json!({ "Records": records }).to_string()
}

pub(super) async fn decide_batch(
    guard: &LaunchGuard<'_, FakeAws>,
    range: std::ops::Range<usize>,
) -> SqsBatchResponse {
    let event = serde_json::from_str(&batch_of(range)).unwrap();
    let response = guard.handle(event, lambda_deadline()).await.unwrap();
    batch_of_response(response)
}

/// `count` more launches wait in prod-general, begun after the snapshot
/// was read (it does not list them: their instances must be read).
fn launch_more(aws: &FakeAws, from: usize, count: usize) {
    let mut waiting = Vec::new();
    for n in from..from + count {
        let id = format!("i-new{n:04}");
        aws.add_instance(member(&id, "pending"));
        aws.open_action(&format!("token-{id}"));
        waiting.push(GroupInstance {
            instance_id: id,
            lifecycle_state: "Pending:Wait".into(),
        });
    }
    aws.update_group(GROUP, |g| g.instances.extend(waiting));
}

/// Every call but those the real adapters cache (images, subnets, instance
/// types; the fake does not cache them) and the decision events (issue 24:
/// one `PutEvents` per decision, after its completion, counted apart).
fn calls(aws: &FakeAws) -> usize {
    aws.mutations()
        .iter()
        .filter(|(op, _)| **op != "PutEvents")
        .map(|(_, n)| n)
        .sum::<usize>()
        + ["DescribeInstances", "DescribeAutoScalingGroups"]
            .iter()
            .map(|op| aws.calls(op))
            .sum::<usize>()
}

#[tokio::test]
async fn a_warm_batch_of_ten_makes_twelve_calls_one_read_one_tag_write_ten_completions() {
    let policy = policy(&[("GUARD_MAX_INSTANCES", "100")]);
    let aws = cluster(5, 1);
    let guard = LaunchGuard::new(&policy, &aws).with_clock(now);
    // Caches and snapshot warm.
    assert_eq!(decide_batch(&guard, 0..1).await, returned_messages(&[]));
    launch_more(&aws, 1, 10);
    let before = calls(&aws);
    let (reads, tags) = (aws.calls("DescribeInstances"), aws.calls("CreateTags"));
    let events = aws.calls("PutEvents");

    assert_eq!(decide_batch(&guard, 1..11).await, returned_messages(&[]));

    assert_eq!(launched(&aws, LifecycleResult::Continue), 11);
    assert_eq!(aws.calls("DescribeInstances") - reads, 1);
    assert_eq!(aws.calls("CreateTags") - tags, 1);
    assert_eq!(calls(&aws) - before, 12, "{:?}", aws.mutations());
    assert_eq!(
        aws.calls("PutEvents") - events,
        10,
        "one event per decision"
    );
    for n in 1..11 {
        let tags = aws.instance_facts(&format!("i-new{n:04}")).unwrap().tags;
        assert!(tags.contains_key(ADMITTED_TAG), "i-new{n:04}: {tags:?}");
        assert!(tags.contains_key(VETTED_TAG), "i-new{n:04}: {tags:?}");
    }
}

#[tokio::test]
async fn batches_decide_in_order_against_one_fresh_read_each_near_the_budget_and_hold_it() {
    // 20 instances allowed, 1 running; 25 launches wait, in batches of 10.
    let policy = policy(&[("GUARD_MAX_INSTANCES", "20")]);
    let aws = cluster(1, 25);
    let guard = LaunchGuard::new(&policy, &aws).with_clock(now);
    decide_batch(&guard, 0..1).await;
    // Two instances join outside any group after the snapshot was read.
    for id in ["i-byhand0001", "i-byhand0002"] {
        aws.add_instance(member(id, "running"));
    }
    let reads = aws.calls("DescribeAutoScalingGroups");

    for range in [1..11, 11..21, 21..25] {
        decide_batch(&guard, range).await;
    }

    // 1 running + 2 by hand + 17 admitted = 20: exactly the budget.
    assert_eq!(launched(&aws, LifecycleResult::Continue), 17);
    assert_eq!(launched(&aws, LifecycleResult::Abandon), 8);
    // The first batch stays on the snapshot (up to 12 of 20 by its count);
    // the second comes near the budget and reads the cluster once, the
    // third reads it once: 2. The second batch's 4 denials suspend
    // prod-general once, reading it before its record is written and after
    // (2), and each later denial, decided on the batch's one read, reads it
    // again and finds it suspended (3); the third batch's read shows it so.
    assert_eq!(aws.calls("DescribeAutoScalingGroups") - reads, 2 + 2 + 3);
}

#[tokio::test]
async fn a_failed_batch_tag_write_is_tried_per_instance_and_only_what_fails_again_falls_to_the_fail_mode()
 {
    let policy = policy(&[("GUARD_MAX_INSTANCES", "100")]);
    let aws = cluster(5, 1);
    let guard = LaunchGuard::new(&policy, &aws).with_clock(now);
    decide_batch(&guard, 0..1).await;
    launch_more(&aws, 1, 4);
    let tags = aws.calls("CreateTags");
    // The batch's write, then the first instance's own write fail.
    aws.fail_times("CreateTags", 2);

    let response = decide_batch(&guard, 1..5).await;

    assert_eq!(response, returned_messages(&[]));
    assert_eq!(aws.calls("CreateTags") - tags, 1 + 4);
    assert_eq!(launched(&aws, LifecycleResult::Continue), 1 + 3);
    assert_eq!(launched(&aws, LifecycleResult::Abandon), 1);
}

#[tokio::test]
async fn an_admission_whose_record_failed_and_was_abandoned_no_longer_counts() {
    // 3 instances allowed, 1 running.
    let policy = policy(&[("GUARD_MAX_INSTANCES", "3")]);
    let aws = cluster(1, 0);
    let guard = LaunchGuard::new(&policy, &aws).with_clock(now);
    launch_more(&aws, 0, 2);
    // The batch's write and each instance's own.
    aws.fail_times("CreateTags", 3);
    decide_batch(&guard, 0..2).await;
    assert_eq!(launched(&aws, LifecycleResult::Abandon), 2);

    // Two more: the abandoned two are not counted.
    launch_more(&aws, 2, 2);
    decide_batch(&guard, 2..4).await;
    assert_eq!(launched(&aws, LifecycleResult::Continue), 2);
}

/// The call-count goals at 10,000 instances: a warm budget decision (one
/// event at a time) costs 3 calls, 2 of them before its completion
/// (DescribeInstances of the launch, then CreateTags); a warm SQS batch of
/// 10 costs 12. Neither grows with the cluster.
#[tokio::test]
async fn at_ten_thousand_instances_warm_decisions_cost_what_they_cost_at_five() {
    for running in [5, 10_000] {
        let policy = policy(&[("GUARD_MAX_INSTANCES", "20000")]);
        let aws = cluster(running, 1);
        let guard = LaunchGuard::new(&policy, &aws).with_clock(now);
        decide_batch(&guard, 0..1).await;

        launch_more(&aws, 1, 10);
        let before = calls(&aws);
        let completions = aws.calls("CompleteLifecycleAction");
        decide_all(&guard, 1..11).await;
        let burst = calls(&aws) - before;
        let completed = aws.calls("CompleteLifecycleAction") - completions;
        assert_eq!(
            (burst, completed),
            (30, 10),
            "{running}: {:?}",
            aws.mutations()
        );

        launch_more(&aws, 11, 10);
        let before = calls(&aws);
        decide_batch(&guard, 11..21).await;
        assert_eq!(calls(&aws) - before, 12, "{running}: {:?}", aws.mutations());
        assert_eq!(launched(&aws, LifecycleResult::Continue), 21);
    }
}
