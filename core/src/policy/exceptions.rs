//! `GUARD_CHECK_EXCEPTIONS`: named checks that do not apply to named groups,
//! each until a day and for a stated reason.
//!
//! Exceptions live in the policy (the stack's parameters), never in tags: a
//! group's owner cannot exempt their own group. An exempted violation does
//! not block, alert or count; it is still reported, as `exempted`.
//!
//! An item is `<check>@<group glob>`, optionally followed by terms separated
//! by spaces: `until=YYYY-MM-DD`, the last day (UTC) the exception applies,
//! and `reason=<text>`, the ticket or owner, which runs to the end of the
//! item (so it comes last, and holds no comma: items are comma-separated):
//! `imds.hop_limit@prod-ebs-csi-* until=2027-03-31 reason=PLAT-123 ebs csi needs hop 2`.
//! Expiry is judged at each decision, against the decision's own time: an
//! exception past its day exempts nothing, whichever function read it.

use std::fmt;
use std::time::SystemTime;

use time::{Date, Month};

use super::Patterns;
use super::settings;
use crate::check_name::CheckName;
use crate::time::utc_date;

/// The term that ends an exception (`until=2027-03-31`).
const UNTIL: &str = "until=";
/// The term that says why, to the end of the item (`reason=PLAT-123`).
const REASON: &str = "reason=";

/// The group tag in which budget-guard records the `exception_expired`
/// alerts of the group (issue 24, point 5): the guard's own record, which a
/// release removes with the rest of what the guard left (issue 25, point 4).
pub const EXCEPTION_EXPIRED_TAG: &str = "scaling-guard:exception-expired";

/// One exception: `check` does not apply to the groups `groups` matches,
/// up to and including the day `until` (none: no end).
#[derive(Debug, Clone)]
pub struct Exception {
    pub check: CheckName,
    /// One glob on the group name (`prod-ebs-csi-*`).
    pub groups: Patterns,
    /// The last day (UTC) the exception applies.
    pub until: Option<Date>,
    /// Why the check does not apply: a ticket or an owner.
    pub reason: Option<String>,
}

impl Exception {
    /// The group glob, as written.
    pub fn group_pattern(&self) -> &str {
        self.groups.texts().first().map_or("", String::as_str)
    }

    /// Whether the exception applies at `now`: no `until`, or `until` is
    /// today or later (UTC).
    pub fn is_in_force(&self, now: SystemTime) -> bool {
        !self.has_expired(now)
    }

    /// Whether `now` is past the exception's last day.
    pub fn has_expired(&self, now: SystemTime) -> bool {
        self.until.is_some_and(|until| utc_date(now) > until)
    }

    /// Whole days from today (UTC) to the last day: 0 on the last day,
    /// negative once expired; `None` without `until`.
    pub fn days_left(&self, now: SystemTime) -> Option<i64> {
        self.until.map(|until| (until - utc_date(now)).whole_days())
    }

    /// Whether the exception is in force and ends within `days` days.
    pub fn expires_within(&self, now: SystemTime, days: i64) -> bool {
        self.days_left(now)
            .is_some_and(|left| (0..=days).contains(&left))
    }

    /// Whether it exempts `check` for the group named `group` at `now`.
    fn exempts(&self, check: CheckName, group: &str, now: SystemTime) -> bool {
        self.check == check && self.matches(group) && self.is_in_force(now)
    }

    /// Whether the glob matches the group named `group`.
    pub fn matches(&self, group: &str) -> bool {
        self.groups.first_match(group).is_some()
    }
}

impl fmt::Display for Exception {
    /// The item as it is written in the policy: it parses back to itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.check, self.group_pattern())?;
        if let Some(until) = self.until {
            write!(f, " {UNTIL}{until}")?;
        }
        if let Some(reason) = &self.reason {
            write!(f, " {REASON}{reason}")?;
        }
        Ok(())
    }
}

/// Every exception of the policy, in the order given.
#[derive(Debug, Clone, Default)]
pub struct Exceptions(Vec<Exception>);

