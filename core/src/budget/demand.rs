//! What a suspended group launches at once when `Launch` resumes (SPEC §7):
//! its desired capacity minus the capacity it has, in the group's own unit
//! (instances, weighted units, vCPUs or MiB), priced with what the group
//! launches *now* — its mixed-instances overrides, else its launch
//! template's current version — never with the types its old instances run.
//!
//! Each way the group may fill the gap is priced on its own (a type with its
//! weight, or bounded instance requirements), and the demand is the largest
//! of them in every dimension: whatever Auto Scaling picks fits in it. What
//! cannot be priced (a template that could not be read, requirements without
//! a maximum in a budgeted dimension, a type EC2 does not describe) is not
//! guessed: the resume is held, saying why.

use std::collections::{BTreeMap, BTreeSet};

use crate::facts::{
    CapacityUnit, GroupFacts, InstanceRequirements, InstanceTypeSpec, LaunchOverride,
    TemplateLaunch,
};
use crate::policy::BudgetPolicy;

use super::Usage;
use super::cluster::{ClusterState, GROUP_NAME_TAG};

/// The group's launch template version as the caller read it: `None` when
/// it was not read, `Err` with why it could not be.
pub type TemplateRead<'a> = Option<Result<&'a TemplateLaunch, &'a str>>;

/// Why what a group would launch cannot be priced: its resume is held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DemandUnknown {
    #[error("its launch template `{template}` could not be read: {error}")]
    TemplateUnread { template: String, error: String },
    #[error("its launch template `{0}` names no instance type and no instance requirements")]
    NoType(String),
    #[error("instance type `{0}` is unknown, so what it launches cannot be priced")]
    UnknownType(String),
    #[error("its instance requirements set no maximum {0}, which has a budget")]
    Unbounded(&'static str),
    #[error("it names no launch template and no instance type the guard can price")]
    NoKnownType,
}

/// One way the group may fill its gap: how much desired capacity one
/// instance adds, and what one instance costs at most (`None`: unbounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Candidate {
    weight: u64,
    vcpus: Option<u64>,
    memory_mib: Option<u64>,
}

/// What `group` launches at once when `Launch` resumes, priced for the
/// budgets; `template` is its launch template's version, read by the caller.
pub fn resume_demand(
    budget: &BudgetPolicy,
    group: &GroupFacts,
    template: TemplateRead<'_>,
    state: &ClusterState,
    specs: &BTreeMap<String, InstanceTypeSpec>,
) -> Result<Usage, DemandUnknown> {
    let missing = missing_capacity(group);
    if missing == 0 {
        return Ok(Usage::default());
    }
    let candidates = candidates(group, template, state, specs)?;
    priced(budget, missing, &candidates)
}

/// Desired capacity minus the capacity of the group's instances (their
/// reported weights; 1 each when the group reports none), in its unit.
pub fn missing_capacity(group: &GroupFacts) -> u64 {
    let have = group
        .instances
        .iter()
        .filter(|i| !i.lifecycle_state.starts_with("Terminat"))
        .map(|i| {
            group
                .launch
                .instance_weights
                .get(&i.instance_id)
                .copied()
                .unwrap_or(1)
        })
        .fold(0_u64, u64::saturating_add);
    let wanted = u64::try_from(group.desired_capacity).unwrap_or_default();
    wanted.saturating_sub(have)
}

/// What the group may launch now: its overrides when they name a type or
/// requirements, else its launch template's version. A group whose
/// description names neither (a launch configuration) is priced as before:
/// the largest of its instances' types, else of the cluster's.
fn candidates(
    group: &GroupFacts,
    template: TemplateRead<'_>,
    state: &ClusterState,
    specs: &BTreeMap<String, InstanceTypeSpec>,
) -> Result<Vec<Candidate>, DemandUnknown> {
    let unit = group.launch.capacity_unit;
    let overrides: Vec<&LaunchOverride> = group
        .launch
        .overrides
        .iter()
        .filter(|o| o.instance_type.is_some() || o.requirements.is_some())
        .collect();
    if !overrides.is_empty() {
        return overrides
            .into_iter()
            .map(|o| match (&o.instance_type, o.requirements) {
                (Some(name), _) => of_type(name, o.weight, unit, specs),
                (None, requirements) => Ok(of_requirements(
                    requirements.unwrap_or_default(),
                    o.weight,
                    unit,
                )),
            })
            .collect();
    }
    let Some(template_ref) = &group.launch.template else {
        return Ok(by_instances(group, state, specs));
    };
    match template {
        Some(Ok(TemplateLaunch {
            instance_type: Some(name),
            ..
        })) => Ok(vec![of_type(name, None, unit, specs)?]),
        Some(Ok(TemplateLaunch {
            requirements: Some(requirements),
            ..
        })) => Ok(vec![of_requirements(*requirements, None, unit)]),
        Some(Ok(_)) => Err(DemandUnknown::NoType(template_ref.to_string())),
        Some(Err(error)) => Err(DemandUnknown::TemplateUnread {
            template: template_ref.to_string(),
            error: error.to_owned(),
        }),
        None => Err(DemandUnknown::TemplateUnread {
            template: template_ref.to_string(),
            error: "not read".to_owned(),
        }),
    }
}

