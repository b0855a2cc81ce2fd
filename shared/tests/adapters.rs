//! Tier 3 (SPEC §10): the adapters of `shared::aws` on the real SDK clients,
//! with `aws-smithy-mocks` answering in place of AWS. They prove the exact
//! requests the guard sends, how the answers become facts, which error codes
//! mean "nothing there", and that throttling is retried a bounded number of
//! times.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use pretty_assertions::assert_eq;
use rstest::rstest;
use serde_json::Value;

mod support;

use support::{meta, recorder, retry_config, taken};

use guard_core::fixtures::{CLUSTER, CLUSTER_TAG, GROUP, HOOK, at, now, policy_of};
use shared::alerts::{Alert, AlertKind, Severity};
use shared::aws::{AutoScaling, Ec2, ImageSources, Sns};
use shared::cache::CachedNetworkImages;
use shared::decision::LifecycleResult;
use shared::facts::{
    CpuOptions, GroupFacts, HttpTokens, ImageFacts, InstanceFacts, SubnetFacts, VolumeFacts,
};
use shared::lifecycle::{LAUNCHING, LifecycleAction};
use shared::policy::ClusterTag;
use shared::ports::{
    AlertPublish, AwsError, ClusterGroupsRead, ClusterInstancesRead, Completion, GroupRead,
    InstanceRead, LifecycleComplete, NetworkImageRead, RecommendedImagesRead, ScaleOutControl,
    VolumeRead,
};

use aws_sdk_autoscaling::operation::complete_lifecycle_action::{
    CompleteLifecycleActionError, CompleteLifecycleActionInput, CompleteLifecycleActionOutput,
};
use aws_sdk_autoscaling::operation::delete_lifecycle_hook::{
    DeleteLifecycleHookError, DeleteLifecycleHookInput, DeleteLifecycleHookOutput,
};
use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::{
    DescribeAutoScalingGroupsInput, DescribeAutoScalingGroupsOutput,
};
use aws_sdk_autoscaling::types::{AutoScalingGroup, SuspendedProcess, TagDescription};
use aws_sdk_ec2::operation::describe_images::{
    DescribeImagesError, DescribeImagesInput, DescribeImagesOutput,
};
use aws_sdk_ec2::operation::describe_instances::{
    DescribeInstancesError, DescribeInstancesInput, DescribeInstancesOutput,
};
use aws_sdk_ec2::operation::describe_subnets::{DescribeSubnetsInput, DescribeSubnetsOutput};
use aws_sdk_ec2::operation::describe_volumes::{DescribeVolumesInput, DescribeVolumesOutput};
use aws_sdk_ec2::types::{
    ArchitectureValues, EbsInstanceBlockDevice, Filter, GroupIdentifier, HttpTokensState,
    IamInstanceProfile, Image, Instance, InstanceBlockDeviceMapping,
    InstanceMetadataOptionsResponse, InstanceState, InstanceStateName, InstanceType, Reservation,
    Subnet, Tag, Volume,
};
use aws_sdk_sns::operation::publish::{PublishError, PublishInput, PublishOutput};
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_ssm::operation::get_parameters::{
    GetParametersError, GetParametersInput, GetParametersOutput,
};
use aws_sdk_ssm::types::Parameter;

const TOKEN: &str = "c613620e-07e2-4ed2-a9e2-ef8258911ade";
const INSTANCE: &str = "i-0a1b2c3d4e5f60718";
const IMAGE: &str = "ami-0123456789abcdef0";
const SUBNET: &str = "subnet-0aaa1111bbbb2222c";
const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:alerts";

// ---------------------------------------------------------------------------
// Mocked clients
// ---------------------------------------------------------------------------

/// A real `$sdk::Client` whose every call is answered by `$rules`.
///
/// This is `aws_smithy_mocks::mock_client!` without `with_test_defaults_v2`,
/// which exists only with the SDK crates' `test-util` feature: enabling it for
/// tests would build every SDK crate twice (once for `cargo build`, once for
/// `cargo test`). Static credentials and a region stand in for the test
/// defaults; the retry configuration is the one above.
macro_rules! mocked {
    ($sdk:ident, $mode:expr, $rules:expr) => {{
        let mut interceptor = MockResponseInterceptor::new().rule_mode($mode);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new("eu-west-1"))
                .credentials_provider($sdk::config::Credentials::new(
                    "AKIDADAPTERTESTS",
                    "adapter-tests-secret",
                    None,
                    None,
                    "adapter-tests",
                ))
                .http_client(create_mock_http_client())
                .interceptor(interceptor)
                .retry_config(retry_config())
                .build(),
        )
    }};
}

/// Rules answer in order, a simple rule once: an unexpected extra call (or an
/// unexpected operation) fails the test.
fn auto_scaling(rules: &[&Rule]) -> AutoScaling {
    AutoScaling::new(mocked!(
        aws_sdk_autoscaling,
        RuleMode::Sequential,
        rules.iter().copied()
    ))
}

fn ec2(rules: &[&Rule]) -> Ec2 {
    Ec2::new(mocked!(
        aws_sdk_ec2,
        RuleMode::Sequential,
        rules.iter().copied()
    ))
}

/// Rules stay in place and answer as often as they match: for counting hits.
fn ec2_answering_repeatedly(rules: &[&Rule]) -> Ec2 {
    Ec2::new(mocked!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        rules.iter().copied()
    ))
}

fn sns(rules: &[&Rule]) -> Sns {
    Sns::new(
        mocked!(aws_sdk_sns, RuleMode::Sequential, rules.iter().copied()),
        TOPIC,
    )
}

/// How the first attempt of a retried call fails.
#[derive(Debug, Clone, Copy)]
enum Transient {
    /// The service's throttling error code (`Throttling`, `RequestLimitExceeded`).
    Throttled,
    /// `503 Service Unavailable`, no body.
    Unavailable,
}

// ---------------------------------------------------------------------------
// Auto Scaling: CompleteLifecycleAction
// ---------------------------------------------------------------------------

fn action() -> LifecycleAction {
    LifecycleAction {
        token: TOKEN.to_owned(),
        group: GROUP.to_owned(),
        hook: HOOK.to_owned(),
        instance_id: INSTANCE.to_owned(),
        transition: LAUNCHING.to_owned(),
        notification_metadata: None,
        origin: Some("EC2".to_owned()),
        destination: Some("AutoScalingGroup".to_owned()),
    }
}

fn completed() -> CompleteLifecycleActionOutput {
    CompleteLifecycleActionOutput::builder().build()
}

fn complete_error(code: &str, message: &str) -> CompleteLifecycleActionError {
    CompleteLifecycleActionError::generic(meta(code, message))
}

