//! `security_groups.allowed`: every group on the instance is in the allowed set.

use super::{CheckName, Violation, join};
use crate::facts::InstanceFacts;
use crate::policy::NetworkRules;

pub(super) fn check(rules: &NetworkRules, instance: &InstanceFacts) -> Option<Violation> {
    let allowed = &rules.allowed_security_group_ids;
    if allowed.is_empty() {
        return None;
    }
    let foreign: Vec<&String> = instance
        .security_group_ids
        .iter()
        .filter(|id| !allowed.contains(*id))
        .collect();
    if foreign.is_empty() {
        return None;
    }
    let foreign = join(foreign);
    Some(Violation::new(
        CheckName::SecurityGroupsAllowed,
        &instance.instance_id,
        format!("groups within {}", join(allowed)),
        join(&instance.security_group_ids),
        format!(
            "instance `{}` carries security groups that are not allowed: `{foreign}`",
            instance.instance_id
        ),
    ))
}
