//! `instance_type.allowed`: glob allow and deny lists; deny wins.

use super::{CheckName, Violation};
use crate::facts::InstanceFacts;
use crate::policy::InstanceTypeRules;

pub(super) fn check(rules: &InstanceTypeRules, instance: &InstanceFacts) -> Option<Violation> {
    let instance_type = instance.instance_type.as_str();
    let expected = || {
        let mut parts = Vec::new();
        if !rules.allowed.is_empty() {
            parts.push(format!("matching {}", rules.allowed.texts().join(", ")));
        }
        if !rules.denied.is_empty() {
            parts.push(format!("not matching {}", rules.denied.texts().join(", ")));
        }
        parts.join(" and ")
    };
    if let Some(pattern) = rules.denied.first_match(instance_type) {
        return Some(Violation::new(
            CheckName::InstanceTypeAllowed,
            &instance.instance_id,
            expected(),
            instance_type,
            format!("instance type `{instance_type}` is denied by pattern `{pattern}`"),
        ));
    }
    if !rules.allowed.is_empty() && rules.allowed.first_match(instance_type).is_none() {
        return Some(Violation::new(
            CheckName::InstanceTypeAllowed,
            &instance.instance_id,
            expected(),
            instance_type,
            format!(
                "instance type `{instance_type}` matches none of the allowed patterns `{}`",
                rules.allowed.texts().join(",")
            ),
        ));
    }
    None
}
