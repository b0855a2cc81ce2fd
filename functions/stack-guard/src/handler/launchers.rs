//! The launch breaker on the launcher roles ([`shared::launch_breaker`]) is
//! the guard's too: the stack's removal and the hand-over to audit mode
//! delete it. A role whose breaker stays is a leftover: its launches stay
//! denied.

use shared::launch_breaker::{self, BreakerReport, LaunchBreaker};
use shared::policy::Policy;
use shared::ports::{LauncherRoles, Ports};

/// Deletes the breaker of `policy`'s cluster from every launcher role it
/// names (none named: no call).
pub(super) async fn remove_breaker(aws: &impl Ports, policy: &Policy) -> BreakerReport {
    let launchers = aws.launchers();
    let name = LaunchBreaker::of(policy, launchers.region()).name;
    launch_breaker::remove_breakers(launchers, &policy.launcher_role_arns, &name).await
}

/// What is left of the breaker, one line per role.
pub(super) fn leftovers(report: &BreakerReport) -> impl Iterator<Item = String> + '_ {
    report
        .failed
        .iter()
        .map(|failed| format!("launch breaker on {failed}"))
}

/// The response's `LaunchBreakerRemoved` (the roles, comma-separated),
/// when the policy names launcher roles.
pub(super) fn data(policy: &Policy, report: &BreakerReport) -> Option<(String, String)> {
    (!policy.launcher_role_arns.is_empty())
        .then(|| ("LaunchBreakerRemoved".to_owned(), report.changed.join(", ")))
}