/// Checks that cannot be exempted per group: the budgets are cluster-wide
/// (an exempted group would spend the others' budget), and the membership
/// checks judge instances that came in outside the guarded groups.
pub const NOT_EXEMPTIBLE: [CheckName; 5] = [
    CheckName::BudgetVcpus,
    CheckName::BudgetMemory,
    CheckName::BudgetInstances,
    CheckName::MembershipUnmanaged,
    CheckName::MembershipUnguardedGroup,
];

/// What the policy asks of every exception's terms
/// (`GUARD_MAX_EXCEPTION_DAYS`, `GUARD_REQUIRE_EXCEPTION_REASON`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExceptionTerms {
    /// An `until` at most this many days after today.
    pub max_days: u32,
    /// Every exception names its reason.
    pub require_reason: bool,
}

impl Exceptions {
    /// Parses the items; the error lists every bad item.
    pub fn parse(items: &[String]) -> Result<Self, Vec<String>> {
        let mut exceptions = Vec::new();
        let mut problems = Vec::new();
        for item in items {
            match parse_one(item) {
                Ok(exception) => exceptions.push(exception),
                Err(problem) => problems.push(problem),
            }
        }
        if problems.is_empty() {
            Ok(Self(exceptions))
        } else {
            Err(problems)
        }
    }

    /// The exception, in force at `now`, that exempts `check` for the group
    /// named `group`: the first in the policy's order. An instance outside
    /// any group is never exempted.
    pub fn exempting(
        &self,
        check: CheckName,
        group: Option<&str>,
        now: SystemTime,
    ) -> Option<&Exception> {
        let group = group?;
        self.0.iter().find(|e| e.exempts(check, group, now))
    }

    /// Whether `check` is exempted for the group named `group` at `now`.
    pub fn exempts(&self, check: CheckName, group: Option<&str>, now: SystemTime) -> bool {
        self.exempting(check, group, now).is_some()
    }

    /// The exceptions past their last day at `now`.
    pub fn expired(&self, now: SystemTime) -> impl Iterator<Item = &Exception> {
        self.0.iter().filter(move |e| e.has_expired(now))
    }

    /// The exceptions in force that end within `days` days of `now`.
    pub fn expiring_within(&self, now: SystemTime, days: i64) -> impl Iterator<Item = &Exception> {
        self.0.iter().filter(move |e| e.expires_within(now, days))
    }

    /// What the policy's `terms` refuse, one problem per item: an `until`
    /// too far after today (at `now`), a missing reason when one is
    /// required. An `until` already past is no problem: that exception is
    /// simply expired ([`Exceptions::expiry_notes`]).
    pub fn terms_problems(&self, terms: ExceptionTerms, now: SystemTime) -> Vec<String> {
        let today = utc_date(now);
        let mut problems = Vec::new();
        for exception in &self.0 {
            if let Some(until) = exception.until
                && (until - today).whole_days() > i64::from(terms.max_days)
            {
                problems.push(format!(
                    "`{exception}`: `{UNTIL}{until}` is {} days after today ({today}); at most {} (`{}`)",
                    (until - today).whole_days(),
                    terms.max_days,
                    settings::MAX_EXCEPTION_DAYS.name
                ));
            }
            if terms.require_reason && exception.reason.is_none() {
                problems.push(format!(
                    "`{exception}` names no `{REASON}<ticket or owner>`, which `{}` requires",
                    settings::REQUIRE_EXCEPTION_REASON.name
                ));
            }
        }
        problems
    }

