//! How long the pure parts of a decision take: parsing the policy (once per
//! cold start), checking one node (once per launch), summing the usage of a
//! large cluster (once per admission and per scheduled run), and the whole
//! launch assessment and usage measurement of a 10,000-instance cluster over
//! the in-memory fakes (no AWS round trip: the CPU of a decision), which
//! need the fakes: `--features test-util`.
//!
//! `cargo bench -p scaling-guard-shared --bench decisions [--features test-util]`

// Benchmark set-up code, like test code, may unwrap and index.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use shared::budget::{self, Usage};
use shared::checks::check_node;
use shared::facts::{
    CpuOptions, HttpTokens, ImageFacts, InstanceFacts, InstanceTypeSpec, NodeFacts, SubnetFacts,
};
use shared::policy::Policy;

fn vars() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GUARD_CLUSTER", "prod"),
        (
            "GUARD_ALERT_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:123456789012:alerts",
        ),
        ("GUARD_ALLOWED_AMI_OWNERS", "amazon,123456789012"),
        (
            "GUARD_ALLOWED_AMI_NAME_PATTERNS",
            "amazon-eks-node-al2023-*,bottlerocket-aws-k8s-*",
        ),
        ("GUARD_MAX_AMI_AGE_DAYS", "90"),
        (
            "GUARD_ALLOWED_SUBNET_IDS",
            "subnet-0aaa0001,subnet-0aaa0002,subnet-0aaa0003",
        ),
        (
            "GUARD_ALLOWED_SECURITY_GROUP_IDS",
            "sg-0bbb0001,sg-0bbb0002",
        ),
        (
            "GUARD_ALLOWED_INSTANCE_TYPES",
            "m6i.*,m7i.*,c7g.*,r6i.2xlarge",
        ),
        ("GUARD_DENIED_INSTANCE_TYPES", "*.metal,*.48xlarge"),
        (
            "GUARD_ALLOWED_INSTANCE_PROFILES",
            "arn:aws:iam::123456789012:instance-profile/prod-node",
        ),
        ("GUARD_MAX_VCPUS", "4000"),
        ("GUARD_MAX_MEMORY_MIB", "16000000"),
        ("GUARD_MAX_INSTANCES", "2000"),
    ]
}

fn node(now: SystemTime) -> NodeFacts {
    NodeFacts {
        instance: InstanceFacts {
            instance_id: "i-0123456789abcdef0".into(),
            instance_type: "m6i.metal".into(),
            image_id: "ami-0ccc0001".into(),
            state: "pending".into(),
            subnet_id: Some("subnet-0aaa0009".into()),
            security_group_ids: vec!["sg-0bbb0001".into(), "sg-0fff0666".into()],
            public_ip: Some("203.0.113.7".into()),
            http_tokens: Some(HttpTokens::Optional),
            instance_profile_arn: Some(
                "arn:aws:iam::123456789012:instance-profile/staging-node".into(),
            ),
            ..InstanceFacts::default()
        },
        image: Some(ImageFacts {
            image_id: "ami-0ccc0001".into(),
            name: Some("ubuntu-custom".into()),
            owner_alias: Some("amazon".into()),
            creation_date: Some(now - Duration::from_secs(400 * 86_400)),
            deprecation_time: Some(now - Duration::from_secs(86_400)),
            ..ImageFacts::default()
        }),
        subnet: Some(SubnetFacts {
            subnet_id: "subnet-0aaa0009".into(),
            map_public_ip_on_launch: true,
            ..SubnetFacts::default()
        }),
        ..NodeFacts::default()
    }
}

fn cluster(size: usize) -> (Vec<InstanceFacts>, BTreeMap<String, InstanceTypeSpec>) {
    let types = ["m6i.large", "m6i.2xlarge", "c7g.4xlarge", "r6i.2xlarge"];
    let specs = types
        .iter()
        .enumerate()
        .map(|(n, t)| {
            (
                (*t).to_owned(),
                InstanceTypeSpec {
                    default_vcpus: 2 << n,
                    memory_mib: 8192 << n,
                },
            )
        })
        .collect();
    let instances = (0..size)
        .map(|n| InstanceFacts {
            instance_id: format!("i-{n:017x}"),
            instance_type: types[n % types.len()].to_owned(),
            state: if n % 10 == 0 { "pending" } else { "running" }.to_owned(),
            cpu_options: (n % 7 == 0).then_some(CpuOptions {
                core_count: 2,
                threads_per_core: 1,
            }),
            ..InstanceFacts::default()
        })
        .collect();
    (instances, specs)
}

fn benches(c: &mut Criterion) {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_687_200);
    c.bench_function("policy_parse_and_validate", |b| {
        b.iter(|| Policy::from_vars(black_box(vars())))
    });

    let policy = Policy::from_vars(vars()).unwrap();
    let bad = node(now);
    c.bench_function("check_node_every_check_failing", |b| {
        b.iter(|| check_node(&policy, black_box(&bad), now))
    });

    for size in [100, 5_000] {
        let (instances, specs) = cluster(size);
        let waiting: BTreeSet<String> = instances
            .iter()
            .step_by(20)
            .map(|i| i.instance_id.clone())
            .collect();
        c.bench_function(&format!("cluster_usage_{size}_instances"), |b| {
            b.iter(|| budget::cluster_usage(black_box(&instances), &specs, &waiting))
        });
    }
    let usage = Usage {
        vcpus: 3990,
        memory_mib: 1_000_000,
        instances: 1999,
    };
    let candidate = Usage {
        vcpus: 16,
        memory_mib: 65536,
        instances: 1,
    };
    c.bench_function("admit_one_launch", |b| {
        b.iter(|| budget::admit(&policy.budget, black_box(usage), candidate, "i-new"))
    });
}

