//! `org audit --leftovers`: what any scaling-guard left in one account and
//! region (issue 25, point 4) — hooks, suspensions, clamps, `scaling-guard:`
//! group tags, launch breakers — after its stack instances were deleted.
//! Thin over [`shared::leftovers`], which finds them without the policy.

use aws_config::SdkConfig;
use shared::aws::{AutoScaling, Iam};
use shared::ports::AwsError;

pub use shared::leftovers::Leftovers;

/// Surveys the account and region of `config` (its credentials: the audit
/// role assumed in the member account). Fails only when the groups or the
/// roles cannot be listed at all.
pub async fn survey(config: &SdkConfig) -> Result<Leftovers, AwsError> {
    let groups = AutoScaling::new(aws_sdk_autoscaling::Client::new(config));
    let roles = Iam::new(config);
    let region = config.region().map(ToString::to_string).unwrap_or_default();
    shared::leftovers::survey_leftovers(&groups, &roles, &region).await
}