#[rstest]
#[case::continue_(LifecycleResult::Continue, "CONTINUE")]
#[case::abandon(LifecycleResult::Abandon, "ABANDON")]
#[tokio::test]
async fn complete_sends_token_hook_group_instance_and_result(
    #[case] result: LifecycleResult,
    #[case] wire: &str,
) {
    let (seen, record) = recorder::<CompleteLifecycleActionInput>();
    let rule = mock!(aws_sdk_autoscaling::Client::complete_lifecycle_action)
        .match_requests(record)
        .then_output(completed);

    let completion = auto_scaling(&[&rule]).complete(&action(), result).await;

    assert_eq!(completion, Ok(Completion::Completed));
    let expected = CompleteLifecycleActionInput::builder()
        .lifecycle_hook_name(HOOK)
        .auto_scaling_group_name(GROUP)
        .lifecycle_action_token(TOKEN)
        .lifecycle_action_result(wire)
        .instance_id(INSTANCE)
        .build()
        .unwrap();
    assert_eq!(taken(&seen), vec![expected]);
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn complete_without_an_active_action_is_no_active_action_not_an_error() {
    // Given: Auto Scaling's answer to a duplicate event or a timed-out action
    let rule = mock!(aws_sdk_autoscaling::Client::complete_lifecycle_action).then_error(|| {
        complete_error(
            "ValidationError",
            &format!("No active Lifecycle Action found with token {TOKEN}"),
        )
    });

    // When
    let completion = auto_scaling(&[&rule])
        .complete(&action(), LifecycleResult::Continue)
        .await;

    // Then
    assert_eq!(completion, Ok(Completion::NoActiveAction));
    assert_eq!(rule.num_calls(), 1, "a validation error is not retried");
}

#[rstest]
#[case::other_validation_error(
    "ValidationError",
    "1 validation error detected: Value 'MAYBE' at 'lifecycleActionResult' failed to satisfy constraint"
)]
#[case::access_denied(
    "AccessDenied",
    "User: arn:aws:sts::123456789012:assumed-role/launch-guard/fn is not authorized to perform: autoscaling:CompleteLifecycleAction"
)]
#[tokio::test]
async fn complete_reports_any_other_error_with_operation_and_code(
    #[case] code: &'static str,
    #[case] message: &'static str,
) {
    let rule = mock!(aws_sdk_autoscaling::Client::complete_lifecycle_action)
        .then_error(move || complete_error(code, message));

    let completion = auto_scaling(&[&rule])
        .complete(&action(), LifecycleResult::Abandon)
        .await;

    assert_eq!(
        completion,
        Err(AwsError::new(
            "CompleteLifecycleAction",
            Some(code),
            message
        ))
    );
    assert_eq!(rule.num_calls(), 1, "`{code}` is not retried");
}

#[rstest]
#[case::throttling(Transient::Throttled)]
#[case::service_unavailable(Transient::Unavailable)]
#[tokio::test]
async fn complete_is_retried_after_throttling_or_a_503(#[case] first: Transient) {
    let sequence = mock!(aws_sdk_autoscaling::Client::complete_lifecycle_action).sequence();
    let sequence = match first {
        Transient::Throttled => sequence.error(|| complete_error("Throttling", "Rate exceeded")),
        Transient::Unavailable => sequence.http_status(503, None),
    };
    let rule = sequence.output(completed).build();

    let completion = auto_scaling(&[&rule])
        .complete(&action(), LifecycleResult::Continue)
        .await;

    assert_eq!(completion, Ok(Completion::Completed));
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn complete_gives_up_after_three_throttled_attempts() {
    let rule = mock!(aws_sdk_autoscaling::Client::complete_lifecycle_action)
        .sequence()
        .error(|| complete_error("Throttling", "Rate exceeded"))
        .repeatedly()
        .build();

    let completion = auto_scaling(&[&rule])
        .complete(&action(), LifecycleResult::Continue)
        .await;

    assert_eq!(
        completion,
        Err(AwsError::new(
            "CompleteLifecycleAction",
            Some("Throttling"),
            "Rate exceeded"
        ))
    );
    assert_eq!(rule.num_calls(), 3);
}

// ---------------------------------------------------------------------------
// Auto Scaling: DescribeAutoScalingGroups
// ---------------------------------------------------------------------------

fn group_tag(key: &str, value: &str) -> TagDescription {
    TagDescription::builder()
        .resource_id(GROUP)
        .resource_type("auto-scaling-group")
        .key(key)
        .value(value)
        .propagate_at_launch(true)
        .build()
}

fn suspended(process: &str) -> SuspendedProcess {
    SuspendedProcess::builder()
        .process_name(process)
        .suspension_reason("User suspended at 2026-09-21T14:13:20Z")
        .build()
}

#[tokio::test]
async fn describe_group_maps_sizes_tags_and_suspended_processes() {
    let (seen, record) = recorder::<DescribeAutoScalingGroupsInput>();
    let rule = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .match_requests(record)
        .then_output(|| {
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(
                    AutoScalingGroup::builder()
                        .auto_scaling_group_name(GROUP)
                        .min_size(1)
                        .max_size(12)
                        .desired_capacity(4)
                        .tags(group_tag("scaling-guard:cluster", "prod"))
                        .tags(group_tag("team", ""))
                        .suspended_processes(suspended("Launch"))
                        .suspended_processes(suspended("AZRebalance"))
                        .instances(
                            aws_sdk_autoscaling::types::Instance::builder()
                                .instance_id("i-0waiting")
                                .instance_type("m6i.large")
                                .lifecycle_state(
                                    aws_sdk_autoscaling::types::LifecycleState::PendingWait,
                                )
                                .build(),
                        )
                        .build(),
                )
                .build()
        });

    let group = auto_scaling(&[&rule]).group(GROUP).await;

    assert_eq!(
        group,
        Ok(Some(GroupFacts {
            name: GROUP.to_owned(),
            min_size: 1,
            max_size: 12,
            desired_capacity: 4,
            tags: BTreeMap::from([
                ("scaling-guard:cluster".to_owned(), "prod".to_owned()),
                ("team".to_owned(), String::new()),
            ]),
            suspended_processes: vec!["Launch".to_owned(), "AZRebalance".to_owned()],
            instances: vec![shared::facts::GroupInstance {
                instance_id: "i-0waiting".to_owned(),
                lifecycle_state: "Pending:Wait".to_owned(),
            }],
            instance_types: vec!["m6i.large".to_owned()],
            launch: shared::facts::GroupLaunch::default(),
        }))
    );
    let requests = taken(&seen);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].auto_scaling_group_names(), [GROUP]);
}

#[tokio::test]
async fn a_missing_group_is_none() {
    // Auto Scaling answers an unknown name with an empty list, not an error.
    let rule = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .then_output(|| DescribeAutoScalingGroupsOutput::builder().build());

    assert_eq!(auto_scaling(&[&rule]).group("prod-gone").await, Ok(None));
}

// ---------------------------------------------------------------------------
// SNS: Publish
// ---------------------------------------------------------------------------

fn alert() -> Alert {
    let policy = policy_of(
        &[&[("GUARD_CLUSTER", CLUSTER), ("GUARD_ALERT_TOPIC_ARN", TOPIC)]],
        &[],
    );
    let now = now();
    let mut alert = Alert::new(
        AlertKind::LaunchDenied,
        Severity::Critical,
        &policy,
        now,
        format!("launch of {INSTANCE} denied (instance_type.allowed)"),
    );
    alert.decision = "ABANDON".to_owned();
    alert.instance_id = Some(INSTANCE.to_owned());
    alert.group = Some(GROUP.to_owned());
    alert.advice = "use an allowed instance type in the launch template".to_owned();
    alert
}

