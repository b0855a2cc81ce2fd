//! SDK clients bound to one emulator.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_cloudwatch::operation::list_metrics::ListMetricsOutput;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, DimensionFilter, Metric, MetricDataQuery, MetricStat};
use aws_sdk_ec2::config::Credentials;

use crate::emulator::{Control, Emulator};
use crate::error::{Error, Result};

/// The region of the tests and of the sample events.
pub const REGION: &str = "eu-west-1";

/// An SDK configuration pointed at `emulator`, with static test credentials
/// (the emulator accepts any): the tests' clients, and the production
/// adapters when a test runs them against the emulator.
pub async fn sdk_config(emulator: &Emulator) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(emulator.endpoint())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "scaling-guard-e2e",
        ))
        .load()
        .await
}

/// The clients a test needs, against one emulator, with static test
/// credentials (the emulator accepts any).
#[derive(Debug, Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// The emulator's own endpoint for what AWS has no API for.
    pub control: Control,
}

impl Clients {
    pub async fn new(emulator: &Emulator) -> Self {
        Self::of(&sdk_config(emulator).await, emulator)
    }

    /// The clients on `config` (another account's credentials, say).
    pub(crate) fn of(config: &aws_config::SdkConfig, emulator: &Emulator) -> Self {
        Self {
            ec2: aws_sdk_ec2::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            control: emulator.control(),
        }
    }
}

impl Clients {
    /// The `ScalingGuard` metrics of `cluster`, as one `ListMetrics` lists them.
    pub async fn listed_metrics(&self, cluster: &str) -> Result<ListMetricsOutput> {
        self.cloudwatch
            .list_metrics()
            .namespace("ScalingGuard")
            .dimensions(
                DimensionFilter::builder()
                    .name("Cluster")
                    .value(cluster)
                    .build(),
            )
            .send()
            .await
            .map_err(Error::aws("ListMetrics"))
    }

    /// The datapoints (Maximum per minute, last 10 minutes) of the named
    /// `ScalingGuard` metrics of `cluster`, read back with one `GetMetricData`.
    pub async fn metric_values(
        &self,
        cluster: &str,
        names: &[&str],
    ) -> Result<BTreeMap<String, Vec<f64>>> {
        let now = SystemTime::now();
        let queries = names.iter().enumerate().map(|(n, name)| {
            let metric = Metric::builder()
                .namespace("ScalingGuard")
                .metric_name(*name)
                .dimensions(Dimension::builder().name("Cluster").value(cluster).build())
                .build();
            MetricDataQuery::builder()
                .id(format!("m{n}"))
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric)
                        .period(60)
                        .stat("Maximum")
                        .build(),
                )
                .build()
        });
        let output = self
            .cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(queries.collect()))
            .start_time(DateTime::from(now - Duration::from_secs(600)))
            .end_time(DateTime::from(now + Duration::from_secs(60)))
            .send()
            .await
            .map_err(Error::aws("GetMetricData"))?;
        output
            .metric_data_results()
            .iter()
            .map(|result| {
                let name = result
                    .id()
                    .and_then(|id| id.strip_prefix('m'))
                    .and_then(|n| n.parse::<usize>().ok())
                    .and_then(|n| names.get(n))
                    .ok_or_else(|| {
                        Error::Emulator(format!("unexpected result id {:?}", result.id()))
                    })?;
                Ok(((*name).to_owned(), result.values().to_vec()))
            })
            .collect()
    }
}
