//! The guard's findings in the formats security teams read: ASFF (Security
//! Hub, `audit --format asff`) and OCSF (`audit --format ocsf`).

pub mod asff;
pub mod lifecycle;
pub mod ocsf;

/// What the findings' tests share: one account, region and subject, the
/// IMDSv2 violation they report.
#[cfg(test)]
pub(crate) mod test_support {
    use super::asff::Subject;
    use crate::check_name::CheckName;
    use crate::checks::Violation;
    use crate::decision::Finding;
    use crate::fixtures::{CLUSTER, GROUP, INSTANCE_ID};

    pub const ACCOUNT: &str = "123456789012";
    pub const REGION: &str = "eu-west-1";

    /// The fixture cluster's instance `instance_id` in `group`.
    pub fn subject_in(instance_id: &'static str, group: Option<&'static str>) -> Subject<'static> {
        Subject {
            account: ACCOUNT,
            region: REGION,
            cluster: CLUSTER,
            instance_id,
            group,
        }
    }

    /// The fixture instance in the fixture group.
    pub fn subject() -> Subject<'static> {
        subject_in(INSTANCE_ID, Some(GROUP))
    }

    pub fn imds_violation() -> Violation {
        Violation::new(
            CheckName::ImdsV2,
            INSTANCE_ID,
            "required",
            "optional",
            "instance metadata v2 is not required",
        )
    }

    pub fn blocking(violation: Violation) -> Finding {
        Finding {
            violation,
            blocking: true,
        }
    }
}
