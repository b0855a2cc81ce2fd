//! The audit queue's SQS batches (issue 20, scenario 3): every EC2 state
//! change of the account reaches every stack, so a batch is read with one
//! `DescribeInstances` of its distinct instances, and another cluster's
//! instances cost nothing more.

use aws_lambda_events::sqs::SqsBatchResponse;
use pretty_assertions::assert_eq;

use super::*;

const BATCH: &str = include_str!("../../../../../events/audit-sqs-batch.json");

/// An SQS batch of the audit queue: `bodies` (EventBridge events, as the
/// rule delivers them) in the records of the sample, message ids `m-0`,
/// `m-1`, …
fn batch(bodies: &[String]) -> String {
    let sample: Value = serde_json::from_str(BATCH).unwrap();
    let template = sample["Records"][0].clone();
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(n, body)| {
            let mut record = template.clone();
            record["messageId"] = json!(format!("m-{n}"));
            record["body"] = json!(body);
            record
        })
        .collect();
    json!({ "Records": records }).to_string()
}

/// The state change of `id` entering `state`.
fn state_change(id: &str, state: &str) -> String {
    with(RUNNING, |e| {
        e["detail"]["instance-id"] = json!(id);
        e["detail"]["state"] = json!(state);
    })
}

async fn run_batch(policy: &Policy, aws: &FakeAws, batch: &str) -> SqsBatchResponse {
    let response = run(policy, aws, batch).await.unwrap();
    serde_json::from_value(response).unwrap()
}

