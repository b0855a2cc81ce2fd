//! Tier 3 (SPEC §10) for what a group launches (issue 21 §4): the Auto
//! Scaling adapter reads a group's launch template, mixed-instances
//! overrides (weights, instance requirements), desired capacity type and
//! its instances' weights; the EC2 adapter reads a launch template's version
//! with one `DescribeLaunchTemplateVersions`. Real SDK clients, answered by
//! `aws-smithy-mocks`.

use std::collections::BTreeMap;

use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::types::{
    AutoScalingGroup, LaunchTemplate, LaunchTemplateOverrides, LaunchTemplateSpecification,
    MemoryMiBRequest, MixedInstancesPolicy, VCpuCountRequest,
};
use aws_sdk_ec2::operation::describe_launch_template_versions::{
    DescribeLaunchTemplateVersionsError, DescribeLaunchTemplateVersionsInput,
    DescribeLaunchTemplateVersionsOutput,
};
use aws_sdk_ec2::types::{LaunchTemplateVersion, ResponseLaunchTemplateData};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use pretty_assertions::assert_eq;

mod support;

use support::{meta, recorder, retry_config, taken};

use shared::aws::{AutoScaling, Ec2};
use shared::facts::{
    CapacityUnit, GroupLaunch, InstanceRequirements, LaunchOverride, TemplateLaunch, TemplateRef,
};
use shared::ports::{GroupRead, LaunchTemplateRead};

const GROUP: &str = "prod-weighted";

/// `$sdk::Client` answered by `rules` in order (as `tests/adapters.rs` builds
/// its clients).
macro_rules! mocked {
    ($sdk:ident, $rules:expr) => {{
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new("eu-west-1"))
                .credentials_provider($sdk::config::Credentials::new(
                    "AKIDLAUNCHTESTS",
                    "launch-tests-secret",
                    None,
                    None,
                    "launch-tests",
                ))
                .http_client(create_mock_http_client())
                .interceptor(interceptor)
                .retry_config(retry_config())
                .build(),
        )
    }};
}

fn answering_group(group: AutoScalingGroup) -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(move || {
        DescribeAutoScalingGroupsOutput::builder()
            .auto_scaling_groups(group.clone())
            .build()
    })
}

fn spec(id: &str, version: &str) -> LaunchTemplateSpecification {
    LaunchTemplateSpecification::builder()
        .launch_template_id(id)
        .version(version)
        .build()
}

