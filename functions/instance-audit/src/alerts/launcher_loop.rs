//! `launcher_loop`: one launcher pool's remediations held at
//! `GUARD_MAX_REMEDIATIONS_PER_POOL`.

use serde_json::json;
use shared::alerts::{Alert, AlertKind, Severity};
use shared::audit::{LauncherPool, POOL_HELD_TAG, RemediationWindow, Remedy, karpenter_fix};

use super::{AuditedInstance, instance_alert};

/// The tag Karpenter puts on its instances: the pool's EC2NodeClass.
const NODE_CLASS_TAG: &str = "karpenter.k8s.aws/ec2nodeclass";

/// `launcher_loop`: the pool reached its limit (`window`); the remedy of
/// this and the pool's further instances is held. Critical: the launcher
/// keeps starting non-compliant nodes until its configuration is fixed.
pub fn launcher_loop(
    about: &AuditedInstance,
    remedy: &Remedy,
    pool: &LauncherPool,
    window: &RemediationWindow,
) -> Alert {
    let mut alert = instance_alert(about, AlertKind::LauncherLoop, Severity::Critical, "none");
    alert.headline = format!(
        "{} relaunches non-compliant nodes: {} remediated in an hour, now held",
        pool.label(),
        window.remediated
    );
    let node_class = about.instance.tags.get(NODE_CLASS_TAG);
    let fixes = fixes(about);
    for (key, value) in [
        ("nodepool", json!(pool.name)),
        ("launcher_tag", json!(pool.tag)),
        ("remediated_last_hour", json!(window.remediated)),
        ("max_remediations_per_pool", json!(window.cap)),
        ("held_action", json!(remedy.as_str())),
        ("fix", json!(fixes)),
    ] {
        alert.details.insert(key.into(), value);
    }
    if let Some(node_class) = node_class {
        alert
            .details
            .insert("ec2nodeclass".into(), json!(node_class));
    }
    alert.advice = format!(
        "The guard remediated {} instances of {} within the last hour, the limit of \
         GUARD_MAX_REMEDIATIONS_PER_POOL ({}). The launcher replaces each removed node from the same \
         configuration, so further remediations of this pool are held: instance {} ({}) stays {} and is reported, \
         held instances carry the tag `{POOL_HELD_TAG}`, and this alert is sent at most once an hour per pool. {}",
        window.remediated,
        pool.label(),
        window.cap,
        about.instance.instance_id,
        about.audit.check_list(),
        about.instance.state,
        what_to_fix(pool, node_class.map(String::as_str), &fixes),
    );
    alert
}

/// Where each broken check is fixed, each place once, in check order.
fn fixes(about: &AuditedInstance) -> Vec<&'static str> {
    let mut fixes: Vec<&'static str> = about
        .audit
        .checks()
        .into_iter()
        .filter_map(karpenter_fix)
        .collect();
    fixes.dedup();
    fixes
}

fn what_to_fix(pool: &LauncherPool, node_class: Option<&str>, fixes: &[&str]) -> String {
    if !pool.is_karpenter() {
        return format!(
            "Fix the node configuration the launcher uses for pool `{}` (tag `{}`), then replace the held nodes.",
            pool.name, pool.tag
        );
    }
    let class = node_class.map_or_else(
        || "the EC2NodeClass of its `spec.template.spec.nodeClassRef`".to_owned(),
        |name| format!("EC2NodeClass `{name}`"),
    );
    let fixes = if fixes.is_empty() {
        "the findings are not set by an EC2NodeClass: check the NodePool and the policy".to_owned()
    } else {
        fixes.join("; ")
    };
    format!(
        "Fix NodePool `{}` and {class}: {fixes}. Karpenter then replaces the held nodes as drifted \
         (or delete their NodeClaims).",
        pool.name
    )
}
