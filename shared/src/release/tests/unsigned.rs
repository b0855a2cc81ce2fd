//! A release without the record key (the CLI's, after the stack and its
//! secret are gone): a record it cannot verify may be anyone's who may tag.

use pretty_assertions::assert_eq;

use super::*;

/// What anyone who may tag a cluster group can write: a "clamp" that a
/// trusting release would undo by setting MaxSize to 5000.
const FORGED: &str = r#"{"reason":"x","trigger":"schedule","time":"2026-01-01T00:00:00Z","original_max_size":5000,"clamped_to":3}"#;

/// prod-a: `Launch` suspended (by someone else) and MaxSize 3, with the
/// forged record; also the guard's hook.
fn forged_account() -> FakeAws {
    let aws = FakeAws::new();
    let mut prod_a = group("prod-a", &[(CLUSTER_TAG, "owned"), (SUSPENDED_TAG, FORGED)]);
    prod_a.max_size = 3;
    prod_a.desired_capacity = 3;
    prod_a.suspended_processes = vec!["Launch".into()];
    aws.add_group(prod_a);
    aws.add_hook("prod-a", hook(HOOK));
    aws
}

async fn released(aws: &FakeAws, unsigned: UnsignedRecords) -> ReleaseReport {
    let scope = Scope {
        unsigned,
        ..scope()
    };
    let mut report = ReleaseReport::default();
    release(
        aws,
        &scope,
        now(),
        Instant::now() + Duration::from_secs(60),
        &mut report,
    )
    .await;
    report
}

fn state(aws: &FakeAws) -> (Vec<String>, i32) {
    let group = aws.group_facts("prod-a").unwrap();
    (group.suspended_processes, group.max_size)
}

#[tokio::test(start_paused = true)]
async fn without_the_key_a_record_is_listed_as_unverified_and_not_lifted() {
    let aws = forged_account();

    let report = released(&aws, UnsignedRecords::ListOnly).await;

    assert_eq!(state(&aws), (vec!["Launch".to_owned()], 3));
    assert_eq!(
        report.unverified,
        vec![Unverified {
            group: "prod-a".into(),
            record: FORGED.into()
        }]
    );
    assert!(report.resumed.is_empty() && report.max_size_restored.is_empty());
    assert!(!report.is_complete(), "an unverified record is left");
    assert!(
        report.leftovers.iter().any(|l| l.starts_with("prod-a: ")),
        "{:?}",
        report.leftovers
    );
    // The hook is the guard's by its name: removed all the same.
    assert_eq!(report.hooks_removed, vec!["prod-a"]);
    assert!(hook_names(&aws, "prod-a").await.is_empty());
}

#[tokio::test]
async fn without_the_key_a_survey_lists_the_record_and_lifts_nothing() {
    let aws = forged_account();
    let scope = Scope {
        unsigned: UnsignedRecords::ListOnly,
        ..scope()
    };

    let found = survey(&aws, &scope).await;

    assert!(found.suspensions.is_empty());
    assert_eq!(found.unverified.len(), 1);
    assert!(!found.is_clean());
}

#[tokio::test(start_paused = true)]
async fn trusting_unsigned_records_lifts_launch_and_only_advises_the_max_size() {
    let aws = forged_account();

    let report = released(&aws, UnsignedRecords::LiftLaunchOnly).await;

    assert_eq!(state(&aws), (Vec::<String>::new(), 3));
    assert!(
        !aws.group_facts("prod-a")
            .unwrap()
            .tags
            .contains_key(SUSPENDED_TAG)
    );
    assert_eq!(report.resumed, vec!["prod-a"]);
    assert!(report.max_size_restored.is_empty());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("prod-a") && n.contains("--max-size 5000")),
        "{:?}",
        report.notes
    );
    assert!(report.is_complete(), "{:?}", report.leftovers);
}

#[tokio::test(start_paused = true)]
async fn with_the_key_the_setting_changes_nothing() {
    // A forged record with a key is not the guard's: someone else's Launch.
    let aws = forged_account();
    let scope = Scope {
        record_key: Some(RecordKey::new(&"k".repeat(32))),
        unsigned: UnsignedRecords::ListOnly,
        ..scope()
    };
    let mut report = ReleaseReport::default();

    release(
        &aws,
        &scope,
        now(),
        Instant::now() + Duration::from_secs(60),
        &mut report,
    )
    .await;

    assert_eq!(state(&aws), (vec!["Launch".to_owned()], 3));
    assert_eq!(report.left_suspended_by_others, vec!["prod-a"]);
    assert!(report.unverified.is_empty());
}
