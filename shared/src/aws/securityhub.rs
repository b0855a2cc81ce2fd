//! Security Hub: the guard's findings (`BatchImportFindings`, `GetFindings`;
//! issue 24, point 1). Off unless `GUARD_SECURITY_HUB` is set: then no call
//! is made and no client is built.
//!
//! Security Hub answers a throttled call with `LimitExceededException`
//! (HTTP 429), which the SDK's standard retry ([`super::retry_config`])
//! retries as throttling; the adapter paces its own batches under the
//! API's rate (`BatchImportFindings`: 10 calls a second, bursts of 30).

mod convert;

use std::sync::OnceLock;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_securityhub::Client;
use aws_sdk_securityhub::operation::batch_import_findings::BatchImportFindingsOutput;
use aws_sdk_securityhub::types::{
    AwsSecurityFindingFilters, MapFilter, MapFilterComparison, StringFilter, StringFilterComparison,
};
use guard_core::findings::asff::{AsffFinding, GENERATOR_PREFIX, RecordState, fields};

use super::aws_error;
use crate::ports::{AwsError, AwsResult, FailedFinding, FindingsPublish, IMPORT_BATCH, Imported};

/// The pause between two `BatchImportFindings` calls of one import: five a
/// second, half the API's rate, so that two functions importing at once
/// stay under it.
pub const IMPORT_PACE: Duration = Duration::from_millis(200);
/// `GetFindings`' largest page.
const PAGE_SIZE: i32 = 100;

/// The Security Hub adapter, in the configuration's region.
///
/// Its client is made at the first call, as [`super::Iam`]'s: with Security
/// Hub off (the default) no function ever pages the Security Hub SDK in.
#[derive(Debug, Clone)]
pub struct SecurityHub {
    config: SdkConfig,
    client: OnceLock<Client>,
    region: String,
    enabled: bool,
}

impl SecurityHub {
    /// `enabled`: `GUARD_SECURITY_HUB`; off, every call is a no-op.
    pub fn new(config: &SdkConfig, enabled: bool) -> Self {
        Self {
            config: config.clone(),
            client: OnceLock::new(),
            region: config.region().map(ToString::to_string).unwrap_or_default(),
            enabled,
        }
    }

    fn client(&self) -> &Client {
        self.client.get_or_init(|| Client::new(&self.config))
    }

    async fn import_batch(&self, batch: &[AsffFinding]) -> AwsResult<BatchImportFindingsOutput> {
        self.client()
            .batch_import_findings()
            .set_findings(Some(batch.iter().map(convert::to_sdk).collect()))
            .send()
            .await
            .map_err(|err| aws_error("BatchImportFindings", err))
    }

    /// The guard's active findings of `cluster` (and `instance_id`) in this
    /// region: the filters `GetFindings` applies.
    fn filters(&self, cluster: &str, instance_id: Option<&str>) -> AwsSecurityFindingFilters {
        let string = |value: &str, comparison: StringFilterComparison| {
            StringFilter::builder()
                .value(value)
                .comparison(comparison)
                .build()
        };
        let field = |key: &str, value: &str| {
            MapFilter::builder()
                .key(key)
                .value(value)
                .comparison(MapFilterComparison::Equals)
                .build()
        };
        let mut filters = AwsSecurityFindingFilters::builder()
            .generator_id(string(GENERATOR_PREFIX, StringFilterComparison::Prefix))
            .record_state(string(
                RecordState::Active.as_str(),
                StringFilterComparison::Equals,
            ))
            .region(string(&self.region, StringFilterComparison::Equals))
            .product_fields(field(fields::CLUSTER, cluster));
        if let Some(instance_id) = instance_id {
            filters = filters.product_fields(field(fields::INSTANCE, instance_id));
        }
        filters.build()
    }
}

/// Adds one call's answer to the import's tally.
fn tally(imported: &mut Imported, output: &BatchImportFindingsOutput) {
    let succeeded = output.success_count().unwrap_or_default();
    imported.succeeded += usize::try_from(succeeded).unwrap_or_default();
    imported.failed.extend(
        output
            .failed_findings()
            .iter()
            .map(|failure| FailedFinding {
                id: failure.id().unwrap_or_default().to_owned(),
                code: failure.error_code().unwrap_or_default().to_owned(),
                message: failure.error_message().unwrap_or_default().to_owned(),
            }),
    );
}

/// Every finding of a batch whose call failed, with the call's error.
fn failed_batch(batch: &[AsffFinding], err: &AwsError) -> Vec<FailedFinding> {
    let code = err.code.clone().unwrap_or_else(|| "CallFailed".to_owned());
    batch
        .iter()
        .map(|finding| FailedFinding {
            id: finding.id.clone(),
            code: code.clone(),
            message: err.message.clone(),
        })
        .collect()
}

impl FindingsPublish for SecurityHub {
    async fn import(&self, findings: &[AsffFinding]) -> AwsResult<Imported> {
        let mut imported = Imported::default();
        if !self.enabled {
            return Ok(imported);
        }
        let mut first_error = None;
        let mut answered = 0_usize;
        for batch in findings.chunks(IMPORT_BATCH) {
            if imported.calls > 0 {
                tokio::time::sleep(IMPORT_PACE).await;
            }
            imported.calls += 1;
            match self.import_batch(batch).await {
                Ok(output) => {
                    answered += 1;
                    tally(&mut imported, &output);
                }
                Err(err) => {
                    imported.failed.extend(failed_batch(batch, &err));
                    first_error.get_or_insert(err);
                }
            }
        }
        match first_error {
            Some(err) if answered == 0 => Err(err),
            _ => Ok(imported),
        }
    }

    async fn active(
        &self,
        cluster: &str,
        instance_id: Option<&str>,
    ) -> AwsResult<Vec<AsffFinding>> {
        if !self.enabled {
            return Ok(Vec::new());
        }
        let mut pages = self
            .client()
            .get_findings()
            .filters(self.filters(cluster, instance_id))
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| aws_error("GetFindings", err))?;
            found.extend(page.findings().iter().filter_map(convert::from_sdk));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use guard_core::fixtures::{CLUSTER_SETTINGS, test_policy};

    use crate::aws::Destinations;

    #[test]
    fn findings_go_to_security_hub_only_when_the_policy_says_so() {
        let off = test_policy(&CLUSTER_SETTINGS, &[]).unwrap();
        let on = test_policy(&CLUSTER_SETTINGS, &[("GUARD_SECURITY_HUB", "TRUE")]).unwrap();
        assert!(!Destinations::of(&off).security_hub);
        assert!(Destinations::of(&on).security_hub);
        let typo = test_policy(&CLUSTER_SETTINGS, &[("GUARD_SECURITY_HUB", "yes")]).unwrap_err();
        assert!(typo.to_string().contains("GUARD_SECURITY_HUB"), "{typo}");
    }
}