fn published() -> PublishOutput {
    PublishOutput::builder()
        .message_id("0c5f0a57-3b0c-5e4c-9a9e-4b1bde1f4a2e")
        .build()
}

#[tokio::test]
async fn publish_sends_subject_json_bodies_and_filter_attributes_to_the_topic() {
    let (seen, record) = recorder::<PublishInput>();
    let rule = mock!(aws_sdk_sns::Client::publish)
        .match_requests(record)
        .then_output(published);
    let alert = alert();

    let sent = sns(&[&rule]).publish(&alert).await;

    assert_eq!(sent, Ok(()));
    // The whole request: nothing else is set (not an SMS, not a FIFO
    // publish, not a direct target).
    let string_attribute = |value: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .unwrap()
    };
    let expected = PublishInput::builder()
        .topic_arn(TOPIC)
        .subject(alert.subject())
        .message_structure("json")
        .message(alert.sns_message())
        .message_attributes("cluster", string_attribute("prod"))
        .message_attributes("kind", string_attribute("launch_denied"))
        .message_attributes("severity", string_attribute("critical"))
        .message_attributes("decision", string_attribute("ABANDON"))
        .build()
        .unwrap();
    let requests = taken(&seen);
    assert_eq!(requests, vec![expected]);
    // `MessageStructure: json`: a JSON object with one body per protocol.
    let message: Value = serde_json::from_str(requests[0].message().unwrap()).unwrap();
    let default: Value = serde_json::from_str(message["default"].as_str().unwrap()).unwrap();
    assert_eq!(*at(&default, "version"), 1);
    assert_eq!(*at(&default, "kind"), "launch_denied");
    assert_eq!(*at(&default, "cluster"), "prod");
    assert_eq!(*at(&default, "severity"), "critical");
    assert_eq!(*at(&default, "decision"), "ABANDON");
    assert_eq!(*at(&default, "instance_id"), INSTANCE);
    assert_eq!(*at(&default, "group"), GROUP);
    let email = message["email"].as_str().unwrap();
    assert!(
        email.starts_with("[scaling-guard] prod: launch of i-0a1b2c3d4e5f60718 denied"),
        "{email}"
    );
    assert!(
        email.contains("What to do: use an allowed instance type"),
        "{email}"
    );
}

