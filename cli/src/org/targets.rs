//! What `org audit` audits: accounts (named, or found under organisational
//! units through AWS Organizations) × regions, and the role it assumes in
//! each account.

use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::{AccountStatus, ChildType};
use serde::Serialize;
use shared::ports::{AwsError, AwsResult};

/// One account in one region: the unit `org audit` reads, with credentials
/// of its own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Target {
    pub account: String,
    pub region: String,
}

/// An account found under an OU but not audited (suspended or closing: no
/// role can be assumed in it), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub account: String,
    pub status: String,
}

/// Every account × every region, sorted by account then region: the order
/// of the report, whatever order the audits end in.
pub fn targets(accounts: &[String], regions: &[String]) -> Vec<Target> {
    let mut targets: Vec<Target> = accounts
        .iter()
        .flat_map(|account| {
            regions.iter().map(move |region| Target {
                account: account.clone(),
                region: region.clone(),
            })
        })
        .collect();
    targets.sort();
    targets.dedup();
    targets
}

/// `--accounts`: an AWS account id is 12 digits.
pub fn account_id(text: &str) -> Result<String, String> {
    match text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
        true => Ok(text.to_owned()),
        false => Err(format!("`{text}` is not an AWS account id (12 digits)")),
    }
}

/// The partition of `region`'s ARNs: the role is assumed in the partition
/// the audit reads.
pub fn partition(region: &str) -> &'static str {
    const PARTITIONS: [(&str, &str); 6] = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
    ];
    PARTITIONS
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

/// The audit role of `target`'s account (`--role`), in its region's partition.
pub fn role_arn(target: &Target, role: &str) -> String {
    format!(
        "arn:{}:iam::{}:role/{role}",
        partition(&target.region),
        target.account
    )
}

/// The accounts under `ous` and their child OUs, each once and sorted:
/// active ones to audit, others skipped with their status.
pub async fn accounts_under(
    organizations: &Client,
    ous: &[String],
) -> AwsResult<(Vec<String>, Vec<Skipped>)> {
    let (mut active, mut skipped) = (Vec::new(), Vec::new());
    let mut parents: Vec<String> = ous.to_vec();
    while let Some(parent) = parents.pop() {
        for (account, status) in accounts_of(organizations, &parent).await? {
            match status {
                Some(AccountStatus::Active) => active.push(account),
                other => skipped.push(Skipped {
                    account,
                    status: other.map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
                }),
            }
        }
        parents.extend(child_ous(organizations, &parent).await?);
    }
    active.sort();
    active.dedup();
    skipped.sort_by(|a, b| a.account.cmp(&b.account));
    skipped.dedup();
    Ok((active, skipped))
}

/// The accounts directly under `parent`, with their status (all pages).
async fn accounts_of(
    organizations: &Client,
    parent: &str,
) -> AwsResult<Vec<(String, Option<AccountStatus>)>> {
    let mut pages = organizations
        .list_accounts_for_parent()
        .parent_id(parent)
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| organizations_error("ListAccountsForParent", err))?;
        found.extend(
            page.accounts()
                .iter()
                .filter_map(|account| Some((account.id()?.to_owned(), account.status().cloned()))),
        );
    }
    Ok(found)
}

/// The OUs directly under `parent` (all pages).
async fn child_ous(organizations: &Client, parent: &str) -> AwsResult<Vec<String>> {
    let mut pages = organizations
        .list_children()
        .parent_id(parent)
        .child_type(ChildType::OrganizationalUnit)
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| organizations_error("ListChildren", err))?;
        found.extend(
            page.children()
                .iter()
                .filter_map(|c| c.id().map(str::to_owned)),
        );
    }
    Ok(found)
}

/// An Organizations error as the ports' error, with the service's code.
fn organizations_error<E, R>(
    operation: &'static str,
    err: aws_sdk_organizations::error::SdkError<E, R>,
) -> AwsError
where
    E: aws_sdk_organizations::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_organizations::error::ProvideErrorMetadata as _;
    AwsError {
        operation,
        code: err.code().map(str::to_owned),
        message: err.message().map_or_else(
            || aws_sdk_organizations::error::DisplayErrorContext(&err).to_string(),
            str::to_owned,
        ),
    }
}
