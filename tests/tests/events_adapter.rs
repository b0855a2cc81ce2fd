//! The EventBridge adapter (`shared::aws::Events`) and the alert port that
//! composes it with SNS (`shared::aws::Notifier`), on the real SDK clients
//! against the emulator (issue 24, point 2): the default bus, a bus by ARN,
//! `none`, an entry the bus refuses, and an alert that is also an event
//! whatever the bus answers.

use std::time::{Duration, SystemTime};

use scaling_guard_e2e::decision_rule::DecisionRule;
use scaling_guard_e2e::{ACCOUNT, Emulator, FaultRule, REGION, sdk_config};
use shared::alerts::{Alert, AlertKind, Severity};
use shared::aws::{Events, Notifier, Sns};
use shared::events::{DecisionEvent, DetailType, EventBus};
use shared::policy::Policy;
use shared::ports::{AlertPublish, EventPublish};

const WAIT: Duration = Duration::from_secs(5);

fn alert(kind: AlertKind) -> Alert {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let policy = Policy::from_vars([
        ("GUARD_CLUSTER", "prod"),
        (
            "GUARD_ALERT_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:alerts",
        ),
    ])
    .unwrap();
    let mut alert = Alert::new(
        kind,
        Severity::Info,
        &policy,
        now,
        "launch of i-0abc let in",
    );
    alert.decision = "CONTINUE".into();
    alert.instance_id = Some("i-0abc".into());
    alert.group = Some("prod-general".into());
    alert
}

async fn events_on(emulator: &Emulator, bus: EventBus) -> Events {
    let config = sdk_config(emulator).await;
    Events::new(aws_sdk_eventbridge::Client::new(&config), bus)
}

#[tokio::test]
async fn an_event_on_the_default_bus_reaches_a_rule_with_its_source_and_detail_type() {
    let emulator = Emulator::start().unwrap();
    let rule = DecisionRule::create(&sdk_config(&emulator).await, "guard")
        .await
        .unwrap();
    let events = events_on(&emulator, EventBus::Default).await;

    events
        .put_event(&DecisionEvent::of(&alert(AlertKind::LaunchAllowed)))
        .await
        .unwrap();

    let received = rule
        .until(DetailType::LaunchDecision.as_str(), WAIT)
        .await
        .unwrap();
    assert_eq!(received.len(), 1, "{received:#?}");
    assert_eq!(received[0]["source"], "scaling-guard");
    assert_eq!(
        received[0]["detail-type"],
        "Scaling Guard Launch Decision v1"
    );
    assert_eq!(received[0]["detail"]["kind"], "launch_allowed");
    assert_eq!(received[0]["detail"]["instance_id"], "i-0abc");
}

#[tokio::test]
async fn a_bus_arn_names_the_bus_and_none_sends_nothing() {
    let emulator = Emulator::start().unwrap();
    let config = sdk_config(&emulator).await;
    aws_sdk_eventbridge::Client::new(&config)
        .create_event_bus()
        .name("guard-hub")
        .send()
        .await
        .unwrap();
    let hub = format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/guard-hub");
    let event = DecisionEvent::of(&alert(AlertKind::LaunchAllowed));

    events_on(&emulator, EventBus::Arn(hub.clone()))
        .await
        .put_event(&event)
        .await
        .unwrap();
    events_on(&emulator, EventBus::Off)
        .await
        .put_event(&event)
        .await
        .unwrap();

    let received = emulator.control().decision_events().unwrap();
    assert_eq!(received.len(), 1, "none sends nothing: {received:#?}");
    assert_eq!(received[0].bus, hub);
    assert_eq!(
        emulator
            .control()
            .requests(Some("PutEvents"))
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_entry_the_bus_refuses_is_an_error_with_its_code() {
    let emulator = Emulator::start().unwrap();
    let events = events_on(&emulator, EventBus::Default).await;
    // A detail that is not JSON: PutEvents answers 200 with FailedEntryCount 1.
    let refused = DecisionEvent {
        detail_type: DetailType::GuardAlert,
        detail: "not json".into(),
    };

    let err = events.put_event(&refused).await.unwrap_err();

    assert_eq!(
        (err.operation, err.code.as_deref()),
        ("PutEvents", Some("MalformedDetail"))
    );
    // The emulator's schema check saw it too: stopping fails, naming it.
    let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(emulator)));
    assert!(
        stopped.is_err(),
        "an invalid event fails the test that sent it"
    );
}

#[tokio::test]
async fn an_alert_goes_to_the_topic_and_as_an_event_whatever_the_bus_answers() {
    let emulator = Emulator::start().unwrap();
    let config = sdk_config(&emulator).await;
    let sns = aws_sdk_sns::Client::new(&config);
    let topic = sns
        .create_topic()
        .name("alerts")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let rule = DecisionRule::create(&config, "guard").await.unwrap();
    let notifier = Notifier::new(
        Sns::new(sns.clone(), &topic),
        events_on(&emulator, EventBus::Default).await,
    );

    // An alert: on the topic and on the bus
    notifier
        .publish(&alert(AlertKind::ScaleOutResumed))
        .await
        .unwrap();
    let received = rule
        .until(DetailType::ScaleOutResumed.as_str(), WAIT)
        .await
        .unwrap();
    assert_eq!(received.len(), 1, "{received:#?}");
    assert_eq!(received[0]["detail"]["kind"], "scale_out_resumed");

    // The bus failing: the alert is still published, and publish succeeds
    emulator
        .control()
        .set_faults(&[FaultRule::error("PutEvents").count(10)], 1)
        .unwrap();
    notifier
        .publish(&alert(AlertKind::GroupEnrolled))
        .await
        .unwrap();
    let published = emulator.control().requests(Some("Publish")).unwrap();
    assert_eq!(published.len(), 2, "{published:#?}");
}
