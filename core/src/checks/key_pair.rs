//! `instance.key_pair`: nodes carry no SSH key pair, or only allowed ones.

use super::{CheckName, Violation, join};
use crate::facts::InstanceFacts;
use crate::policy::KeyPairRules;

pub(super) fn check(rules: &KeyPairRules, instance: &InstanceFacts) -> Option<Violation> {
    if !rules.is_on() {
        return None;
    }
    let key = instance.key_name.as_deref()?;
    if rules.allowed.contains(key) {
        return None;
    }
    let expected = if rules.allowed.is_empty() {
        "no SSH key pair".to_owned()
    } else {
        format!("no SSH key pair, or one of {}", join(&rules.allowed))
    };
    Some(Violation::new(
        CheckName::InstanceKeyPair,
        &instance.instance_id,
        expected,
        format!("key pair `{key}`"),
        format!(
            "instance `{}` was launched with SSH key pair `{key}`; remove `KeyName` from the launch template (use SSM Session Manager)",
            instance.instance_id
        ),
    ))
}
