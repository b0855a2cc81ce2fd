//! Exceptions that expire: the terms' syntax, the policy's limits on them
//! and expiry at the decision's time. The clock is the fixtures' (
//! 2026-09-21T14:13:20Z).

use std::time::Duration;

use pretty_assertions::assert_eq;
use rstest::rstest;

use super::*;
use crate::fixtures::{ALERT_TOPIC, now};
use crate::policy::{Policy, PolicyError};

const HOP_LIMIT_EXCEPTION: &str =
    "imds.hop_limit@prod-ebs-csi-* until=2027-03-01 reason=PLAT-123 ebs csi needs hop 2";

/// The policy with `extra` settings, read on the fixtures' day.
fn policy(extra: &[(&str, &str)]) -> Result<Policy, PolicyError> {
    let base = [
        ("GUARD_CLUSTER", "prod"),
        ("GUARD_ALERT_TOPIC_ARN", ALERT_TOPIC),
    ];
    Policy::from_vars_at(base.iter().chain(extra).copied(), now())
}

fn exceptions(text: &str) -> Vec<String> {
    policy(&[("GUARD_CHECK_EXCEPTIONS", text)])
        .map(|p| p.exceptions.iter().map(ToString::to_string).collect())
        .unwrap_or_else(|err| err.problems)
}

fn day(text: &str) -> Date {
    parse_day(text).unwrap()
}

/// Midday (UTC) of the day `text`.
fn noon(text: &str) -> SystemTime {
    let midnight = day(text).midnight().assume_utc();
    SystemTime::from(midnight) + Duration::from_secs(12 * 3600)
}

#[test]
fn an_exception_with_until_and_reason_exempts_its_groups() {
    let policy = policy(&[("GUARD_CHECK_EXCEPTIONS", HOP_LIMIT_EXCEPTION)]).unwrap();
    assert!(policy.exempts(CheckName::ImdsHopLimit, Some("prod-ebs-csi-a"), now()));
    let exception = policy.exceptions.iter().next().unwrap();
    assert_eq!(exception.check, CheckName::ImdsHopLimit);
    assert_eq!(exception.group_pattern(), "prod-ebs-csi-*");
    assert_eq!(exception.until, Some(day("2027-03-01")));
    assert_eq!(
        exception.reason.as_deref(),
        Some("PLAT-123 ebs csi needs hop 2")
    );
}

#[rstest]
#[case::plain("imds.v2@legacy", "imds.v2@legacy")]
#[case::until_only("imds.v2@legacy until=2026-10-01", "imds.v2@legacy until=2026-10-01")]
#[case::reason_only(
    "imds.v2@legacy reason=owner team-x",
    "imds.v2@legacy reason=owner team-x"
)]
#[case::both_spaced(
    "imds.v2@legacy   until=2026-10-01   reason=  PLAT-9 ",
    "imds.v2@legacy until=2026-10-01 reason=PLAT-9"
)]
#[case::reason_holds_an_equals_sign(
    "imds.v2@legacy reason=see until=later",
    "imds.v2@legacy reason=see until=later"
)]
fn an_item_reads_back_as_it_is_written(#[case] item: &str, #[case] shown: &str) {
    assert_eq!(exceptions(item), vec![shown.to_owned()]);
}

#[rstest]
#[case::not_a_day(
    "imds.v2@legacy until=2026-02-30",
    "`imds.v2@legacy until=2026-02-30`: `until=2026-02-30` is not a day `until=YYYY-MM-DD` (e.g. `until=2027-03-31`)"
)]
#[case::short_year(
    "imds.v2@legacy until=26-10-01",
    "`imds.v2@legacy until=26-10-01`: `until=26-10-01` is not a day"
)]
#[case::unknown_term(
    "imds.v2@legacy owner=me",
    "`imds.v2@legacy owner=me`: `owner=me` is not `until=YYYY-MM-DD` or `reason=<text>` (the reason comes last)"
)]
#[case::until_twice(
    "imds.v2@legacy until=2026-10-01 until=2026-10-02",
    "`until=` is given twice"
)]
#[case::empty_reason("imds.v2@legacy reason= ", "`reason=` names no ticket or owner")]
fn a_bad_term_is_named_with_its_item(#[case] item: &str, #[case] expected: &str) {
    let problems = exceptions(item);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("`GUARD_CHECK_EXCEPTIONS`: "),
        "{problems:?}"
    );
    assert!(problems[0].contains(expected), "{problems:?}");
}

