//! Tier 3 (SPEC §10) for instance-audit's remediation: the EC2 changes of
//! `shared::aws::Ec2Remediation` on the real SDK client, with
//! `aws-smithy-mocks` answering in place of AWS. They prove the exact
//! requests: stop and terminate name the one instance and nothing else;
//! isolate swaps every security group for the quarantine group alone (per
//! interface when the instance has several) and only then tags.

use aws_sdk_ec2::operation::create_tags::{CreateTagsInput, CreateTagsOutput};
use aws_sdk_ec2::operation::describe_network_interfaces::{
    DescribeNetworkInterfacesInput, DescribeNetworkInterfacesOutput,
};
use aws_sdk_ec2::operation::modify_instance_attribute::{
    ModifyInstanceAttributeError, ModifyInstanceAttributeInput, ModifyInstanceAttributeOutput,
};
use aws_sdk_ec2::operation::modify_network_interface_attribute::{
    ModifyNetworkInterfaceAttributeInput, ModifyNetworkInterfaceAttributeOutput,
};
use aws_sdk_ec2::operation::stop_instances::{
    StopInstancesError, StopInstancesInput, StopInstancesOutput,
};
use aws_sdk_ec2::operation::terminate_instances::{
    TerminateInstancesInput, TerminateInstancesOutput,
};
use aws_sdk_ec2::types::{Filter, NetworkInterface, Tag};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use pretty_assertions::assert_eq;

mod support;

use support::{meta, recorder, retry_config, taken};

use shared::aws::Ec2Remediation;
use shared::ports::{AwsError, InstanceRemediate};

const INSTANCE: &str = "i-0d1e2f3a4b5c60789";
const QUARANTINE: &str = "sg-0eee0001eee0001ee";

/// A real `aws_sdk_ec2::Client` whose calls are answered by `rules`, in
/// order: an unexpected extra call (or operation) fails the test. Built like
/// `tests/adapters.rs` builds its clients (static credentials, a region, the
/// production retry bound with a 1 ms backoff).
fn remediation(rules: &[&Rule]) -> Ec2Remediation {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
        .region(aws_sdk_ec2::config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "AKIDREMEDIATIONTESTS",
            "remediation-tests-secret",
            None,
            None,
            "remediation-tests",
        ))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .retry_config(retry_config())
        .build();
    Ec2Remediation::new(aws_sdk_ec2::Client::from_conf(config))
}

fn tags() -> Vec<(String, String)> {
    vec![
        (
            "scaling-guard:quarantined".to_owned(),
            "2026-11-26T10:00:00Z".to_owned(),
        ),
        (
            "scaling-guard:quarantine-reason".to_owned(),
            "membership.unmanaged".to_owned(),
        ),
        (
            "scaling-guard:previous-security-groups".to_owned(),
            "sg-0bbb0001 sg-0bbb0002".to_owned(),
        ),
    ]
}

/// The `CreateTags` request of a quarantine (the builder's answer: the
/// tests unwrap it).
fn expected_tagging() -> Result<CreateTagsInput, aws_sdk_ec2::error::BuildError> {
    let mut request = CreateTagsInput::builder().resources(INSTANCE);
    for (key, value) in tags() {
        request = request.tags(Tag::builder().key(key).value(value).build());
    }
    request.build()
}

// ---------------------------------------------------------------------------
// stop and terminate
// ---------------------------------------------------------------------------

#[tokio::test]
async fn stop_sends_stop_instances_naming_only_the_instance() {
    let (seen, record) = recorder::<StopInstancesInput>();
    let rule = mock!(aws_sdk_ec2::Client::stop_instances)
        .match_requests(record)
        .then_output(|| StopInstancesOutput::builder().build());

    let stopped = remediation(&[&rule]).stop(INSTANCE).await;

    assert_eq!(stopped, Ok(()));
    // Not forced (the OS shuts down cleanly), not hibernated.
    let expected = StopInstancesInput::builder()
        .instance_ids(INSTANCE)
        .build()
        .unwrap();
    assert_eq!(taken(&seen), vec![expected]);
}

#[tokio::test]
async fn terminate_sends_terminate_instances_naming_only_the_instance() {
    let (seen, record) = recorder::<TerminateInstancesInput>();
    let rule = mock!(aws_sdk_ec2::Client::terminate_instances)
        .match_requests(record)
        .then_output(|| TerminateInstancesOutput::builder().build());

    let terminated = remediation(&[&rule]).terminate(INSTANCE).await;

    assert_eq!(terminated, Ok(()));
    let expected = TerminateInstancesInput::builder()
        .instance_ids(INSTANCE)
        .build()
        .unwrap();
    assert_eq!(taken(&seen), vec![expected]);
}

#[tokio::test]
async fn a_refused_stop_is_reported_with_operation_and_code() {
    let message = format!(
        "You are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/audit/fn is not authorized to perform: ec2:StopInstances on resource: arn:aws:ec2:eu-west-1:123456789012:instance/{INSTANCE}"
    );
    let answer = message.clone();
    let rule = mock!(aws_sdk_ec2::Client::stop_instances)
        .then_error(move || StopInstancesError::generic(meta("UnauthorizedOperation", &answer)));

    let stopped = remediation(&[&rule]).stop(INSTANCE).await;

    assert_eq!(
        stopped,
        Err(AwsError::new(
            "StopInstances",
            Some("UnauthorizedOperation"),
            message
        ))
    );
    assert_eq!(rule.num_calls(), 1, "an authorization error is not retried");
}