#[rstest]
#[case::throttling(Transient::Throttled)]
#[case::service_unavailable(Transient::Unavailable)]
#[tokio::test]
async fn publish_is_retried_after_throttling_or_a_503(#[case] first: Transient) {
    let sequence = mock!(aws_sdk_sns::Client::publish).sequence();
    let sequence = match first {
        Transient::Throttled => {
            sequence.error(|| PublishError::generic(meta("Throttling", "Rate exceeded")))
        }
        Transient::Unavailable => sequence.http_status(503, None),
    };
    let rule = sequence.output(published).build();

    assert_eq!(sns(&[&rule]).publish(&alert()).await, Ok(()));
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn publish_gives_up_after_three_throttled_attempts() {
    let rule = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .error(|| PublishError::generic(meta("Throttling", "Rate exceeded")))
        .repeatedly()
        .build();

    assert_eq!(
        sns(&[&rule]).publish(&alert()).await,
        Err(AwsError::new(
            "Publish",
            Some("Throttling"),
            "Rate exceeded"
        ))
    );
    assert_eq!(rule.num_calls(), 3);
}

// ---------------------------------------------------------------------------
// EC2: DescribeInstances
// ---------------------------------------------------------------------------

fn ec2_tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

fn pending_instance(metadata: Option<HttpTokensState>) -> Instance {
    let instance = Instance::builder()
        .instance_id(INSTANCE)
        .instance_type(InstanceType::from("m6i.large"))
        .image_id(IMAGE)
        .state(
            InstanceState::builder()
                .code(0)
                .name(InstanceStateName::Pending)
                .build(),
        )
        .subnet_id(SUBNET)
        .vpc_id("vpc-0123456789abcdef0")
        .security_groups(
            GroupIdentifier::builder()
                .group_id("sg-0aaa")
                .group_name("web")
                .build(),
        )
        .security_groups(
            GroupIdentifier::builder()
                .group_id("sg-0bbb")
                .group_name("ssh")
                .build(),
        )
        .public_ip_address("203.0.113.7")
        .iam_instance_profile(
            IamInstanceProfile::builder()
                .arn("arn:aws:iam::123456789012:instance-profile/prod-node")
                .id("AIPAEXAMPLE")
                .build(),
        )
        .cpu_options(
            aws_sdk_ec2::types::CpuOptions::builder()
                .core_count(1)
                .threads_per_core(2)
                .build(),
        )
        .launch_time(aws_smithy_types::DateTime::from(now()))
        .tags(ec2_tag("aws:autoscaling:groupName", GROUP))
        .tags(ec2_tag("scaling-guard:cluster", "prod"))
        .key_name("break-glass")
        .block_device_mappings(ebs_mapping("/dev/xvda", "vol-0aaa"))
        .block_device_mappings(ebs_mapping("/dev/xvdb", "vol-0bbb"))
        // An instance-store device has no EBS volume.
        .block_device_mappings(
            InstanceBlockDeviceMapping::builder()
                .device_name("/dev/sdc")
                .build(),
        );
    match metadata {
        Some(tokens) => instance
            .metadata_options(
                InstanceMetadataOptionsResponse::builder()
                    .http_tokens(tokens)
                    .http_put_response_hop_limit(2)
                    .build(),
            )
            .build(),
        None => instance.build(),
    }
}

fn ebs_mapping(device: &str, volume_id: &str) -> InstanceBlockDeviceMapping {
    InstanceBlockDeviceMapping::builder()
        .device_name(device)
        .ebs(
            EbsInstanceBlockDevice::builder()
                .volume_id(volume_id)
                .build(),
        )
        .build()
}

fn reservation_of(instance: Instance) -> DescribeInstancesOutput {
    DescribeInstancesOutput::builder()
        .reservations(
            Reservation::builder()
                .reservation_id("r-0123456789abcdef0")
                .owner_id("123456789012")
                .requester_id("940372691376")
                .instances(instance)
                .build(),
        )
        .build()
}

fn instance_facts(http_tokens: Option<HttpTokens>) -> InstanceFacts {
    InstanceFacts {
        instance_id: INSTANCE.to_owned(),
        instance_type: "m6i.large".to_owned(),
        image_id: IMAGE.to_owned(),
        state: "pending".to_owned(),
        subnet_id: Some(SUBNET.to_owned()),
        vpc_id: Some("vpc-0123456789abcdef0".to_owned()),
        security_group_ids: vec!["sg-0aaa".to_owned(), "sg-0bbb".to_owned()],
        public_ip: Some("203.0.113.7".to_owned()),
        instance_profile_arn: Some(
            "arn:aws:iam::123456789012:instance-profile/prod-node".to_owned(),
        ),
        owner_account: Some("123456789012".to_owned()),
        cpu_options: Some(CpuOptions {
            core_count: 1,
            threads_per_core: 2,
        }),
        launch_time: Some(now()),
        tags: BTreeMap::from([
            ("aws:autoscaling:groupName".to_owned(), GROUP.to_owned()),
            ("scaling-guard:cluster".to_owned(), "prod".to_owned()),
        ]),
        http_put_response_hop_limit: http_tokens.map(|_| 2),
        key_name: Some("break-glass".to_owned()),
        volume_ids: vec!["vol-0aaa".to_owned(), "vol-0bbb".to_owned()],
        http_tokens,
        operator: None,
    }
}

#[rstest]
#[case::imds_v2_required(Some(HttpTokensState::Required), Some(HttpTokens::Required))]
#[case::imds_v1_allowed(Some(HttpTokensState::Optional), Some(HttpTokens::Optional))]
#[case::no_metadata_options(None, None)]
#[tokio::test]
async fn describe_instance_maps_every_fact_the_checks_read(
    #[case] reported: Option<HttpTokensState>,
    #[case] http_tokens: Option<HttpTokens>,
) {
    let (seen, record) = recorder::<DescribeInstancesInput>();
    let rule = mock!(aws_sdk_ec2::Client::describe_instances)
        .match_requests(record)
        .then_output(move || reservation_of(pending_instance(reported.clone())));

    let facts = ec2(&[&rule]).instance(INSTANCE).await;

    assert_eq!(facts, Ok(Some(instance_facts(http_tokens))));
    let expected = DescribeInstancesInput::builder()
        .include_managed_resources(true)
        .instance_ids(INSTANCE)
        .build()
        .unwrap();
    assert_eq!(taken(&seen), vec![expected]);
}

#[tokio::test]
async fn an_unknown_instance_is_none() {
    let rule = mock!(aws_sdk_ec2::Client::describe_instances).then_error(|| {
        DescribeInstancesError::generic(meta(
            "InvalidInstanceID.NotFound",
            &format!("The instance ID '{INSTANCE}' does not exist"),
        ))
    });

    assert_eq!(ec2(&[&rule]).instance(INSTANCE).await, Ok(None));
}

#[tokio::test]
async fn describe_instances_reports_other_errors_with_operation_and_code() {
    let message = "You are not authorized to perform this operation.";
    let rule = mock!(aws_sdk_ec2::Client::describe_instances).then_error(move || {
        DescribeInstancesError::generic(meta("UnauthorizedOperation", message))
    });

    assert_eq!(
        ec2(&[&rule]).instance(INSTANCE).await,
        Err(AwsError::new(
            "DescribeInstances",
            Some("UnauthorizedOperation"),
            message
        ))
    );
}

#[rstest]
#[case::request_limit_exceeded(Transient::Throttled)]
#[case::service_unavailable(Transient::Unavailable)]
#[tokio::test]
async fn describe_instances_is_retried_after_throttling_or_a_503(#[case] first: Transient) {
    let sequence = mock!(aws_sdk_ec2::Client::describe_instances).sequence();
    let sequence = match first {
        Transient::Throttled => sequence.error(|| {
            DescribeInstancesError::generic(meta("RequestLimitExceeded", "Request limit exceeded."))
        }),
        Transient::Unavailable => sequence.http_status(503, None),
    };
    let rule = sequence
        .output(|| reservation_of(pending_instance(Some(HttpTokensState::Required))))
        .build();

    let facts = ec2(&[&rule]).instance(INSTANCE).await;

    assert_eq!(facts, Ok(Some(instance_facts(Some(HttpTokens::Required)))));
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn describe_instances_gives_up_after_three_throttled_attempts() {
    let rule = mock!(aws_sdk_ec2::Client::describe_instances)
        .sequence()
        .error(|| {
            DescribeInstancesError::generic(meta("RequestLimitExceeded", "Request limit exceeded."))
        })
        .repeatedly()
        .build();

    assert_eq!(
        ec2(&[&rule]).instance(INSTANCE).await,
        Err(AwsError::new(
            "DescribeInstances",
            Some("RequestLimitExceeded"),
            "Request limit exceeded."
        ))
    );
    assert_eq!(rule.num_calls(), 3);
}

// ---------------------------------------------------------------------------
// EC2: DescribeImages and DescribeSubnets
// ---------------------------------------------------------------------------

fn image_output() -> DescribeImagesOutput {
    DescribeImagesOutput::builder()
        .images(
            Image::builder()
                .image_id(IMAGE)
                .name("al2023-ami-2023.3.20240131.0-kernel-6.1-x86_64")
                .owner_id("137112412989")
                .image_owner_alias("amazon")
                .creation_date("2024-01-31T12:00:00.000Z")
                .deprecation_time("2026-01-31T12:00:00.000Z")
                .architecture(ArchitectureValues::X8664)
                .build(),
        )
        .build()
}

fn image_facts() -> ImageFacts {
    ImageFacts {
        image_id: IMAGE.to_owned(),
        name: Some("al2023-ami-2023.3.20240131.0-kernel-6.1-x86_64".to_owned()),
        owner_id: Some("137112412989".to_owned()),
        owner_alias: Some("amazon".to_owned()),
        creation_date: Some(UNIX_EPOCH + Duration::from_secs(1_706_702_400)),
        deprecation_time: Some(UNIX_EPOCH + Duration::from_secs(1_769_860_800)),
        architecture: Some("x86_64".to_owned()),
    }
}

fn image_not_found() -> DescribeImagesError {
    DescribeImagesError::generic(meta(
        "InvalidAMIID.NotFound",
        &format!("The image id '[{IMAGE}]' does not exist"),
    ))
}

#[tokio::test]
async fn describe_image_includes_deprecated_images_and_maps_dates_and_owner_alias() {
    let (seen, record) = recorder::<DescribeImagesInput>();
    let rule = mock!(aws_sdk_ec2::Client::describe_images)
        .match_requests(record)
        .then_output(image_output);

    let image = ec2(&[&rule]).image(IMAGE).await;

    assert_eq!(image, Ok(Some(image_facts())));
    let expected = DescribeImagesInput::builder()
        .image_ids(IMAGE)
        .include_deprecated(true)
        .build()
        .unwrap();
    assert_eq!(taken(&seen), vec![expected]);
}

#[tokio::test]
async fn an_unknown_image_is_none() {
    let rule = mock!(aws_sdk_ec2::Client::describe_images).then_error(image_not_found);

    assert_eq!(ec2(&[&rule]).image(IMAGE).await, Ok(None));
}

#[rstest]
#[case::public(true)]
#[case::private(false)]
#[tokio::test]
async fn describe_subnet_maps_map_public_ip_on_launch(#[case] public: bool) {
    let (seen, record) = recorder::<DescribeSubnetsInput>();
    let rule = mock!(aws_sdk_ec2::Client::describe_subnets)
        .match_requests(record)
        .then_output(move || {
            DescribeSubnetsOutput::builder()
                .subnets(
                    Subnet::builder()
                        .subnet_id(SUBNET)
                        .vpc_id("vpc-0123456789abcdef0")
                        .map_public_ip_on_launch(public)
                        .build(),
                )
                .build()
        });

    let subnet = ec2(&[&rule]).subnet(SUBNET).await;

    assert_eq!(
        subnet,
        Ok(Some(SubnetFacts {
            subnet_id: SUBNET.to_owned(),
            vpc_id: Some("vpc-0123456789abcdef0".to_owned()),
            map_public_ip_on_launch: public,
        }))
    );
    let expected = DescribeSubnetsInput::builder()
        .subnet_ids(SUBNET)
        .build()
        .unwrap();
    assert_eq!(taken(&seen), vec![expected]);
}

// ---------------------------------------------------------------------------
// EC2: DescribeVolumes
// ---------------------------------------------------------------------------

fn volume(volume_id: &str, kms_key_id: Option<&str>) -> Volume {
    Volume::builder()
        .volume_id(volume_id)
        .encrypted(kms_key_id.is_some())
        .set_kms_key_id(kms_key_id.map(str::to_owned))
        .build()
}

#[tokio::test]
async fn volumes_are_read_by_filter_over_every_page() {
    let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd";
    let (seen_first, record) = recorder::<DescribeVolumesInput>();
    let first = mock!(aws_sdk_ec2::Client::describe_volumes)
        .match_requests(record)
        .then_output(move || {
            DescribeVolumesOutput::builder()
                .volumes(volume("vol-0aaa", None))
                .next_token("page-2")
                .build()
        });
    let (seen_second, record) = recorder::<DescribeVolumesInput>();
    let second = mock!(aws_sdk_ec2::Client::describe_volumes)
        .match_requests(record)
        .then_output(move || {
            DescribeVolumesOutput::builder()
                .volumes(volume("vol-0bbb", Some(key)))
                .build()
        });
    let asked = vec![
        "vol-0aaa".to_owned(),
        "vol-0bbb".to_owned(),
        "vol-0gone".to_owned(),
    ];

    let volumes = ec2(&[&first, &second]).volumes(&asked).await;

    assert_eq!(
        volumes,
        Ok(vec![
            VolumeFacts {
                volume_id: "vol-0aaa".to_owned(),
                encrypted: false,
                kms_key_id: None,
            },
            VolumeFacts {
                volume_id: "vol-0bbb".to_owned(),
                encrypted: true,
                kms_key_id: Some(key.to_owned()),
            },
        ])
    );
    let filter = Filter::builder()
        .name("volume-id")
        .set_values(Some(asked))
        .build();
    let page = |token: Option<&str>| {
        DescribeVolumesInput::builder()
            .filters(filter.clone())
            .set_next_token(token.map(str::to_owned))
            .build()
            .unwrap()
    };
    assert_eq!(taken(&seen_first), vec![page(None)]);
    assert_eq!(taken(&seen_second), vec![page(Some("page-2"))]);
}

#[tokio::test]
async fn no_volume_id_makes_no_call() {
    let rule = mock!(aws_sdk_ec2::Client::describe_volumes)
        .then_output(|| DescribeVolumesOutput::builder().build());

    assert_eq!(
        ec2_answering_repeatedly(&[&rule]).volumes(&[]).await,
        Ok(vec![])
    );
    assert_eq!(rule.num_calls(), 0);
}

// ---------------------------------------------------------------------------
// SSM and EC2: recommended images
// ---------------------------------------------------------------------------

const AL2023: &str =
    "/aws/service/eks/optimized-ami/1.30/amazon-linux-2023/x86_64/standard/recommended/image_id";

fn image_sources(ec2_rules: &[&Rule], ssm_rules: &[&Rule]) -> ImageSources {
    ImageSources::new(
        ec2_answering_repeatedly(ec2_rules),
        mocked!(aws_sdk_ssm, RuleMode::MatchAny, ssm_rules.iter().copied()),
    )
}

fn parameter(name: &str, value: &str) -> Parameter {
    Parameter::builder().name(name).value(value).build()
}

#[tokio::test]
async fn recommended_images_skip_unpublished_parameters_and_read_the_images_once() {
    // Given twelve names: one published, one holding no image id, ten unknown
    let mut names: Vec<String> = (0..10)
        .map(|minor| format!("/aws/service/eks/optimized-ami/1.{minor}/unknown/image_id"))
        .collect();
    names.push(AL2023.to_owned());
    names.push("/aws/service/eks/optimized-ami/1.30/amazon-linux-2023/x86_64/standard/recommended/release_version".to_owned());
    let (asked, record) = recorder::<GetParametersInput>();
    let get_parameters = mock!(aws_sdk_ssm::Client::get_parameters)
        .match_requests(record)
        .then_output(|| {
            GetParametersOutput::builder()
                .parameters(parameter(AL2023, IMAGE))
                .parameters(parameter(
                    "/aws/service/.../release_version",
                    "1.30.4-20261101",
                ))
                .invalid_parameters("/aws/service/eks/optimized-ami/1.0/unknown/image_id")
                .build()
        });
    let (described, record) = recorder::<DescribeImagesInput>();
    let describe_images = mock!(aws_sdk_ec2::Client::describe_images)
        .match_requests(record)
        .then_output(image_output);

    // When AWS's recommended images are read
    let images = image_sources(&[&describe_images], &[&get_parameters])
        .recommended_images(&names)
        .await;

    // Then two `GetParameters` of at most ten names, one `DescribeImages` of
    // the one image id (deduplicated)
    assert_eq!(images, Ok(vec![image_facts()]));
    let batches: Vec<usize> = taken(&asked).iter().map(|i| i.names().len()).collect();
    assert_eq!(batches, vec![10, 2]);
    let expected = DescribeImagesInput::builder()
        .filters(Filter::builder().name("image-id").values(IMAGE).build())
        .include_deprecated(true)
        .build()
        .unwrap();
    assert_eq!(taken(&described), vec![expected]);
}

#[tokio::test]
async fn no_published_parameter_makes_no_image_call() {
    let get_parameters = mock!(aws_sdk_ssm::Client::get_parameters).then_output(|| {
        GetParametersOutput::builder()
            .invalid_parameters(AL2023)
            .build()
    });
    let describe_images = mock!(aws_sdk_ec2::Client::describe_images).then_output(image_output);

    let images = image_sources(&[&describe_images], &[&get_parameters])
        .recommended_images(&[AL2023.to_owned()])
        .await;

    assert_eq!(images, Ok(vec![]));
    assert_eq!(get_parameters.num_calls(), 1);
    assert_eq!(describe_images.num_calls(), 0);
}

#[tokio::test]
async fn a_failed_get_parameters_keeps_its_code() {
    let get_parameters = mock!(aws_sdk_ssm::Client::get_parameters).then_error(|| {
        GetParametersError::generic(meta("AccessDeniedException", "not authorized"))
    });

    let images = image_sources(&[], &[&get_parameters])
        .recommended_images(&[AL2023.to_owned()])
        .await;

    assert_eq!(
        images,
        Err(AwsError::new(
            "GetParameters",
            Some("AccessDeniedException"),
            "not authorized"
        ))
    );
}

// ---------------------------------------------------------------------------
// The image and subnet cache over the EC2 adapter
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_found_image_is_read_from_ec2_once() {
    let rule = mock!(aws_sdk_ec2::Client::describe_images).then_output(image_output);
    let cached = CachedNetworkImages::new(ec2_answering_repeatedly(&[&rule]));

    let first = cached.image(IMAGE).await;
    let second = cached.image(IMAGE).await;

    assert_eq!(first, Ok(Some(image_facts())));
    assert_eq!(second, first);
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_missing_image_is_not_cached() {
    let rule = mock!(aws_sdk_ec2::Client::describe_images).then_error(image_not_found);
    let cached = CachedNetworkImages::new(ec2_answering_repeatedly(&[&rule]));

    assert_eq!(cached.image(IMAGE).await, Ok(None));
    assert_eq!(cached.image(IMAGE).await, Ok(None));
    assert_eq!(
        rule.num_calls(),
        2,
        "a missing image may appear: it is asked for again"
    );
}

#[tokio::test]
async fn a_found_subnet_is_read_from_ec2_once() {
    let rule = mock!(aws_sdk_ec2::Client::describe_subnets).then_output(|| {
        DescribeSubnetsOutput::builder()
            .subnets(
                Subnet::builder()
                    .subnet_id(SUBNET)
                    .map_public_ip_on_launch(false)
                    .build(),
            )
            .build()
    });
    let cached = CachedNetworkImages::new(ec2_answering_repeatedly(&[&rule]));

    let first = cached.subnet(SUBNET).await;
    let second = cached.subnet(SUBNET).await;

    assert!(
        matches!(&first, Ok(Some(subnet)) if subnet.subnet_id == SUBNET),
        "{first:?}"
    );
    assert_eq!(second, first);
    assert_eq!(rule.num_calls(), 1);
}

// ---------------------------------------------------------------------------
// CloudWatch: DescribeAlarms
// ---------------------------------------------------------------------------

#[tokio::test]
async fn alarm_states_are_asked_for_metric_and_composite_alarms() {
    use aws_sdk_cloudwatch::operation::describe_alarms::{
        DescribeAlarmsInput, DescribeAlarmsOutput,
    };
    use aws_sdk_cloudwatch::types::{AlarmType, CompositeAlarm, MetricAlarm, StateValue};
    use shared::aws::CloudWatch;
    use shared::ports::AlarmRead;

    // Without `AlarmTypes`, DescribeAlarms answers metric alarms only: a
    // composite surge alarm in ALARM would never hold a resume.
    let (seen, record) = recorder::<DescribeAlarmsInput>();
    let rule = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .match_requests(record)
        .then_output(|| {
            DescribeAlarmsOutput::builder()
                .metric_alarms(
                    MetricAlarm::builder()
                        .alarm_name("cpu-surge")
                        .state_value(StateValue::Alarm)
                        .build(),
                )
                .composite_alarms(
                    CompositeAlarm::builder()
                        .alarm_name("request-surge")
                        .state_value(StateValue::Alarm)
                        .build(),
                )
                .build()
        });
    let cloudwatch = CloudWatch::new(mocked!(aws_sdk_cloudwatch, RuleMode::Sequential, [&rule]));

    let firing = cloudwatch
        .alarms_in_alarm(&["cpu-surge".to_owned(), "request-surge".to_owned()])
        .await;

    assert_eq!(
        firing,
        Ok(vec!["cpu-surge".to_owned(), "request-surge".to_owned()])
    );
    let requests = taken(&seen);
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].alarm_types(),
        [AlarmType::MetricAlarm, AlarmType::CompositeAlarm]
    );
    assert_eq!(requests[0].alarm_names(), ["cpu-surge", "request-surge"]);
}

#[tokio::test]
async fn a_surge_alarm_is_confirmed_only_when_describe_alarms_answers_it_in_alarm() {
    use aws_sdk_cloudwatch::operation::describe_alarms::{
        DescribeAlarmsInput, DescribeAlarmsOutput,
    };
    use aws_sdk_cloudwatch::types::{AlarmType, CompositeAlarm, MetricAlarm, StateValue};
    use shared::aws::CloudWatch;
    use shared::ports::AlarmRead;

    // budget-guard confirms one surge alarm before it suspends (issue 20,
    // scenario 4). An answer that ignored the state filter, with the alarm
    // back in OK (metric) or never in ALARM (composite), confirms nothing.
    let (seen, record) = recorder::<DescribeAlarmsInput>();
    let rule = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .match_requests(record)
        .then_output(|| {
            DescribeAlarmsOutput::builder()
                .metric_alarms(
                    MetricAlarm::builder()
                        .alarm_name("scaling-guard-surge-requests")
                        .state_value(StateValue::Ok)
                        .build(),
                )
                .composite_alarms(
                    CompositeAlarm::builder()
                        .alarm_name("scaling-guard-surge-requests")
                        .state_value(StateValue::InsufficientData)
                        .build(),
                )
                .build()
        });
    let cloudwatch = CloudWatch::new(mocked!(aws_sdk_cloudwatch, RuleMode::Sequential, [&rule]));

    let firing = cloudwatch
        .alarms_in_alarm(&["scaling-guard-surge-requests".to_owned()])
        .await;

    assert_eq!(firing, Ok(vec![]));
    let requests = taken(&seen);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].alarm_names(), ["scaling-guard-surge-requests"]);
    assert_eq!(
        requests[0].alarm_types(),
        [AlarmType::MetricAlarm, AlarmType::CompositeAlarm]
    );
    assert_eq!(requests[0].state_value(), Some(&StateValue::Alarm));
}

