//! Issue 21 §4: the resume's demand is right for every group shape. After a
//! surge, 30 schedule ticks (the clock a minute further each, the surge's
//! other load draining, Auto Scaling filling a resumed group at once with
//! what it really launches) make at most one suspend/resume cycle: the
//! group resumes once what it will launch fits, and is never re-suspended by
//! its own launches.

use std::cell::Cell;
use std::time::{Duration, SystemTime};

use pretty_assertions::assert_eq;
use shared::facts::{
    CapacityUnit, GroupFacts, GroupInstance, GroupLaunch, InstanceFacts, InstanceRequirements,
    InstanceTypeSpec, LaunchOverride, TemplateLaunch, TemplateRef,
};
use shared::fakes::FakeAws;
use shared::policy::Policy;

use super::{CLUSTER_TAG, SCHEDULE, answer, hook, launch_suspended, schedule_of};
use crate::fixtures::{now, policy};
use crate::handler::BudgetGuard;
use crate::response::ScheduleSummary;

const GROUP: &str = "prod-shape";
const TICKS: u64 = 30;
/// The surge's other load: m6i.large nodes outside any group, 104 vCPUs at
/// first, 4 fewer each minute, down to 20.
const SURGE_NODES: u64 = 52;
const FLOOR_NODES: u64 = 10;

thread_local! {
    static MINUTE: Cell<u64> = const { Cell::new(0) };
}

/// "Now", a minute further each tick.
fn ticking() -> SystemTime {
    now() + Duration::from_secs(60 * MINUTE.with(Cell::get))
}

/// 100 vCPUs; suspend at 100 %, resume below 90 %.
fn budget_policy() -> Policy {
    policy(&[("GUARD_MAX_VCPUS", "100"), ("GUARD_MAX_INSTANCES", "1000")])
}

/// How a shape's group really fills its gap once `Launch` resumes.
#[derive(Clone, Copy)]
struct Fill {
    instance_type: &'static str,
    /// Capacity one instance adds, in the group's unit.
    weight: u64,
}

fn account() -> FakeAws {
    let aws = FakeAws::new();
    for (name, vcpus, memory_mib) in [
        ("m6i.large", 2, 8192),
        ("m6i.4xlarge", 16, 65_536),
        ("g5.12xlarge", 48, 196_608),
    ] {
        aws.add_instance_type(
            name,
            InstanceTypeSpec {
                default_vcpus: vcpus,
                memory_mib,
            },
        );
    }
    for n in 0..SURGE_NODES {
        aws.add_instance(node(&format!("i-surge{n:03}"), "m6i.large", None));
    }
    aws
}

fn node(id: &str, instance_type: &str, group: Option<&str>) -> InstanceFacts {
    let mut tags = vec![(CLUSTER_TAG.to_owned(), "owned".to_owned())];
    if let Some(group) = group {
        tags.push(("aws:autoscaling:groupName".to_owned(), group.to_owned()));
    }
    InstanceFacts {
        instance_id: id.into(),
        instance_type: instance_type.into(),
        state: "running".into(),
        tags: tags.into_iter().collect(),
        ..InstanceFacts::default()
    }
}

/// The shape's group, hooked, wanting `desired`, with `running` instances of
/// `instance_type` already in it.
fn add_group(aws: &FakeAws, desired: i32, launch: GroupLaunch, running: &[(&str, &str)]) {
    let mut instances = Vec::new();
    let mut types = Vec::new();
    for (id, instance_type) in running {
        aws.add_instance(node(id, instance_type, Some(GROUP)));
        instances.push(GroupInstance {
            instance_id: (*id).to_owned(),
            lifecycle_state: "InService".into(),
        });
        types.push((*instance_type).to_owned());
    }
    // As the adapter reads it: its instances' types and its overrides' types.
    types.extend(
        launch
            .overrides
            .iter()
            .filter_map(|o| o.instance_type.clone()),
    );
    aws.add_group(GroupFacts {
        name: GROUP.into(),
        max_size: 50,
        desired_capacity: desired,
        tags: [(CLUSTER_TAG.to_owned(), "owned".to_owned())].into(),
        instances,
        instance_types: types,
        launch,
        ..GroupFacts::default()
    });
    aws.add_hook(GROUP, hook());
}

