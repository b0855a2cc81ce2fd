//! How long the pure parts of a decision take: parsing the policy (once per
//! cold start), checking one node (once per launch), and summing the usage of
//! a large cluster (once per admission and per scheduled run).
//!
//! `cargo bench -p scaling-guard-shared --bench decisions`

// Benchmark set-up code, like test code, may unwrap and index.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

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

criterion_group!(decisions, benches);
criterion_main!(decisions);
