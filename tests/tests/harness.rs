//! Tests of the end-to-end harness itself: the Runtime API, the emulator's
//! lifetime, the seeded cluster and the event builders.

use std::net::TcpStream;
use std::time::Duration;

use scaling_guard_e2e::http::{self, Answer};
use scaling_guard_e2e::{Emulator, Error, Function, Outcome, PendingAction, RuntimeApi, events};
use serde_json::{Value, json};
use shared::lifecycle::{self, Notification};
use shared::policy::Policy;

mod support;

use support::Bed;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Plays the function's side of the Runtime API, in a thread (the calls block).
async fn as_function(
    api: &RuntimeApi,
    method: &'static str,
    path: String,
    body: Option<String>,
) -> Answer {
    let address = api.address();
    tokio::task::spawn_blocking(move || {
        http::request(&address, method, &path, body.as_deref(), TIMEOUT).unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_runtime_api_hands_out_the_event_and_records_the_response() {
    let api = RuntimeApi::start("launch-guard").unwrap();
    let event = json!({"detail-type": "EC2 Instance-launch Lifecycle Action"});
    let (request_id, outcome) = api.submit(&event, Duration::from_secs(30));

    let next = as_function(
        &api,
        "GET",
        "/2018-06-01/runtime/invocation/next".into(),
        None,
    )
    .await;

    assert_eq!(next.status, 200);
    assert_eq!(serde_json::from_str::<Value>(&next.body).unwrap(), event);
    assert_eq!(
        next.header("lambda-runtime-aws-request-id"),
        Some(request_id.as_str())
    );
    assert_eq!(
        next.header("lambda-runtime-invoked-function-arn"),
        Some("arn:aws:lambda:eu-west-1:123456789012:function:launch-guard")
    );
    assert!(
        next.header("lambda-runtime-trace-id")
            .unwrap()
            .starts_with("Root=1-")
    );
    let deadline: u128 = next
        .header("lambda-runtime-deadline-ms")
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert!(
        deadline > now && deadline <= now + 30_000,
        "deadline {deadline}, now {now}"
    );
    assert_eq!(api.polls(), 1);

    let path = format!("/2018-06-01/runtime/invocation/{request_id}/response");
    let posted = as_function(
        &api,
        "POST",
        path,
        Some(r#"{"decision":"CONTINUE"}"#.into()),
    )
    .await;

    assert_eq!(posted.status, 202);
    assert_eq!(
        outcome.await.unwrap(),
        Outcome::Response(r#"{"decision":"CONTINUE"}"#.into())
    );
}

#[tokio::test]
async fn the_runtime_api_records_errors_and_refuses_unknown_requests() {
    let api = RuntimeApi::start("launch-guard").unwrap();
    let (request_id, outcome) = api.submit(&json!({}), Duration::from_secs(30));
    as_function(
        &api,
        "GET",
        "/2018-06-01/runtime/invocation/next".into(),
        None,
    )
    .await;

    let error = r#"{"errorType":"MalformedEvent","errorMessage":"event is not json"}"#;
    let path = format!("/2018-06-01/runtime/invocation/{request_id}/error");
    assert_eq!(
        as_function(&api, "POST", path, Some(error.into()))
            .await
            .status,
        202
    );
    assert_eq!(outcome.await.unwrap(), Outcome::Error(error.into()));

    let unknown = "/2018-06-01/runtime/invocation/nobody/response".to_owned();
    assert_eq!(
        as_function(&api, "POST", unknown, Some("{}".into()))
            .await
            .status,
        400
    );

    let init = r#"{"errorType":"Runtime.InitError","errorMessage":"bad policy"}"#;
    let path = "/2018-06-01/runtime/init/error".to_owned();
    assert_eq!(
        as_function(&api, "POST", path, Some(init.into()))
            .await
            .status,
        202
    );
    assert_eq!(api.init_error().as_deref(), Some(init));
}

#[tokio::test]
async fn a_missing_function_binary_says_how_to_build_it() {
    let err = Function::binary("no-such-function").unwrap_err();

    assert!(matches!(err, Error::Setup(_)));
    assert!(
        err.to_string()
            .contains("run `cargo build -p no-such-function`"),
        "{err}"
    );
}

#[tokio::test]
async fn the_emulator_stops_when_dropped() {
    let emulator = Emulator::start().unwrap();
    let address = emulator.address();
    assert!(TcpStream::connect(&address).is_ok(), "listening");

    drop(emulator);

    assert!(TcpStream::connect(&address).is_err(), "stopped");
}

#[tokio::test]
async fn the_seeded_cluster_matches_its_policy() {
    // Given a seeded cluster
    let bed = Bed::new().await;
    let (clients, cluster) = (&bed.clients, &bed.cluster);

    // then its policy is valid
    let policy = Policy::from_vars(cluster.policy_env()).unwrap();
    assert_eq!(policy.cluster, "prod");
    assert_eq!(policy.image.max_age_days, Some(90));

    // and the subnets are private and public as named
    let subnets = clients
        .ec2
        .describe_subnets()
        .subnet_ids(&cluster.public_subnet_id);
    let subnets = subnets
        .set_subnet_ids(Some(
            [
                cluster.private_subnet_ids.clone(),
                vec![cluster.public_subnet_id.clone()],
            ]
            .concat(),
        ))
        .send()
        .await
        .unwrap();
    for subnet in subnets.subnets() {
        let public = subnet.subnet_id() == Some(cluster.public_subnet_id.as_str());
        assert_eq!(subnet.map_public_ip_on_launch(), Some(public), "{subnet:?}");
    }

    // and the images carry the dates the scenarios rely on
    let images = clients
        .ec2
        .describe_images()
        .image_ids(&cluster.images.old)
        .image_ids(&cluster.images.deprecated)
        .image_ids(&cluster.images.fresh)
        .send()
        .await
        .unwrap();
    let image = |id: &str| {
        images
            .images()
            .iter()
            .find(|i| i.image_id() == Some(id))
            .unwrap()
            .clone()
    };
    assert!(
        image(&cluster.images.old)
            .creation_date()
            .unwrap()
            .starts_with("2025-01-15")
    );
    assert!(
        image(&cluster.images.deprecated)
            .deprecation_time()
            .is_some()
    );
    assert_eq!(image(&cluster.images.fresh).deprecation_time(), None);

    // and every group carries its cluster's tags and the guard's hook
    let groups = clients
        .autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    let ours: Vec<_> = groups
        .auto_scaling_groups()
        .iter()
        .filter(|g| {
            g.auto_scaling_group_name()
                .is_some_and(|n| n.starts_with("prod-"))
        })
        .collect();
    assert_eq!(ours.len(), 3);
    for group in ours {
        let tags: Vec<_> = group.tags().iter().filter_map(|t| t.key()).collect();
        for key in [
            "kubernetes.io/cluster/prod",
            "eks:cluster-name",
            "eks:nodegroup-name",
        ] {
            assert!(tags.contains(&key), "{key} on {group:?}");
        }
    }
    let hooks = clients
        .autoscaling
        .describe_lifecycle_hooks()
        .auto_scaling_group_name(&cluster.staging_group)
        .send()
        .await
        .unwrap();
    let hook = hooks.lifecycle_hooks().first().unwrap();
    assert_eq!(hook.lifecycle_hook_name(), Some("scaling-guard-prod"));
    assert_eq!(hook.default_result(), Some("ABANDON"));
    assert_eq!(hook.heartbeat_timeout(), Some(300));

    // and a launch waits for the guard with the compliant template's settings
    let action = cluster.launch(&cluster.groups[1]).await.unwrap();
    let instance = clients
        .ec2
        .describe_instances()
        .instance_ids(&action.instance_id)
        .send()
        .await
        .unwrap();
    let instance = &instance.reservations()[0].instances()[0];
    assert_eq!(instance.instance_type().unwrap().as_str(), "m6i.large");
    assert_eq!(instance.image_id(), Some(cluster.images.fresh.as_str()));
    assert_eq!(
        instance.iam_instance_profile().and_then(|p| p.arn()),
        Some(cluster.prod_profile_arn.as_str())
    );
    assert_eq!(
        instance
            .metadata_options()
            .and_then(|m| m.http_tokens())
            .map(|t| t.as_str()),
        Some("required")
    );
}

fn action() -> PendingAction {
    PendingAction {
        token: "b1f0c1de-0000-4000-8000-000000000001".into(),
        group: "prod-general".into(),
        hook: "scaling-guard-prod".into(),
        instance_id: "i-0123456789abcdef0".into(),
        transition: "autoscaling:EC2_INSTANCE_LAUNCHING".into(),
        notification_metadata: Some(r#"{"cluster":"prod"}"#.into()),
        account: "123456789012".into(),
        region: "eu-west-1".into(),
        time: "2026-11-26T10:00:00Z".into(),
        origin: "EC2".into(),
        destination: "AutoScalingGroup".into(),
    }
}

#[test]
fn the_lifecycle_event_is_the_sample_filled_from_the_action() {
    let event = events::lifecycle_event(&action()).unwrap();

    assert_eq!(event["detail-type"], "EC2 Instance-launch Lifecycle Action");
    assert_eq!(event["source"], "aws.autoscaling");
    assert_eq!(event["account"], "123456789012");
    assert_eq!(event["region"], "eu-west-1");
    assert_eq!(event["detail"]["LifecycleActionToken"], action().token);
    assert_eq!(event["detail"]["EC2InstanceId"], action().instance_id);
    let Notification::Action { action: parsed, .. } = lifecycle::parse(event).unwrap() else {
        panic!("not an action");
    };
    assert_eq!(parsed.token, action().token);
    assert_eq!(parsed.group, "prod-general");
    assert_eq!(
        parsed.notification_metadata.as_deref(),
        Some(r#"{"cluster":"prod"}"#)
    );
}

#[test]
fn an_sqs_batch_carries_each_body_under_its_own_message_id() {
    let bodies = [events::hook_message(&action()), "{not json".to_owned()];

    let batch = events::sqs_batch(&bodies).unwrap();

    let records = batch["Records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["messageId"], events::message_id(0));
    assert_eq!(records[1]["body"], "{not json");
    assert_eq!(records[0]["eventSource"], "aws:sqs");
    let parsed = lifecycle::parse_text(records[0]["body"].as_str().unwrap()).unwrap();
    assert!(matches!(parsed, Notification::Action { .. }));
}