/// Auto Scaling with `Launch` running: instances of the fill's type until
/// the group's capacity reaches its desired capacity.
fn auto_scaling_fills(aws: &FakeAws, fill: Fill, launched: &mut u64) {
    let group = aws.group_facts(GROUP).unwrap();
    if launch_suspended(aws, GROUP) {
        return;
    }
    let weights = &group.launch.instance_weights;
    let mut have: u64 = group
        .instances
        .iter()
        .map(|i| weights.get(&i.instance_id).copied().unwrap_or(1))
        .sum();
    let desired = u64::try_from(group.desired_capacity).unwrap();
    while have < desired {
        let id = format!("i-filled{launched:03}");
        *launched += 1;
        aws.add_instance(node(&id, fill.instance_type, Some(GROUP)));
        aws.update_group(GROUP, |g| {
            g.instances.push(GroupInstance {
                instance_id: id.clone(),
                lifecycle_state: "InService".into(),
            });
            if fill.weight != 1 {
                g.launch.instance_weights.insert(id.clone(), fill.weight);
            }
        });
        have += fill.weight;
    }
}

/// The surge's load drains: two of its nodes end each minute.
fn surge_drains(aws: &FakeAws, minute: u64) {
    for n in 0..2 {
        let index = (SURGE_NODES - 1).checked_sub(2 * minute + n);
        if let Some(index) = index.filter(|i| *i >= FLOOR_NODES) {
            let mut ended = node(&format!("i-surge{index:03}"), "m6i.large", None);
            ended.state = "terminated".into();
            aws.add_instance(ended);
        }
    }
}

/// What the 30 ticks did to the group.
#[derive(Debug, PartialEq, Eq)]
struct Cycles {
    suspends: usize,
    resumes: usize,
    /// The group ends at its desired capacity, `Launch` running.
    filled: bool,
}

/// Runs the schedule `TICKS` times; returns the cycles and the last answer.
async fn thirty_ticks(policy: &Policy, aws: &FakeAws, fill: Fill) -> (Cycles, ScheduleSummary) {
    MINUTE.with(|m| m.set(0));
    let guard = BudgetGuard::new(policy, aws).with_clock(ticking);
    let mut launched = 0;
    let mut last = None;
    for minute in 0..TICKS {
        MINUTE.with(|m| m.set(minute));
        last = Some(schedule_of(answer(&guard, SCHEDULE).await.unwrap()));
        auto_scaling_fills(aws, fill, &mut launched);
        surge_drains(aws, minute);
    }
    let changes = aws.group_changes();
    let count = |op: &str| {
        changes
            .iter()
            .filter(|c| *c == &format!("{op} {GROUP}"))
            .count()
    };
    let group = aws.group_facts(GROUP).unwrap();
    let cycles = Cycles {
        suspends: count("SuspendProcesses"),
        resumes: count("ResumeProcesses"),
        filled: !launch_suspended(aws, GROUP)
            && group.instances.len() as u64 == launched + group_start(&group),
    };
    (cycles, last.expect("at least one tick"))
}

/// The instances the group had before the surge (not filled by the ticks).
fn group_start(group: &GroupFacts) -> u64 {
    group
        .instances
        .iter()
        .filter(|i| !i.instance_id.starts_with("i-filled"))
        .count() as u64
}

const ONE_CYCLE: Cycles = Cycles {
    suspends: 1,
    resumes: 1,
    filled: true,
};

fn template(id: &str) -> TemplateRef {
    TemplateRef {
        id: Some(id.into()),
        version: Some("$Latest".into()),
        ..TemplateRef::default()
    }
}

