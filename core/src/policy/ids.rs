//! Shape checks for the AWS identifiers a policy names, so that a typo fails
//! the deployment instead of silently allowing nothing.

/// `prefix-` followed by 8 or 17 lowercase hex digits (`ami-…`, `subnet-…`, `sg-…`).
pub fn is_resource_id(value: &str, prefix: &str) -> bool {
    value
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            matches!(hex.len(), 8 | 17)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// A twelve-digit AWS account id.
pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:<partition>:<service>:<region>:<account>:<resource>` with the given
/// service, a non-empty resource starting with `resource_prefix`, and
/// `region_required` telling whether the region part must be filled.
pub fn is_arn(value: &str, service: &str, region_required: bool, resource_prefix: &str) -> bool {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, partition, svc, region, account, resource] = parts.as_slice() else {
        return false;
    };
    *arn == "arn"
        && partition.starts_with("aws")
        && *svc == service
        && (region.is_empty() != region_required)
        && is_account_id(account)
        && resource.len() > resource_prefix.len()
        && resource.starts_with(resource_prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::short_ami("ami-0123abcd", "ami", true)]
    #[case::long_ami("ami-0123456789abcdef0", "ami", true)]
    #[case::uppercase("ami-0123ABCD", "ami", false)]
    #[case::wrong_prefix("sg-0123abcd", "ami", false)]
    #[case::wrong_length("subnet-0123abc", "subnet", false)]
    #[case::no_dash("sg0123abcd", "sg", false)]
    fn resource_ids_have_a_prefix_and_8_or_17_hex_digits(
        #[case] value: &str,
        #[case] prefix: &str,
        #[case] ok: bool,
    ) {
        assert_eq!(is_resource_id(value, prefix), ok);
    }

    #[rstest]
    #[case::topic("arn:aws:sns:eu-west-1:123456789012:alerts", "sns", true, "", true)]
    #[case::topic_without_region("arn:aws:sns::123456789012:alerts", "sns", true, "", false)]
    #[case::profile(
        "arn:aws:iam::123456789012:instance-profile/node",
        "iam",
        false,
        "instance-profile/",
        true
    )]
    #[case::role_is_not_a_profile(
        "arn:aws:iam::123456789012:role/node",
        "iam",
        false,
        "instance-profile/",
        false
    )]
    #[case::gov_partition(
        "arn:aws-us-gov:iam::123456789012:instance-profile/n",
        "iam",
        false,
        "instance-profile/",
        true
    )]
    #[case::not_an_arn("node-profile", "iam", false, "instance-profile/", false)]
    fn arns_are_checked_by_service_and_resource(
        #[case] value: &str,
        #[case] service: &str,
        #[case] region_required: bool,
        #[case] prefix: &str,
        #[case] ok: bool,
    ) {
        assert_eq!(is_arn(value, service, region_required, prefix), ok);
    }
}
