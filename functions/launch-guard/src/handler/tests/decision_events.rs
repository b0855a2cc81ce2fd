//! Decision events (issue 24, point 2): every decided launch puts one event
//! on the bus after its completion, a clean CONTINUE too; a failed
//! `PutEvents` changes neither the decision nor the completion.

use pretty_assertions::assert_eq;
use shared::events::{DecisionEvent, DetailType};
use shared::fixtures::at;

use super::*;

/// The launch of `events/launch-lifecycle-action.json` as a `p5.48xlarge`:
/// a blocking `instance_type.allowed` violation.
fn denied_launch() -> FakeAws {
    let aws = aws();
    let mut instance = compliant_instance(INSTANCE);
    instance.instance_type = "p5.48xlarge".into();
    aws.add_instance(instance);
    aws
}

/// The event's detail, as a rule's target receives it.
fn detail(event: &DecisionEvent) -> Value {
    serde_json::from_str(&event.detail).unwrap()
}

#[tokio::test]
async fn a_clean_launch_sends_its_decision_event_after_the_completion() {
    // Given a compliant launch whose completion is held at the gate
    let (policy, aws) = (policy(&[]), aws());
    let gate = aws.pause_before("CompleteLifecycleAction");
    let guard = LaunchGuard::new(&policy, &aws).with_clock(now);
    let decide = guard.handle(serde_json::from_str(LAUNCH).unwrap(), lambda_deadline());
    // When it is decided
    let before_completion = async {
        gate.reached().await;
        let sent = aws.events_sent();
        gate.release();
        sent
    };
    let (response, before_completion) = futures::join!(decide, before_completion);
    // Then nothing was sent before the completion, and one event after it
    assert_eq!(summary_of(response.unwrap()).decision, Decision::Continue);
    assert_eq!(before_completion, vec![]);
    let sent = aws.events_sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].detail_type, DetailType::LaunchDecision);
    let detail = detail(&sent[0]);
    assert_eq!(*at(&detail, "kind"), "launch_allowed");
    assert_eq!(*at(&detail, "decision"), "CONTINUE");
    assert_eq!(*at(&detail, "instance_id"), INSTANCE);
    assert_eq!(*at(&detail, "group"), GROUP);
    assert_eq!(*at(&detail, "violations"), json!([]));
    assert_eq!(*at(&detail, "time"), NOW_RFC3339);
    // and still no alert
    assert_eq!(kinds(&aws), vec![]);
}

#[tokio::test]
async fn a_denied_launch_sends_one_decision_event_with_its_violations() {
    let (policy, aws) = (policy(&[]), denied_launch());
    let summary = run(&policy, &aws, LAUNCH).await.unwrap();
    assert_eq!(summary.decision, Decision::Abandon);
    assert_eq!(results(&aws), vec![LifecycleResult::Abandon]);
    // The alert is the event: one, not one from the alert and one more.
    let published = aws.published();
    assert_eq!(kinds(&aws), vec![AlertKind::LaunchDenied]);
    assert_eq!(aws.events_sent(), vec![DecisionEvent::of(&published[0])]);
    let detail = detail(&aws.events_sent()[0]);
    assert_eq!(*at(&detail, "kind"), "launch_denied");
    assert_eq!(*at(&detail, "decision"), "ABANDON");
    assert_eq!(*at(&detail, "violations/0/check"), "instance_type.allowed");
}

#[tokio::test]
async fn in_audit_mode_the_launch_that_would_be_denied_sends_its_event() {
    let (policy, aws) = (policy(&[("GUARD_MODE", "audit")]), denied_launch());
    let summary = run(&policy, &aws, LAUNCH).await.unwrap();
    assert_eq!(summary.decision, Decision::Continue);
    let sent = aws.events_sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].detail_type, DetailType::LaunchDecision);
    let detail = detail(&sent[0]);
    assert_eq!(*at(&detail, "kind"), "launch_violation_reported");
    assert_eq!(*at(&detail, "mode"), "audit");
    assert_eq!(*at(&detail, "violations/0/check"), "instance_type.allowed");
}

#[tokio::test]
async fn a_failed_put_events_changes_neither_the_decision_nor_the_completion() {
    let (policy, aws) = (policy(&[]), aws());
    aws.fail("PutEvents");
    let summary = run(&policy, &aws, LAUNCH).await.unwrap();
    assert_eq!(summary.decision, Decision::Continue);
    assert_eq!(results(&aws), vec![LifecycleResult::Continue]);
    assert_eq!(aws.calls("PutEvents"), 1);
    assert_eq!(aws.events_sent(), vec![]);
}

#[tokio::test]
async fn a_duplicate_of_a_decided_launch_sends_no_second_event() {
    let (policy, aws) = (policy(&[]), aws());
    run(&policy, &aws, LAUNCH).await.unwrap();
    let again = run(&policy, &aws, LAUNCH).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(aws.events_sent().len(), 1);
}
