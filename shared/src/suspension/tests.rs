use std::time::{Duration, SystemTime};

use pretty_assertions::assert_eq;

use super::*;
use crate::facts::{GroupFacts, GroupInstance};
use crate::fakes::FakeAws;
use crate::time::parse_rfc3339;

fn record() -> SuspensionRecord {
    SuspensionRecord {
        reason: "vcpus at 100% of budget".into(),
        trigger: "schedule".into(),
        time: "2026-11-26T10:00:00Z".into(),
        alarms: RecordedAlarms::default(),
        original_max_size: None,
        clamped_to: None,
    }
}

/// Half a minute after [`record`] was written.
fn soon() -> SystemTime {
    parse_rfc3339("2026-11-26T10:00:30Z").unwrap()
}

/// An hour after [`record`] was written.
fn later() -> SystemTime {
    soon() + Duration::from_secs(3600)
}

fn group(name: &str) -> GroupFacts {
    GroupFacts {
        name: name.into(),
        min_size: 1,
        max_size: 20,
        desired_capacity: 6,
        ..GroupFacts::default()
    }
}

fn suspended_by_guard(name: &str, record: &SuspensionRecord) -> GroupFacts {
    let mut g = group(name);
    g.suspended_processes = vec!["Launch".into()];
    g.tags
        .insert(SUSPENDED_TAG.into(), record.to_tag_value(name, None));
    g
}

fn fits(_: &GroupFacts) -> Result<(), String> {
    Ok(())
}

fn usage_too_high(_: &GroupFacts) -> Result<(), String> {
    Err("usage is not yet below the resume threshold".into())
}

#[test]
fn a_free_group_is_suspended_with_its_record() {
    assert_eq!(
        plan_suspend(&group("a"), record(), None),
        SuspendPlan::Suspend { record: record() }
    );
}

#[test]
fn a_clamp_never_goes_below_the_desired_capacity_or_the_instances() {
    let mut g = group("a");
    assert_eq!(clamp_floor(&g), Some(6));
    g.instances = (0..8)
        .map(|n| GroupInstance {
            instance_id: format!("i-{n}"),
            lifecycle_state: "InService".into(),
        })
        .collect();
    assert_eq!(clamp_floor(&g), Some(8));
    g.max_size = 8;
    assert_eq!(clamp_floor(&g), None, "nothing to clamp");
}

#[test]
fn a_group_suspended_by_the_guard_is_not_suspended_again() {
    assert_eq!(
        plan_suspend(&suspended_by_guard("a", &record()), record(), None),
        SuspendPlan::AlreadySuspended
    );
}

#[test]
fn a_foreign_launch_suspension_is_left_alone() {
    let mut g = group("a");
    g.suspended_processes = vec!["Launch".into(), "AZRebalance".into()];
    assert_eq!(
        plan_suspend(&g, record(), None),
        SuspendPlan::SuspendedByOthers
    );
    assert_eq!(
        plan_resume(&g, later(), &[], None, fits),
        ResumePlan::NotSuspendedByGuard
    );
}

#[test]
fn a_half_done_suspension_keeps_the_original_max_size() {
    let mut half = suspended_by_guard(
        "a",
        &SuspensionRecord {
            original_max_size: Some(30),
            clamped_to: Some(6),
            ..record()
        },
    );
    half.suspended_processes.clear();
    let SuspendPlan::Incomplete { record } = plan_suspend(&half, record(), None) else {
        panic!()
    };
    assert_eq!(
        (record.original_max_size, record.clamped_to),
        (Some(30), Some(6))
    );
}

#[test]
fn resume_waits_for_usage_and_for_the_triggering_alarm() {
    let by_alarm = SuspensionRecord {
        alarms: RecordedAlarms::named(["surge".to_owned()]),
        ..record()
    };
    let group = suspended_by_guard("a", &by_alarm);
    assert!(matches!(
        plan_resume(&group, later(), &[], None, usage_too_high),
        ResumePlan::Hold { .. }
    ));
    assert_eq!(
        plan_resume(&group, later(), &["surge".to_owned()], None, fits),
        ResumePlan::Hold {
            why: "alarm `surge` is still in ALARM".into()
        }
    );
    assert_eq!(
        plan_resume(&group, later(), &["other".to_owned()], None, fits),
        ResumePlan::Resume { record: by_alarm }
    );
}