#[tokio::test]
async fn stop_is_retried_after_ec2_throttling() {
    let rule = mock!(aws_sdk_ec2::Client::stop_instances)
        .sequence()
        .error(|| {
            StopInstancesError::generic(meta("RequestLimitExceeded", "Request limit exceeded."))
        })
        .output(|| StopInstancesOutput::builder().build())
        .build();

    assert_eq!(remediation(&[&rule]).stop(INSTANCE).await, Ok(()));
    assert_eq!(rule.num_calls(), 2);
}

// ---------------------------------------------------------------------------
// isolate
// ---------------------------------------------------------------------------

#[tokio::test]
async fn isolate_sets_only_the_quarantine_group_then_tags_the_instance() {
    // Given
    let (swaps, record_swap) = recorder::<ModifyInstanceAttributeInput>();
    let swap = mock!(aws_sdk_ec2::Client::modify_instance_attribute)
        .match_requests(record_swap)
        .then_output(|| ModifyInstanceAttributeOutput::builder().build());
    let (tagging, record_tags) = recorder::<CreateTagsInput>();
    let tag = mock!(aws_sdk_ec2::Client::create_tags)
        .match_requests(record_tags)
        .then_output(|| CreateTagsOutput::builder().build());

    // When
    let isolated = remediation(&[&swap, &tag])
        .isolate(INSTANCE, QUARANTINE, &tags())
        .await;

    // Then: ModifyInstanceAttribute with the instance and the one group,
    // nothing else; then CreateTags on the instance with the three tags
    assert_eq!(isolated, Ok(()));
    let expected = ModifyInstanceAttributeInput::builder()
        .instance_id(INSTANCE)
        .groups(QUARANTINE)
        .build()
        .unwrap();
    assert_eq!(taken(&swaps), vec![expected]);
    assert_eq!(taken(&tagging), vec![expected_tagging().unwrap()]);
}

fn interface(id: &str) -> NetworkInterface {
    NetworkInterface::builder().network_interface_id(id).build()
}

#[tokio::test]
async fn isolate_swaps_the_groups_of_each_interface_when_the_instance_has_several() {
    // Given: EC2's answer for an instance with more than one interface (an
    // EKS node once the VPC CNI has attached its warm interface)
    let refused = mock!(aws_sdk_ec2::Client::modify_instance_attribute).then_error(|| {
        ModifyInstanceAttributeError::generic(meta(
            "InvalidInstanceID",
            &format!(
                "There are multiple interfaces attached to instance '{INSTANCE}'. Please specify an interface ID for the operation instead."
            ),
        ))
    });
    let (lookups, record_lookup) = recorder::<DescribeNetworkInterfacesInput>();
    let lookup = mock!(aws_sdk_ec2::Client::describe_network_interfaces)
        .match_requests(record_lookup)
        .then_output(|| {
            DescribeNetworkInterfacesOutput::builder()
                .network_interfaces(interface("eni-0aaa0001aaa0001aa"))
                .network_interfaces(interface("eni-0aaa0002aaa0002aa"))
                .build()
        });
    let (swaps, record_swap) = recorder::<ModifyNetworkInterfaceAttributeInput>();
    let swap = mock!(aws_sdk_ec2::Client::modify_network_interface_attribute)
        .match_requests(record_swap)
        .sequence()
        .output(|| ModifyNetworkInterfaceAttributeOutput::builder().build())
        .times(2)
        .build();
    let (tagging, record_tags) = recorder::<CreateTagsInput>();
    let tag = mock!(aws_sdk_ec2::Client::create_tags)
        .match_requests(record_tags)
        .then_output(|| CreateTagsOutput::builder().build());

    // When
    let isolated = remediation(&[&refused, &lookup, &swap, &tag])
        .isolate(INSTANCE, QUARANTINE, &tags())
        .await;

    // Then: the interfaces attached to the instance, each with only the
    // quarantine group, then the tags
    assert_eq!(isolated, Ok(()));
    assert_eq!(
        taken(&lookups),
        vec![
            DescribeNetworkInterfacesInput::builder()
                .filters(
                    Filter::builder()
                        .name("attachment.instance-id")
                        .values(INSTANCE)
                        .build()
                )
                .build()
                .unwrap()
        ]
    );
    let expected: Vec<ModifyNetworkInterfaceAttributeInput> =
        ["eni-0aaa0001aaa0001aa", "eni-0aaa0002aaa0002aa"]
            .into_iter()
            .map(|id| {
                ModifyNetworkInterfaceAttributeInput::builder()
                    .network_interface_id(id)
                    .groups(QUARANTINE)
                    .build()
                    .unwrap()
            })
            .collect();
    assert_eq!(taken(&swaps), expected);
    assert_eq!(taken(&tagging), vec![expected_tagging().unwrap()]);
}

#[tokio::test]
async fn isolate_does_not_tag_when_the_group_swap_is_refused() {
    // Given: only the refused swap is answered; a CreateTags call would find
    // no rule and fail the test differently
    let refused = mock!(aws_sdk_ec2::Client::modify_instance_attribute).then_error(|| {
        ModifyInstanceAttributeError::generic(meta(
            "InvalidGroup.NotFound",
            &format!("The security group '{QUARANTINE}' does not exist"),
        ))
    });

    // When
    let isolated = remediation(&[&refused])
        .isolate(INSTANCE, QUARANTINE, &tags())
        .await;

    // Then
    assert_eq!(
        isolated,
        Err(AwsError::new(
            "ModifyInstanceAttribute",
            Some("InvalidGroup.NotFound"),
            format!("The security group '{QUARANTINE}' does not exist")
        ))
    );
    assert_eq!(refused.num_calls(), 1);
}