#[rstest]
// The fixtures' day is 2026-09-21: 180 days later is 2027-03-20.
#[case::last_allowed_day(&[], "imds.v2@legacy until=2027-03-20", None)]
#[case::one_day_too_far(&[], "imds.v2@legacy until=2027-03-21", Some("`GUARD_CHECK_EXCEPTIONS`: `imds.v2@legacy until=2027-03-21`: `until=2027-03-21` is 181 days after today (2026-09-21); at most 180 (`GUARD_MAX_EXCEPTION_DAYS`)"))]
#[case::a_shorter_limit(&[("GUARD_MAX_EXCEPTION_DAYS", "30")], "imds.v2@legacy until=2026-10-22", Some("is 31 days after today (2026-09-21); at most 30"))]
#[case::expired_is_no_problem(&[], "imds.v2@legacy until=2026-01-01", None)]
#[case::no_until_has_no_limit(&[], "imds.v2@legacy", None)]
#[case::reason_required(&[("GUARD_REQUIRE_EXCEPTION_REASON", "true")], "imds.v2@legacy until=2026-10-01", Some("`GUARD_CHECK_EXCEPTIONS`: `imds.v2@legacy until=2026-10-01` names no `reason=<ticket or owner>`, which `GUARD_REQUIRE_EXCEPTION_REASON` requires"))]
#[case::reason_given(&[("GUARD_REQUIRE_EXCEPTION_REASON", "true")], "imds.v2@legacy reason=PLAT-1", None)]
#[case::reason_not_required(&[], "imds.v2@legacy", None)]
fn the_policy_limits_how_long_an_exception_runs_and_may_require_its_reason(
    #[case] settings: &[(&str, &str)],
    #[case] item: &str,
    #[case] problem: Option<&str>,
) {
    let mut vars = settings.to_vec();
    vars.push(("GUARD_CHECK_EXCEPTIONS", item));
    let result = policy(&vars);
    match problem {
        None => assert!(result.is_ok(), "{result:?}"),
        Some(expected) => {
            let problems = result.unwrap_err().problems;
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(problems[0].contains(expected), "{problems:?}");
        }
    }
}

#[test]
fn every_exception_over_the_terms_is_named_at_once() {
    let problems = policy(&[
        ("GUARD_REQUIRE_EXCEPTION_REASON", "true"),
        (
            "GUARD_CHECK_EXCEPTIONS",
            "imds.v2@a until=2030-01-01 reason=x,imds.v2@b,imds.hop_limit@c reason=PLAT-2",
        ),
    ])
    .unwrap_err()
    .problems;
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("`imds.v2@a until=2030-01-01 reason=x`: `until=2030-01-01`"));
    assert!(problems[1].contains("`imds.v2@b` names no `reason="));
}

#[rstest]
#[case::the_day_before(noon("2026-09-29"), true, Some(1))]
#[case::first_second_of_the_last_day(SystemTime::from(day("2026-09-30").midnight().assume_utc()), true, Some(0))]
#[case::last_second_of_the_last_day(SystemTime::from(day("2026-09-30").midnight().assume_utc()) + Duration::from_secs(86_399), true, Some(0))]
#[case::the_day_after_at_midnight(SystemTime::from(day("2026-10-01").midnight().assume_utc()), false, Some(-1))]
#[case::a_month_after(noon("2026-10-30"), false, Some(-30))]
fn until_is_the_last_day_the_exception_applies_in_utc(
    #[case] at: SystemTime,
    #[case] in_force: bool,
    #[case] days_left: Option<i64>,
) {
    let policy = policy(&[(
        "GUARD_CHECK_EXCEPTIONS",
        "imds.v2@legacy until=2026-09-30 reason=PLAT-7",
    )])
    .unwrap();
    let exempting = policy
        .exceptions
        .exempting(CheckName::ImdsV2, Some("legacy"), at);
    assert_eq!(exempting.is_some(), in_force);
    assert_eq!(
        policy.exempts(CheckName::ImdsV2, Some("legacy"), at),
        in_force
    );
    let exception = policy.exceptions.iter().next().unwrap();
    assert_eq!(exception.has_expired(at), !in_force);
    assert_eq!(exception.days_left(at), days_left);
}

#[test]
fn exempting_names_the_exception_in_force_of_the_check_and_group() {
    let policy = policy(&[(
        "GUARD_CHECK_EXCEPTIONS",
        "imds.v2@legacy-* until=2026-09-20 reason=old,imds.v2@legacy-a until=2026-10-31 reason=PLAT-8,imds.v2@other",
    )])
    .unwrap();
    let exempting = policy
        .exceptions
        .exempting(CheckName::ImdsV2, Some("legacy-a"), now())
        .unwrap();
    assert_eq!(exempting.reason.as_deref(), Some("PLAT-8"));
    assert!(
        policy
            .exceptions
            .exempting(CheckName::ImdsV2, Some("legacy-b"), now())
            .is_none()
    );
    assert!(
        policy
            .exceptions
            .exempting(CheckName::ImdsV2, None, now())
            .is_none()
    );
    assert!(
        policy
            .exceptions
            .exempting(CheckName::ImdsHopLimit, Some("legacy-a"), now())
            .is_none()
    );
}

#[test]
fn expired_and_expiring_exceptions_are_told_apart() {
    let policy = policy(&[(
        "GUARD_CHECK_EXCEPTIONS",
        "imds.v2@a until=2026-09-20,imds.v2@b until=2026-09-21,imds.v2@c until=2026-10-05,imds.v2@d until=2026-10-06,imds.v2@e",
    )])
    .unwrap();
    let groups = |list: Vec<&Exception>| -> Vec<String> {
        list.iter().map(|e| e.group_pattern().to_owned()).collect()
    };
    assert_eq!(groups(policy.exceptions.expired(now()).collect()), ["a"]);
    assert_eq!(
        groups(policy.exceptions.expiring_within(now(), 14).collect()),
        ["b", "c"]
    );
    assert_eq!(
        policy.exceptions.expiry_notes(now()),
        [
            "`GUARD_CHECK_EXCEPTIONS`: exception `imds.v2@a until=2026-09-20` expired after its last day: `imds.v2` applies to the groups `a` matches again"
        ]
    );
}
