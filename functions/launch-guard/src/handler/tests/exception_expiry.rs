//! Issue 24, point 5: an exception ends at its `until=` at the launch's own
//! time, whenever the policy was read: the same policy, in the same
//! environment, exempts a launch on the exception's last day and abandons
//! the same launch the day after.

use std::time::{Duration, SystemTime};

use pretty_assertions::assert_eq;
use shared::alerts::AlertKind;

use super::*;

/// The fixtures' day is 2026-09-21: this exception's last day.
const ENDS_TODAY: &str = "imds.hop_limit@prod-gen* until=2026-09-21 reason=PLAT-123 needs hop 2";

/// The fixtures' clock a day later: the exception has expired.
fn tomorrow() -> SystemTime {
    now() + Duration::from_secs(86_400)
}

/// The fixtures' account with the launch's hop limit at 2 (breaks
/// `imds.hop_limit`, at most 1 in [`MORE_NODE_SETTINGS`]).
fn hop_limit_two() -> FakeAws {
    let aws = aws();
    let mut instance = aws.instance_facts(INSTANCE).unwrap();
    instance.http_put_response_hop_limit = Some(2);
    aws.add_instance(instance);
    aws
}

async fn decide(policy: &Policy, aws: &FakeAws, clock: fn() -> SystemTime) -> Summary {
    let guard = LaunchGuard::new(policy, aws).with_clock(clock);
    let response = guard
        .handle(serde_json::from_str(LAUNCH).unwrap(), lambda_deadline())
        .await
        .unwrap();
    summary_of(response)
}

#[tokio::test]
async fn an_exception_exempts_through_its_last_day_and_the_check_blocks_again_the_day_after() {
    let policy = policy(&[
        ("GUARD_MAX_IMDS_HOP_LIMIT", "1"),
        ("GUARD_CHECK_EXCEPTIONS", ENDS_TODAY),
    ]);

    // On its last day the launch is exempted, listed, and not alerted.
    let aws = hop_limit_two();
    let today = decide(&policy, &aws, now).await;
    assert_eq!(today.decision, Decision::Continue, "{today:#?}");
    assert_eq!(checks_of(&today.violations), Vec::<&str>::new());
    assert_eq!(today.exempted[0].check.as_str(), "imds.hop_limit");
    assert_eq!(aws.published(), vec![]);

    // The day after, the same policy judges the same launch by the check.
    let aws = hop_limit_two();
    let after = decide(&policy, &aws, tomorrow).await;
    assert_eq!(after.decision, Decision::Abandon, "{after:#?}");
    assert_eq!(checks_of(&after.violations), vec!["imds.hop_limit"]);
    assert_eq!(after.exempted, vec![]);
    assert_eq!(results(&aws), vec![LifecycleResult::Abandon]);
    let kinds: Vec<AlertKind> = aws.published().iter().map(|a| a.kind).collect();
    assert!(kinds.contains(&AlertKind::LaunchDenied), "{kinds:?}");
    assert!(
        !kinds.contains(&AlertKind::ExceptionExpired),
        "budget-guard alerts the expiry: {kinds:?}"
    );
}
