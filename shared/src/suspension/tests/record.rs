//! The record itself (issue 21, scenarios 2 and 3): it fits a tag value
//! whatever its alarms, and a record the guard did not sign steers nothing.

use std::time::{Duration, SystemTime};

use pretty_assertions::assert_eq;

use super::super::*;
use crate::facts::GroupFacts;
use crate::fakes::FakeAws;
use crate::time::parse_rfc3339;

/// The stack's key, as the template generates it.
fn key() -> RecordKey {
    RecordKey::new("k3y-0f-the-stack-k3y-0f-the-stack-k3y-0f-the-stack")
}

fn later() -> SystemTime {
    parse_rfc3339("2026-11-26T11:00:00Z").unwrap()
}

fn group(name: &str) -> GroupFacts {
    GroupFacts {
        name: name.into(),
        min_size: 1,
        max_size: 4,
        desired_capacity: 4,
        ..GroupFacts::default()
    }
}

fn ten_long_alarms() -> Vec<String> {
    (0..10).map(|n| format!("{n}{}", "x".repeat(254))).collect()
}

#[test]
fn ten_alarms_with_255_character_names_fit_a_tag_value_and_each_still_holds_the_resume() {
    let record = SuspensionRecord::new(
        "alarm in ALARM".into(),
        "alarm",
        later() - Duration::from_secs(3600),
        ten_long_alarms(),
    );
    let value = record.to_tag_value("a", Some(&key()));
    assert!(
        value.chars().count() <= 256,
        "{} characters",
        value.chars().count()
    );
    let mut suspended = group("a");
    suspended.suspended_processes = vec!["Launch".into()];
    suspended.tags.insert(SUSPENDED_TAG.into(), value);
    for alarm in ten_long_alarms() {
        assert!(
            matches!(
                plan_resume(
                    &suspended,
                    later(),
                    std::slice::from_ref(&alarm),
                    Some(&key()),
                    |_| Ok(())
                ),
                ResumePlan::Hold { .. }
            ),
            "`{alarm}` does not hold the resume"
        );
    }
}

/// What someone who may only tag the group writes: a MaxSize of 5000.
const FORGED: &str = r#"{"reason":"x","trigger":"schedule","time":"2026-01-01T00:00:00Z","original_max_size":5000,"clamped_to":4}"#;

#[tokio::test]
async fn a_forged_record_neither_lifts_a_suspension_nor_sets_max_size() {
    // Given a group whose Launch someone else suspended, and a forged record,
    let aws = FakeAws::new();
    let mut forged = group("a");
    forged.suspended_processes = vec!["Launch".into()];
    forged.tags.insert(SUSPENDED_TAG.into(), FORGED.into());
    aws.add_group(forged.clone());
    // when the guard resumes what it suspended,
    let report = resume(&aws, &[forged], later(), &[], Some(&key()), |_| Ok(())).await;
    // then the group is as it was: Launch suspended, MaxSize 4.
    let after = aws.group_facts("a").unwrap();
    assert_eq!(
        (after.max_size, after.suspended_processes),
        (4, vec!["Launch".to_owned()]),
        "{report:?}"
    );
}

// ---------------------------------------------------------------------------
// Scenario 1: budget-guard's alarm run and launch-guard's batch, each from a
// read taken before the other wrote, in both orders
// ---------------------------------------------------------------------------

fn budget_denial() -> SuspensionRecord {
    SuspensionRecord::new(
        "launch of i-1 denied for budget".into(),
        "budget_denial",
        later(),
        Vec::new(),
    )
}

fn surge(alarm: &str) -> SuspensionRecord {
    SuspensionRecord::new(
        format!("alarm `{alarm}` in ALARM"),
        "alarm",
        later(),
        vec![alarm.to_owned()],
    )
}

fn free_group() -> GroupFacts {
    GroupFacts {
        max_size: 50,
        ..group("prod-a")
    }
}

#[tokio::test]
async fn stale_reads_in_either_order_keep_the_union_of_alarms_and_the_original_max_size() {
    for launch_guard_first in [true, false] {
        // Given both services read prod-a before either suspended it,
        let aws = FakeAws::new();
        aws.add_group(free_group());
        let stale = [free_group()];
        // when each suspends it from that read, one after the other,
        let (denial, alarm) = (budget_denial(), surge("surge-api"));
        let key = key();
        let key = Some(&key);
        let launch_guard = || suspend_groups(&aws, &stale, true, &denial, OnIncomplete::Leave, key);
        let budget_guard =
            || suspend_groups(&aws, &stale, true, &alarm, OnIncomplete::Complete, key);
        let first = match launch_guard_first {
            true => launch_guard().await,
            false => budget_guard().await,
        };
        let second = match launch_guard_first {
            true => budget_guard().await,
            false => launch_guard().await,
        };
        // then the record keeps the alarm and the MaxSize before the clamp,
        let after = aws.group_facts("prod-a").unwrap();
        let record = SuspensionRecord::of(&after, key).unwrap();
        let order = if launch_guard_first {
            "launch-guard first"
        } else {
            "budget-guard first"
        };
        assert_eq!(
            (record.original_max_size, record.clamped_to),
            (Some(50), Some(4)),
            "{order}: {}",
            after.tags[SUSPENDED_TAG]
        );
        assert!(
            matches!(
                plan_resume(
                    &after,
                    later() + Duration::from_secs(60),
                    &["surge-api".to_owned()],
                    key,
                    |_| Ok(())
                ),
                ResumePlan::Hold { .. }
            ),
            "{order}: the alarm no longer holds the resume: {}",
            after.tags[SUSPENDED_TAG]
        );
        // and the group was suspended (and alerted) once.
        assert_eq!(
            [first.changed.len(), second.changed.len()],
            [1, 0],
            "{order}"
        );
    }
}

