//! From violations to a lifecycle decision (SPEC §5 step 4).
//!
//! Three names, three things, used the same way in every crate:
//! - [`LifecycleResult`]: what a lifecycle action is completed with
//!   (`CONTINUE` or `ABANDON`), Auto Scaling's own term;
//! - [`Verdict`]: the launch's result with the findings behind it, what the
//!   assessment concludes;
//! - [`Decision`]: what a summary or the CLI reports for a notification: a
//!   [`LifecycleResult`], or `IGNORED` when it was not the guard's to decide.

use std::fmt;
use std::time::SystemTime;

use serde::Serialize;

use crate::checks::Violation;
use crate::policy::{FailMode, Mode, Policy};

/// The result a lifecycle action is completed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LifecycleResult {
    Continue,
    Abandon,
}

impl LifecycleResult {
    /// The value of `CompleteLifecycleAction`'s `LifecycleActionResult`.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleResult::Continue => "CONTINUE",
            LifecycleResult::Abandon => "ABANDON",
        }
    }
}

impl fmt::Display for LifecycleResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to one launch notification, in summaries and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    Continue,
    Abandon,
    /// Not the guard's to decide: no completion, no alert.
    Ignored,
}

impl From<LifecycleResult> for Decision {
    fn from(result: LifecycleResult) -> Self {
        match result {
            LifecycleResult::Continue => Decision::Continue,
            LifecycleResult::Abandon => Decision::Abandon,
        }
    }
}

/// A violation and whether it blocks under the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    #[serde(flatten)]
    pub violation: Violation,
    pub blocking: bool,
}

/// The verdict on one launch: its result and every finding behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub result: LifecycleResult,
    pub findings: Vec<Finding>,
    /// Violations of checks the policy exempts for the launch's group
    /// (`GUARD_CHECK_EXCEPTIONS`): they do not block, alert or count, and
    /// are listed so that an exception stays visible.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exempted: Vec<Violation>,
}

/// Splits `violations` into those that count and those the policy exempts
/// for `group` at `now`, the decision's time: an expired exception exempts
/// nothing, however long ago the policy was read.
pub fn exempt(
    policy: &Policy,
    group: Option<&str>,
    violations: Vec<Violation>,
    now: SystemTime,
) -> (Vec<Violation>, Vec<Violation>) {
    violations
        .into_iter()
        .partition(|v| !policy.exempts(v.check, group, now))
}

impl Verdict {
    /// Any blocking violation abandons the launch; reported-only ones do
    /// not; exempted ones (of the instance's `group`, by an exception in
    /// force at `now`) are only listed.
    pub fn from_violations(
        policy: &Policy,
        group: Option<&str>,
        violations: Vec<Violation>,
        now: SystemTime,
    ) -> Self {
        let (counted, exempted) = exempt(policy, group, violations, now);
        let findings: Vec<Finding> = counted
            .into_iter()
            .map(|violation| Finding {
                blocking: policy.blocks(violation.check),
                violation,
            })
            .collect();
        let result = if findings.iter().any(|f| f.blocking) {
            LifecycleResult::Abandon
        } else {
            LifecycleResult::Continue
        };
        Self {
            result,
            findings,
            exempted,
        }
    }

    /// The decision when part of the facts is unknown: what is known decides
    /// first (a blocking violation abandons the launch whatever the rest
    /// would show); only when nothing known blocks does the fail mode decide.
    pub fn with_unknown(
        policy: &Policy,
        group: Option<&str>,
        violations: Vec<Violation>,
        unknown: bool,
        now: SystemTime,
    ) -> Self {
        let mut verdict = Self::from_violations(policy, group, violations, now);
        if unknown && verdict.result == LifecycleResult::Continue {
            verdict.result = fail_result(policy);
        }
        verdict
    }

    /// Whether a violation blocks this verdict (not only the fail mode).
    pub fn is_blocked(&self) -> bool {
        self.findings.iter().any(|f| f.blocking)
    }

    /// The names of the checks that found something, each once, in order.
    pub fn check_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .findings
            .iter()
            .map(|f| f.violation.check.as_str())
            .collect();
        names.dedup();
        names
    }

    pub fn blocking(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.blocking)
    }
}

