//! CloudWatch: metrics and alarm states.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{AlarmType, Dimension, MetricDatum, StandardUnit, StateValue};

use super::aws_error;
use crate::ports::{AlarmRead, AwsResult, Metric, MetricUnit, MetricsPublish};

/// The namespace of every metric the guard publishes.
pub const NAMESPACE: &str = "ScalingGuard";

/// The CloudWatch adapter.
#[derive(Debug, Clone)]
pub struct CloudWatch {
    client: Client,
}

impl CloudWatch {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl MetricsPublish for CloudWatch {
    async fn put_metrics(&self, cluster: &str, metrics: &[Metric]) -> AwsResult<()> {
        let dimension = Dimension::builder().name("Cluster").value(cluster).build();
        let data = metrics
            .iter()
            .map(|metric| {
                MetricDatum::builder()
                    .metric_name(metric.name)
                    .dimensions(dimension.clone())
                    .value(metric.value)
                    .unit(match metric.unit {
                        MetricUnit::Count => StandardUnit::Count,
                        MetricUnit::Percent => StandardUnit::Percent,
                        MetricUnit::Megabytes => StandardUnit::Megabytes,
                    })
                    .build()
            })
            .collect();
        self.client
            .put_metric_data()
            .namespace(NAMESPACE)
            .set_metric_data(Some(data))
            .send()
            .await
            .map_err(|err| aws_error("PutMetricData", err))?;
        Ok(())
    }
}

impl AlarmRead for CloudWatch {
    async fn alarms_in_alarm(&self, names: &[String]) -> AwsResult<Vec<String>> {
        let mut firing = Vec::new();
        // DescribeAlarms takes at most 100 names per request.
        for batch in names.chunks(100) {
            let request = self
                .client
                .describe_alarms()
                .set_alarm_names(Some(batch.to_vec()));
            firing.extend(firing_alarms(request).await?);
        }
        Ok(firing)
    }

    async fn alarms_in_alarm_with_prefix(&self, prefix: &str) -> AwsResult<Vec<String>> {
        let request = self.client.describe_alarms().alarm_name_prefix(prefix);
        let firing = firing_alarms(request).await?;
        // The prefix is checked again, as the state is.
        Ok(firing
            .into_iter()
            .filter(|name| name.starts_with(prefix))
            .collect())
    }
}

/// The metric and composite alarms of `request` (every page) in `ALARM`.
async fn firing_alarms(
    request: aws_sdk_cloudwatch::operation::describe_alarms::builders::DescribeAlarmsFluentBuilder,
) -> AwsResult<Vec<String>> {
    let pages: Vec<_> = request
        // Without AlarmTypes only metric alarms are returned: a
        // composite surge alarm would never hold a resume.
        .alarm_types(AlarmType::MetricAlarm)
        .alarm_types(AlarmType::CompositeAlarm)
        .state_value(StateValue::Alarm)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| aws_error("DescribeAlarms", err))?;
    // The state is checked again on each alarm: the request's filter
    // is not applied together with names by every implementation.
    let alarming = |state: Option<&StateValue>| state == Some(&StateValue::Alarm);
    Ok(pages
        .iter()
        .flat_map(|page| {
            let metric = page
                .metric_alarms()
                .iter()
                .filter(|a| alarming(a.state_value()))
                .filter_map(|a| a.alarm_name());
            let composite = page
                .composite_alarms()
                .iter()
                .filter(|a| alarming(a.state_value()))
                .filter_map(|a| a.alarm_name());
            metric
                .chain(composite)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect())
}
