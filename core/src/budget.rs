//! Cluster usage and budgets (SPEC §7): pure arithmetic over facts.
//!
//! Usage is the sum over cluster instances in `pending`/`running` of vCPUs
//! (`CpuOptions` cores × threads where present, else the type's default),
//! memory and count — without the instances [`cluster`] leaves out (waiting
//! for the guard's decision, in a warm pool). All sums are checked; thresholds compare exact
//! integers (`used × 100 ≥ max × percent`), never rounded percentages.

pub mod cluster;
pub mod demand;

pub use demand::{DemandUnknown, missing_capacity, resume_demand};

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::checks::{CheckName, Violation};
use crate::facts::{InstanceFacts, InstanceTypeSpec};
use crate::policy::BudgetPolicy;

/// Capacity in the three budgeted dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Usage {
    pub vcpus: u64,
    pub memory_mib: u64,
    pub instances: u64,
}

impl Usage {
    pub fn checked_add(self, other: Usage) -> Option<Usage> {
        Some(Usage {
            vcpus: self.vcpus.checked_add(other.vcpus)?,
            memory_mib: self.memory_mib.checked_add(other.memory_mib)?,
            instances: self.instances.checked_add(other.instances)?,
        })
    }
}

/// Usage cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("instance type `{0}` is unknown, so its capacity cannot be counted")]
    UnknownType(String),
    #[error("cluster usage overflows")]
    Overflow,
}

/// One instance's capacity.
pub fn instance_usage(
    instance: &InstanceFacts,
    specs: &BTreeMap<String, InstanceTypeSpec>,
) -> Result<Usage, UsageError> {
    let spec = specs
        .get(&instance.instance_type)
        .ok_or_else(|| UsageError::UnknownType(instance.instance_type.clone()))?;
    let vcpus = match instance.cpu_options {
        Some(cpu) => u64::from(cpu.core_count)
            .checked_mul(u64::from(cpu.threads_per_core))
            .ok_or(UsageError::Overflow)?,
        None => u64::from(spec.default_vcpus),
    };
    Ok(Usage {
        vcpus,
        memory_mib: spec.memory_mib,
        instances: 1,
    })
}

/// The cluster's usage: every `pending`/`running` instance not in `excluded`.
pub fn cluster_usage<'a>(
    instances: impl IntoIterator<Item = &'a InstanceFacts>,
    specs: &BTreeMap<String, InstanceTypeSpec>,
    excluded: &BTreeSet<String>,
) -> Result<Usage, UsageError> {
    instances
        .into_iter()
        .filter(|i| i.instance_state().is_live())
        .filter(|i| !excluded.contains(&i.instance_id))
        .try_fold(Usage::default(), |sum, instance| {
            sum.checked_add(instance_usage(instance, specs)?)
                .ok_or(UsageError::Overflow)
        })
}

/// One budgeted dimension: its check, its metric name, its figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Dimension {
    pub check: CheckName,
    pub name: &'static str,
    pub used: u64,
    pub max: u64,
}

impl Dimension {
    /// `used / max` in percent, for metrics and people (not for decisions).
    pub fn percent(&self) -> f64 {
        if self.max == 0 {
            return 0.0;
        }
        // u64 → f64 loses precision only beyond 2^53, far past any budget.
        #[allow(clippy::cast_precision_loss)]
        let ratio = self.used as f64 / self.max as f64;
        ratio * 100.0
    }

    /// `used ≥ percent % of max`, exactly.
    pub fn at_or_above(&self, percent: u32) -> bool {
        u128::from(self.used) * 100 >= u128::from(self.max) * u128::from(percent)
    }
}

/// The dimensions that have a budget, with their usage.
pub fn dimensions(budget: &BudgetPolicy, usage: Usage) -> Vec<Dimension> {
    [
        (
            CheckName::BudgetVcpus,
            "vcpus",
            budget.max_vcpus,
            usage.vcpus,
        ),
        (
            CheckName::BudgetMemory,
            "memory_mib",
            budget.max_memory_mib,
            usage.memory_mib,
        ),
        (
            CheckName::BudgetInstances,
            "instances",
            budget.max_instances,
            usage.instances,
        ),
    ]
    .into_iter()
    .filter_map(|(check, name, max, used)| {
        max.map(|max| Dimension {
            check,
            name,
            used,
            max,
        })
    })
    .collect()
}

/// Admission: a launch is admitted only if usage plus the new instance stays
/// within every budget. Returns one violation per budget it would exceed.
pub fn admit(
    budget: &BudgetPolicy,
    usage: Usage,
    candidate: Usage,
    instance_id: &str,
) -> Vec<Violation> {
    dimensions(budget, usage)
        .into_iter()
        .filter_map(|dim| {
            let add = match dim.check {
                CheckName::BudgetVcpus => candidate.vcpus,
                CheckName::BudgetMemory => candidate.memory_mib,
                _ => candidate.instances,
            };
            let total = dim.used.checked_add(add);
            let over = total.is_none_or(|total| total > dim.max);
            over.then(|| {
                Violation::new(
                    dim.check,
                    instance_id,
                    format!("at most {} {} in the cluster", dim.max, dim.name),
                    format!("{} in use + {add} for this instance", dim.used),
                    format!(
                        "launching `{instance_id}` would take the cluster to {} of {} {} allowed",
                        total.map_or_else(|| "more".to_owned(), |t| t.to_string()),
                        dim.max,
                        dim.name
                    ),
                )
            })
        })
        .collect()
}

/// The dimensions at or above the suspend threshold.
pub fn over_suspend_threshold(budget: &BudgetPolicy, usage: Usage) -> Vec<Dimension> {
    dimensions(budget, usage)
        .into_iter()
        .filter(|d| d.at_or_above(budget.suspend_at_percent))
        .collect()
}

/// Whether every budget is below the resume threshold (hysteresis).
pub fn below_resume_threshold(budget: &BudgetPolicy, usage: Usage) -> bool {
    dimensions(budget, usage)
        .iter()
        .all(|d| !d.at_or_above(budget.resume_below_percent))
}

#[cfg(test)]
mod tests;
