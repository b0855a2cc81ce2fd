//! Property tests of the policy parser, `Policy::from_vars` (`scripts/fuzz`
//! runs them at a million cases): arbitrary maps of the `GUARD_*` settings and
//! mutations of a valid policy never panic, every refusal lists problems that
//! each name their setting, and every accepted policy is consistent.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::sample::select;
use shared::policy::{AuditAction, Policy};

// Only the runner of the shared module is used here.
#[allow(dead_code)]
mod fuzz_support;

use fuzz_support::{Failure, check};

/// Every setting the policy reads (`shared/src/policy/parse.rs`), with a valid value.
const VALID: &[(&str, &str)] = &[
    ("GUARD_CLUSTER", "prod"),
    ("GUARD_CLUSTER_TAG_KEY", "kubernetes.io/cluster/prod"),
    ("GUARD_CLUSTER_TAG_VALUE", "owned"),
    ("GUARD_MODE", "enforce"),
    ("GUARD_AUDIT_ONLY_CHECKS", "image.age, imds.v2"),
    ("GUARD_ALLOWED_AMI_IDS", "ami-0123456789abcdef0"),
    ("GUARD_ALLOWED_AMI_OWNERS", "amazon,123456789012"),
    ("GUARD_ALLOWED_AMI_NAME_PATTERNS", "amazon-eks-node-*"),
    ("GUARD_MAX_AMI_AGE_DAYS", "90"),
    ("GUARD_DENY_DEPRECATED_AMIS", "true"),
    (
        "GUARD_ALLOWED_SUBNET_IDS",
        "subnet-0aaa0001,subnet-0bbb0002",
    ),
    ("GUARD_REQUIRE_PRIVATE_SUBNET", "true"),
    ("GUARD_ALLOWED_SECURITY_GROUP_IDS", "sg-0123abcd"),
    ("GUARD_ALLOWED_INSTANCE_TYPES", "m6i.*,c7g.2xlarge"),
    ("GUARD_DENIED_INSTANCE_TYPES", "*.metal"),
    ("GUARD_REQUIRE_IMDSV2", "true"),
    (
        "GUARD_ALLOWED_INSTANCE_PROFILES",
        "arn:aws:iam::123456789012:instance-profile/eks-node",
    ),
    ("GUARD_MAX_VCPUS", "400"),
    ("GUARD_MAX_MEMORY_MIB", "1638400"),
    ("GUARD_MAX_INSTANCES", "50"),
    ("GUARD_SUSPEND_AT_PERCENT", "95"),
    ("GUARD_RESUME_BELOW_PERCENT", "80"),
    ("GUARD_CLAMP_MAX_SIZE", "false"),
    ("GUARD_FAIL_MODE", "abandon"),
    ("GUARD_HOOK_NAME", "scaling-guard-prod"),
    ("GUARD_ENROLL_GROUPS", "true"),
    ("GUARD_AUDIT_ACTION", "isolate"),
    ("GUARD_QUARANTINE_SECURITY_GROUP_ID", "sg-0fedcba9876543210"),
    ("GUARD_ALLOWED_LAUNCHER_TAGS", "karpenter.sh/nodepool"),
    (
        "GUARD_ALERT_TOPIC_ARN",
        "arn:aws:sns:eu-west-1:123456789012:scaling-guard-alerts",
    ),
    (
        "GUARD_BUDGET_ALARM_NAMES",
        "prod-guard-VcpuPercentOfBudget,prod-guard-MemoryPercentOfBudget",
    ),
    ("GUARD_SURGE_ALARM_PREFIX", "prod-surge-"),
    (
        "GUARD_HOOK_NOTIFICATION_TARGET_ARN",
        "arn:aws:sqs:eu-west-1:123456789012:scaling-guard-launches",
    ),
    (
        "GUARD_HOOK_NOTIFICATION_ROLE_ARN",
        "arn:aws:iam::123456789012:role/scaling-guard-hook-notifications",
    ),
];

/// Values that are valid for some setting, and near misses.
const VALUES: &[&str] = &[
    "",
    " ",
    "0",
    "1",
    "100",
    "101",
    "-1",
    "+5",
    "1e3",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "TRUE",
    "False",
    "yes",
    "audit",
    "continue",
    "terminate",
    "stop",
    "alert",
    "isolate",
    "*",
    "**",
    "[",
    "{a,b}",
    "ami-0123abcd",
    "ami-0123ABCD",
    "sg-",
    "subnet-0123456789abcdef01",
    "self",
    "aws:cluster",
    "arn:aws:sns::123456789012:topic",
    "arn:aws:iam::123456789012:instance-profile/",
    ",,,",
    "image.age,unknown.check",
    "prod_cluster-1",
    "-prod",
];

fn keys() -> Vec<&'static str> {
    VALID.iter().map(|(key, _)| *key).collect()
}