// ---------------------------------------------------------------------------
// Auto Scaling: PutLifecycleHook of enrollment with SQS delivery
// ---------------------------------------------------------------------------

const LAUNCH_QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:scaling-guard-launches";
const NOTIFICATION_ROLE: &str = "arn:aws:iam::123456789012:role/scaling-guard-hook-notification";
const ENROLLMENT_METADATA: &str = r#"{"by":"scaling-guard","cluster":"prod"}"#;

/// The hook budget-guard enrolls, notifying `target` with `role`.
fn enrolled_hook(target: Option<&str>, role: Option<&str>) -> shared::facts::HookFacts {
    shared::facts::HookFacts {
        name: HOOK.to_owned(),
        transition: LAUNCHING.to_owned(),
        default_result: Some("ABANDON".to_owned()),
        heartbeat_timeout: Some(600),
        notification_target_arn: target.map(str::to_owned),
        role_arn: role.map(str::to_owned),
        notification_metadata: Some(ENROLLMENT_METADATA.to_owned()),
    }
}

/// The `PutLifecycleHook` requests `hook` makes, put on `GROUP`.
async fn put_requests(
    hook: &shared::facts::HookFacts,
) -> Vec<aws_sdk_autoscaling::operation::put_lifecycle_hook::PutLifecycleHookInput> {
    use aws_sdk_autoscaling::operation::put_lifecycle_hook::{
        PutLifecycleHookInput, PutLifecycleHookOutput,
    };
    let (seen, record) = recorder::<PutLifecycleHookInput>();
    let rule = mock!(aws_sdk_autoscaling::Client::put_lifecycle_hook)
        .match_requests(record)
        .then_output(|| PutLifecycleHookOutput::builder().build());

    let put = auto_scaling(&[&rule]).put_hook(GROUP, hook).await;

    assert_eq!(put, Ok(()));
    taken(&seen)
}

