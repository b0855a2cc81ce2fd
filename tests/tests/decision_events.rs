//! Decision events end to end (issue 24, point 2): through the real
//! binaries, a rule on the default bus (`source: ["scaling-guard"]`) with an
//! SQS target receives a launch decision, a suspension and a resume, each
//! valid against its published schema. And the check every end-to-end test
//! gets when its emulator stops: an event its schema refuses fails the test.
//!
//! Build the binaries first: `cargo build -p launch-guard -p budget-guard`.

use std::time::Duration;

use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use scaling_guard_e2e::decision_rule::DecisionRule;
use scaling_guard_e2e::{Emulator, events, sdk_config};
use serde_json::{Value, json};

mod support;

use support::Bed;

const LAUNCH: &str = "Scaling Guard Launch Decision v1";
const SUSPENDED: &str = "Scaling Guard Scale-out Suspended v1";
const RESUMED: &str = "Scaling Guard Scale-out Resumed v1";
/// A surge alarm, named with the fixture policy's surge prefix.
const SURGE_ALARM: &str = "scaling-guard-surge-vcpus";
const WAIT: Duration = Duration::from_secs(5);

/// The delivered events' detail-types, in order.
fn detail_types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["detail-type"].as_str().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn a_rule_on_the_default_bus_receives_a_launch_decision_a_suspension_and_a_resume() {
    // Given launch-guard and budget-guard on the default bus, and a rule there
    let bed = Bed::guarded().await;
    let rule = DecisionRule::create(&bed.sdk_config().await, "guard-decisions")
        .await
        .unwrap();
    let budget = bed.budget_guard(&bed.policy(Some(100), None, None)).await;

    // When a compliant launch is decided
    let group = bed.cluster.groups[0].clone();
    let action = bed
        .cluster
        .launch_with(&group, &bed.cluster.templates.compliant)
        .await
        .unwrap();
    let summary = support::decide(bed.guard(), &action).await;
    assert_eq!(summary["decision"], "CONTINUE", "{summary}");

    // Then the rule's queue receives its decision, clean and all
    let received = rule.until(LAUNCH, WAIT).await.unwrap();
    assert_eq!(detail_types(&received), [LAUNCH], "{received:#?}");
    let launch = &received[0];
    assert_eq!(launch["source"], "scaling-guard");
    assert_eq!(launch["detail"]["kind"], "launch_allowed");
    assert_eq!(launch["detail"]["decision"], "CONTINUE");
    assert_eq!(launch["detail"]["instance_id"], json!(action.instance_id));
    assert_eq!(launch["detail"]["group"], json!(group));
    assert_eq!(launch["detail"]["violations"], json!([]));

    // When a surge alarm suspends scale-out, then its OK resumes it
    let alarm = events::renamed_alarm(events::budget_alarm().unwrap(), SURGE_ALARM).unwrap();
    let name = events::alarm_name(&alarm).unwrap();
    bed.alarm(&name, StateValue::Alarm).await;
    let summary = budget.invoke(&alarm).await.unwrap();
    assert_eq!(summary["action"], "suspend", "{summary}");
    let suspended = rule.until(SUSPENDED, WAIT).await.unwrap();
    bed.set_alarm(&name, StateValue::Ok).await;
    let ok = events::renamed_alarm(events::budget_alarm_ok().unwrap(), SURGE_ALARM).unwrap();
    let summary = budget.invoke(&ok).await.unwrap();
    assert_eq!(summary["action"], "resume", "{summary}");
    let resumed = rule.until(RESUMED, WAIT).await.unwrap();

    // Then the queue receives one suspension and one resume, of the cluster's groups
    assert_eq!(detail_types(&suspended), [SUSPENDED], "{suspended:#?}");
    assert_eq!(suspended[0]["detail"]["kind"], "scale_out_suspended");
    assert_eq!(suspended[0]["detail"]["decision"], "suspend");
    assert_eq!(detail_types(&resumed), [RESUMED], "{resumed:#?}");
    assert_eq!(resumed[0]["detail"]["kind"], "scale_out_resumed");
    // and the emulator found every one valid against its schema
    let checked = bed.clients.control.decision_events().unwrap();
    assert_eq!(checked.len(), 3, "{checked:#?}");
    assert!(
        checked.iter().all(|event| event.problems.is_empty()),
        "{checked:#?}"
    );
}

/// Puts one `scaling-guard` event with `detail` on the emulator's default bus.
async fn put(emulator: &Emulator, detail_type: &str, detail: &Value) {
    let client = aws_sdk_eventbridge::Client::new(&sdk_config(emulator).await);
    let entry = PutEventsRequestEntry::builder()
        .source("scaling-guard")
        .detail_type(detail_type)
        .detail(detail.to_string())
        .build();
    let answer = client.put_events().entries(entry).send().await.unwrap();
    assert_eq!(
        answer.failed_entry_count, 0,
        "EventBridge refuses no detail"
    );
}

/// Stops `emulator` as a test's end does; the failure it raises, if any.
fn stop(emulator: Emulator) -> Option<String> {
    let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(emulator)));
    stopped.err().map(|failure| {
        failure
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}

#[tokio::test]
async fn an_event_its_schema_refuses_fails_the_test_when_the_emulator_stops() {
    // Given an emulator that received a launch decision without its `mode`
    let emulator = Emulator::start().unwrap();
    put(
        &emulator,
        LAUNCH,
        &json!({ "version": 1, "kind": "launch_allowed" }),
    )
    .await;

    // When it stops, as every test's does
    let failure = stop(emulator).expect("the invalid event fails the test");

    // Then the failure names the event and what its schema found wrong
    assert!(
        failure.contains("events invalid against schemas/events"),
        "{failure}"
    );
    assert!(
        failure.contains("'mode' is a required property"),
        "{failure}"
    );
}

#[tokio::test]
async fn valid_events_and_other_sources_let_the_emulator_stop_quietly() {
    let emulator = Emulator::start().unwrap();
    let client = aws_sdk_eventbridge::Client::new(&sdk_config(&emulator).await);
    let other = PutEventsRequestEntry::builder()
        .source("acme.orders")
        .detail_type(LAUNCH)
        .detail("{\"anything\":true}")
        .build();
    client.put_events().entries(other).send().await.unwrap();
    assert_eq!(emulator.control().decision_events().unwrap(), []);
    assert_eq!(stop(emulator), None);
}