#[test]
fn a_young_record_without_its_suspension_is_left_to_settle() {
    let mut applying = suspended_by_guard("a", &record());
    applying.suspended_processes.clear();
    assert!(matches!(
        plan_resume(&applying, soon(), &[], None, fits),
        ResumePlan::Hold { .. }
    ));
    // An old one is what a run that stopped half-way left: it is finished.
    assert!(matches!(
        plan_resume(&applying, later(), &[], None, fits),
        ResumePlan::Resume { .. }
    ));
}

#[test]
fn max_size_is_restored_only_while_it_has_the_value_the_guard_set() {
    let clamped = SuspensionRecord {
        original_max_size: Some(20),
        clamped_to: Some(6),
        ..record()
    };
    let mut g = group("a");
    g.max_size = 6;
    assert_eq!(clamped.restore(&g), Restore::To(20));
    g.max_size = 40;
    assert_eq!(
        clamped.restore(&g),
        Restore::Kept {
            current: 40,
            set_by_guard: Some(6)
        }
    );
    // A record of an earlier version names no clamp: only ever restored upwards.
    let legacy = SuspensionRecord {
        clamped_to: None,
        ..clamped
    };
    g.max_size = 6;
    assert_eq!(legacy.restore(&g), Restore::To(20));
    g.max_size = 40;
    assert!(matches!(legacy.restore(&g), Restore::Kept { .. }));
}

#[test]
fn a_long_reason_is_cut_to_fit_a_tag_value() {
    let long = SuspensionRecord {
        reason: "x".repeat(400),
        alarms: RecordedAlarms::named(["a".to_owned()]),
        original_max_size: Some(9),
        clamped_to: Some(3),
        ..record()
    };
    let value = long.to_tag_value("a", None);
    assert!(value.len() <= 256, "{}", value.len());
    let mut g = group("a");
    g.tags.insert(SUSPENDED_TAG.into(), value);
    let back = SuspensionRecord::of(&g, None).unwrap();
    assert_eq!(
        (back.alarms, back.original_max_size, back.clamped_to),
        (RecordedAlarms::named(["a".to_owned()]), Some(9), Some(3))
    );
}

#[tokio::test]
async fn suspend_tags_then_suspends_only_launch_then_records_and_makes_the_clamp() {
    let aws = FakeAws::new();
    aws.add_group(group("a"));
    let report = suspend_groups(
        &aws,
        &[group("a")],
        true,
        &record(),
        OnIncomplete::Complete,
        None,
    )
    .await;
    assert_eq!(report.changed, vec!["a".to_owned()]);
    assert_eq!(
        aws.group_changes(),
        vec![
            "CreateOrUpdateTags a",
            "SuspendProcesses a",
            "CreateOrUpdateTags a",
            "UpdateAutoScalingGroup a"
        ]
    );
    let after = aws.group_facts("a").unwrap();
    assert_eq!(after.suspended_processes, vec!["Launch".to_owned()]);
    assert_eq!(after.max_size, 6);
    let written = SuspensionRecord::of(&after, None).unwrap();
    assert_eq!(
        (written.original_max_size, written.clamped_to),
        (Some(20), Some(6))
    );
}

#[tokio::test]
async fn suspend_then_resume_restores_the_group_as_it_was() {
    let aws = FakeAws::new();
    aws.add_group(group("a"));
    suspend_groups(
        &aws,
        &[group("a")],
        true,
        &record(),
        OnIncomplete::Complete,
        None,
    )
    .await;
    let suspended = aws.group_facts("a").unwrap();
    let report = resume(&aws, &[suspended], later(), &[], None, fits).await;
    assert_eq!(report.changed, vec!["a".to_owned()]);
    assert_eq!(aws.group_facts("a").unwrap(), group("a"));
}