#[tokio::test]
async fn an_enrolled_hook_with_sqs_delivery_sends_the_queue_as_its_target_with_the_role() {
    let requests = put_requests(&enrolled_hook(Some(LAUNCH_QUEUE), Some(NOTIFICATION_ROLE))).await;

    let expected =
        aws_sdk_autoscaling::operation::put_lifecycle_hook::PutLifecycleHookInput::builder()
            .lifecycle_hook_name(HOOK)
            .auto_scaling_group_name(GROUP)
            .lifecycle_transition(LAUNCHING)
            .role_arn(NOTIFICATION_ROLE)
            .notification_target_arn(LAUNCH_QUEUE)
            .notification_metadata(ENROLLMENT_METADATA)
            .heartbeat_timeout(600)
            .default_result("ABANDON")
            .build()
            .unwrap();
    assert_eq!(requests, vec![expected]);
}

#[tokio::test]
async fn an_enrolled_hook_without_sqs_delivery_sends_neither_target_nor_role() {
    let requests = put_requests(&enrolled_hook(None, None)).await;

    let expected =
        aws_sdk_autoscaling::operation::put_lifecycle_hook::PutLifecycleHookInput::builder()
            .lifecycle_hook_name(HOOK)
            .auto_scaling_group_name(GROUP)
            .lifecycle_transition(LAUNCHING)
            .notification_metadata(ENROLLMENT_METADATA)
            .heartbeat_timeout(600)
            .default_result("ABANDON")
            .build()
            .unwrap();
    assert_eq!(requests, vec![expected]);
}

