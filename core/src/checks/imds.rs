//! `imds.v2`: the instance metadata service requires session tokens.

use super::{CheckName, Violation};
use crate::facts::{HttpTokens, InstanceFacts};

pub(super) fn check(require_imdsv2: bool, instance: &InstanceFacts) -> Option<Violation> {
    if !require_imdsv2 || instance.http_tokens == Some(HttpTokens::Required) {
        return None;
    }
    let actual = match instance.http_tokens {
        Some(HttpTokens::Optional) => "HttpTokens=optional",
        _ => "no metadata options reported",
    };
    Some(Violation::new(
        CheckName::ImdsV2,
        &instance.instance_id,
        "HttpTokens=required",
        actual,
        format!(
            "instance `{}` allows IMDSv1 ({actual}); set the launch template's metadata option HttpTokens to `required`",
            instance.instance_id
        ),
    ))
}
