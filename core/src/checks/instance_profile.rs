//! `instance_profile.allowed`: the node runs with this environment's node role.

use std::collections::BTreeSet;

use super::{CheckName, Violation, join};
use crate::facts::InstanceFacts;

pub(super) fn check(allowed: &BTreeSet<String>, instance: &InstanceFacts) -> Option<Violation> {
    if allowed.is_empty() {
        return None;
    }
    let actual = instance.instance_profile_arn.as_deref();
    if actual.is_some_and(|arn| allowed.contains(arn)) {
        return None;
    }
    let actual = actual.unwrap_or("none");
    Some(Violation::new(
        CheckName::InstanceProfileAllowed,
        &instance.instance_id,
        format!("one of {}", join(allowed)),
        actual,
        format!(
            "instance `{}` runs with instance profile `{actual}`, which is not allowed",
            instance.instance_id
        ),
    ))
}
