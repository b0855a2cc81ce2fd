//! The launch breaker ([`shared::launch_breaker`], issue 23): the inline
//! policy budget-guard puts on the launcher roles (`GUARD_LAUNCHER_ROLE_ARNS`)
//! while a budget suspends scale-out. It is the guard's too: `release`
//! deletes it as the stack's removal does (stack-guard's `launchers`).
//!
//! The dry run does not read IAM (the port has no read, and the operator
//! needs no IAM read grant): it names the policy and the roles it may be on.
//! `--yes` deletes it where it is; a policy or role that is gone is a
//! success, so a second run is harmless.

use std::io::{self, Write};

use serde::Serialize;
use shared::launch_breaker::{self, remove_breakers};
use shared::policy::Policy;
use shared::ports::LauncherRoles;
use shared::release::ReleaseReport;

/// The breaker of the policy's cluster and the launcher roles it may be on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breaker {
    /// The inline policy's name, fixed per cluster and region.
    pub policy: String,
    /// The launcher roles' arns.
    pub roles: Vec<String>,
}

impl Breaker {
    /// The breaker in `region`; none when the policy names no launcher role
    /// (then the guard never put one).
    pub fn of(policy: &Policy, region: &str) -> Option<Self> {
        (!policy.launcher_role_arns.is_empty()).then(|| Self {
            policy: launch_breaker::name(&policy.cluster, region),
            roles: policy.launcher_role_arns.iter().cloned().collect(),
        })
    }
}

/// What `--yes` did to the breaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakerRemoved {
    /// The inline policy's name.
    pub policy: String,
    /// The roles that still carried it and no longer do.
    pub removed_from: Vec<String>,
    /// `role: why`, for each role the delete failed on (also leftovers).
    pub failed: Vec<String>,
}

/// Deletes the breaker from every launcher role of the policy (none named:
/// no IAM call); each role it fails on is added to the report's leftovers,
/// as stack-guard's delete does: its launches stay denied. Called after
/// [`shared::release::release`], whose passes rewrite the leftovers.
pub async fn remove_breaker(
    launchers: &impl LauncherRoles,
    policy: &Policy,
    report: &mut ReleaseReport,
) -> Option<BreakerRemoved> {
    let breaker = Breaker::of(policy, launchers.region())?;
    let done = remove_breakers(launchers, &policy.launcher_role_arns, &breaker.policy).await;
    let left = done.failed.iter().map(|f| format!("launch breaker on {f}"));
    report.leftovers.extend(left);
    Some(BreakerRemoved {
        policy: breaker.policy,
        removed_from: done.changed,
        failed: done.failed,
    })
}

/// The dry run's line: what `--yes` would delete (no line without roles).
pub(super) fn write_planned(out: &mut dyn Write, breaker: Option<&Breaker>) -> io::Result<()> {
    let Some(breaker) = breaker else {
        return Ok(());
    };
    let label = format!(
        "delete the launch breaker `{}`, if present, from",
        breaker.policy
    );
    super::line(out, &label, &breaker.roles)
}

/// The release's line: the roles the breaker was deleted from (the failed
/// ones are among the leftovers).
pub(super) fn write_removed(
    out: &mut dyn Write,
    removed: Option<&BreakerRemoved>,
) -> io::Result<()> {
    let Some(removed) = removed else {
        return Ok(());
    };
    let label = format!("launch breaker `{}` deleted from", removed.policy);
    super::line(out, &label, &removed.removed_from)
}