#[tokio::test]
async fn a_weighted_group_resumes_once_when_its_units_fit() {
    // 8 capacity units of m6i.4xlarge at weight 4: 2 instances, 32 vCPUs.
    let aws = account();
    let launch = GroupLaunch {
        template: Some(template("lt-0node")),
        overrides: vec![LaunchOverride {
            instance_type: Some("m6i.4xlarge".into()),
            weight: Some(4),
            requirements: None,
        }],
        ..GroupLaunch::default()
    };
    add_group(&aws, 8, launch, &[]);
    let fill = Fill {
        instance_type: "m6i.4xlarge",
        weight: 4,
    };

    let (cycles, last) = thirty_ticks(&budget_policy(), &aws, fill).await;

    assert_eq!(cycles, ONE_CYCLE, "{last:?}");
}

#[tokio::test]
async fn a_vcpu_group_resumes_once_when_its_vcpus_fit() {
    // 64 vCPUs wanted, instances of exactly 16 vCPUs: 4 × m6i.4xlarge.
    let aws = account();
    let launch = GroupLaunch {
        capacity_unit: CapacityUnit::Vcpu,
        template: Some(template("lt-0node")),
        overrides: vec![LaunchOverride {
            requirements: Some(InstanceRequirements {
                vcpus_min: 16,
                vcpus_max: Some(16),
                memory_mib_min: 65_536,
                memory_mib_max: Some(65_536),
            }),
            ..LaunchOverride::default()
        }],
        ..GroupLaunch::default()
    };
    add_group(&aws, 64, launch, &[]);
    let fill = Fill {
        instance_type: "m6i.4xlarge",
        weight: 16,
    };

    let (cycles, last) = thirty_ticks(&budget_policy(), &aws, fill).await;

    assert_eq!(cycles, ONE_CYCLE, "{last:?}");
}

#[tokio::test]
async fn an_empty_gpu_group_is_priced_with_its_templates_type_and_does_not_flap() {
    let aws = account();
    aws.add_launch_template(
        "lt-0gpu",
        TemplateLaunch {
            instance_type: Some("g5.12xlarge".into()),
            requirements: None,
        },
    );
    let launch = GroupLaunch {
        template: Some(template("lt-0gpu")),
        ..GroupLaunch::default()
    };
    add_group(&aws, 1, launch, &[]);
    let fill = Fill {
        instance_type: "g5.12xlarge",
        weight: 1,
    };

    let (cycles, last) = thirty_ticks(&budget_policy(), &aws, fill).await;

    assert_eq!(cycles, ONE_CYCLE, "{last:?}");
}

#[tokio::test]
async fn a_gpu_group_whose_template_cannot_be_read_stays_held_and_says_why() {
    let aws = account();
    aws.fail("DescribeLaunchTemplateVersions");
    let launch = GroupLaunch {
        template: Some(template("lt-0gpu")),
        ..GroupLaunch::default()
    };
    add_group(&aws, 1, launch, &[]);
    let fill = Fill {
        instance_type: "g5.12xlarge",
        weight: 1,
    };

    let (cycles, last) = thirty_ticks(&budget_policy(), &aws, fill).await;

    assert_eq!(
        cycles,
        Cycles {
            suspends: 1,
            resumes: 0,
            filled: false
        }
    );
    let held = format!("{:?}", last.held);
    assert!(
        held.contains("cannot be priced") && held.contains("lt-0gpu"),
        "{last:?}"
    );
}

#[tokio::test]
async fn a_group_whose_template_changed_is_priced_with_what_it_launches_now() {
    // Its two nodes run m6i.large; its template now launches m6i.4xlarge.
    let aws = account();
    aws.add_launch_template(
        "lt-0node",
        TemplateLaunch {
            instance_type: Some("m6i.4xlarge".into()),
            requirements: None,
        },
    );
    let launch = GroupLaunch {
        template: Some(template("lt-0node")),
        ..GroupLaunch::default()
    };
    add_group(
        &aws,
        4,
        launch,
        &[("i-old0", "m6i.large"), ("i-old1", "m6i.large")],
    );
    let fill = Fill {
        instance_type: "m6i.4xlarge",
        weight: 1,
    };

    let (cycles, last) = thirty_ticks(&budget_policy(), &aws, fill).await;

    assert_eq!(cycles, ONE_CYCLE, "{last:?}");
}