// ---------------------------------------------------------------------------
// Auto Scaling: DeleteLifecycleHook
// ---------------------------------------------------------------------------

fn hook_deleted() -> DeleteLifecycleHookOutput {
    DeleteLifecycleHookOutput::builder().build()
}

fn delete_hook_error(code: &str, message: &str) -> DeleteLifecycleHookError {
    DeleteLifecycleHookError::generic(meta(code, message))
}

#[tokio::test]
async fn delete_launch_hook_sends_the_group_and_the_hook_name() {
    let (seen, record) = recorder::<DeleteLifecycleHookInput>();
    let rule = mock!(aws_sdk_autoscaling::Client::delete_lifecycle_hook)
        .match_requests(record)
        .then_output(hook_deleted);

    let deleted = auto_scaling(&[&rule]).delete_launch_hook(GROUP, HOOK).await;

    assert_eq!(deleted, Ok(()));
    let expected = DeleteLifecycleHookInput::builder()
        .lifecycle_hook_name(HOOK)
        .auto_scaling_group_name(GROUP)
        .build()
        .unwrap();
    assert_eq!(taken(&seen), vec![expected]);
}

#[rstest]
#[case::hook_gone(&format!("No Lifecycle Hook found for name: {HOOK} and AutoScalingGroupName: {GROUP}"))]
#[case::group_gone(&format!("AutoScalingGroup name not found - no such group: {GROUP}"))]
#[tokio::test]
async fn a_hook_that_is_already_gone_is_deleted_not_an_error(#[case] message: &str) {
    // Given: Auto Scaling's answer when there is no such hook (or group)
    let message = message.to_owned();
    let rule = mock!(aws_sdk_autoscaling::Client::delete_lifecycle_hook)
        .then_error(move || delete_hook_error("ValidationError", &message));

    // When
    let deleted = auto_scaling(&[&rule]).delete_launch_hook(GROUP, HOOK).await;

    // Then
    assert_eq!(deleted, Ok(()));
    assert_eq!(rule.num_calls(), 1, "a validation error is not retried");
}

#[rstest]
#[case::access_denied(
    "AccessDenied",
    "User: arn:aws:sts::123456789012:assumed-role/stack-guard/fn is not authorized to perform: autoscaling:DeleteLifecycleHook"
)]
#[case::other_validation_error(
    "ValidationError",
    "1 validation error detected: Value 'launch hook' at 'lifecycleHookName' failed to satisfy constraint"
)]
#[tokio::test]
async fn delete_launch_hook_reports_any_other_error_with_operation_and_code(
    #[case] code: &'static str,
    #[case] message: &'static str,
) {
    let rule = mock!(aws_sdk_autoscaling::Client::delete_lifecycle_hook)
        .then_error(move || delete_hook_error(code, message));

    let deleted = auto_scaling(&[&rule]).delete_launch_hook(GROUP, HOOK).await;

    assert_eq!(
        deleted,
        Err(AwsError::new("DeleteLifecycleHook", Some(code), message))
    );
}

#[tokio::test]
async fn delete_launch_hook_gives_up_after_three_contended_attempts() {
    // ResourceContention is the one error the API reference names (HTTP 500).
    let rule = mock!(aws_sdk_autoscaling::Client::delete_lifecycle_hook)
        .sequence()
        .http_status(500, None)
        .repeatedly()
        .build();

    let deleted = auto_scaling(&[&rule]).delete_launch_hook(GROUP, HOOK).await;

    assert!(deleted.is_err(), "{deleted:?}");
    assert_eq!(rule.num_calls(), 3);
}

/// One cluster instance, as EC2 describes it.
fn cluster_instance(id: &str) -> Instance {
    tagged_instance(id, CLUSTER_TAG, "owned")
}

/// A running instance with one tag, as EC2 describes it.
fn tagged_instance(id: &str, key: &str, value: &str) -> Instance {
    Instance::builder()
        .instance_id(id)
        .instance_type(InstanceType::M6iLarge)
        .state(
            InstanceState::builder()
                .name(InstanceStateName::Running)
                .build(),
        )
        .tags(Tag::builder().key(key).value(value).build())
        .build()
}

/// A request's filters as (name, values), for Auto Scaling's and EC2's
/// filter types alike.
macro_rules! filters_of {
    ($input:expr) => {
        $input
            .filters()
            .iter()
            .map(|f| (f.name().unwrap_or_default().to_owned(), f.values().to_vec()))
            .collect::<Vec<(String, Vec<String>)>>()
    };
}

#[tokio::test]
async fn the_cluster_instances_are_read_page_by_page_and_a_failing_page_fails_the_read() {
    let page = |ids: &[&str], next: Option<&str>| {
        let reservation = ids
            .iter()
            .fold(Reservation::builder().owner_id("123456789012"), |r, id| {
                r.instances(cluster_instance(id))
            })
            .build();
        DescribeInstancesOutput::builder()
            .reservations(reservation)
            .set_next_token(next.map(str::to_owned))
            .build()
    };
    let first = mock!(aws_sdk_ec2::Client::describe_instances)
        .then_output(move || page(&["i-0a", "i-0b"], Some("page-2")));
    let second =
        mock!(aws_sdk_ec2::Client::describe_instances).then_output(move || page(&["i-0c"], None));

    let read = ec2(&[&first, &second])
        .cluster_instances(&ClusterTag::any_value(CLUSTER_TAG))
        .await
        .unwrap();

    let ids: Vec<&str> = read.iter().map(|i| i.instance_id.as_str()).collect();
    assert_eq!(ids, ["i-0a", "i-0b", "i-0c"]);
    assert_eq!(read[0].owner_account.as_deref(), Some("123456789012"));

    let first = mock!(aws_sdk_ec2::Client::describe_instances)
        .then_output(move || page(&["i-0a"], Some("page-2")));
    let failing = mock!(aws_sdk_ec2::Client::describe_instances).then_error(|| {
        DescribeInstancesError::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code("UnauthorizedOperation")
                .message("no")
                .build(),
        )
    });
    let err = ec2(&[&first, &failing])
        .cluster_instances(&ClusterTag::any_value(CLUSTER_TAG))
        .await
        .unwrap_err();
    assert_eq!(err.operation, "DescribeInstances");
    assert_eq!(err.code.as_deref(), Some("UnauthorizedOperation"));
}

