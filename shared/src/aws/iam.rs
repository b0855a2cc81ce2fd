//! IAM: the launch breaker on launcher roles (`PutRolePolicy`,
//! `DeleteRolePolicy`), and the roles' inline policies for the leftovers
//! survey (`ListRoles`, `ListRolePolicies`). Throttling (IAM's `Throttling`) and server errors
//! are retried by the SDK's standard retry ([`super::retry_config`]).

use std::sync::OnceLock;

use aws_config::SdkConfig;
use aws_sdk_iam::Client;
use aws_sdk_iam::error::ProvideErrorMetadata;

use super::aws_error;
use crate::launch_breaker::{LaunchBreaker, role_name};
use crate::ports::{AwsResult, BreakerRemoval, LauncherRoles, RolePoliciesRead};

/// The IAM adapter; the breaker denies launches in `region`, the
/// configuration's.
///
/// Its client is made at the first call, not with the adapters: only
/// budget-guard and stack-guard (and `release --yes`) ever call IAM, and a
/// client made at start would put the IAM SDK's code on the pages of
/// launch-guard and instance-audit too, whose peak RSS is mostly their
/// executable's pages (issue 13's goal).
#[derive(Debug, Clone)]
pub struct Iam {
    config: SdkConfig,
    client: OnceLock<Client>,
    region: String,
}

impl Iam {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            config: config.clone(),
            client: OnceLock::new(),
            region: config.region().map(ToString::to_string).unwrap_or_default(),
        }
    }

    fn client(&self) -> &Client {
        self.client.get_or_init(|| Client::new(&self.config))
    }
}

impl LauncherRoles for Iam {
    fn region(&self) -> &str {
        &self.region
    }

    async fn put_breaker(&self, role_arn: &str, breaker: &LaunchBreaker) -> AwsResult<()> {
        self.client()
            .put_role_policy()
            .role_name(role_name(role_arn))
            .policy_name(&breaker.name)
            .policy_document(&breaker.document)
            .send()
            .await
            .map_err(|err| aws_error("PutRolePolicy", err))?;
        Ok(())
    }

    async fn delete_breaker(&self, role_arn: &str, policy_name: &str) -> AwsResult<BreakerRemoval> {
        let deleted = self
            .client()
            .delete_role_policy()
            .role_name(role_name(role_arn))
            .policy_name(policy_name)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(BreakerRemoval::Removed),
            Err(err) if err.code() == Some("NoSuchEntity") => Ok(BreakerRemoval::Absent),
            Err(err) => Err(aws_error("DeleteRolePolicy", err)),
        }
    }
}

/// Every page of both lists: IAM pages by `Marker`, 100 items a page by
/// default (`MaxItems` up to 1,000).
impl RolePoliciesRead for Iam {
    async fn role_names(&self) -> AwsResult<Vec<String>> {
        let mut pages = self
            .client()
            .list_roles()
            .max_items(1000)
            .into_paginator()
            .send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| aws_error("ListRoles", err))?;
            names.extend(page.roles.into_iter().map(|role| role.role_name));
        }
        Ok(names)
    }

    async fn inline_policy_names(&self, role: &str) -> AwsResult<Vec<String>> {
        let mut pages = self
            .client()
            .list_role_policies()
            .role_name(role)
            .max_items(1000)
            .into_paginator()
            .send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => names.extend(page.policy_names),
                // Deleted since it was listed: it carries nothing.
                Err(err) if err.code() == Some("NoSuchEntity") => return Ok(Vec::new()),
                Err(err) => return Err(aws_error("ListRolePolicies", err)),
            }
        }
        Ok(names)
    }
}
