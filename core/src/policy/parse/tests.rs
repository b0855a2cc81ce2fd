use pretty_assertions::assert_eq;
use rstest::rstest;

use super::*;

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:scaling-guard-alerts";

fn minimal() -> Vec<(&'static str, &'static str)> {
    vec![("GUARD_CLUSTER", "prod"), ("GUARD_ALERT_TOPIC_ARN", TOPIC)]
}

fn with(extra: &[(&'static str, &'static str)]) -> Result<Policy, PolicyError> {
    let mut vars = minimal();
    vars.extend_from_slice(extra);
    Policy::from_vars(vars)
}

fn problems(extra: &[(&'static str, &'static str)]) -> Vec<String> {
    with(extra).unwrap_err().problems
}

#[test]
fn minimal_policy_takes_the_defaults_of_the_spec() {
    let policy = with(&[]).unwrap();
    assert_eq!(policy.cluster, "prod");
    assert_eq!(
        policy.cluster_tag,
        ClusterTag::any_value("kubernetes.io/cluster/prod")
    );
    assert_eq!(policy.hook_name, "scaling-guard-prod");
    assert_eq!(policy.alarms, AlarmTrust::default());
    assert_eq!(policy.hook_notification, None);
    assert_eq!(policy.mode, Mode::Audit);
    assert!(policy.audit_only_checks.is_empty());
    assert!(!policy.image.allow_list_is_on());
    assert_eq!(policy.image.max_age_days, None);
    assert!(policy.image.deny_deprecated);
    assert!(policy.network.require_private_subnet);
    assert!(policy.require_imdsv2);
    assert_eq!(
        policy.budget,
        BudgetPolicy {
            max_vcpus: None,
            max_memory_mib: None,
            max_instances: None,
            suspend_at_percent: 100,
            resume_below_percent: 90,
            clamp_max_size: false,
        }
    );
    assert_eq!(policy.fail_mode, FailMode::Abandon);
    assert_eq!(policy.hook_name, "scaling-guard-prod");
    assert!(policy.enroll_groups);
    assert_eq!(policy.audit_action, AuditAction::Alert);
    assert_eq!(policy.quarantine_security_group_id, None);
    assert_eq!(
        policy.allowed_launcher_tags.iter().collect::<Vec<_>>(),
        vec!["karpenter.sh/nodepool"]
    );
    assert_eq!(policy.alert_topic_arn, TOPIC);
}

#[test]
fn minimal_policy_turns_on_only_the_checks_with_a_default() {
    let names: Vec<&str> = with(&[])
        .unwrap()
        .enabled_checks()
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "image.deprecated",
            "subnet.public",
            "imds.v2",
            "membership.unmanaged",
            "membership.unguarded_group"
        ]
    );
}

