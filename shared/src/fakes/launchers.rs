//! The fake's IAM: launcher roles and their inline policies (the launch
//! breaker, issue 23).

use std::collections::BTreeMap;

use crate::launch_breaker::{LaunchBreaker, role_name};
use crate::ports::{AwsError, AwsResult, BreakerRemoval, LauncherRoles, RolePoliciesRead};

use super::FakeAws;

/// The region the fake's breakers are scoped to.
pub const FAKE_REGION: &str = "eu-west-1";

impl FakeAws {
    /// A role that exists (by arn), with no inline policy.
    pub fn add_role(&self, role_arn: &str) {
        self.state()
            .role_policies
            .entry(role_arn.to_owned())
            .or_default();
    }

    /// The inline policies of a role: name → document.
    pub fn role_policies(&self, role_arn: &str) -> BTreeMap<String, String> {
        self.state()
            .role_policies
            .get(role_arn)
            .cloned()
            .unwrap_or_default()
    }
}

fn no_such_role(operation: &'static str, role_arn: &str) -> AwsError {
    AwsError::new(
        operation,
        Some("NoSuchEntity"),
        format!("The role with name {role_arn} cannot be found."),
    )
}

impl LauncherRoles for FakeAws {
    fn region(&self) -> &str {
        FAKE_REGION
    }

    async fn put_breaker(&self, role_arn: &str, breaker: &LaunchBreaker) -> AwsResult<()> {
        tokio::task::yield_now().await;
        let mut state = self.call("PutRolePolicy")?;
        let policies = state
            .role_policies
            .get_mut(role_arn)
            .ok_or_else(|| no_such_role("PutRolePolicy", role_arn))?;
        policies.insert(breaker.name.clone(), breaker.document.clone());
        Ok(())
    }

    async fn delete_breaker(&self, role_arn: &str, policy_name: &str) -> AwsResult<BreakerRemoval> {
        tokio::task::yield_now().await;
        let mut state = self.call("DeleteRolePolicy")?;
        let removed = state
            .role_policies
            .get_mut(role_arn)
            .and_then(|policies| policies.remove(policy_name));
        Ok(match removed {
            Some(_) => BreakerRemoval::Removed,
            None => BreakerRemoval::Absent,
        })
    }
}

/// `ListRoles` and `ListRolePolicies` on the roles the fake knows, by name.
impl RolePoliciesRead for FakeAws {
    async fn role_names(&self) -> AwsResult<Vec<String>> {
        tokio::task::yield_now().await;
        let state = self.call("ListRoles")?;
        Ok(state
            .role_policies
            .keys()
            .map(|arn| role_name(arn).to_owned())
            .collect())
    }

    async fn inline_policy_names(&self, role: &str) -> AwsResult<Vec<String>> {
        tokio::task::yield_now().await;
        let state = self.call("ListRolePolicies")?;
        // A role deleted since it was listed carries nothing (as the adapter).
        Ok(state
            .role_policies
            .iter()
            .find(|(arn, _)| role_name(arn) == role)
            .map(|(_, policies)| policies.keys().cloned().collect())
            .unwrap_or_default())
    }
}
