//! Issue 24, point 5: instance-audit's sweep and state-change audit judge a
//! running instance at the audit's own time, so an exception stops
//! exempting it the day after its `until=`.

use std::time::Duration;

use pretty_assertions::assert_eq;

use super::*;
use crate::checks::membership::{GROUP_NAME_TAG, Vetting};
use crate::facts::HttpTokens;
use crate::fixtures::{GROUP, compliant_node, now, strict_policy};

#[test]
fn an_instance_exempted_on_the_exceptions_last_day_is_a_finding_the_day_after() {
    // Given a node of the fixtures' group that allows IMDSv1, and an
    // exception of imds.v2 for that group ending on the fixtures' day.
    let exception = format!("imds.v2@{GROUP} until=2026-09-21 reason=PLAT-5");
    let policy = strict_policy(&[("GUARD_CHECK_EXCEPTIONS", exception.as_str())]);
    let mut node = compliant_node();
    node.instance.http_tokens = Some(HttpTokens::Optional);
    node.instance
        .tags
        .insert(GROUP_NAME_TAG.into(), GROUP.into());
    let membership = || Membership::GuardedGroup {
        group: GROUP.into(),
        vetting: Vetting::Vetted,
    };

    // On its last day: exempted, compliant.
    let today = InstanceAudit::of(&policy, &node, membership(), now());
    assert_eq!(today.checks(), vec![]);
    assert_eq!(today.exempted.len(), 1, "{today:#?}");
    assert_eq!(today.exempted[0].check, CheckName::ImdsV2);

    // The day after: a blocking finding, nothing exempted.
    let after = InstanceAudit::of(
        &policy,
        &node,
        membership(),
        now() + Duration::from_secs(86_400),
    );
    assert_eq!(after.checks(), vec![CheckName::ImdsV2]);
    assert!(after.findings[0].blocking);
    assert_eq!(after.exempted, vec![]);
}
