use std::collections::BTreeMap;

use pretty_assertions::assert_eq;

use super::*;
use crate::facts::{GroupInstance, GroupLaunch, InstanceFacts, TemplateRef};

fn budget() -> BudgetPolicy {
    BudgetPolicy {
        max_vcpus: Some(100),
        max_memory_mib: Some(400 * 1024),
        max_instances: None,
        suspend_at_percent: 100,
        resume_below_percent: 90,
        clamp_max_size: false,
    }
}

fn specs() -> BTreeMap<String, InstanceTypeSpec> {
    [
        ("m6i.large", 2, 8192),
        ("m6i.4xlarge", 16, 65_536),
        ("g5.12xlarge", 48, 196_608),
    ]
    .into_iter()
    .map(|(name, vcpus, memory_mib)| {
        (
            name.to_owned(),
            InstanceTypeSpec {
                default_vcpus: vcpus,
                memory_mib,
            },
        )
    })
    .collect()
}

fn usage(vcpus: u64, memory_mib: u64, instances: u64) -> Usage {
    Usage {
        vcpus,
        memory_mib,
        instances,
    }
}

fn template() -> TemplateRef {
    TemplateRef {
        id: Some("lt-0gpu".into()),
        version: Some("$Latest".into()),
        ..TemplateRef::default()
    }
}

/// A group wanting `desired`, with `have` instances of weight `weight` each.
fn group(desired: i32, have: usize, weight: Option<u64>, launch: GroupLaunch) -> GroupFacts {
    let instances: Vec<GroupInstance> = (0..have)
        .map(|n| GroupInstance {
            instance_id: format!("i-{n}"),
            lifecycle_state: "InService".into(),
        })
        .collect();
    let instance_weights = match weight {
        Some(w) => instances
            .iter()
            .map(|i| (i.instance_id.clone(), w))
            .collect(),
        None => BTreeMap::new(),
    };
    GroupFacts {
        name: "prod-a".into(),
        desired_capacity: desired,
        instances,
        launch: GroupLaunch {
            instance_weights,
            ..launch
        },
        ..GroupFacts::default()
    }
}

fn demand(group: &GroupFacts, template: TemplateRead<'_>) -> Result<Usage, DemandUnknown> {
    let state = ClusterState {
        instances: (0..4)
            .map(|n| InstanceFacts {
                instance_id: format!("i-{n}"),
                instance_type: "m6i.large".into(),
                ..InstanceFacts::default()
            })
            .collect(),
        groups: Vec::new(),
    };
    resume_demand(&budget(), group, template, &state, &specs())
}

#[test]
fn weighted_units_are_filled_with_as_many_instances_as_their_weight_needs() {
    // 16 units wanted, 1 instance of weight 4 there: 12 units = 3 × m6i.4xlarge.
    let launch = GroupLaunch {
        overrides: vec![LaunchOverride {
            instance_type: Some("m6i.4xlarge".into()),
            weight: Some(4),
            requirements: None,
        }],
        ..GroupLaunch::default()
    };
    let group = group(16, 1, Some(4), launch);
    assert_eq!(demand(&group, None), Ok(usage(48, 3 * 65_536, 3)));
}

#[test]
fn a_vcpu_group_is_priced_by_its_requirements() {
    // 32 vCPUs wanted, 16 there; instances of 8 to 16 vCPUs, up to 64 GiB:
    // at most 2 instances, 32 vCPUs, 128 GiB.
    let launch = GroupLaunch {
        capacity_unit: CapacityUnit::Vcpu,
        overrides: vec![LaunchOverride {
            requirements: Some(InstanceRequirements {
                vcpus_min: 8,
                vcpus_max: Some(16),
                memory_mib_min: 0,
                memory_mib_max: Some(65_536),
            }),
            ..LaunchOverride::default()
        }],
        ..GroupLaunch::default()
    };
    let group = group(32, 1, Some(16), launch);
    assert_eq!(demand(&group, None), Ok(usage(32, 2 * 65_536, 2)));
}

#[test]
fn requirements_without_a_maximum_in_a_budgeted_dimension_are_not_guessed() {
    let launch = GroupLaunch {
        capacity_unit: CapacityUnit::Vcpu,
        overrides: vec![LaunchOverride {
            requirements: Some(InstanceRequirements {
                vcpus_min: 4,
                vcpus_max: Some(8),
                ..InstanceRequirements::default()
            }),
            ..LaunchOverride::default()
        }],
        ..GroupLaunch::default()
    };
    assert_eq!(
        demand(&group(8, 0, None, launch), None),
        Err(DemandUnknown::Unbounded("memory_mib"))
    );
}

#[test]
fn an_empty_template_only_group_is_priced_with_its_templates_type() {
    let launch = GroupLaunch {
        template: Some(template()),
        ..GroupLaunch::default()
    };
    let read = TemplateLaunch {
        instance_type: Some("g5.12xlarge".into()),
        requirements: None,
    };
    assert_eq!(
        demand(&group(1, 0, None, launch), Some(Ok(&read))),
        Ok(usage(48, 196_608, 1))
    );
}

#[test]
fn a_template_that_could_not_be_read_holds_rather_than_guess() {
    let launch = GroupLaunch {
        template: Some(template()),
        ..GroupLaunch::default()
    };
    assert_eq!(
        demand(&group(1, 0, None, launch.clone()), Some(Err("throttled")))
            .unwrap_err()
            .to_string(),
        "its launch template `lt-0gpu version $Latest` could not be read: throttled"
    );
    let unknown_type = TemplateLaunch {
        instance_type: Some("p5.48xlarge".into()),
        requirements: None,
    };
    assert_eq!(
        demand(&group(1, 0, None, launch), Some(Ok(&unknown_type))),
        Err(DemandUnknown::UnknownType("p5.48xlarge".into()))
    );
}

#[test]
fn a_changed_template_prices_what_it_launches_now_not_the_old_instances() {
    // Its 2 instances run m6i.large; its template now launches m6i.4xlarge.
    let launch = GroupLaunch {
        template: Some(template()),
        ..GroupLaunch::default()
    };
    let mut group = group(4, 2, None, launch);
    group.instance_types = vec!["m6i.large".into()];
    let read = TemplateLaunch {
        instance_type: Some("m6i.4xlarge".into()),
        requirements: None,
    };
    assert_eq!(
        demand(&group, Some(Ok(&read))),
        Ok(usage(32, 2 * 65_536, 2))
    );
}

#[test]
fn a_group_at_its_desired_capacity_launches_nothing() {
    let launch = GroupLaunch {
        template: Some(template()),
        ..GroupLaunch::default()
    };
    assert_eq!(
        demand(&group(2, 2, None, launch), None),
        Ok(Usage::default())
    );
}

#[test]
fn a_group_with_no_template_and_no_known_type_holds_rather_than_launch_for_free() {
    // A launch-configuration group wanting 100 in a cluster that runs
    // nothing the guard can price: its demand is not 0.
    let wanting = group(100, 0, None, GroupLaunch::default());
    let empty = ClusterState {
        instances: Vec::new(),
        groups: Vec::new(),
    };
    let priced = resume_demand(&budget(), &wanting, None, &empty, &BTreeMap::new());
    assert!(
        matches!(priced, Err(DemandUnknown::NoKnownType)),
        "{priced:?}"
    );
}
