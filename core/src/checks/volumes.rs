//! `volumes.encrypted`: every EBS volume attached to the node is encrypted,
//! with an allowed KMS key when the policy lists any. Read from the real
//! volumes: an account's default encryption is invisible in a launch template.

use super::{CheckName, Violation, join};
use crate::facts::NodeFacts;
use crate::policy::VolumeRules;

pub(super) fn check(rules: &VolumeRules, facts: &NodeFacts) -> Vec<Violation> {
    if !rules.require_encrypted {
        return Vec::new();
    }
    let instance_id = &facts.instance.instance_id;
    let expected = if rules.allowed_kms_keys.is_empty() {
        "an encrypted volume".to_owned()
    } else {
        format!(
            "a volume encrypted with one of {}",
            join(&rules.allowed_kms_keys)
        )
    };
    let mut violations = Vec::new();
    for volume_id in &facts.instance.volume_ids {
        let volume = facts.volumes.iter().find(|v| &v.volume_id == volume_id);
        let (actual, message) = match volume {
            None => (
                "not described".to_owned(),
                format!("volume `{volume_id}` of instance `{instance_id}` could not be described"),
            ),
            Some(volume) if !volume.encrypted => (
                "not encrypted".to_owned(),
                format!(
                    "volume `{volume_id}` of instance `{instance_id}` is not encrypted; set `Encrypted` in the launch template's block-device mappings or turn on EBS encryption by default"
                ),
            ),
            Some(volume) => {
                let key = volume.kms_key_id.as_deref().unwrap_or("an unnamed key");
                if rules.allowed_kms_keys.is_empty() || rules.allowed_kms_keys.contains(key) {
                    continue;
                }
                (
                    format!("encrypted with `{key}`"),
                    format!(
                        "volume `{volume_id}` of instance `{instance_id}` is encrypted with `{key}`, not an allowed KMS key"
                    ),
                )
            }
        };
        violations.push(Violation::new(
            CheckName::VolumesEncrypted,
            volume_id,
            expected.clone(),
            actual,
            message,
        ));
    }
    violations
}