#[tokio::test]
async fn the_cluster_groups_are_read_page_by_page() {
    let group = |name: &str| {
        AutoScalingGroup::builder()
            .auto_scaling_group_name(name)
            .min_size(0)
            .max_size(10)
            .desired_capacity(1)
            .tags(
                TagDescription::builder()
                    .key(CLUSTER_TAG)
                    .value("owned")
                    .build(),
            )
            .build()
    };
    let first =
        mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(move || {
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(group("prod-a"))
                .next_token("page-2")
                .build()
        });
    let second =
        mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(move || {
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(group("prod-b"))
                .build()
        });

    let groups = auto_scaling(&[&first, &second])
        .cluster_groups(&ClusterTag::any_value(CLUSTER_TAG))
        .await
        .unwrap();

    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["prod-a", "prod-b"]);
}

/// A group of the cluster whose `eks:cluster-name` is `cluster`.
fn eks_group(name: &str, cluster: &str) -> AutoScalingGroup {
    AutoScalingGroup::builder()
        .auto_scaling_group_name(name)
        .min_size(0)
        .max_size(10)
        .desired_capacity(1)
        .tags(
            TagDescription::builder()
                .key("eks:cluster-name")
                .value(cluster)
                .build(),
        )
        .build()
}

#[tokio::test]
async fn a_pinned_cluster_tag_asks_auto_scaling_for_key_and_value_and_drops_another_clusters_group()
{
    let (seen, record) = recorder::<DescribeAutoScalingGroupsInput>();
    // A server that ignored the filter: the adapter checks the tag again.
    let rule = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .match_requests(record)
        .then_output(|| {
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(eks_group("prod-a", "prod"))
                .auto_scaling_groups(eks_group("staging-a", "staging"))
                .build()
        });

    let groups = auto_scaling(&[&rule])
        .cluster_groups(&ClusterTag::pinned("eks:cluster-name", "prod"))
        .await
        .unwrap();

    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["prod-a"]);
    assert_eq!(
        filters_of!(taken(&seen)[0]),
        [("tag:eks:cluster-name".to_owned(), vec!["prod".to_owned()])]
    );
}

#[tokio::test]
async fn a_pinned_cluster_tag_asks_ec2_for_key_and_value_and_drops_another_clusters_instance() {
    let (seen, record) = recorder::<DescribeInstancesInput>();
    let tagged = |id: &str, cluster: &str| tagged_instance(id, "eks:cluster-name", cluster);
    let rule = mock!(aws_sdk_ec2::Client::describe_instances)
        .match_requests(record)
        .then_output(move || {
            DescribeInstancesOutput::builder()
                .reservations(
                    Reservation::builder()
                        .instances(tagged("i-0prod", "prod"))
                        .instances(tagged("i-0staging", "staging"))
                        .build(),
                )
                .build()
        });

    let read = ec2(&[&rule])
        .cluster_instances(&ClusterTag::pinned("eks:cluster-name", "prod"))
        .await
        .unwrap();

    let ids: Vec<&str> = read.iter().map(|i| i.instance_id.as_str()).collect();
    assert_eq!(ids, ["i-0prod"]);
    assert_eq!(
        filters_of!(taken(&seen)[0]),
        [
            ("tag:eks:cluster-name".to_owned(), vec!["prod".to_owned()]),
            (
                "instance-state-name".to_owned(),
                vec!["pending".to_owned(), "running".to_owned()]
            ),
        ]
    );
}

// ---------------------------------------------------------------------------
// Auto Scaling: DescribeLifecycleHooks
// ---------------------------------------------------------------------------

#[tokio::test]
async fn lifecycle_hooks_read_every_setting_a_moved_hook_must_keep() {
    use aws_sdk_autoscaling::operation::describe_lifecycle_hooks::DescribeLifecycleHooksOutput;
    use aws_sdk_autoscaling::types::LifecycleHook;
    let rule = mock!(aws_sdk_autoscaling::Client::describe_lifecycle_hooks)
        .match_requests(|r| r.auto_scaling_group_name() == Some(GROUP))
        .then_output(|| {
            DescribeLifecycleHooksOutput::builder()
                .lifecycle_hooks(
                    LifecycleHook::builder()
                        .lifecycle_hook_name("scaling-guard-launch")
                        .auto_scaling_group_name(GROUP)
                        .lifecycle_transition(LAUNCHING)
                        .heartbeat_timeout(300)
                        .default_result("ABANDON")
                        .notification_target_arn(LAUNCH_QUEUE)
                        .role_arn(NOTIFICATION_ROLE)
                        .notification_metadata(ENROLLMENT_METADATA)
                        .global_timeout(30_000)
                        .build(),
                )
                .lifecycle_hooks(
                    LifecycleHook::builder()
                        .lifecycle_hook_name("node-drain")
                        .lifecycle_transition("autoscaling:EC2_INSTANCE_TERMINATING")
                        .build(),
                )
                .build()
        });

    let hooks = auto_scaling(&[&rule]).lifecycle_hooks(GROUP).await.unwrap();

    assert_eq!(
        hooks,
        vec![
            shared::facts::HookFacts {
                name: "scaling-guard-launch".to_owned(),
                heartbeat_timeout: Some(300),
                ..enrolled_hook(Some(LAUNCH_QUEUE), Some(NOTIFICATION_ROLE))
            },
            shared::facts::HookFacts {
                name: "node-drain".to_owned(),
                transition: "autoscaling:EC2_INSTANCE_TERMINATING".to_owned(),
                ..shared::facts::HookFacts::default()
            },
        ]
    );
}

#[tokio::test]
async fn every_group_of_the_region_is_read_page_by_page_whatever_its_tags() {
    // A release finds the guard's hook also on a group that lost the cluster
    // tag: no filter, every page.
    let (seen, record) = recorder::<DescribeAutoScalingGroupsInput>();
    let first = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .match_requests(record)
        .then_output(|| {
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(eks_group("prod-a", "prod"))
                .next_token("page-2")
                .build()
        });
    let second =
        mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(|| {
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(
                    AutoScalingGroup::builder()
                        .auto_scaling_group_name("untagged-b")
                        .min_size(0)
                        .max_size(10)
                        .desired_capacity(1)
                        .build(),
                )
                .build()
        });

    let groups = auto_scaling(&[&first, &second]).all_groups().await.unwrap();

    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["prod-a", "untagged-b"]);
    let request = &taken(&seen)[0];
    assert!(request.filters().is_empty(), "{request:?}");
    assert_eq!(request.max_records(), Some(100));
}
