//! `release` and the launch breaker (issue 23, scenario 4): the inline
//! policy budget-guard puts on the launcher roles is the guard's too, so the
//! release deletes it as the stack's removal does.

use pretty_assertions::assert_eq;
use serde_json::json;
use shared::fakes::{FAKE_REGION, FakeAws};
use shared::fixtures::at;
use shared::launch_breaker::LaunchBreaker;
use shared::ports::LauncherRoles as _;
use shared::release::{ReleaseReport, Survey};

use super::text;
use crate::exit_status::ExitStatus;
use crate::fixtures::policy;
use crate::release::{Breaker, Outcome, remove_breaker};

const KARPENTER: &str = "arn:aws:iam::123456789012:role/karpenter";
const OTHER: &str = "arn:aws:iam::123456789012:role/other-launcher";
const NAME: &str = "scaling-guard-prod-eu-west-1-launch-breaker";

fn launchers() -> shared::policy::Policy {
    policy(&[("GUARD_LAUNCHER_ROLE_ARNS", &format!("{KARPENTER},{OTHER}"))])
}

fn json_of(outcome: &Outcome) -> serde_json::Value {
    serde_json::to_value(outcome).unwrap()
}

#[test]
fn a_dry_run_names_the_breaker_and_the_roles_it_would_delete_it_from() {
    let outcome = Outcome::DryRun {
        cluster: "prod".into(),
        hook_name: "scaling-guard-prod".into(),
        survey: Survey::default(),
        clamps: Vec::new(),
        launch_breaker: Breaker::of(&launchers(), FAKE_REGION),
    };

    assert!(
        text(&outcome).contains(&format!(
            "delete the launch breaker `{NAME}`, if present, from (2): {KARPENTER}, {OTHER}\n"
        )),
        "{}",
        text(&outcome)
    );
    assert_eq!(
        at(&json_of(&outcome), "launch_breaker"),
        &json!({ "policy": NAME, "roles": [KARPENTER, OTHER] })
    );
}

#[test]
fn without_launcher_roles_there_is_no_breaker_to_name() {
    assert_eq!(Breaker::of(&policy(&[]), FAKE_REGION), None);
}

#[tokio::test(start_paused = true)]
async fn yes_deletes_the_breaker_and_a_role_it_fails_on_is_left() {
    let (aws, policy) = (FakeAws::new(), launchers());
    for role in [KARPENTER, OTHER] {
        aws.add_role(role);
    }
    let breaker = LaunchBreaker::of(&policy, FAKE_REGION);
    aws.put_breaker(OTHER, &breaker).await.unwrap();
    // The roles are taken in order: the first (karpenter) fails.
    aws.fail_times("DeleteRolePolicy", 1);
    let mut report = ReleaseReport::default();

    let removed = remove_breaker(&aws, &policy, &mut report).await;
    let outcome = Outcome::Released {
        cluster: "prod".into(),
        hook_name: "scaling-guard-prod".into(),
        report,
        launch_breaker: removed,
    };

    assert_eq!(aws.role_policies(OTHER).len(), 0, "deleted from {OTHER}");
    assert_eq!(outcome.status(), ExitStatus::Found);
    let text = text(&outcome);
    assert!(
        text.contains(&format!(
            "launch breaker `{NAME}` deleted from (1): {OTHER}\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "NOT UNDONE (1), run it again:\n  - launch breaker on {KARPENTER}: "
        )),
        "{text}"
    );
    let json = json_of(&outcome);
    assert_eq!(at(&json, "launch_breaker/policy"), &json!(NAME));
    assert_eq!(at(&json, "launch_breaker/removed_from"), &json!([OTHER]));
    let leftover = at(&json, "leftovers/0").as_str().unwrap();
    assert!(
        leftover.starts_with(&format!("launch breaker on {KARPENTER}: ")),
        "{json}"
    );
}

#[tokio::test]
async fn without_launcher_roles_yes_calls_no_iam() {
    let aws = FakeAws::new();
    let mut report = ReleaseReport::default();

    assert_eq!(remove_breaker(&aws, &policy(&[]), &mut report).await, None);

    assert_eq!(aws.calls("DeleteRolePolicy"), 0);
    assert!(report.is_complete());
}
