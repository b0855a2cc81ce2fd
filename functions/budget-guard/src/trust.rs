//! Which alarms budget-guard believes (SPEC §12): only this stack's (its
//! account and region) and only the guard's own (a budget alarm by name, a
//! surge alarm by prefix). Any topic or function may deliver other alarms: an
//! unrelated `rds-cpu-high` on a shared topic is ignored, never acted on.
//!
//! Passing here is not enough to suspend: the handler then confirms a budget
//! alarm with its own fresh measurement and a surge alarm with
//! `DescribeAlarms`, because a notification can be forged by anyone who may
//! publish to the topic, and a budget metric by anyone who may put data.

use shared::policy::AlarmTrust;

use crate::event::AccountRegion;
use crate::response::{IgnoreReason, Ignored};

/// Where this function runs: the account and region of its own ARN (the
/// Lambda context's `invoked_function_arn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home(Option<AccountRegion>);

impl Home {
    /// The home of the function `arn`; unknown when `arn` does not name an
    /// account and a region (then no alarm is believed).
    pub fn of_function(arn: &str) -> Self {
        Self(AccountRegion::of_arn(arn))
    }
}

/// What a believed alarm is to the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmRole {
    /// One of the guard's budget alarms (`GUARD_BUDGET_ALARM_NAMES`).
    Budget,
    /// An operator's surge alarm (`GUARD_SURGE_ALARM_PREFIX`).
    Surge,
}

/// Whether alarm `name`, living at `source`, is this stack's and the
/// guard's: its role, or why it is ignored.
pub fn believe(
    trust: &AlarmTrust,
    home: &Home,
    name: &str,
    source: Option<&AccountRegion>,
) -> Result<AlarmRole, Ignored> {
    let Home(Some(home)) = home else {
        return Err(ignored(
            IgnoreReason::UnknownHome,
            "this function's own ARN does not name its account and region".to_owned(),
        ));
    };
    let Some(source) = source else {
        return Err(ignored(
            IgnoreReason::UnknownSource,
            format!("alarm `{name}` does not say its account and region (no alarm ARN)"),
        ));
    };
    if source.account != home.account {
        return Err(ignored(
            IgnoreReason::ForeignAccount,
            format!(
                "alarm `{name}` is in account `{}`, this stack is in `{}`",
                source.account, home.account
            ),
        ));
    }
    if source.region != home.region {
        return Err(ignored(
            IgnoreReason::ForeignRegion,
            format!(
                "alarm `{name}` is in region `{}`, this stack is in `{}`",
                source.region, home.region
            ),
        ));
    }
    if trust.is_budget_alarm(name) {
        return Ok(AlarmRole::Budget);
    }
    if trust.is_surge_alarm(name) {
        return Ok(AlarmRole::Surge);
    }
    let surge = match &trust.surge_alarm_prefix {
        Some(prefix) => format!("its name does not start with the surge prefix `{prefix}`"),
        None => "no surge alarm prefix is set".to_owned(),
    };
    Err(ignored(
        IgnoreReason::UnknownAlarm,
        format!("alarm `{name}` is not one of the guard's budget alarms, and {surge}"),
    ))
}

fn ignored(reason: IgnoreReason, detail: String) -> Ignored {
    Ignored { reason, detail }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use rstest::rstest;

    use super::*;

    const FUNCTION: &str = "arn:aws:lambda:eu-west-1:123456789012:function:budget-guard";

    fn trust() -> AlarmTrust {
        AlarmTrust {
            budget_alarm_names: ["prod-VcpuPercentOfBudget".to_owned()].into(),
            surge_alarm_prefix: Some("prod-surge-".to_owned()),
        }
    }

    fn at(account: &str, region: &str) -> Option<AccountRegion> {
        Some(AccountRegion {
            account: account.into(),
            region: region.into(),
        })
    }

    fn role_of(name: &str, source: Option<AccountRegion>) -> Result<AlarmRole, IgnoreReason> {
        believe(
            &trust(),
            &Home::of_function(FUNCTION),
            name,
            source.as_ref(),
        )
        .map_err(|i| i.reason)
    }

    #[rstest]
    #[case::budget_alarm("prod-VcpuPercentOfBudget", Ok(AlarmRole::Budget))]
    #[case::surge_alarm("prod-surge-requests", Ok(AlarmRole::Surge))]
    #[case::the_bare_prefix_is_a_surge_alarm_too("prod-surge-", Ok(AlarmRole::Surge))]
    #[case::unrelated("rds-cpu-high", Err(IgnoreReason::UnknownAlarm))]
    #[case::another_stacks_budget_alarm(
        "staging-VcpuPercentOfBudget",
        Err(IgnoreReason::UnknownAlarm)
    )]
    #[case::prefix_in_the_middle("x-prod-surge-requests", Err(IgnoreReason::UnknownAlarm))]
    fn an_alarm_of_this_stack_is_believed_by_its_name(
        #[case] name: &str,
        #[case] role: Result<AlarmRole, IgnoreReason>,
    ) {
        assert_eq!(role_of(name, at("123456789012", "eu-west-1")), role);
    }

    #[rstest]
    #[case::another_account(at("999999999999", "eu-west-1"), IgnoreReason::ForeignAccount)]
    #[case::another_region(at("123456789012", "us-east-1"), IgnoreReason::ForeignRegion)]
    #[case::nowhere(None, IgnoreReason::UnknownSource)]
    fn an_alarm_living_elsewhere_is_ignored_whatever_its_name(
        #[case] source: Option<AccountRegion>,
        #[case] reason: IgnoreReason,
    ) {
        assert_eq!(role_of("prod-VcpuPercentOfBudget", source), Err(reason));
    }

    #[test]
    fn without_a_home_no_alarm_is_believed() {
        let believed = believe(
            &trust(),
            &Home::of_function(""),
            "prod-VcpuPercentOfBudget",
            at("123456789012", "eu-west-1").as_ref(),
        );
        assert_eq!(
            believed.map_err(|i| i.reason),
            Err(IgnoreReason::UnknownHome)
        );
    }

    #[test]
    fn an_unknown_alarm_is_told_why() {
        let ignored = believe(
            &trust(),
            &Home::of_function(FUNCTION),
            "rds-cpu-high",
            at("123456789012", "eu-west-1").as_ref(),
        );
        assert_eq!(
            ignored.unwrap_err().detail,
            "alarm `rds-cpu-high` is not one of the guard's budget alarms, and its name does not start with the surge prefix `prod-surge-`"
        );
        let without_prefix = AlarmTrust {
            surge_alarm_prefix: None,
            ..trust()
        };
        let ignored = believe(
            &without_prefix,
            &Home::of_function(FUNCTION),
            "prod-surge-requests",
            at("123456789012", "eu-west-1").as_ref(),
        );
        assert_eq!(
            ignored.unwrap_err().detail,
            "alarm `prod-surge-requests` is not one of the guard's budget alarms, and no surge alarm prefix is set"
        );
    }
}