fn value() -> impl Strategy<Value = String> {
    let valid: Vec<&'static str> = VALID.iter().map(|(_, value)| *value).collect();
    prop_oneof![
        3 => select(valid).prop_map(str::to_owned),
        3 => select(VALUES).prop_map(str::to_owned),
        2 => any::<String>(),
        1 => "[ -~]{0,300}",
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| format!(" {n} ")),
        2 => prop::collection::vec(select(VALUES), 0..5).prop_map(|items| items.join(",")),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => select(keys()).prop_map(str::to_owned),
        1 => "GUARD_[A-Z_]{0,12}",
        1 => any::<String>(),
    ]
}

/// One change to a valid policy.
#[derive(Debug, Clone)]
enum Change {
    Remove(usize),
    Set(usize, String),
    Truncate(usize, usize),
    Insert(usize, usize, char),
    Add(String, String),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        2 => any::<usize>().prop_map(Change::Remove),
        3 => (any::<usize>(), value()).prop_map(|(at, value)| Change::Set(at, value)),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(at, to)| Change::Truncate(at, to)),
        1 => (any::<usize>(), any::<usize>(), any::<char>()).prop_map(|(at, to, c)| Change::Insert(at, to, c)),
        1 => (key(), value()).prop_map(|(key, value)| Change::Add(key, value)),
    ]
}

fn changed(changes: Vec<Change>) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = VALID
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    // `VALID` is not empty: the remainder always names one of its keys.
    let key = |at: usize| {
        VALID
            .get(at % VALID.len())
            .map_or_else(String::new, |(key, _)| (*key).to_owned())
    };
    for change in changes {
        match change {
            Change::Remove(at) => {
                vars.remove(&key(at));
            }
            Change::Set(at, value) => {
                vars.insert(key(at), value);
            }
            Change::Truncate(at, to) => {
                if let Some(value) = vars.get_mut(&key(at)) {
                    let chars: String = value.chars().take(to % (value.len() + 1)).collect();
                    *value = chars;
                }
            }
            Change::Insert(at, to, c) => {
                if let Some(value) = vars.get_mut(&key(at)) {
                    let mut chars: Vec<char> = value.chars().collect();
                    chars.insert(to % (chars.len() + 1), c);
                    *value = chars.into_iter().collect();
                }
            }
            Change::Add(key, value) => {
                vars.insert(key, value);
            }
        }
    }
    vars
}

fn settings() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop_oneof![
        prop::collection::btree_map(key(), value(), 0..30),
        prop::collection::vec(change(), 1..5).prop_map(changed),
    ]
}

#[test]
fn the_valid_policy_of_these_tests_parses() {
    let policy = Policy::from_vars(VALID.iter().copied()).unwrap();
    assert_eq!(policy.audit_action, AuditAction::Isolate);
}

#[test]
fn the_policy_parser_never_panics_and_names_the_setting_of_every_problem() -> Result<(), Failure> {
    check("shared Policy::from_vars", settings(), |vars| {
        match Policy::from_vars(vars.clone()) {
            Ok(policy) => {
                prop_assert!(!policy.cluster.is_empty());
                prop_assert!(!policy.cluster_tag.key.is_empty());
                prop_assert!(!policy.hook_name.is_empty());
                prop_assert!(policy.alert_topic_arn.starts_with("arn:aws"));
                let budget = &policy.budget;
                prop_assert!(budget.resume_below_percent < budget.suspend_at_percent);
                prop_assert!(budget.suspend_at_percent <= 100);
                for max in [
                    budget.max_vcpus,
                    budget.max_memory_mib,
                    budget.max_instances,
                ] {
                    prop_assert!(max.is_none_or(|max| max >= 1));
                }
                if policy.audit_action == AuditAction::Isolate {
                    prop_assert!(policy.quarantine_security_group_id.is_some());
                }
                for item in policy
                    .image
                    .allowed_ids
                    .iter()
                    .chain(&policy.network.allowed_subnet_ids)
                    .chain(&policy.network.allowed_security_group_ids)
                    .chain(&policy.allowed_instance_profiles)
                    .chain(&policy.allowed_launcher_tags)
                {
                    prop_assert!(
                        !item.trim().is_empty() && !item.contains(','),
                        "item {:?}",
                        item
                    );
                }
            }
            Err(err) => {
                prop_assert!(!err.problems.is_empty(), "an error without problems");
                for problem in &err.problems {
                    prop_assert!(
                        problem.contains("`GUARD_"),
                        "a problem that names no setting: {:?}",
                        problem
                    );
                }
                let message = err.to_string();
                prop_assert!(message.starts_with("invalid policy ("), "{}", message);
                prop_assert!(!message.contains("Error("), "{}", message);
                // The same settings give the same problems, in the same order.
                prop_assert_eq!(Policy::from_vars(vars).err(), Some(err));
            }
        }
        Ok(())
    })
}
