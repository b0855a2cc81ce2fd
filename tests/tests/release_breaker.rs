//! `scaling-guard release` and the launch breaker (issue 23, scenario 4):
//! the real CLI binary against the emulator. The breaker budget-guard left on
//! a launcher role (`GUARD_LAUNCHER_ROLE_ARNS`) is the guard's too: a dry run
//! names it and leaves it, `--yes` deletes it as the stack's removal does,
//! and a role IAM fails on is a leftover (exit 1).
//!
//! Build the binary first: `cargo build -p scaling-guard`.

use std::collections::BTreeMap;

use scaling_guard_e2e::launcher::LauncherDouble;
use scaling_guard_e2e::{CliRun, FaultRule, REGION};
use serde_json::json;

mod support;

use support::Bed;

/// The breaker budget-guard puts on the roles for cluster `prod` here.
fn breaker_name() -> String {
    shared::launch_breaker::name("prod", REGION)
}

/// A role carrying the breaker, as a budget suspension leaves it.
async fn broken_launcher(bed: &Bed) -> LauncherDouble {
    let config = bed.sdk_config().await;
    let double = LauncherDouble::create(&config, "karpenter-controller")
        .await
        .unwrap();
    aws_sdk_iam::Client::new(&config)
        .put_role_policy()
        .role_name("karpenter-controller")
        .policy_name(breaker_name())
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:CreateFleet","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    double
}

/// Runs the CLI against the bed with only test credentials and `env`.
fn release(bed: &Bed, env: &BTreeMap<String, String>, args: &[&str]) -> CliRun {
    let mut command = scaling_guard_e2e::operator_cli(Some(bed.endpoint().as_str())).unwrap();
    command.envs(env).arg("release").args(args);
    CliRun::of(command)
}

fn policy(bed: &Bed, double: &LauncherDouble) -> BTreeMap<String, String> {
    bed.policy_with(&[("GUARD_LAUNCHER_ROLE_ARNS", &double.role_arn)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_names_the_breaker_and_yes_deletes_it() {
    // Given: the launcher's role carrying the breaker
    let bed = Bed::new().await;
    let double = broken_launcher(&bed).await;
    let env = policy(&bed, &double);

    // When: a dry run
    let dry = release(&bed, &env, &[]);

    // Then: it names the breaker and the role, and leaves it
    let line = format!(
        "delete the launch breaker `{}`, if present, from (1): {}\n",
        breaker_name(),
        double.role_arn
    );
    assert!(dry.stdout.contains(&line), "{}", dry.stdout);
    let policies = double.inline_policies().await.unwrap();
    assert!(policies.contains_key(&breaker_name()), "{policies:?}");

    // When: --yes
    let done = release(&bed, &env, &["--yes", "--json"]);

    // Then: the breaker is gone and nothing of the guard is left
    assert_eq!(done.code, 0, "{}", done.stdout);
    let report = done.json();
    assert_eq!(
        report["launch_breaker"],
        json!({ "policy": breaker_name(), "removed_from": [double.role_arn], "failed": [] })
    );
    assert_eq!(double.inline_policies().await.unwrap(), BTreeMap::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_iam_fails_on_is_a_leftover() {
    // Given: the breaker on the role, and IAM failing every DeleteRolePolicy
    let bed = Bed::new().await;
    let double = broken_launcher(&bed).await;
    let env = policy(&bed, &double);
    bed.clients
        .control
        .set_faults(&[FaultRule::error("DeleteRolePolicy").service("iam")], 1)
        .unwrap();

    // When
    let done = release(&bed, &env, &["--yes", "--json"]);

    // Then: exit 1, the role among the leftovers, the breaker still there
    assert_eq!(done.code, 1, "{}", done.stdout);
    let report = done.json();
    let leftovers = report["leftovers"].as_array().unwrap();
    let on_role = format!("launch breaker on {}: ", double.role_arn);
    assert!(
        leftovers
            .iter()
            .any(|left| left.as_str().unwrap().starts_with(&on_role)),
        "{leftovers:?}"
    );
    assert_eq!(report["launch_breaker"]["removed_from"], json!([]));
    let policies = double.inline_policies().await.unwrap();
    assert!(policies.contains_key(&breaker_name()), "{policies:?}");
}