#[tokio::test]
async fn resume_never_touches_groups_the_guard_did_not_suspend() {
    let aws = FakeAws::new();
    let mut foreign = group("f");
    foreign.suspended_processes = vec!["Launch".into()];
    aws.add_group(foreign.clone());
    let report = resume(&aws, &[foreign, group("free")], later(), &[], None, fits).await;
    assert_eq!(report, SuspensionReport::default());
    assert_eq!(aws.group_changes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_failed_call_is_reported_per_group_and_the_others_proceed() {
    let aws = FakeAws::new();
    aws.add_group(group("a"));
    aws.add_group(group("b"));
    // The first group's read (the first call of all) fails.
    aws.fail_times("DescribeAutoScalingGroups", 1);
    let report = suspend_groups(
        &aws,
        &[group("a"), group("b")],
        false,
        &record(),
        OnIncomplete::Complete,
        None,
    )
    .await;
    assert_eq!(report.changed, vec!["b".to_owned()]);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, "a");
}

// ---------------------------------------------------------------------------
// Interleavings of launch-guard (suspending after a budget denial) and
// budget-guard (resuming), step by step
// ---------------------------------------------------------------------------

use crate::ports::GroupRead;

/// launch-guard: reads the group, then suspends it.
async fn launch_guard_suspends(aws: &FakeAws) {
    let group = aws.group("prod-a").await.unwrap().unwrap();
    suspend_groups(aws, &[group], false, &record(), OnIncomplete::Leave, None).await;
}

/// budget-guard: reads the group, then resumes it (usage allows, no alarm),
/// half a minute after the record it resumes was written.
async fn budget_guard_resumes(aws: &FakeAws) {
    let group = aws.group("prod-a").await.unwrap().unwrap();
    resume(aws, &[group], soon(), &[], None, fits).await;
}

fn assert_suspension_has_its_record(aws: &FakeAws, step: &str) {
    let group = aws.group_facts("prod-a").unwrap();
    let suspended = group.suspended_processes.iter().any(|p| p == "Launch");
    let recorded = group.tags.contains_key(SUSPENDED_TAG);
    assert_eq!(
        (suspended, recorded),
        (recorded, suspended),
        "at `{step}`: Launch suspended {suspended}, record {recorded}; calls {:?}",
        aws.group_changes()
    );
}

#[tokio::test]
async fn a_suspension_during_any_step_of_a_resume_keeps_its_record() {
    for step in ["ResumeProcesses", "DeleteTags"] {
        // Given a group the guard suspended, and budget-guard resuming it,
        let aws = FakeAws::new();
        aws.add_group(suspended_by_guard("prod-a", &record()));
        let gate = aws.pause_before(step);
        // when launch-guard suspends the group just before this step,
        let launch_guard = async {
            gate.reached().await;
            launch_guard_suspends(&aws).await;
            gate.release();
        };
        futures::join!(budget_guard_resumes(&aws), launch_guard);
        // then Launch is suspended with its record, or neither.
        assert_suspension_has_its_record(&aws, step);
    }
}

#[tokio::test]
async fn a_resume_during_any_step_of_a_suspension_keeps_its_record() {
    for step in ["CreateOrUpdateTags", "SuspendProcesses"] {
        let aws = FakeAws::new();
        aws.add_group(group("prod-a"));
        let gate = aws.pause_before(step);
        let budget_guard = async {
            gate.reached().await;
            budget_guard_resumes(&aws).await;
            gate.release();
        };
        futures::join!(launch_guard_suspends(&aws), budget_guard);
        assert_suspension_has_its_record(&aws, step);
    }
}

#[tokio::test]
async fn a_resume_before_the_clamp_leaves_nothing_clamped_nor_recorded() {
    // Given launch-guard has read the group and is suspending it with a clamp,
    let aws = FakeAws::new();
    aws.add_group(group("prod-a"));
    let read = aws.group("prod-a").await.unwrap().unwrap();
    // when budget-guard resumes it just before launch-guard reads it again
    // to compute the clamp,
    let gate = aws.pause_before("DescribeAutoScalingGroups");
    let (groups, record) = ([read], record());
    let launch_guard = suspend_groups(&aws, &groups, true, &record, OnIncomplete::Leave, None);
    let budget_guard = async {
        // (launch-guard reads the group right before its write and reads its
        // record back after it: the clamp's read is the third)
        let mut gate = gate;
        for _ in 0..2 {
            gate.reached().await;
            let next = aws.pause_before("DescribeAutoScalingGroups");
            gate.release();
            gate = next;
        }
        gate.reached().await;
        budget_guard_resumes(&aws).await;
        gate.release();
    };
    futures::join!(launch_guard, budget_guard);
    // then the group is as it was: no record, no suspension, no clamp.
    assert_suspension_has_its_record(&aws, "DescribeAutoScalingGroups");
    assert_eq!(aws.group_facts("prod-a").unwrap().max_size, 20);
}

mod record;
