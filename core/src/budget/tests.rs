use pretty_assertions::assert_eq;
use rstest::rstest;

use super::*;
use crate::facts::CpuOptions;
use crate::fixtures::CLUSTER_TAG;

fn specs() -> BTreeMap<String, InstanceTypeSpec> {
    BTreeMap::from([
        (
            "m6i.large".to_owned(),
            InstanceTypeSpec {
                default_vcpus: 2,
                memory_mib: 8192,
            },
        ),
        (
            "m6i.4xlarge".to_owned(),
            InstanceTypeSpec {
                default_vcpus: 16,
                memory_mib: 65536,
            },
        ),
        (
            "c7g.2xlarge".to_owned(),
            InstanceTypeSpec {
                default_vcpus: 8,
                memory_mib: 16384,
            },
        ),
    ])
}

fn node(id: &str, instance_type: &str, state: &str) -> InstanceFacts {
    InstanceFacts {
        instance_id: id.into(),
        instance_type: instance_type.into(),
        state: state.into(),
        ..InstanceFacts::default()
    }
}

fn budget(vcpus: Option<u64>, memory: Option<u64>, instances: Option<u64>) -> BudgetPolicy {
    BudgetPolicy {
        max_vcpus: vcpus,
        max_memory_mib: memory,
        max_instances: instances,
        suspend_at_percent: 100,
        resume_below_percent: 90,
        clamp_max_size: false,
    }
}

#[test]
fn usage_sums_mixed_types_over_pending_and_running_only() {
    let instances = [
        node("i-1", "m6i.large", "running"),
        node("i-2", "m6i.4xlarge", "pending"),
        node("i-3", "c7g.2xlarge", "running"),
        node("i-4", "m6i.4xlarge", "stopped"),
        node("i-5", "m6i.4xlarge", "shutting-down"),
    ];
    let usage = cluster_usage(&instances, &specs(), &BTreeSet::new()).unwrap();
    assert_eq!(
        usage,
        Usage {
            vcpus: 26,
            memory_mib: 90112,
            instances: 3
        }
    );
}

#[test]
fn cpu_options_override_the_types_default_vcpus() {
    let mut instance = node("i-1", "m6i.4xlarge", "running");
    instance.cpu_options = Some(CpuOptions {
        core_count: 4,
        threads_per_core: 1,
    });
    let usage = instance_usage(&instance, &specs()).unwrap();
    assert_eq!(
        usage,
        Usage {
            vcpus: 4,
            memory_mib: 65536,
            instances: 1
        }
    );
}

#[test]
fn instances_outside_any_group_count_like_the_rest() {
    let mut unmanaged = node("i-9", "m6i.large", "running");
    unmanaged.tags.insert(CLUSTER_TAG.into(), "owned".into());
    let usage = cluster_usage([&unmanaged], &specs(), &BTreeSet::new()).unwrap();
    assert_eq!(usage.instances, 1);
}

