//! Tier 3 (SPEC §10) for EC2 managed instances (EKS Auto Mode, issue 23):
//! every `DescribeInstances` of `shared::aws::Ec2` sends
//! `IncludeManagedResources=true` (with the account's managed-resource
//! visibility `hidden`, EC2 leaves managed instances out otherwise), and an
//! instance's `Operator` reaches its facts.

use aws_sdk_ec2::operation::describe_instances::{DescribeInstancesInput, DescribeInstancesOutput};
use aws_sdk_ec2::types::{
    Instance, InstanceState, InstanceStateName, OperatorResponse, Reservation, Tag,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use pretty_assertions::assert_eq;

// The error helpers serve the other adapter tests.
#[allow(dead_code)]
mod support;
use support::{recorder, retry_config, taken};

use guard_core::fixtures::CLUSTER_TAG;
use shared::aws::Ec2;
use shared::facts::Operator;
use shared::policy::ClusterTag;
use shared::ports::{ClusterInstancesRead, InstanceRead, TaggedInstancesRead};

const MANAGED: &str = "i-0a0a0a0a0a0a0a0a1";
const OWN: &str = "i-0b0b0b0b0b0b0b0b2";

/// A real `aws_sdk_ec2::Client` whose calls are answered by `rules`, in
/// order, built like `tests/adapters.rs` builds its clients.
fn ec2(rules: &[&Rule]) -> Ec2 {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
        .region(aws_sdk_ec2::config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "AKIDMANAGEDTESTS",
            "managed-tests-secret",
            None,
            None,
            "managed-tests",
        ))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .retry_config(retry_config())
        .build();
    Ec2::new(aws_sdk_ec2::Client::from_conf(config))
}

fn running(id: &str, operator: Option<OperatorResponse>) -> Instance {
    Instance::builder()
        .instance_id(id)
        .state(
            InstanceState::builder()
                .name(InstanceStateName::Running)
                .build(),
        )
        .tags(Tag::builder().key(CLUSTER_TAG).value("owned").build())
        .set_operator(operator)
        .build()
}

/// An EKS Auto Mode node beside one the account runs itself.
fn auto_mode_pool() -> DescribeInstancesOutput {
    let eks = OperatorResponse::builder()
        .managed(true)
        .principal("eks.amazonaws.com")
        .hidden_by_default(true)
        .build();
    DescribeInstancesOutput::builder()
        .reservations(
            Reservation::builder()
                .owner_id("123456789012")
                .instances(running(MANAGED, Some(eks)))
                .instances(running(OWN, None))
                .build(),
        )
        .build()
}

#[tokio::test]
async fn listing_the_cluster_includes_managed_instances_and_reads_their_operator() {
    let (seen, record) = recorder::<DescribeInstancesInput>();
    let rule = mock!(aws_sdk_ec2::Client::describe_instances)
        .match_requests(record)
        .then_output(auto_mode_pool);

    let listed = ec2(&[&rule])
        .cluster_instances(&ClusterTag::any_value(CLUSTER_TAG))
        .await
        .unwrap();

    let operators: Vec<(&str, Option<&Operator>)> = listed
        .iter()
        .map(|i| (i.instance_id.as_str(), i.operator.as_ref()))
        .collect();
    let eks = Operator {
        managed: true,
        principal: Some("eks.amazonaws.com".into()),
    };
    assert_eq!(operators, vec![(MANAGED, Some(&eks)), (OWN, None)]);
    assert_eq!(listed[0].managed_by(), Some(&eks));
    let sent = taken(&seen);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].include_managed_resources(), Some(true), "{sent:?}");
}

#[tokio::test]
async fn every_describe_instances_includes_managed_resources() {
    let (seen, record) = recorder::<DescribeInstancesInput>();
    let rule = mock!(aws_sdk_ec2::Client::describe_instances)
        .match_requests(record)
        .sequence()
        .output(auto_mode_pool)
        .times(3)
        .build();
    let ec2 = ec2(&[&rule]);

    let one = ec2.instance(MANAGED).await.unwrap();
    ec2.instances(&[MANAGED.to_owned()]).await.unwrap();
    ec2.tagged_instances(&["scaling-guard:remediated"])
        .await
        .unwrap();

    assert!(one.is_some_and(|i| i.managed_by().is_some()));
    let flags: Vec<Option<bool>> = taken(&seen)
        .iter()
        .map(DescribeInstancesInput::include_managed_resources)
        .collect();
    assert_eq!(flags, vec![Some(true); 3]);
}