/// The message ids the batch returns to the queue.
fn failed(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

/// `count` running instances of cluster `staging`, non-compliant, with ids
/// `i-0f00000000000000` + n.
fn staging_nodes(aws: &FakeAws, count: usize) -> Vec<String> {
    (0..count)
        .map(|n| {
            let mut node = outsider(&[("kubernetes.io/cluster/staging", "owned")]);
            node.instance_id = format!("i-0f{n:015x}");
            aws.add_instance(node.clone());
            node.instance_id
        })
        .collect()
}

#[tokio::test]
async fn a_batch_of_100_foreign_state_changes_costs_one_describe_instances_and_no_alert() {
    // Given: the harshest policy, and 50 nodes of another cluster each
    // going pending then running
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    let staging = staging_nodes(&aws, 50);
    let bodies: Vec<String> = ["pending", "running"]
        .iter()
        .flat_map(|state| staging.iter().map(|id| state_change(id, state)))
        .collect();
    assert_eq!(bodies.len(), 100);

    // When
    let response = run_batch(&policy, &aws, &batch(&bodies)).await;

    // Then: every message done, one read, nothing else
    assert_eq!(failed(&response), Vec::<&str>::new());
    assert_eq!(aws.calls("DescribeInstances"), 1);
    assert_eq!(aws.calls("DescribeLifecycleHooks"), 0);
    assert_eq!(aws.calls("DescribeImages"), 0);
    assert_eq!(aws.published(), Vec::new());
    assert_eq!(aws.mutations(), BTreeMap::new());
}

#[tokio::test]
async fn a_mixed_batch_audits_only_the_clusters_instances() {
    // Given: 30 foreign nodes and one node launched by hand into the
    // cluster (IMDSv1 on), all running
    let policy = policy(&[]);
    let aws = account();
    let mut bodies: Vec<String> = staging_nodes(&aws, 30)
        .iter()
        .map(|id| state_change(id, "running"))
        .collect();
    aws.add_instance(by_hand("running"));
    bodies.insert(10, state_change(BY_HAND, "running"));

    // When
    let response = run_batch(&policy, &aws, &batch(&bodies)).await;

    // Then: one read for the batch; the member alone is audited and reported
    assert_eq!(failed(&response), Vec::<&str>::new());
    assert_eq!(aws.calls("DescribeInstances"), 1);
    assert_eq!(kinds(&aws), vec![AlertKind::InstanceNonCompliant]);
    assert_eq!(
        aws.published()[0].instance_id.as_deref(),
        Some(BY_HAND),
        "{:?}",
        aws.published()
    );
    assert_eq!(aws.instance_changes(), Vec::<String>::new());
}

/// The sample batch's account: BY_HAND launched by hand (pending), LEGACY
/// launched by the hook-less group.
fn sample_account() -> FakeAws {
    let aws = account();
    aws.add_instance(by_hand("pending"));
    aws.add_instance(member(
        LEGACY,
        "running",
        &[(GROUP_NAME_TAG, "prod-legacy")],
    ));
    aws
}

#[tokio::test]
async fn the_sample_batch_does_what_its_events_do_one_by_one_with_fewer_reads() {
    // Given: terminate; the sample batch: BY_HAND pending, BY_HAND running,
    // LEGACY launched
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let sample: Value = serde_json::from_str(BATCH).unwrap();
    let bodies: Vec<String> = sample["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect();
    let alone = sample_account();
    for body in &bodies {
        run(&policy, &alone, body).await.unwrap();
    }

    // When
    let batched = sample_account();
    let response = run_batch(&policy, &batched, BATCH).await;

    // Then: the same changes and alerts (BY_HAND terminated at pending,
    // once: its running event reads it again, as it changed, and finds it
    // shutting down)
    assert_eq!(failed(&response), Vec::<&str>::new());
    assert_eq!(batched.instance_changes(), alone.instance_changes());
    assert!(
        batched
            .instance_changes()
            .contains(&format!("TerminateInstances {BY_HAND}")),
        "{:?}",
        batched.instance_changes()
    );
    assert_eq!(kinds(&batched), kinds(&alone));
    // The three events' reads are one, plus the second read of the changed
    // BY_HAND; the counts of the hour's remediations are the same.
    assert_eq!(
        batched.calls("DescribeInstances"),
        alone.calls("DescribeInstances") - 1
    );
}

#[tokio::test]
async fn a_batch_is_read_at_most_200_instances_a_call() {
    // EC2 takes at most 200 values in one filter.
    let (policy, aws) = (policy(&[]), account());
    let bodies: Vec<String> = staging_nodes(&aws, 250)
        .iter()
        .map(|id| state_change(id, "running"))
        .collect();

    let response = run_batch(&policy, &aws, &batch(&bodies)).await;

    assert_eq!(failed(&response), Vec::<&str>::new());
    assert_eq!(aws.calls("DescribeInstances"), 2);
    assert_eq!(aws.published(), Vec::new());
}

#[tokio::test]
async fn other_states_and_warm_pool_launches_in_a_batch_cost_no_read() {
    let (policy, aws) = (policy(&[]), account());
    let warm = with(LAUNCHED, |e| e["detail"]["Destination"] = json!("WarmPool"));
    let bodies = [state_change(BY_HAND, "stopping"), warm];

    let response = run_batch(&policy, &aws, &batch(&bodies)).await;

    assert_eq!(failed(&response), Vec::<&str>::new());
    assert_eq!(aws.calls("DescribeInstances"), 0);
}

#[tokio::test]
async fn malformed_messages_go_back_to_the_queue_and_their_neighbours_are_audited() {
    // Given: a body that is no JSON, one that is not an EventBridge event,
    // one that is not instance-audit's, one with a blank instance id, and a
    // node launched by hand into the cluster
    let policy = policy(&[]);
    let aws = account();
    aws.add_instance(by_hand("running"));
    let lifecycle = include_str!("../../../../../events/launch-lifecycle-action.json");
    let blank = state_change(" ", "running");
    let bodies = [
        "not json".to_owned(),
        "{\"hello\":\"world\"}".to_owned(),
        lifecycle.to_owned(),
        blank,
        state_change(BY_HAND, "running"),
    ];

    // When
    let response = run_batch(&policy, &aws, &batch(&bodies)).await;

    // Then: the four bad ones return (after maxReceiveCount they reach the
    // dead-letter queue, whose alarm pages); the good one is reported
    assert_eq!(failed(&response), vec!["m-0", "m-1", "m-2", "m-3"]);
    assert_eq!(kinds(&aws), vec![AlertKind::InstanceNonCompliant]);
    assert_eq!(aws.calls("DescribeInstances"), 1);
}

#[tokio::test]
async fn when_the_batch_cannot_be_read_its_messages_go_back_without_a_read_each() {
    // Given: EC2 refuses (throttling, an outage)
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    aws.add_instance(by_hand("running"));
    let mut bodies: Vec<String> = staging_nodes(&aws, 3)
        .iter()
        .map(|id| state_change(id, "running"))
        .collect();
    bodies.push(state_change(BY_HAND, "running"));
    bodies.push(state_change(BY_HAND, "stopping"));
    aws.fail("DescribeInstances");

    // When
    let response = run_batch(&policy, &aws, &batch(&bodies)).await;

    // Then: every message that needed the read returns for a retry; no
    // fallback read per instance drains the account's EC2 budget further
    assert_eq!(failed(&response), vec!["m-0", "m-1", "m-2", "m-3"]);
    assert_eq!(aws.calls("DescribeInstances"), 1);
    assert_eq!(aws.mutations(), BTreeMap::new());
    assert_eq!(aws.published(), Vec::new());
}

#[rstest]
#[case::records_not_a_list("{\"Records\": {}}", "`Records` is an object, not a list")]
#[case::no_records("{\"Records\": []}", "`Records` is empty")]
#[case::not_from_sqs(
    "{\"Records\": [{\"EventSource\": \"aws:sns\", \"Sns\": {}}]}",
    "Records[0] without eventSource `aws:sqs`"
)]
#[case::no_message_id(
    "{\"Records\": [{\"eventSource\": \"aws:sqs\", \"body\": \"{}\"}]}",
    "Records[0] has no messageId"
)]
#[tokio::test]
async fn an_envelope_that_is_no_sqs_batch_gets_a_clear_error(
    #[case] event: &str,
    #[case] message: &str,
) {
    let (policy, aws) = (policy(&[]), account());

    let err = run(&policy, &aws, event).await.unwrap_err();

    assert!(err.to_string().ends_with(message), "{err}");
    assert_eq!(
        lambda_runtime::Diagnostic::from(err).error_type,
        "MalformedEvent"
    );
    assert_eq!(aws.calls("DescribeInstances"), 0);
}
