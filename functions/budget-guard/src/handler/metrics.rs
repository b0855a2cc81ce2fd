//! The SPEC §7 metrics of every scheduled run, in one `PutMetricData`.

use shared::budget::{self, Usage};
use shared::facts::GroupFacts;
use shared::policy::BudgetPolicy;
use shared::ports::{Metric, MetricUnit, MetricsPublish};
use shared::suspension::SUSPENDED_TAG;

use super::{BudgetGuard, Changes, HandlerError};
use shared::ports::Ports;

impl<P: Ports> BudgetGuard<'_, P> {
    /// Every SPEC §7 metric in one `PutMetricData`.
    pub(super) async fn publish_metrics(
        &self,
        usage: Usage,
        suspended_groups: usize,
    ) -> Result<(), HandlerError> {
        let metrics = usage_metrics(&self.policy.budget, usage, suspended_groups);
        self.ports
            .metrics()
            .put_metrics(&self.policy.cluster, &metrics)
            .await?;
        Ok(())
    }
}

/// `SuspendedGroups` after this run's changes.
pub(super) fn count_suspended(groups: &[GroupFacts], outcome: &Changes) -> usize {
    groups
        .iter()
        .filter(|g| {
            (g.tags.contains_key(SUSPENDED_TAG) || outcome.suspended.changed.contains(&g.name))
                && !outcome.resumed.changed.contains(&g.name)
                && !outcome.handed_over.resumed.contains(&g.name)
        })
        .count()
}

/// The usage, its percentage of each budget set, and the suspended groups.
fn usage_metrics(budget: &BudgetPolicy, usage: Usage, suspended_groups: usize) -> Vec<Metric> {
    #[allow(clippy::cast_precision_loss)] // counts far below 2^53
    let count = |n: u64| n as f64;
    let mut metrics = vec![
        Metric {
            name: "ClusterVcpus",
            value: count(usage.vcpus),
            unit: MetricUnit::Count,
        },
        Metric {
            name: "ClusterMemoryMiB",
            value: count(usage.memory_mib),
            unit: MetricUnit::Megabytes,
        },
        Metric {
            name: "ClusterInstances",
            value: count(usage.instances),
            unit: MetricUnit::Count,
        },
    ];
    for dim in budget::dimensions(budget, usage) {
        let name = match dim.name {
            "vcpus" => "VcpuPercentOfBudget",
            "memory_mib" => "MemoryPercentOfBudget",
            _ => "InstancesPercentOfBudget",
        };
        metrics.push(Metric {
            name,
            value: dim.percent(),
            unit: MetricUnit::Percent,
        });
    }
    let suspended = u64::try_from(suspended_groups).unwrap_or(u64::MAX);
    metrics.push(Metric {
        name: "SuspendedGroups",
        value: count(suspended),
        unit: MetricUnit::Count,
    });
    metrics
}
