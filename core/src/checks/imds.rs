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

/// `imds.hop_limit`: a response to a metadata `PUT` travels at most `max`
/// hops, so that containers (one hop further) cannot fetch the node's
/// credentials when `max` is 1.
pub(super) fn check_hop_limit(max: Option<u32>, instance: &InstanceFacts) -> Option<Violation> {
    let max = max?;
    let actual = match instance.http_put_response_hop_limit {
        Some(hops) if hops <= max => return None,
        Some(hops) => format!("HttpPutResponseHopLimit={hops}"),
        None => "no metadata options reported".to_owned(),
    };
    Some(Violation::new(
        CheckName::ImdsHopLimit,
        &instance.instance_id,
        format!("HttpPutResponseHopLimit at most {max}"),
        actual.clone(),
        format!(
            "instance `{}` lets metadata responses travel further than {max} hop(s) ({actual}); lower the launch template's HttpPutResponseHopLimit, or exempt the group (`GUARD_CHECK_EXCEPTIONS`) if its pods need the node's metadata",
            instance.instance_id
        ),
    ))
}
