use pretty_assertions::assert_eq;

use super::*;
use crate::fakes::FakeAws;

fn record() -> SuspensionRecord {
    SuspensionRecord {
        reason: "vcpus at 100% of budget".into(),
        trigger: "schedule".into(),
        time: "2026-11-26T10:00:00Z".into(),
        alarms: vec![],
        original_max_size: None,
    }
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
    g.tags.insert(SUSPENDED_TAG.into(), record.to_tag_value());
    g
}

#[test]
fn a_free_group_is_suspended_with_its_record() {
    assert_eq!(
        plan_suspend(&group("a"), false, record()),
        SuspendPlan::Suspend {
            record: record(),
            clamp_to: None
        }
    );
}

#[test]
fn clamping_records_the_original_max_size() {
    let SuspendPlan::Suspend { record, clamp_to } = plan_suspend(&group("a"), true, record())
    else {
        panic!()
    };
    assert_eq!((clamp_to, record.original_max_size), (Some(6), Some(20)));
}

#[test]
fn a_group_suspended_by_the_guard_is_not_suspended_again() {
    assert_eq!(
        plan_suspend(&suspended_by_guard("a", &record()), true, record()),
        SuspendPlan::AlreadySuspended
    );
}

#[test]
fn a_foreign_launch_suspension_is_left_alone() {
    let mut g = group("a");
    g.suspended_processes = vec!["Launch".into(), "AZRebalance".into()];
    assert_eq!(
        plan_suspend(&g, false, record()),
        SuspendPlan::SuspendedByOthers
    );
    assert_eq!(plan_resume(&g, true, &[]), ResumePlan::NotSuspendedByGuard);
}

#[test]
fn a_half_done_suspension_is_completed_keeping_the_original_max_size() {
    let mut half = suspended_by_guard(
        "a",
        &SuspensionRecord {
            original_max_size: Some(30),
            ..record()
        },
    );
    half.suspended_processes.clear();
    let SuspendPlan::Suspend { record, .. } = plan_suspend(&half, true, record()) else {
        panic!()
    };
    assert_eq!(record.original_max_size, Some(30));
}

#[test]
fn resume_waits_for_usage_and_for_the_triggering_alarm() {
    let by_alarm = suspended_by_guard(
        "a",
        &SuspensionRecord {
            alarms: vec!["surge".into()],
            ..record()
        },
    );
    assert!(matches!(
        plan_resume(&by_alarm, false, &[]),
        ResumePlan::Hold { .. }
    ));
    assert_eq!(
        plan_resume(&by_alarm, true, &["surge".to_owned()]),
        ResumePlan::Hold {
            why: "alarm `surge` is still in ALARM".into()
        }
    );
    assert_eq!(
        plan_resume(&by_alarm, true, &["other".to_owned()]),
        ResumePlan::Resume {
            restore_max_size: None
        }
    );
}

#[test]
fn resume_restores_a_clamped_max_size() {
    let clamped = suspended_by_guard(
        "a",
        &SuspensionRecord {
            original_max_size: Some(20),
            ..record()
        },
    );
    assert_eq!(
        plan_resume(&clamped, true, &[]),
        ResumePlan::Resume {
            restore_max_size: Some(20)
        }
    );
}

#[test]
fn a_long_reason_is_cut_to_fit_a_tag_value() {
    let long = SuspensionRecord {
        reason: "x".repeat(400),
        alarms: vec!["a".into()],
        original_max_size: Some(9),
        ..record()
    };
    let value = long.to_tag_value();
    assert!(value.len() <= 256, "{}", value.len());
    let back: SuspensionRecord = serde_json::from_str(&value).unwrap();
    assert_eq!(
        (back.alarms, back.original_max_size),
        (vec!["a".to_owned()], Some(9))
    );
}

#[tokio::test]
async fn suspend_tags_then_suspends_only_launch_then_clamps() {
    let aws = FakeAws::new();
    aws.add_group(group("a"));
    let report = suspend(&aws, &[group("a")], true, &record()).await;
    assert_eq!(report.changed, vec!["a".to_owned()]);
    assert_eq!(
        aws.group_changes(),
        vec![
            "CreateOrUpdateTags a",
            "SuspendProcesses a",
            "UpdateAutoScalingGroup a"
        ]
    );
    let after = aws.group_facts("a").unwrap();
    assert_eq!(after.suspended_processes, vec!["Launch".to_owned()]);
    assert_eq!(after.max_size, 6);
    assert_eq!(
        SuspensionRecord::of(&after).unwrap().original_max_size,
        Some(20)
    );
}

#[tokio::test]
async fn suspend_then_resume_restores_the_group_as_it_was() {
    let aws = FakeAws::new();
    aws.add_group(group("a"));
    suspend(&aws, &[group("a")], true, &record()).await;
    let suspended = aws.group_facts("a").unwrap();
    let report = resume(&aws, &[suspended], true, &[]).await;
    assert_eq!(report.changed, vec!["a".to_owned()]);
    assert_eq!(aws.group_facts("a").unwrap(), group("a"));
}

#[tokio::test]
async fn resume_never_touches_groups_the_guard_did_not_suspend() {
    let aws = FakeAws::new();
    let mut foreign = group("f");
    foreign.suspended_processes = vec!["Launch".into()];
    aws.add_group(foreign.clone());
    let report = resume(&aws, &[foreign, group("free")], true, &[]).await;
    assert_eq!(report, SuspensionReport::default());
    assert_eq!(aws.group_changes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_failed_call_is_reported_per_group_and_the_others_proceed() {
    let aws = FakeAws::new();
    aws.add_group(group("b"));
    // "a" does not exist in the fake: its calls fail.
    let report = suspend(&aws, &[group("a"), group("b")], false, &record()).await;
    assert_eq!(report.changed, vec!["b".to_owned()]);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, "a");
}