#[tokio::test]
async fn a_weighted_mixed_instances_group_is_read_with_its_weights_and_template() {
    let group = AutoScalingGroup::builder()
        .auto_scaling_group_name(GROUP)
        .desired_capacity(8)
        .mixed_instances_policy(
            MixedInstancesPolicy::builder()
                .launch_template(
                    LaunchTemplate::builder()
                        .launch_template_specification(spec("lt-0node", "$Latest"))
                        .overrides(
                            LaunchTemplateOverrides::builder()
                                .instance_type("m6i.4xlarge")
                                .weighted_capacity("4")
                                .build(),
                        )
                        .overrides(
                            LaunchTemplateOverrides::builder()
                                .instance_type("m6i.2xlarge")
                                .weighted_capacity("2")
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .instances(
            aws_sdk_autoscaling::types::Instance::builder()
                .instance_id("i-0big")
                .instance_type("m6i.4xlarge")
                .weighted_capacity("4")
                .build(),
        )
        .build();
    let rule = answering_group(group);
    let client = mocked!(aws_sdk_autoscaling, [&rule]);

    let read = AutoScaling::new(client)
        .group(GROUP)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(
        read.launch,
        GroupLaunch {
            capacity_unit: CapacityUnit::Units,
            template: Some(TemplateRef {
                id: Some("lt-0node".into()),
                name: None,
                version: Some("$Latest".into()),
            }),
            overrides: vec![
                LaunchOverride {
                    instance_type: Some("m6i.4xlarge".into()),
                    weight: Some(4),
                    requirements: None,
                },
                LaunchOverride {
                    instance_type: Some("m6i.2xlarge".into()),
                    weight: Some(2),
                    requirements: None,
                },
            ],
            instance_weights: BTreeMap::from([("i-0big".to_owned(), 4)]),
        }
    );
}

#[tokio::test]
async fn a_vcpu_group_is_read_with_its_capacity_type_and_requirements() {
    let group = AutoScalingGroup::builder()
        .auto_scaling_group_name(GROUP)
        .desired_capacity(64)
        .desired_capacity_type("vcpu")
        .mixed_instances_policy(
            MixedInstancesPolicy::builder()
                .launch_template(
                    LaunchTemplate::builder()
                        .launch_template_specification(spec("lt-0node", "3"))
                        .overrides(
                            LaunchTemplateOverrides::builder()
                                .instance_requirements(
                                    aws_sdk_autoscaling::types::InstanceRequirements::builder()
                                        .v_cpu_count(
                                            VCpuCountRequest::builder().min(8).max(16).build(),
                                        )
                                        .memory_mib(MemoryMiBRequest::builder().min(16_384).build())
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build();
    let rule = answering_group(group);
    let client = mocked!(aws_sdk_autoscaling, [&rule]);

    let read = AutoScaling::new(client)
        .group(GROUP)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(read.launch.capacity_unit, CapacityUnit::Vcpu);
    assert_eq!(
        read.launch.overrides,
        vec![LaunchOverride {
            instance_type: None,
            weight: None,
            requirements: Some(InstanceRequirements {
                vcpus_min: 8,
                vcpus_max: Some(16),
                memory_mib_min: 16_384,
                memory_mib_max: None,
            }),
        }]
    );
}

#[tokio::test]
async fn a_launch_template_only_group_is_read_with_its_template() {
    let group = AutoScalingGroup::builder()
        .auto_scaling_group_name(GROUP)
        .desired_capacity(1)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_name("gpu-nodes")
                .build(),
        )
        .build();
    let rule = answering_group(group);
    let client = mocked!(aws_sdk_autoscaling, [&rule]);

    let read = AutoScaling::new(client)
        .group(GROUP)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(
        read.launch,
        GroupLaunch {
            template: Some(TemplateRef {
                id: None,
                name: Some("gpu-nodes".into()),
                version: None,
            }),
            ..GroupLaunch::default()
        }
    );
}

#[tokio::test]
async fn a_template_version_is_read_with_one_call_naming_it() {
    let (seen, record) = recorder::<DescribeLaunchTemplateVersionsInput>();
    let rule = mock!(aws_sdk_ec2::Client::describe_launch_template_versions)
        .match_requests(record)
        .then_output(|| {
            DescribeLaunchTemplateVersionsOutput::builder()
                .launch_template_versions(
                    LaunchTemplateVersion::builder()
                        .launch_template_id("lt-0gpu")
                        .version_number(7)
                        .launch_template_data(
                            ResponseLaunchTemplateData::builder()
                                .instance_type(aws_sdk_ec2::types::InstanceType::G512xlarge)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let ec2 = Ec2::new(mocked!(aws_sdk_ec2, [&rule]));
    let template = TemplateRef {
        id: Some("lt-0gpu".into()),
        name: Some("gpu-nodes".into()),
        version: None,
    };

    let read = ec2.launch_template(&template).await.unwrap();

    assert_eq!(
        read,
        Some(TemplateLaunch {
            instance_type: Some("g5.12xlarge".into()),
            requirements: None,
        })
    );
    let requests = taken(&seen);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].launch_template_id(), Some("lt-0gpu"));
    assert_eq!(requests[0].launch_template_name(), None, "the id alone");
    assert_eq!(requests[0].versions(), ["$Default"]);
}

#[tokio::test]
async fn an_unknown_template_is_none_and_throttling_is_an_error() {
    let gone = mock!(aws_sdk_ec2::Client::describe_launch_template_versions).then_error(|| {
        DescribeLaunchTemplateVersionsError::generic(meta(
            "InvalidLaunchTemplateId.NotFound",
            "The specified launch template, with template ID lt-0gone, does not exist.",
        ))
    });
    let template = TemplateRef {
        id: Some("lt-0gone".into()),
        ..TemplateRef::default()
    };
    let ec2 = Ec2::new(mocked!(aws_sdk_ec2, [&gone]));
    assert_eq!(ec2.launch_template(&template).await, Ok(None));

    let throttled = mock!(aws_sdk_ec2::Client::describe_launch_template_versions)
        .sequence()
        .error(|| {
            DescribeLaunchTemplateVersionsError::generic(meta("RequestLimitExceeded", "slow down"))
        })
        .times(3)
        .build();
    let ec2 = Ec2::new(mocked!(aws_sdk_ec2, [&throttled]));
    let err = ec2.launch_template(&template).await.unwrap_err();
    assert_eq!(err.operation, "DescribeLaunchTemplateVersions");
    assert_eq!(err.code.as_deref(), Some("RequestLimitExceeded"));
}