/// A type: its weight in the group's unit, its capacity.
fn of_type(
    name: &str,
    weight: Option<u64>,
    unit: CapacityUnit,
    specs: &BTreeMap<String, InstanceTypeSpec>,
) -> Result<Candidate, DemandUnknown> {
    let spec = specs
        .get(name)
        .ok_or_else(|| DemandUnknown::UnknownType(name.to_owned()))?;
    let vcpus = u64::from(spec.default_vcpus);
    let weight = match unit {
        CapacityUnit::Units => weight.unwrap_or(1),
        CapacityUnit::Vcpu => vcpus,
        CapacityUnit::MemoryMib => spec.memory_mib,
    };
    Ok(Candidate {
        weight: weight.max(1),
        vcpus: Some(vcpus),
        memory_mib: Some(spec.memory_mib),
    })
}

/// Requirements: the smallest instance they allow fills the least capacity,
/// the largest costs the most.
fn of_requirements(
    requirements: InstanceRequirements,
    weight: Option<u64>,
    unit: CapacityUnit,
) -> Candidate {
    let weight = match unit {
        CapacityUnit::Units => weight.unwrap_or(1),
        CapacityUnit::Vcpu => requirements.vcpus_min,
        CapacityUnit::MemoryMib => requirements.memory_mib_min,
    };
    Candidate {
        weight: weight.max(1),
        vcpus: requirements.vcpus_max,
        memory_mib: requirements.memory_mib_max,
    }
}

/// A group that names no template: the largest of its instances' types and
/// the types its description names, else the largest the cluster runs.
fn by_instances(
    group: &GroupFacts,
    state: &ClusterState,
    specs: &BTreeMap<String, InstanceTypeSpec>,
) -> Vec<Candidate> {
    let listed: BTreeSet<&str> = group
        .instances
        .iter()
        .map(|i| i.instance_id.as_str())
        .collect();
    let types: BTreeSet<&str> = state
        .instances
        .iter()
        .filter(|i| {
            listed.contains(i.instance_id.as_str())
                || i.tags.get(GROUP_NAME_TAG) == Some(&group.name)
        })
        .map(|i| i.instance_type.as_str())
        .chain(group.instance_types.iter().map(String::as_str))
        .collect();
    let known: Vec<&InstanceTypeSpec> = types.iter().filter_map(|t| specs.get(*t)).collect();
    let costed: Vec<&InstanceTypeSpec> = match known.is_empty() {
        true => specs.values().collect(),
        false => known,
    };
    costed
        .into_iter()
        .map(|spec| Candidate {
            weight: 1,
            vcpus: Some(u64::from(spec.default_vcpus)),
            memory_mib: Some(spec.memory_mib),
        })
        .collect()
}

/// The largest of the candidates' prices for `missing` capacity, in every
/// dimension; an unbounded price is unknown only where there is a budget.
fn priced(
    budget: &BudgetPolicy,
    missing: u64,
    candidates: &[Candidate],
) -> Result<Usage, DemandUnknown> {
    if candidates.is_empty() {
        // Nothing to price it by: holding is safe, a demand of 0 is not.
        return Err(DemandUnknown::NoKnownType);
    }
    let mut demand = Usage::default();
    for candidate in candidates {
        let instances = missing.div_ceil(candidate.weight);
        demand.instances = demand.instances.max(instances);
        demand.vcpus =
            demand
                .vcpus
                .max(cost(instances, candidate.vcpus, budget.max_vcpus, "vcpus")?);
        demand.memory_mib = demand.memory_mib.max(cost(
            instances,
            candidate.memory_mib,
            budget.max_memory_mib,
            "memory_mib",
        )?);
    }
    Ok(demand)
}

/// `instances` at `each`; unbounded is unknown where `budgeted`, else 0.
fn cost(
    instances: u64,
    each: Option<u64>,
    budgeted: Option<u64>,
    name: &'static str,
) -> Result<u64, DemandUnknown> {
    match (each, budgeted) {
        (Some(each), _) => Ok(instances.saturating_mul(each)),
        (None, None) => Ok(0),
        (None, Some(_)) => Err(DemandUnknown::Unbounded(name)),
    }
}

#[cfg(test)]
#[path = "demand_tests.rs"]
mod tests;