#[test]
fn an_unknown_type_is_an_error_not_zero() {
    let err = cluster_usage(
        &[node("i-1", "x9.huge", "running")],
        &specs(),
        &BTreeSet::new(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "instance type `x9.huge` is unknown, so its capacity cannot be counted"
    );
}

#[test]
fn overflowing_usage_is_an_error() {
    let huge = BTreeMap::from([(
        "big".to_owned(),
        InstanceTypeSpec {
            default_vcpus: 1,
            memory_mib: u64::MAX,
        },
    )]);
    let err = cluster_usage(
        &[node("i-1", "big", "running"), node("i-2", "big", "running")],
        &huge,
        &BTreeSet::new(),
    )
    .unwrap_err();
    assert_eq!(err, UsageError::Overflow);
    let mut cpu = node("i-3", "big", "running");
    cpu.cpu_options = Some(CpuOptions {
        core_count: u32::MAX,
        threads_per_core: u32::MAX,
    });
    assert_eq!(
        instance_usage(&cpu, &huge).unwrap().vcpus,
        u64::from(u32::MAX) * u64::from(u32::MAX)
    );
}

#[rstest]
#[case::fits(Usage { vcpus: 98, memory_mib: 0, instances: 49 }, vec![])]
#[case::exactly_full(Usage { vcpus: 98, memory_mib: 0, instances: 49 }, vec![])]
#[case::one_vcpu_over(Usage { vcpus: 99, memory_mib: 0, instances: 10 }, vec!["budget.vcpus"])]
#[case::instances_full(Usage { vcpus: 0, memory_mib: 0, instances: 50 }, vec!["budget.instances"])]
#[case::both_over(Usage { vcpus: 100, memory_mib: 0, instances: 50 }, vec!["budget.vcpus", "budget.instances"])]
#[case::overflow_is_over(Usage { vcpus: u64::MAX, memory_mib: 0, instances: 0 }, vec!["budget.vcpus"])]
fn admission_keeps_usage_plus_the_new_instance_within_every_budget(
    #[case] usage: Usage,
    #[case] expected: Vec<&str>,
) {
    let candidate = Usage {
        vcpus: 2,
        memory_mib: 8192,
        instances: 1,
    };
    let violations = admit(
        &budget(Some(100), None, Some(50)),
        usage,
        candidate,
        "i-new",
    );
    let names: Vec<&str> = violations.iter().map(|v| v.check.as_str()).collect();
    assert_eq!(names, expected);
}

#[test]
fn a_denial_says_how_far_the_launch_would_go() {
    let v = admit(
        &budget(Some(100), None, None),
        Usage {
            vcpus: 99,
            ..Usage::default()
        },
        Usage {
            vcpus: 2,
            memory_mib: 0,
            instances: 1,
        },
        "i-new",
    );
    assert_eq!(
        v[0].message,
        "launching `i-new` would take the cluster to 101 of 100 vcpus allowed"
    );
    assert_eq!(v[0].actual, "99 in use + 2 for this instance");
}

#[test]
fn without_budgets_everything_is_admitted() {
    let usage = Usage {
        vcpus: u64::MAX,
        memory_mib: u64::MAX,
        instances: u64::MAX,
    };
    assert_eq!(
        admit(&budget(None, None, None), usage, usage, "i-1"),
        vec![]
    );
    assert!(below_resume_threshold(&budget(None, None, None), usage));
    assert_eq!(
        over_suspend_threshold(&budget(None, None, None), usage),
        vec![]
    );
}

#[rstest]
#[case::below(89, false, true)]
#[case::at_resume(90, false, false)]
#[case::between(95, false, false)]
#[case::at_suspend(100, true, false)]
#[case::above(130, true, false)]
fn thresholds_are_exact_with_hysteresis(
    #[case] used: u64,
    #[case] suspend: bool,
    #[case] resume: bool,
) {
    let budget = budget(Some(100), None, None);
    let usage = Usage {
        vcpus: used,
        ..Usage::default()
    };
    assert_eq!(!over_suspend_threshold(&budget, usage).is_empty(), suspend);
    assert_eq!(below_resume_threshold(&budget, usage), resume);
}

#[test]
fn thresholds_do_not_round_fractions() {
    // 2 of 3 vCPUs is 66.67 %: at 67 % it is below, at 66 % it is above.
    let dim = Dimension {
        check: CheckName::BudgetVcpus,
        name: "vcpus",
        used: 2,
        max: 3,
    };
    assert!(!dim.at_or_above(67));
    assert!(dim.at_or_above(66));
}

#[test]
fn resume_needs_every_budget_below_the_threshold() {
    let budget = budget(Some(100), Some(1000), None);
    let usage = Usage {
        vcpus: 10,
        memory_mib: 950,
        instances: 3,
    };
    assert!(!below_resume_threshold(&budget, usage));
    let dims = dimensions(&budget, usage);
    assert_eq!(dims.len(), 2);
    assert!((dims[1].percent() - 95.0).abs() < f64::EPSILON);
}
