//! One organisation's central event bus on the emulator (issue 25, point 2):
//! the organisation (the emulator's control endpoint makes it, as
//! Organizations' `CreateOrganization` and `CreateAccount` would), the hub's
//! bus and policy deployed from `org/hub.yaml` by `scripts/org-deploy hub`,
//! and in each member account the forwarding rule the member stack adds
//! (`CentralBusForwardRule` of `template.yaml`). The emulator refuses a delivery the bus policy does not
//! allow and records it (`scripts/emulator/bus_policy_ext.py`).

use std::process::Command;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::clients::REGION;
use crate::decision_rule::SOURCE;
use crate::emulator::Emulator;
use crate::error::{Error, Result};
use crate::http;

/// The hub's organisation bus.
pub const HUB_BUS: &str = "scaling-guard-org";
/// The role the member stack's forwarding rule delivers with
/// (`CentralBusForwardRole`); the emulator does not check it.
pub const FORWARD_ROLE: &str = "scaling-guard-central-bus-forward";
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);

/// An organisation: its id and its member accounts, in the order named.
#[derive(Debug, Clone, Deserialize)]
pub struct Organisation {
    pub id: String,
    pub accounts: Vec<String>,
}

impl Organisation {
    /// The organisation of `management`, with one new account per name.
    pub fn create(emulator: &Emulator, management: &str, names: &[&str]) -> Result<Self> {
        let body = json!({ "management": management, "accounts": names }).to_string();
        let answer = control(
            emulator,
            "POST",
            "/_scaling_guard/organizations",
            Some(&body),
        )?;
        serde_json::from_str(&answer).map_err(Error::json("organisation"))
    }
}

/// A delivery to another account's bus that its policy refused.
#[derive(Debug, Clone, Deserialize)]
pub struct Refused {
    pub sender: String,
    pub bus: String,
    pub detail_type: String,
    pub detail: Value,
}

/// Every delivery the emulator refused so far, in order.
pub fn refused(emulator: &Emulator) -> Result<Vec<Refused>> {
    let answer = control(emulator, "GET", "/_scaling_guard/events/refused", None)?;
    serde_json::from_str(&answer).map_err(Error::json("refused deliveries"))
}

fn control(emulator: &Emulator, method: &str, path: &str, body: Option<&str>) -> Result<String> {
    let answer = http::request(&emulator.address(), method, path, body, CONTROL_TIMEOUT)?;
    if answer.status != 200 {
        return Err(Error::Emulator(format!(
            "{method} {path} answered {}: {}",
            answer.status, answer.body
        )));
    }
    Ok(answer.body)
}

/// Deploys the hub (`org/hub.yaml`, its bus and the bus policy limited to
/// `organisation_id`) as the operator does, `scripts/org-deploy hub`, acting
/// with `credentials` (those of [`crate::accounts::account_env`]); the bus ARN.
pub fn deploy_hub(
    emulator: &Emulator,
    credentials: &[(String, String)],
    organisation_id: &str,
) -> Result<String> {
    let root = crate::workspace_root();
    let output = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("scripts/org/deploy.py"))
        .args(["hub", "--organization-id", organisation_id])
        .env_clear()
        .env("AWS_ENDPOINT_URL", emulator.endpoint())
        .env("AWS_DEFAULT_REGION", REGION)
        .envs(credentials.iter().map(|(key, value)| (key, value)))
        .output()
        .map_err(Error::io("cannot run scripts/org/deploy.py"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(Error::Function(format!(
            "org-deploy hub failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    stdout
        .split_whitespace()
        .find(|word| word.starts_with("arn:") && word.ends_with(&format!("event-bus/{HUB_BUS}")))
        .map(str::to_owned)
        .ok_or_else(|| Error::Function(format!("org-deploy hub named no bus: {stdout}")))
}

/// The member stack's forwarding pattern (`CentralBusForwardRule` of
/// `template.yaml`, whose pytest holds it): the guard's own events of this
/// account and region, of `cluster` only, so that two clusters' stacks in
/// one account do not both forward each event.
pub fn forward_pattern(account: &str, cluster: &str) -> Value {
    json!({
        "source": [SOURCE],
        "account": [account],
        "region": [REGION],
        "detail": { "cluster": [cluster] },
    })
}

/// Adds, in the config's account, `cluster`'s forwarding rule on the default
/// bus with the hub bus as its one target, as the member stack does.
pub async fn forward(
    config: &aws_config::SdkConfig,
    account: &str,
    cluster: &str,
    hub_bus: &str,
) -> Result<()> {
    let events = aws_sdk_eventbridge::Client::new(config);
    let name = format!("scaling-guard-{cluster}-central-bus");
    events
        .put_rule()
        .name(&name)
        .event_pattern(forward_pattern(account, cluster).to_string())
        .send()
        .await
        .map_err(Error::aws("PutRule"))?;
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("central-bus")
        .arn(hub_bus)
        .role_arn(format!("arn:aws:iam::{account}:role/{FORWARD_ROLE}"))
        .build()
        .map_err(|err| Error::Fixture(err.to_string()))?;
    events
        .put_targets()
        .rule(&name)
        .targets(target)
        .send()
        .await
        .map_err(Error::aws("PutTargets"))?;
    Ok(())
}