/// The services over the in-memory fakes (`--features test-util`).
#[cfg(feature = "test-util")]
mod services {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use criterion::Criterion;
    use guard_core::checks::fixtures::{compliant_node, strict_policy};
    use guard_core::facts::{GroupFacts, GroupInstance};
    use guard_core::lifecycle::{LAUNCHING, LifecycleAction};
    use shared::assess::{Assessment, Launch, assess};
    use shared::budget::measure::{GuardedGroups, measure_state, read_cluster_state};
    use shared::facts::InstanceTypeSpec;
    use shared::fakes::FakeAws;
    use shared::policy::Policy;

    /// Groups of the fake cluster; the candidate waits in the first.
    const FAKE_GROUPS: usize = 10;

    /// A cluster of `size` instances over the fakes: `FAKE_GROUPS` groups of the
    /// cluster sharing them (every instance `InService`, one in ten `pending`),
    /// the candidate of `compliant_node()` waiting in the first group, its image,
    /// subnet and type known.
    fn fake_cluster(policy: &Policy, size: usize) -> (FakeAws, LifecycleAction) {
        let aws = FakeAws::new();
        let tag = (policy.cluster_tag.key.clone(), "owned".to_owned());
        let node = compliant_node();
        let mut candidate = node.instance.clone();
        candidate.tags.extend([tag.clone()]);
        let mut members: Vec<Vec<GroupInstance>> = vec![Vec::new(); FAKE_GROUPS];
        members[0].push(GroupInstance {
            instance_id: candidate.instance_id.clone(),
            lifecycle_state: "Pending:Wait".into(),
        });
        for n in 1..size {
            let mut instance = candidate.clone();
            instance.instance_id = format!("i-{n:017x}");
            instance.state = if n % 10 == 0 { "pending" } else { "running" }.into();
            members[n % FAKE_GROUPS].push(GroupInstance {
                instance_id: instance.instance_id.clone(),
                lifecycle_state: "InService".into(),
            });
            aws.add_instance(instance);
        }
        for (n, instances) in members.into_iter().enumerate() {
            aws.add_group(GroupFacts {
                name: format!("prod-{n}"),
                max_size: 20_000,
                desired_capacity: i32::try_from(instances.len()).unwrap(),
                tags: [tag.clone()].into(),
                instances,
                instance_types: vec![candidate.instance_type.clone()],
                ..GroupFacts::default()
            });
        }
        aws.add_instance(candidate.clone());
        aws.add_image(node.image.clone().unwrap());
        aws.add_subnet(node.subnet.clone().unwrap());
        aws.add_instance_type(
            &candidate.instance_type,
            InstanceTypeSpec {
                default_vcpus: 2,
                memory_mib: 8192,
            },
        );
        let action = LifecycleAction {
            token: "token-1".into(),
            group: "prod-0".into(),
            hook: policy.hook_name.clone(),
            instance_id: candidate.instance_id,
            transition: LAUNCHING.into(),
            notification_metadata: None,
            origin: None,
            destination: None,
        };
        (aws, action)
    }

    /// The launch assessment (with budgets) and the usage measurement of a
    /// 10,000-instance cluster over the in-memory fakes, in a warm execution
    /// environment (the groups' hooks already known). The fakes clone every
    /// instance on each read, as the adapters build them from a response.
    pub fn services(c: &mut Criterion) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let size = 10_000;
        let policy = strict_policy(&[("GUARD_MAX_INSTANCES", "20000")]);
        let (aws, action) = fake_cluster(&policy, size);
        let guarded = GuardedGroups::new(&policy.hook_name);
        let admitted = BTreeSet::new();
        let now = guard_core::checks::fixtures::now();
        let launch = || Launch {
            action: &action,
            now,
            until: tokio::time::Instant::now() + Duration::from_secs(60),
            admitted: Some(&admitted),
        };
        // The first assessment must admit: the bench measures the whole path.
        match runtime.block_on(assess(&policy, &aws, &guarded, launch())) {
            Ok(Assessment::Decided(decided)) => assert!(
                decided.admission.is_some(),
                "the budget was not measured: {decided:?}"
            ),
            other => panic!("the launch was not decided: {other:?}"),
        }
        c.bench_function(&format!("assess_launch_{size}_instances"), |b| {
            b.iter(|| runtime.block_on(assess(&policy, &aws, &guarded, launch())))
        });

        let state = runtime
            .block_on(read_cluster_state(&policy.cluster_tag, &aws, &aws))
            .unwrap();
        assert_eq!(state.instances.len(), size);
        let state = std::sync::Arc::new(state);
        c.bench_function(&format!("measure_state_{size}_instances"), |b| {
            b.iter(|| {
                let state = std::sync::Arc::clone(&state);
                runtime.block_on(measure_state(state, &aws, &aws, &guarded, &admitted, None))
            })
        });
    }
}

#[cfg(feature = "test-util")]
use services::services;

/// Without the fakes, nothing: `--features test-util` adds the services.
#[cfg(not(feature = "test-util"))]
fn services(_: &mut Criterion) {}

criterion_group!(decisions, benches, services);
criterion_main!(decisions);