/// The result when facts cannot be established: the policy's fail mode, except
/// in audit mode, which never blocks.
pub fn fail_result(policy: &Policy) -> LifecycleResult {
    match (policy.mode, policy.fail_mode) {
        (Mode::Audit, _) | (Mode::Enforce, FailMode::Continue) => LifecycleResult::Continue,
        (Mode::Enforce, FailMode::Abandon) => LifecycleResult::Abandon,
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::checks::CheckName;
    use crate::fixtures::{now, strict_policy};

    fn violation(check: CheckName) -> Violation {
        Violation::new(check, "i-1", "x", "y", "z")
    }

    #[rstest]
    #[case::clean(&[], &[], LifecycleResult::Continue)]
    #[case::blocking(&[], &[CheckName::ImdsV2], LifecycleResult::Abandon)]
    #[case::audit_mode(&[("GUARD_MODE", "audit")], &[CheckName::ImdsV2], LifecycleResult::Continue)]
    #[case::audit_only_check(&[("GUARD_AUDIT_ONLY_CHECKS", "imds.v2")], &[CheckName::ImdsV2], LifecycleResult::Continue)]
    #[case::audit_only_plus_blocking(&[("GUARD_AUDIT_ONLY_CHECKS", "imds.v2")], &[CheckName::ImdsV2, CheckName::ImageAge], LifecycleResult::Abandon)]
    fn any_blocking_violation_abandons(
        #[case] extra: &[(&str, &str)],
        #[case] checks: &[CheckName],
        #[case] expected: LifecycleResult,
    ) {
        let policy = strict_policy(extra);
        let verdict = Verdict::from_violations(
            &policy,
            None,
            checks.iter().copied().map(violation).collect(),
            now(),
        );
        assert_eq!(verdict.result, expected);
        assert_eq!(verdict.findings.len(), checks.len());
    }

    #[rstest]
    #[case::known_violation_blocks_under_fail_mode_continue(&[("GUARD_FAIL_MODE", "continue")], &[CheckName::SubnetPublic], LifecycleResult::Abandon)]
    #[case::nothing_known_blocks_so_fail_mode_continue(&[("GUARD_FAIL_MODE", "continue")], &[], LifecycleResult::Continue)]
    #[case::nothing_known_blocks_so_fail_mode_abandon(&[], &[], LifecycleResult::Abandon)]
    #[case::reported_only_then_fail_mode(&[("GUARD_FAIL_MODE", "continue"), ("GUARD_AUDIT_ONLY_CHECKS", "imds.v2")], &[CheckName::ImdsV2], LifecycleResult::Continue)]
    #[case::audit_mode_never_blocks(&[("GUARD_MODE", "audit")], &[CheckName::SubnetPublic], LifecycleResult::Continue)]
    fn with_something_unknown_what_is_known_decides_first(
        #[case] extra: &[(&str, &str)],
        #[case] checks: &[CheckName],
        #[case] expected: LifecycleResult,
    ) {
        let policy = strict_policy(extra);
        let violations = checks.iter().copied().map(violation).collect();
        let verdict = Verdict::with_unknown(&policy, None, violations, true, now());
        assert_eq!(verdict.result, expected);
        assert_eq!(verdict.findings.len(), checks.len());
    }

    #[test]
    fn check_names_are_listed_once_each() {
        let policy = strict_policy(&[]);
        let violations = vec![
            violation(CheckName::SubnetAllowed),
            violation(CheckName::SubnetPublic),
            violation(CheckName::SubnetPublic),
        ];
        let verdict = Verdict::from_violations(&policy, None, violations, now());
        assert_eq!(
            verdict.check_names(),
            vec!["subnet.allowed", "subnet.public"]
        );
    }

    #[rstest]
    #[case::abandon(&[], LifecycleResult::Abandon)]
    #[case::continue_(&[("GUARD_FAIL_MODE", "continue")], LifecycleResult::Continue)]
    #[case::audit_never_blocks(&[("GUARD_MODE", "audit")], LifecycleResult::Continue)]
    fn fail_mode_decides_when_facts_are_missing(
        #[case] extra: &[(&str, &str)],
        #[case] expected: LifecycleResult,
    ) {
        assert_eq!(fail_result(&strict_policy(extra)), expected);
    }
}