#[test]
fn full_policy_parses_every_setting() {
    let policy = with(&[
        ("GUARD_CLUSTER_TAG_KEY", "eks:cluster-name"),
        ("GUARD_CLUSTER_TAG_VALUE", "prod"),
        ("GUARD_MODE", "audit"),
        ("GUARD_AUDIT_ONLY_CHECKS", "image.age, imds.v2"),
        ("GUARD_ALLOWED_AMI_IDS", "ami-0123456789abcdef0"),
        ("GUARD_ALLOWED_AMI_OWNERS", "amazon,123456789012"),
        (
            "GUARD_ALLOWED_AMI_NAME_PATTERNS",
            "amazon-eks-node-al2023-*",
        ),
        ("GUARD_MAX_AMI_AGE_DAYS", "90"),
        ("GUARD_DENY_DEPRECATED_AMIS", "FALSE"),
        (
            "GUARD_ALLOWED_SUBNET_IDS",
            "subnet-0123abcd,subnet-89abcdef",
        ),
        ("GUARD_REQUIRE_PRIVATE_SUBNET", "false"),
        ("GUARD_ALLOWED_SECURITY_GROUP_IDS", "sg-0123abcd"),
        ("GUARD_ALLOWED_INSTANCE_TYPES", "m6i.*,c7g.2xlarge"),
        ("GUARD_DENIED_INSTANCE_TYPES", "*.metal"),
        ("GUARD_REQUIRE_IMDSV2", "true"),
        (
            "GUARD_ALLOWED_INSTANCE_PROFILES",
            "arn:aws:iam::123456789012:instance-profile/prod-node",
        ),
        ("GUARD_MAX_VCPUS", "400"),
        ("GUARD_MAX_MEMORY_MIB", "1638400"),
        ("GUARD_MAX_INSTANCES", "50"),
        ("GUARD_SUSPEND_AT_PERCENT", "95"),
        ("GUARD_RESUME_BELOW_PERCENT", "80"),
        ("GUARD_CLAMP_MAX_SIZE", "true"),
        ("GUARD_FAIL_MODE", "continue"),
        ("GUARD_HOOK_NAME", "guard/launch"),
        ("GUARD_ENROLL_GROUPS", "false"),
        ("GUARD_AUDIT_ACTION", "isolate"),
        ("GUARD_QUARANTINE_SECURITY_GROUP_ID", "sg-0fedcba987654321f"),
        ("GUARD_ALLOWED_LAUNCHER_TAGS", ""),
        ("GUARD_KUBERNETES_VERSION", "1.31"),
        ("GUARD_OUTDATED_IMAGE_GRACE_DAYS", "0"),
        ("GUARD_MAX_IMDS_HOP_LIMIT", "2"),
        ("GUARD_REQUIRE_ENCRYPTED_VOLUMES", "true"),
        (
            "GUARD_ALLOWED_VOLUME_KMS_KEYS",
            "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
        ("GUARD_DENY_KEY_PAIRS", "true"),
        ("GUARD_ALLOWED_KEY_PAIRS", "break-glass"),
        (
            "GUARD_CHECK_EXCEPTIONS",
            "imds.hop_limit@prod-ebs-csi-*, instance.key_pair@bastion",
        ),
        (
            "GUARD_BUDGET_ALARM_NAMES",
            "guard-VcpuPercentOfBudget, guard-InstancesPercentOfBudget",
        ),
        ("GUARD_SURGE_ALARM_PREFIX", "prod-surge-"),
        (
            "GUARD_HOOK_NOTIFICATION_TARGET_ARN",
            "arn:aws:sqs:eu-west-1:123456789012:prod-launches",
        ),
        (
            "GUARD_HOOK_NOTIFICATION_ROLE_ARN",
            "arn:aws:iam::123456789012:role/prod-hook-notifications",
        ),
    ])
    .unwrap();
    assert_eq!(
        policy.cluster_tag,
        ClusterTag::pinned("eks:cluster-name", "prod")
    );
    assert!(
        policy
            .alarms
            .is_budget_alarm("guard-InstancesPercentOfBudget")
    );
    assert!(!policy.alarms.is_budget_alarm("guard-MemoryPercentOfBudget"));
    assert!(policy.alarms.is_surge_alarm("prod-surge-requests"));
    assert!(!policy.alarms.is_surge_alarm("rds-cpu-high"));
    assert_eq!(
        policy.hook_notification,
        Some(HookNotification {
            target_arn: "arn:aws:sqs:eu-west-1:123456789012:prod-launches".into(),
            role_arn: "arn:aws:iam::123456789012:role/prod-hook-notifications".into(),
        })
    );
    assert_eq!(policy.mode, Mode::Audit);
    assert_eq!(
        policy.audit_only_checks.iter().copied().collect::<Vec<_>>(),
        vec![CheckName::ImageAge, CheckName::ImdsV2]
    );
    assert_eq!(policy.image.allowed_owners.len(), 2);
    assert_eq!(policy.image.max_age_days, Some(90));
    assert!(!policy.image.deny_deprecated);
    assert_eq!(policy.network.allowed_subnet_ids.len(), 2);
    assert!(!policy.network.require_private_subnet);
    assert_eq!(
        policy.instance_types.allowed.texts(),
        ["m6i.*", "c7g.2xlarge"]
    );
    assert_eq!(policy.budget.max_vcpus, Some(400));
    assert_eq!(policy.budget.max_instances, Some(50));
    assert_eq!(policy.budget.suspend_at_percent, 95);
    assert_eq!(policy.budget.resume_below_percent, 80);
    assert!(policy.budget.clamp_max_size);
    assert!(policy.budget.is_on());
    assert_eq!(policy.fail_mode, FailMode::Continue);
    assert_eq!(policy.hook_name, "guard/launch");
    assert!(!policy.enroll_groups);
    assert_eq!(policy.audit_action, AuditAction::Isolate);
    assert!(policy.allowed_launcher_tags.is_empty());
    let outdated = policy.image.outdated.as_ref().unwrap();
    assert_eq!(outdated.kubernetes_version.as_deref(), Some("1.31"));
    assert_eq!(outdated.grace_days, 0);
    assert_eq!(outdated.parameters.len(), 10);
    assert_eq!(
        outdated.parameters[0],
        "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/standard/recommended/image_id"
    );
    assert_eq!(
        outdated.parameters[9],
        "/aws/service/bottlerocket/aws-k8s-1.31/arm64/latest/image_id"
    );
    assert_eq!(policy.max_imds_hop_limit, Some(2));
    assert!(policy.volumes.require_encrypted);
    assert_eq!(policy.volumes.allowed_kms_keys.len(), 1);
    assert!(policy.key_pairs.deny);
    assert_eq!(policy.key_pairs.allowed.len(), 1);
    let exceptions: Vec<String> = policy.exceptions.iter().map(ToString::to_string).collect();
    assert_eq!(
        exceptions,
        ["imds.hop_limit@prod-ebs-csi-*", "instance.key_pair@bastion"]
    );
    assert!(policy.exempts(
        CheckName::InstanceKeyPair,
        Some("bastion"),
        SystemTime::now()
    ));
    // Deprecation and private-subnet checks are off in this policy.
    assert_eq!(policy.enabled_checks().len(), CheckName::ALL.len() - 2);
}

#[rstest]
#[case::missing_cluster(&[("GUARD_CLUSTER", "")], "`GUARD_CLUSTER` is required")]
#[case::bad_cluster_name(&[("GUARD_CLUSTER", "prod cluster")], "`GUARD_CLUSTER` must be 1-100 letters, digits, `-` or `_`, not `prod cluster`")]
#[case::aws_tag_key(&[("GUARD_CLUSTER_TAG_KEY", "aws:eks"), ("GUARD_CLUSTER_TAG_VALUE", "prod")], "`GUARD_CLUSTER_TAG_KEY` is not a valid tag key: `aws:eks`")]
#[case::shared_key_without_value(&[("GUARD_CLUSTER_TAG_KEY", "eks:cluster-name")], "`GUARD_CLUSTER_TAG_KEY` `eks:cluster-name` needs `GUARD_CLUSTER_TAG_VALUE`: every cluster in the account may carry that key, so only its value names this cluster (e.g. `eks:cluster-name` = `prod`); only the default key `kubernetes.io/cluster/prod` names the cluster by itself")]
#[case::karpenter_key_without_value(&[("GUARD_CLUSTER_TAG_KEY", "karpenter.sh/discovery"), ("GUARD_CLUSTER_TAG_VALUE", " ")], "`GUARD_CLUSTER_TAG_KEY` `karpenter.sh/discovery` needs `GUARD_CLUSTER_TAG_VALUE`: every cluster in the account may carry that key, so only its value names this cluster (e.g. `karpenter.sh/discovery` = `prod`); only the default key `kubernetes.io/cluster/prod` names the cluster by itself")]
#[case::another_clusters_default_key(&[("GUARD_CLUSTER_TAG_KEY", "kubernetes.io/cluster/staging")], "`GUARD_CLUSTER_TAG_KEY` `kubernetes.io/cluster/staging` needs `GUARD_CLUSTER_TAG_VALUE`: every cluster in the account may carry that key, so only its value names this cluster (e.g. `kubernetes.io/cluster/staging` = `prod`); only the default key `kubernetes.io/cluster/prod` names the cluster by itself")]
#[case::notification_target_without_role(&[("GUARD_HOOK_NOTIFICATION_TARGET_ARN", "arn:aws:sqs:eu-west-1:123456789012:launches")], "`GUARD_HOOK_NOTIFICATION_TARGET_ARN` needs `GUARD_HOOK_NOTIFICATION_ROLE_ARN` (the role Auto Scaling assumes to notify it)")]
#[case::notification_target_fifo(&[("GUARD_HOOK_NOTIFICATION_TARGET_ARN", "arn:aws:sqs:eu-west-1:123456789012:launches.fifo"), ("GUARD_HOOK_NOTIFICATION_ROLE_ARN", "arn:aws:iam::123456789012:role/hooks")], "`GUARD_HOOK_NOTIFICATION_TARGET_ARN` `arn:aws:sqs:eu-west-1:123456789012:launches.fifo` is a FIFO queue: lifecycle hooks cannot notify FIFO queues")]
#[case::notification_target_not_a_queue(&[("GUARD_HOOK_NOTIFICATION_TARGET_ARN", "arn:aws:sns:eu-west-1:123456789012:launches"), ("GUARD_HOOK_NOTIFICATION_ROLE_ARN", "arn:aws:iam::123456789012:role/hooks")], "`GUARD_HOOK_NOTIFICATION_TARGET_ARN` is not an sqs queue arn: `arn:aws:sns:eu-west-1:123456789012:launches`")]
#[case::bad_mode(&[("GUARD_MODE", "block")], "`GUARD_MODE` must be one of `enforce`, `audit`, not `block`")]
#[case::unknown_audit_only_check(&[("GUARD_AUDIT_ONLY_CHECKS", "image.allowed,imds")], "`GUARD_AUDIT_ONLY_CHECKS`: unknown check `imds`")]
#[case::bad_ami_id(&[("GUARD_ALLOWED_AMI_IDS", "ami-xyz")], "`GUARD_ALLOWED_AMI_IDS` has `ami-xyz`, which is not an image id (`ami-…`)")]
#[case::bad_owner(&[("GUARD_ALLOWED_AMI_OWNERS", "amazn")], "`GUARD_ALLOWED_AMI_OWNERS` has `amazn`, which is not an account id, `amazon`, `aws-marketplace` or `self`")]
#[case::bad_name_pattern(&[("GUARD_ALLOWED_AMI_NAME_PATTERNS", "eks-[")], "`GUARD_ALLOWED_AMI_NAME_PATTERNS`: pattern `eks-[` does not compile: unclosed character class; missing ']'")]
#[case::zero_age(&[("GUARD_MAX_AMI_AGE_DAYS", "0")], "`GUARD_MAX_AMI_AGE_DAYS` must be a whole number from 1 to 36500, not `0`")]
#[case::bad_flag(&[("GUARD_DENY_DEPRECATED_AMIS", "yes")], "`GUARD_DENY_DEPRECATED_AMIS` must be `true` or `false`, not `yes`")]
#[case::bad_subnet(&[("GUARD_ALLOWED_SUBNET_IDS", "subnet-0123abcd,sg-0123abcd")], "`GUARD_ALLOWED_SUBNET_IDS` has `sg-0123abcd`, which is not a subnet id (`subnet-…`)")]
#[case::bad_security_group(&[("GUARD_ALLOWED_SECURITY_GROUP_IDS", "default")], "`GUARD_ALLOWED_SECURITY_GROUP_IDS` has `default`, which is not a security group id (`sg-…`)")]
#[case::bad_type_pattern(&[("GUARD_DENIED_INSTANCE_TYPES", "p5.[")], "`GUARD_DENIED_INSTANCE_TYPES`: pattern `p5.[` does not compile: unclosed character class; missing ']'")]
#[case::deny_covers_allow(&[("GUARD_ALLOWED_INSTANCE_TYPES", "m6i.*"), ("GUARD_DENIED_INSTANCE_TYPES", "m6*")], "`GUARD_DENIED_INSTANCE_TYPES` (`m6*`) denies every type that `GUARD_ALLOWED_INSTANCE_TYPES` (`m6i.*`) allows")]
#[case::role_instead_of_profile(&[("GUARD_ALLOWED_INSTANCE_PROFILES", "arn:aws:iam::123456789012:role/node")], "`GUARD_ALLOWED_INSTANCE_PROFILES` has `arn:aws:iam::123456789012:role/node`, which is not an instance profile arn (`arn:aws:iam::<account>:instance-profile/<name>`)")]
#[case::zero_budget(&[("GUARD_MAX_VCPUS", "0")], "`GUARD_MAX_VCPUS` must be a whole number from 1 to 4294967295, not `0`")]
#[case::negative_budget(&[("GUARD_MAX_INSTANCES", "-5")], "`GUARD_MAX_INSTANCES` must be a whole number from 1 to 4294967295, not `-5`")]
#[case::fractional_budget(&[("GUARD_MAX_MEMORY_MIB", "1.5")], "`GUARD_MAX_MEMORY_MIB` must be a whole number from 1 to 4398046510080, not `1.5`")]
#[case::percent_over_100(&[("GUARD_SUSPEND_AT_PERCENT", "120")], "`GUARD_SUSPEND_AT_PERCENT` must be a whole number from 1 to 100, not `120`")]
#[case::resume_not_below_suspend(&[("GUARD_SUSPEND_AT_PERCENT", "80"), ("GUARD_RESUME_BELOW_PERCENT", "80")], "`GUARD_RESUME_BELOW_PERCENT` (`80`) must be below `GUARD_SUSPEND_AT_PERCENT` (`80`)")]
#[case::bad_fail_mode(&[("GUARD_FAIL_MODE", "open")], "`GUARD_FAIL_MODE` must be one of `abandon`, `continue`, not `open`")]
#[case::bad_hook_name(&[("GUARD_HOOK_NAME", "launch hook")], "`GUARD_HOOK_NAME` must be 1-255 letters, digits, `-`, `_` or `/`, not `launch hook`")]
#[case::bad_audit_action(&[("GUARD_AUDIT_ACTION", "delete")], "`GUARD_AUDIT_ACTION` must be one of `alert`, `stop`, `terminate`, `isolate`, not `delete`")]
#[case::isolate_without_quarantine(&[("GUARD_AUDIT_ACTION", "isolate")], "`GUARD_AUDIT_ACTION` `isolate` needs `GUARD_QUARANTINE_SECURITY_GROUP_ID`")]
#[case::bad_quarantine(&[("GUARD_QUARANTINE_SECURITY_GROUP_ID", "quarantine")], "`GUARD_QUARANTINE_SECURITY_GROUP_ID` must be a security group id (`sg-…`), not `quarantine`")]
#[case::missing_topic(&[("GUARD_ALERT_TOPIC_ARN", " ")], "`GUARD_ALERT_TOPIC_ARN` is required")]
#[case::bad_topic(&[("GUARD_ALERT_TOPIC_ARN", "alerts")], "`GUARD_ALERT_TOPIC_ARN` is not an sns topic arn: `alerts`")]
#[case::bad_kubernetes_version(&[("GUARD_KUBERNETES_VERSION", "v1.31")], "`GUARD_KUBERNETES_VERSION` must be a Kubernetes minor version such as `1.31`, not `v1.31`")]
#[case::private_parameter(&[("GUARD_RECOMMENDED_IMAGE_PARAMETERS", "/team/ami")], "`GUARD_RECOMMENDED_IMAGE_PARAMETERS` has `/team/ami`, which is not an SSM public parameter name (`/aws/service/…`)")]
#[case::too_many_parameters(&[("GUARD_RECOMMENDED_IMAGE_PARAMETERS", "/aws/service/a1,/aws/service/a2,/aws/service/a3,/aws/service/a4,/aws/service/a5,/aws/service/a6,/aws/service/a7,/aws/service/a8,/aws/service/a9,/aws/service/a10,/aws/service/a11")], "`GUARD_RECOMMENDED_IMAGE_PARAMETERS` names 11 parameters; at most 10 (one `GetParameters` call)")]
#[case::negative_grace(&[("GUARD_OUTDATED_IMAGE_GRACE_DAYS", "-1")], "`GUARD_OUTDATED_IMAGE_GRACE_DAYS` must be a whole number from 0 to 3650, not `-1`")]
#[case::zero_hop_limit(&[("GUARD_MAX_IMDS_HOP_LIMIT", "0")], "`GUARD_MAX_IMDS_HOP_LIMIT` must be a whole number from 1 to 64, not `0`")]
#[case::key_alias_instead_of_key(&[("GUARD_ALLOWED_VOLUME_KMS_KEYS", "alias/aws/ebs")], "`GUARD_ALLOWED_VOLUME_KMS_KEYS` has `alias/aws/ebs`, which is not a KMS key arn (`arn:aws:kms:<region>:<account>:key/<id>`)")]
#[case::exception_of_an_unknown_check(&[("GUARD_CHECK_EXCEPTIONS", "imds.hops@prod-*")], "`GUARD_CHECK_EXCEPTIONS`: `imds.hops@prod-*`: unknown check `imds.hops`")]
#[case::exception_of_a_budget(&[("GUARD_CHECK_EXCEPTIONS", "budget.vcpus@prod-*")], "`GUARD_CHECK_EXCEPTIONS`: `budget.vcpus@prod-*`: `budget.vcpus` applies to the whole cluster and cannot be exempted per group")]
#[case::typo_in_a_setting_name(&[("GUARD_ALLOWED_AMI_ID", "ami-0123abcd")], "unknown setting `GUARD_ALLOWED_AMI_ID`")]
fn each_invalid_setting_is_reported_with_its_value(
    #[case] extra: &[(&'static str, &'static str)],
    #[case] expected: &str,
) {
    assert_eq!(problems(extra), vec![expected.to_owned()]);
}

#[test]
fn every_problem_is_listed_in_one_lowercase_message() {
    let err = Policy::from_vars([
        ("GUARD_MODE", "block"),
        ("GUARD_MAX_VCPUS", "lots"),
        ("GUARD_ALLOWED_SECURITY_GROUP_IDS", "sg-0123abcd,web"),
        ("PATH", "/usr/bin"),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid policy (5 problems): `GUARD_CLUSTER` is required; \
         `GUARD_MODE` must be one of `enforce`, `audit`, not `block`; \
         `GUARD_ALLOWED_SECURITY_GROUP_IDS` has `web`, which is not a security group id (`sg-…`); \
         `GUARD_MAX_VCPUS` must be a whole number from 1 to 4294967295, not `lots`; \
         `GUARD_ALERT_TOPIC_ARN` is required"
    );
}

#[test]
fn image_outdated_is_on_with_a_version_or_named_parameters_and_named_parameters_win() {
    let off = with(&[]).unwrap();
    assert!(off.image.outdated.is_none());
    assert!(off.recommended_image_parameters().is_empty());
    let named = with(&[
        ("GUARD_KUBERNETES_VERSION", "1.31"),
        (
            "GUARD_RECOMMENDED_IMAGE_PARAMETERS",
            "/aws/service/bottlerocket/aws-k8s-1.31-nvidia/x86_64/latest/image_id",
        ),
    ])
    .unwrap();
    assert_eq!(
        named.recommended_image_parameters(),
        ["/aws/service/bottlerocket/aws-k8s-1.31-nvidia/x86_64/latest/image_id"]
    );
    let outdated = named.image.outdated.as_ref().unwrap();
    assert_eq!(outdated.grace_days, 30);
    assert!(named.enabled_checks().contains(&CheckName::ImageOutdated));
}

#[test]
fn a_deny_list_that_leaves_some_allowed_types_is_accepted() {
    let policy = with(&[
        ("GUARD_ALLOWED_INSTANCE_TYPES", "m6i.*,c7g.*"),
        ("GUARD_DENIED_INSTANCE_TYPES", "m6i.*"),
    ]);
    assert!(policy.is_ok());
}

#[test]
fn audit_mode_and_audit_only_checks_do_not_block() {
    let enforce = with(&[
        ("GUARD_MODE", "enforce"),
        ("GUARD_AUDIT_ONLY_CHECKS", "image.age"),
    ])
    .unwrap();
    assert!(enforce.blocks(CheckName::ImdsV2));
    assert!(!enforce.blocks(CheckName::ImageAge));
    let audit = with(&[("GUARD_MODE", "audit")]).unwrap();
    assert!(!audit.blocks(CheckName::ImdsV2));
}

#[test]
fn the_hourly_remediation_cap_defaults_to_one_sweeps_worth_and_must_be_positive() {
    assert_eq!(with(&[]).unwrap().max_remediations_per_hour, 20);
    let policy = with(&[("GUARD_MAX_REMEDIATIONS_PER_HOUR", "5")]).unwrap();
    assert_eq!(policy.max_remediations_per_hour, 5);
    assert_eq!(
        problems(&[("GUARD_MAX_REMEDIATIONS_PER_HOUR", "0")]),
        vec!["`GUARD_MAX_REMEDIATIONS_PER_HOUR` must be a whole number from 1 to 1000, not `0`"]
    );
}

#[rstest]
#[case::default_key_any_value(&[], ClusterTag::any_value("kubernetes.io/cluster/prod"))]
#[case::default_key_spelled_out(&[("GUARD_CLUSTER_TAG_KEY", "kubernetes.io/cluster/prod")], ClusterTag::any_value("kubernetes.io/cluster/prod"))]
#[case::default_key_with_value(&[("GUARD_CLUSTER_TAG_VALUE", "owned")], ClusterTag::pinned("kubernetes.io/cluster/prod", "owned"))]
#[case::eks_managed_node_groups(&[("GUARD_CLUSTER_TAG_KEY", "eks:cluster-name"), ("GUARD_CLUSTER_TAG_VALUE", "prod")], ClusterTag::pinned("eks:cluster-name", "prod"))]
#[case::karpenter_discovery(&[("GUARD_CLUSTER_TAG_KEY", "karpenter.sh/discovery"), ("GUARD_CLUSTER_TAG_VALUE", "prod")], ClusterTag::pinned("karpenter.sh/discovery", "prod"))]
fn the_cluster_tag_is_key_and_value(
    #[case] extra: &[(&'static str, &'static str)],
    #[case] expected: ClusterTag,
) {
    assert_eq!(with(extra).unwrap().cluster_tag, expected);
}
