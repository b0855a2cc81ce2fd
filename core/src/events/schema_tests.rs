//! The published schemas (`schemas/events/*.json`) against the code: one
//! file per detail-type, and every event the code can build valid against
//! its detail-type's schema.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;
use crate::alerts::{Alert, AlertKind, Severity};
use crate::checks::{CheckName, Violation};
use crate::decision::Finding;
use crate::fixtures::{now, strict_policy};

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/events")
}

fn schema(detail_type: DetailType) -> Value {
    let path = schemas_dir().join(format!("{}.json", detail_type.schema_name()));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path:?}: {err}"));
    serde_json::from_str(&text).unwrap()
}

/// `event` as EventBridge delivers it to a rule's target.
fn envelope(event: &DecisionEvent) -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": event.detail_type.as_str(),
        "source": SOURCE,
        "account": "123456789012",
        "time": "2026-09-21T14:13:20Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": serde_json::from_str::<Value>(&event.detail).unwrap(),
    })
}

/// Problems of `instance` under `schema`, as text.
fn problems(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::draft4::new(schema).unwrap();
    validator
        .iter_errors(instance)
        .map(|err| format!("{} at {}", err, err.instance_path()))
        .collect()
}

/// An alert of `kind` with every part filled: a violation, details, origin.
fn full_alert(kind: AlertKind) -> Alert {
    let mut alert = Alert::new(
        kind,
        Severity::Warning,
        &strict_policy(&[]),
        now(),
        "headline",
    );
    alert.decision = match DetailType::of(kind) {
        DetailType::LaunchDecision => "ABANDON".into(),
        _ => "suspend".into(),
    };
    alert.instance_id = Some("i-0abc".into());
    alert.group = Some("prod-general".into());
    alert.account = Some("123456789012".into());
    alert.region = Some("eu-west-1".into());
    alert.advice = "fix it".into();
    alert.violations = vec![Finding {
        violation: Violation::new(
            CheckName::InstanceTypeAllowed,
            "i-0abc",
            "m6i.*",
            "p5.48xlarge",
            "denied",
        ),
        blocking: true,
    }];
    alert.details.insert("usage".into(), json!({"vcpus": 4}));
    alert
}

#[test]
fn there_is_one_schema_file_per_detail_type_and_no_other() {
    let files: BTreeSet<String> = std::fs::read_dir(schemas_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    let expected: BTreeSet<String> = DetailType::ALL
        .iter()
        .map(|t| format!("{}.json", t.schema_name()))
        .collect();
    assert_eq!(files, expected);
}

#[test]
fn each_schema_names_the_source_and_detail_type_the_registry_files_it_under() {
    for detail_type in DetailType::ALL {
        let schema = schema(detail_type);
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
        assert_eq!(schema["x-amazon-events-source"], SOURCE);
        assert_eq!(schema["x-amazon-events-detail-type"], detail_type.as_str());
    }
}

#[test]
fn the_event_of_every_alert_kind_is_valid_against_its_schema() {
    for kind in AlertKind::ALL {
        for alert in [
            full_alert(kind),
            Alert::new(kind, Severity::Info, &strict_policy(&[]), now(), ""),
        ] {
            let mut alert = alert;
            if DetailType::of(kind) == DetailType::LaunchDecision {
                alert.decision = "CONTINUE".into();
            }
            let event = DecisionEvent::of(&alert);
            let found = problems(&schema(event.detail_type), &envelope(&event));
            assert!(found.is_empty(), "{kind:?}: {found:?}");
        }
    }
}

#[test]
fn a_schema_refuses_a_detail_of_another_kind_or_with_an_unknown_field() {
    let launch = schema(DetailType::LaunchDecision);
    let event = DecisionEvent::of(&full_alert(AlertKind::LaunchDenied));
    let mut other_kind = envelope(&event);
    other_kind["detail"]["kind"] = json!("scale_out_suspended");
    assert_eq!(problems(&launch, &other_kind).len(), 1, "{other_kind}");
    let mut unknown_field = envelope(&event);
    unknown_field["detail"]["surprise"] = json!(true);
    assert_eq!(problems(&launch, &unknown_field).len(), 1);
    // The catch-all refuses the kinds another detail-type names.
    let alert = schema(DetailType::GuardAlert);
    let mut named = envelope(&DecisionEvent::of(&full_alert(AlertKind::GuardError)));
    assert!(problems(&alert, &named).is_empty());
    named["detail"]["kind"] = json!("launch_denied");
    assert_eq!(problems(&alert, &named).len(), 1);
}
