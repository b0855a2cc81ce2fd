//! The guard's suspension record on a real cluster (issue 21): one SQS batch
//! of budget denials keeps the original MaxSize for the resume and alerts
//! the surge once; a record someone forged by tagging the group steers
//! nothing. The real `target/debug/launch-guard` and `target/debug/budget-guard`
//! against the emulator; each test has its own.
//!
//! Build the binaries first: `cargo build -p launch-guard -p budget-guard`.

use std::collections::BTreeMap;

use aws_sdk_autoscaling::types::Tag;
use scaling_guard_e2e::{RECORD_KEY, events};
use serde_json::{Value, json};
use shared::facts::GroupFacts;
use shared::suspension::{RecordKey, SuspensionRecord};

mod support;

use support::{Bed, SUSPENDED_TAG, of_kind, sorted, strings};

#[tokio::test]
async fn one_sqs_batch_of_three_budget_denials_with_clamp_keeps_max_size_50_for_the_resume() {
    // Given four nodes in service in a group at MaxSize 50, an instance
    // budget of four, and ClampMaxSize,
    let bed = Bed::new().await;
    let general = bed.cluster.groups[0].clone();
    bed.cluster.launch_in_service(&general, 4).await.unwrap();
    bed.cluster.set_max_size(&general, 50).await.unwrap();
    let mut before = BTreeMap::new();
    for name in &bed.cluster.groups {
        before.insert(name.clone(), bed.group(name).await.max_size);
    }
    let mut policy = bed.policy(None, None, Some(4));
    policy.insert("GUARD_CLAMP_MAX_SIZE".to_owned(), "true".to_owned());
    bed.alerts().await;

    // when three more launches reach launch-guard in one SQS batch,
    let launches = bed.cluster.scale_to(&general, 7).await.unwrap();
    assert_eq!(launches.len(), 3);
    let bodies: Vec<String> = launches.iter().map(events::hook_message).collect();
    let guard = bed.launch_guard(&policy).await;
    let response = guard
        .invoke(&events::sqs_batch(&bodies).unwrap())
        .await
        .unwrap();
    assert_eq!(response, json!({ "batchItemFailures": [] }));
    drop(guard);

    // then every one is denied, the group is clamped once and its record
    // still knows MaxSize 50,
    let clamped = bed.group(&general).await;
    let key = RecordKey::new(RECORD_KEY);
    let facts = GroupFacts {
        name: general.clone(),
        tags: clamped.tags.clone(),
        ..GroupFacts::default()
    };
    let record = SuspensionRecord::of(&facts, Some(&key)).expect("the guard's signed record");
    assert_eq!(record.original_max_size, Some(50), "{:?}", clamped.tags);
    assert_eq!(record.clamped_to, Some(clamped.max_size));
    assert!(clamped.max_size < 50);
    // the surge is alerted once,
    let received = bed.alerts().await;
    assert_eq!(of_kind(&received, "launch_denied").len(), 3, "{received:?}");
    assert_eq!(
        of_kind(&received, "scale_out_suspended").len(),
        1,
        "{received:?}"
    );

    // and budget-guard's resume (the budget raised) restores MaxSize 50.
    policy.insert("GUARD_MAX_INSTANCES".to_owned(), "100".to_owned());
    let guard = bed.budget_guard(&policy).await;
    let summary = guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();
    assert_eq!(
        strings(&summary["resumed"]),
        sorted(&bed.cluster.groups),
        "{summary}"
    );
    for (name, max_size) in &before {
        let group = bed.group(name).await;
        assert_eq!(group.max_size, *max_size, "{name}");
        assert!(!group.tags.contains_key(SUSPENDED_TAG), "{name}");
    }
}

/// What someone who may only tag a group writes on it.
const FORGED: &str = r#"{"reason":"x","trigger":"schedule","time":"2026-01-01T00:00:00Z","original_max_size":5000,"clamped_to":3}"#;

#[tokio::test]
async fn a_forged_record_neither_sets_max_size_5000_nor_lifts_a_suspension_the_guard_did_not_make()
{
    // Given a group whose Launch someone else suspended, at MaxSize 3, with a
    // forged record naming MaxSize 5000,
    let bed = Bed::new().await;
    let general = bed.cluster.groups[0].clone();
    bed.cluster.set_max_size(&general, 3).await.unwrap();
    bed.cluster
        .suspend_processes(&general, &["Launch"])
        .await
        .unwrap();
    bed.clients
        .autoscaling
        .create_or_update_tags()
        .tags(
            Tag::builder()
                .resource_id(&general)
                .resource_type("auto-scaling-group")
                .key(SUSPENDED_TAG)
                .value(FORGED)
                .propagate_at_launch(false)
                .build(),
        )
        .send()
        .await
        .unwrap();

    // when budget-guard's schedule runs with usage far below every budget,
    let policy = bed.policy(None, None, Some(100));
    let guard = bed.budget_guard(&policy).await;
    let summary: Value = guard
        .invoke(&events::budget_schedule().unwrap())
        .await
        .unwrap();

    // then MaxSize stays 3, Launch stays suspended, and the run says why.
    let group = bed.group(&general).await;
    assert_eq!(group.max_size, 3);
    assert!(group.suspended_processes.iter().any(|p| p == "Launch"));
    assert!(
        !strings(&summary["resumed"]).contains(&general),
        "{summary}"
    );
    assert!(
        summary
            .to_string()
            .contains("is not the guard's (not signed)"),
        "{summary}"
    );
}