    /// One note per exception already expired at `now`: it no longer
    /// exempts anything and may be removed.
    pub fn expiry_notes(&self, now: SystemTime) -> Vec<String> {
        self.expired(now)
            .map(|e| {
                format!(
                    "`{}`: exception `{e}` expired after its last day: `{}` applies to the groups `{}` matches again",
                    settings::CHECK_EXCEPTIONS.name,
                    e.check,
                    e.group_pattern()
                )
            })
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Exception> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn parse_one(item: &str) -> Result<Exception, String> {
    let (head, rest) = item
        .trim()
        .split_once(char::is_whitespace)
        .unwrap_or((item.trim(), ""));
    let Some((check, group)) = head.split_once('@') else {
        return Err(format!(
            "`{item}` is not `<check>@<group glob>` (e.g. `imds.hop_limit@prod-ebs-csi-*`)"
        ));
    };
    let check = check
        .trim()
        .parse::<CheckName>()
        .map_err(|err| format!("`{item}`: {err}"))?;
    if NOT_EXEMPTIBLE.contains(&check) {
        return Err(format!(
            "`{item}`: `{check}` applies to the whole cluster and cannot be exempted per group"
        ));
    }
    let group = group.trim();
    if group.is_empty() {
        return Err(format!("`{item}` names no group glob after `@`"));
    }
    let groups = Patterns::new(vec![group.to_owned()])
        .map_err(|problems| format!("`{item}`: {}", problems.join("; ")))?;
    let (until, reason) = parse_terms(rest).map_err(|problem| format!("`{item}`: {problem}"))?;
    Ok(Exception {
        check,
        groups,
        until,
        reason,
    })
}

/// The terms after `check@glob`: `until=YYYY-MM-DD`, then `reason=` and
/// the rest of the item.
fn parse_terms(text: &str) -> Result<(Option<Date>, Option<String>), String> {
    let mut until = None;
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if let Some(reason) = rest.strip_prefix(REASON) {
            let reason = reason.trim();
            if reason.is_empty() {
                return Err(format!("`{REASON}` names no ticket or owner"));
            }
            return Ok((until, Some(reason.to_owned())));
        }
        let (term, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let Some(day) = term.strip_prefix(UNTIL) else {
            return Err(format!(
                "`{term}` is not `{UNTIL}YYYY-MM-DD` or `{REASON}<text>` (the reason comes last)"
            ));
        };
        if until.is_some() {
            return Err(format!("`{UNTIL}` is given twice"));
        }
        until = Some(parse_day(day).ok_or_else(|| {
            format!("`{term}` is not a day `{UNTIL}YYYY-MM-DD` (e.g. `{UNTIL}2027-03-31`)")
        })?);
        rest = tail.trim_start();
    }
    Ok((until, None))
}

/// `2027-03-31`: four, two and two digits naming a day of the calendar.
fn parse_day(text: &str) -> Option<Date> {
    let mut parts = text.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    let digits =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !digits(year, 4) || !digits(month, 2) || !digits(day, 2) {
        return None;
    }
    let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()
}

#[cfg(test)]
mod expiry_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::now;

    fn parse(items: &[&str]) -> Result<Exceptions, Vec<String>> {
        Exceptions::parse(&items.iter().map(|i| (*i).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn a_check_is_exempted_only_for_the_groups_its_glob_matches() {
        let exceptions =
            parse(&["imds.hop_limit@prod-ebs-csi-*", "instance.key_pair@bastion"]).unwrap();
        assert!(exceptions.exempts(CheckName::ImdsHopLimit, Some("prod-ebs-csi-a"), now()));
        assert!(!exceptions.exempts(CheckName::ImdsHopLimit, Some("prod-general"), now()));
        assert!(!exceptions.exempts(CheckName::ImdsV2, Some("prod-ebs-csi-a"), now()));
        assert!(exceptions.exempts(CheckName::InstanceKeyPair, Some("bastion"), now()));
        assert!(!exceptions.exempts(CheckName::InstanceKeyPair, Some("bastion-2"), now()));
        assert!(!exceptions.exempts(CheckName::ImdsHopLimit, None, now()));
        let listed: Vec<String> = exceptions.iter().map(ToString::to_string).collect();
        assert_eq!(
            listed,
            ["imds.hop_limit@prod-ebs-csi-*", "instance.key_pair@bastion"]
        );
    }

    #[test]
    fn every_bad_item_is_named() {
        let problems = parse(&[
            "imds.hop@prod-*",
            "imds.v2",
            "budget.vcpus@prod-*",
            "imds.v2@",
            "imds.v2@prod-[",
        ])
        .unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert_eq!(problems[0], "`imds.hop@prod-*`: unknown check `imds.hop`");
        assert!(problems[1].contains("is not `<check>@<group glob>`"));
        assert!(problems[2].contains("cannot be exempted per group"));
        assert!(problems[3].contains("names no group glob"));
        assert!(problems[4].contains("does not compile"));
    }
}
