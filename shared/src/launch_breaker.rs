//! The launch breaker (issue 23, scenario 4): a budget for launchers without
//! hooks. Karpenter launches with `CreateFleet` (and `RunInstances`), outside
//! any Auto Scaling group, so suspending `Launch` does not stop it. With
//! `GUARD_LAUNCHER_ROLE_ARNS` set, a budget suspension also puts one inline
//! policy of a fixed name on each launcher role: it denies `RunInstances` and
//! `CreateFleet` requests that tag the cluster (Karpenter tags every launch
//! with the cluster tag) in this region. The resume, the stack's removal and
//! the hand-over to audit mode delete it.
//!
//! The name is fixed per cluster and region ([`LaunchBreaker::name`]), so a
//! put is an overwrite and a delete of a missing policy is a success: both
//! are idempotent. Two guards of one account (other clusters, or the same
//! cluster name in another region) never touch each other's breaker.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};

use crate::alerts::Alert;
use crate::policy::Policy;
use crate::ports::{AwsError, AwsResult, BreakerRemoval, LauncherRoles};

/// What every breaker's name starts with; what the template's grant allows.
pub const NAME_PREFIX: &str = "scaling-guard-";
/// What every breaker's name ends with.
pub const NAME_SUFFIX: &str = "-launch-breaker";
/// IAM's longest inline policy name.
const MAX_NAME_CHARS: usize = 128;

/// The actions the breaker denies: how Karpenter (and any launcher without a
/// group) starts instances.
pub const DENIED_ACTIONS: [&str; 2] = ["ec2:RunInstances", "ec2:CreateFleet"];

/// The inline policy put on each launcher role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchBreaker {
    /// `scaling-guard-<cluster>-<region>-launch-breaker`.
    pub name: String,
    /// The policy document, JSON.
    pub document: String,
}

impl LaunchBreaker {
    /// The breaker of `policy`'s cluster in `region`.
    pub fn of(policy: &Policy, region: &str) -> Self {
        Self {
            name: name(&policy.cluster, region),
            document: document(policy, region).to_string(),
        }
    }
}

/// `scaling-guard-<cluster>-<region>-launch-breaker`; a cluster name too long
/// for IAM's 128 characters is cut and followed by a digest of the whole, so
/// that the name stays unique.
pub fn name(cluster: &str, region: &str) -> String {
    let full = format!("{NAME_PREFIX}{cluster}-{region}{NAME_SUFFIX}");
    if full.len() <= MAX_NAME_CHARS {
        return full;
    }
    let digest = format!("{:08x}", fnv1a(cluster));
    let room = MAX_NAME_CHARS
        .saturating_sub(NAME_PREFIX.len() + region.len() + NAME_SUFFIX.len() + digest.len() + 2);
    let cut: String = cluster.chars().take(room).collect();
    format!("{NAME_PREFIX}{cut}-{digest}-{region}{NAME_SUFFIX}")
}

/// A 32-bit FNV-1a digest: stable across builds (std's hasher is not).
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// Deny launches that tag the cluster (its tag key, with its value when the
/// policy pins one) in this region. `aws:RequestTag` is a condition key of
/// both actions (Service Authorization Reference, Amazon EC2); a request that
/// does not tag the cluster is not touched.
fn document(policy: &Policy, region: &str) -> Value {
    let tag_condition = format!("aws:RequestTag/{}", policy.cluster_tag.key);
    let condition = match policy.cluster_tag.value() {
        Some(value) => json!({
            "StringEquals": { tag_condition: value, "aws:RequestedRegion": region },
        }),
        None => json!({
            "Null": { tag_condition: "false" },
            "StringEquals": { "aws:RequestedRegion": region },
        }),
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ScalingGuardBudgetSuspended",
            "Effect": "Deny",
            "Action": DENIED_ACTIONS,
            "Resource": "*",
            "Condition": condition,
        }],
    })
}

/// The role name of a role arn (`arn:aws:iam::<account>:role/<path>/<name>`).
pub fn role_name(role_arn: &str) -> &str {
    role_arn.rsplit('/').next().unwrap_or(role_arn)
}

/// What a breaker step did to the launcher roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BreakerReport {
    /// Roles now carrying the breaker (put) or no longer carrying it (removed).
    pub changed: Vec<String>,
    /// `role: why` for each role the call failed on.
    pub failed: Vec<String>,
}

impl BreakerReport {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.failed.is_empty()
    }
}

/// Puts the breaker on every role; a role that fails is reported, the others
/// still get it (and the groups' suspension stands either way).
pub async fn put_breakers(
    launchers: &impl LauncherRoles,
    roles: &BTreeSet<String>,
    breaker: &LaunchBreaker,
) -> BreakerReport {
    let mut report = BreakerReport::default();
    for role in roles {
        match throttled(|| launchers.put_breaker(role, breaker)).await {
            Ok(()) => report.changed.push(role.clone()),
            Err(err) => report.failed.push(failure(role, &err)),
        }
    }
    report
}