#[test]
fn a_record_fits_a_tag_value_in_each_of_its_forms_and_keeps_what_it_must() {
    // Names while they fit; digests when they do not; "every surge alarm"
    // when even digests do not fit. The clamp is kept in every form.
    for (count, length) in [(2, 40), (6, 120), (10, 255), (40, 255)] {
        let alarms: Vec<String> = (0..count)
            .map(|n| format!("{n:02}{}", "y".repeat(length - 2)))
            .collect();
        let record = SuspensionRecord {
            original_max_size: Some(2_147_483_647),
            clamped_to: Some(2_147_483_646),
            ..SuspensionRecord::new("r".repeat(300), "budget_denial", later(), alarms.clone())
        };
        let value = record.to_tag_value(&"g".repeat(255), Some(&key()));
        assert!(value.chars().count() <= 256, "{count}×{length}: {value}");
        let mut g = group(&"g".repeat(255));
        g.tags.insert(SUSPENDED_TAG.into(), value);
        let back = SuspensionRecord::of(&g, Some(&key())).expect("signed by the guard");
        assert_eq!(back.original_max_size, Some(2_147_483_647));
        assert!(
            alarms.iter().all(|a| back.alarms.waits_for(a)),
            "{count}×{length}"
        );
    }
}

#[test]
fn short_alarm_names_are_kept_as_names_and_asked_by_name() {
    let record = SuspensionRecord::new(
        "alarm in ALARM".into(),
        "alarm",
        later(),
        vec!["surge-api".into()],
    );
    let mut g = group("a");
    g.tags
        .insert(SUSPENDED_TAG.into(), record.to_tag_value("a", Some(&key())));
    let back = SuspensionRecord::of(&g, Some(&key())).unwrap();
    assert_eq!(back.alarms.names().collect::<Vec<_>>(), vec!["surge-api"]);
    assert!(!back.alarms.needs_surge_alarms());
    assert_eq!(back, record);
}

#[tokio::test]
async fn a_record_the_guard_did_not_sign_is_reported_and_the_guard_writes_its_own_to_suspend() {
    let aws = FakeAws::new();
    let mut forged = group("a");
    forged.tags.insert(SUSPENDED_TAG.into(), FORGED.into());
    aws.add_group(forged.clone());
    // A record is not the guard's: unsigned, or signed by another key, or
    // signed for another group.
    assert!(matches!(
        SuspensionRecord::read(&forged, Some(&key())),
        OnGroup::NotTheGuards(NotTheGuards { why: "not signed" })
    ));
    let record = SuspensionRecord::new("x".into(), "schedule", later(), Vec::new());
    let other_key = RecordKey::new("another-stacks-key-another-stacks-key");
    for value in [
        record.to_tag_value("a", Some(&other_key)),
        record.to_tag_value("b", Some(&key())),
    ] {
        let mut copied = group("a");
        copied.tags.insert(SUSPENDED_TAG.into(), value);
        assert!(matches!(
            SuspensionRecord::read(&copied, Some(&key())),
            OnGroup::NotTheGuards(NotTheGuards {
                why: "its signature does not verify"
            })
        ));
    }
    // When the guard must suspend the group (its Launch runs), it writes its
    // own signed record, without the forged MaxSize.
    let denial = budget_denial();
    let report = suspend_groups(
        &aws,
        &[forged],
        true,
        &denial,
        OnIncomplete::Leave,
        Some(&key()),
    )
    .await;
    assert_eq!(report.changed, vec!["a".to_owned()]);
    let after = aws.group_facts("a").unwrap();
    let written = SuspensionRecord::of(&after, Some(&key())).expect("the guard's own record");
    assert_eq!(
        (written.original_max_size, written.clamped_to),
        (None, None)
    );
}

#[tokio::test]
async fn a_forged_record_on_a_group_with_a_running_launch_never_restores_its_max_size() {
    // Given a forged record naming a clamp the guard never made,
    let aws = FakeAws::new();
    let mut forged = group("a");
    forged.tags.insert(SUSPENDED_TAG.into(), FORGED.into());
    aws.add_group(forged.clone());
    // when the guard resumes,
    let report = resume(&aws, &[forged], later(), &[], Some(&key()), |_| Ok(())).await;
    // then MaxSize stays and the report says the record is not the guard's.
    assert_eq!(aws.group_facts("a").unwrap().max_size, 4);
    assert_eq!(aws.group_changes(), Vec::<String>::new());
    assert!(
        report.unchanged[0]
            .1
            .contains("is not the guard's (not signed)"),
        "{report:?}"
    );
}

#[test]
fn the_key_is_never_printed() {
    assert_eq!(format!("{:?}", key()), "RecordKey(<set, not shown>)");
}

#[tokio::test]
async fn two_alarm_runs_from_the_same_stale_read_keep_both_alarms_in_either_order() {
    for first in ["surge-api", "surge-queue"] {
        let second = if first == "surge-api" {
            "surge-queue"
        } else {
            "surge-api"
        };
        let aws = FakeAws::new();
        aws.add_group(free_group());
        let stale = [free_group()];
        let key = key();
        let key = Some(&key);
        for alarm in [first, second] {
            suspend_groups(
                &aws,
                &stale,
                false,
                &surge(alarm),
                OnIncomplete::Complete,
                key,
            )
            .await;
        }
        let after = aws.group_facts("prod-a").unwrap();
        let record = SuspensionRecord::of(&after, key).unwrap();
        for alarm in [first, second] {
            assert!(
                record.alarms.waits_for(alarm),
                "{first} first: `{alarm}` lost: {}",
                after.tags[SUSPENDED_TAG]
            );
        }
    }
}
