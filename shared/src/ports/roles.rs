//! The IAM read port (issue 25, point 4): which roles carry which inline
//! policies, so that a survey finds the launch breaker on any role, without
//! the policy that named the launcher roles (its stack may be gone).

use std::future::Future;

use super::AwsResult;

/// Lists roles and their inline policies (`ListRoles`, `ListRolePolicies`).
pub trait RolePoliciesRead: Send + Sync {
    /// The name of every role of the account (all pages).
    fn role_names(&self) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
    /// The names of the inline policies of the role named `role` (all
    /// pages); a role deleted since it was listed has none.
    fn inline_policy_names(
        &self,
        role: &str,
    ) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
}