/// Deletes the breaker from every role; `changed` lists the roles that still
/// carried it.
pub async fn remove_breakers(
    launchers: &impl LauncherRoles,
    roles: &BTreeSet<String>,
    breaker_name: &str,
) -> BreakerReport {
    let mut report = BreakerReport::default();
    for role in roles {
        match throttled(|| launchers.delete_breaker(role, breaker_name)).await {
            Ok(BreakerRemoval::Removed) => report.changed.push(role.clone()),
            Ok(BreakerRemoval::Absent) => {}
            Err(err) => report.failed.push(failure(role, &err)),
        }
    }
    report
}

/// Attempts of one call that IAM throttles, besides the SDK's own retries:
/// IAM's request rate is per account, shared with everything else that
/// changes IAM there.
const THROTTLED_ATTEMPTS: u32 = 3;
const THROTTLED_PAUSE: Duration = Duration::from_millis(200);

/// `call`, attempted again (after a growing pause) while IAM throttles it.
async fn throttled<T, F, C>(mut call: C) -> AwsResult<T>
where
    C: FnMut() -> F,
    F: Future<Output = AwsResult<T>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(err) if attempt < THROTTLED_ATTEMPTS && is_throttling(&err) => {
                tokio::time::sleep(THROTTLED_PAUSE.saturating_mul(attempt)).await;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

fn is_throttling(err: &AwsError) -> bool {
    err.code
        .as_deref()
        .is_some_and(|code| code.contains("Throttl") || code == "LimitExceeded")
}

fn failure(role: &str, err: &AwsError) -> String {
    format!("{role}: {err}")
}

/// What the suspension alert says to the people who run Karpenter.
pub const WHILE_BROKEN: &str = "Launcher roles carry the launch breaker: Karpenter's NodeClaims for \
     this cluster fail with `UnauthorizedOperation` (CreateFleet/RunInstances) until the guard \
     resumes scale-out and deletes it; pods wait Pending. Karpenter retries a failing NodeClaim \
     as it is rather than replacing it (aws/karpenter-provider-aws#6098). After the resume alert, \
     list the NodeClaims that never launched (`kubectl get nodeclaims`, Launched not True) and \
     clear each with `kubectl delete nodeclaim <name>`: Karpenter then creates a new one for the \
     pending pods.";

/// Adds the breaker's outcome to a suspension alert: the roles it was put on
/// (`launch_breaker`), those it failed on (`launch_breaker_failed`), and what
/// it means for Karpenter.
pub fn annotate_put(alert: &mut Alert, breaker: &LaunchBreaker, report: &BreakerReport) {
    alert.details.insert(
        "launch_breaker".to_owned(),
        json!({ "policy": breaker.name, "roles": report.changed }),
    );
    if !report.changed.is_empty() {
        alert.advice.push_str(&format!(" {WHILE_BROKEN}"));
    }
    if !report.failed.is_empty() {
        alert
            .details
            .insert("launch_breaker_failed".to_owned(), json!(report.failed));
        alert.advice.push_str(&format!(
            " The launch breaker could NOT be put on: {}. Those launchers are NOT stopped: \
             check the guard's iam:PutRolePolicy grant and the role, or scale them down by hand.",
            report.failed.join("; ")
        ));
    }
}

/// Adds to an audit-mode alert what enforce mode would have done to the roles.
pub fn annotate_would_block(alert: &mut Alert, breaker_name: &str, roles: &BTreeSet<String>) {
    alert.details.insert(
        "launch_breaker_would_block".to_owned(),
        json!({ "policy": breaker_name, "roles": roles }),
    );
    alert.advice.push_str(&format!(
        " In enforce mode the launch breaker `{breaker_name}` would block cluster-tagged \
         RunInstances/CreateFleet of: {}.",
        roles.iter().cloned().collect::<Vec<_>>().join(", ")
    ));
}

/// Adds to a resume or hand-over alert the roles the breaker was removed
/// from, and those it could not be removed from.
pub fn annotate_removed(alert: &mut Alert, report: &BreakerReport) {
    alert
        .details
        .insert("launch_breaker_removed".to_owned(), json!(report.changed));
    if !report.changed.is_empty() {
        alert.advice.push_str(
            " The launch breaker is deleted: Karpenter launches again. A NodeClaim that still has \
             no node in a few minutes (aws/karpenter-provider-aws#6098) is cleared with `kubectl \
             delete nodeclaim <name>`.",
        );
    }
    if !report.failed.is_empty() {
        alert
            .details
            .insert("launch_breaker_failed".to_owned(), json!(report.failed));
        alert.advice.push_str(&format!(
            " The launch breaker could NOT be removed from: {}: their launches stay denied; it is \
             retried every run, or delete the inline policy by hand (`aws iam delete-role-policy`).",
            report.failed.join("; ")
        ));
    }
}

#[cfg(test)]
mod tests;
