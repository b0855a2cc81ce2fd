//! launch-guard end to end (SPEC §5, §8, §10 tier 4): the real binary
//! (`target/debug/launch-guard`) behind the harness's Lambda Runtime API, the
//! real SDK over HTTP, the emulator seeded with a cluster. Each test has its
//! own emulator and function process.
//!
//! Build the binary first: `cargo build -p launch-guard`.

use std::collections::BTreeMap;

use scaling_guard_e2e::{ACCOUNT, Function, InvokeError, PendingAction, REGION, events};
use serde_json::{Value, json};

mod support;

use support::Bed;

/// What only these tests ask of the bed.
impl Bed {
    /// The first prod group, where `launch` launches.
    fn first_group(&self) -> &str {
        &self.cluster.groups[0]
    }

    /// Launches one instance from `template` into the first prod group.
    async fn launch(&self, template: &str) -> PendingAction {
        self.cluster
            .launch_with(self.first_group(), template)
            .await
            .expect("launch")
    }

    /// Delivers the EventBridge event of `action` to the guard.
    async fn decide(&self, action: &PendingAction) -> Value {
        support::decide(self.guard(), action).await
    }

    async fn instance_state(&self, instance_id: &str) -> Option<String> {
        self.cluster.instance_state(instance_id).await.unwrap()
    }

    /// Asserts that the launch was abandoned for exactly `checks`, the
    /// instance is gone, and one `launch_denied` alert was sent.
    async fn assert_abandoned_for(&self, action: &PendingAction, checks: &[&str]) {
        let summary = self.decide(action).await;
        assert_eq!(summary["decision"], "ABANDON", "{summary}");
        assert_eq!(violated(&summary), checks, "{summary}");
        self.assert_terminated(&action.instance_id).await;
        let paged = self.paged().await;
        assert_eq!(paged.len(), 1, "one alert: {paged:?}");
        assert_eq!(paged[0].attribute("kind"), Some("launch_denied"));
        assert_eq!(
            paged[0].field("instance_id"),
            Some(&json!(action.instance_id))
        );
    }

    async fn assert_terminated(&self, instance_id: &str) {
        assert_eq!(
            self.lifecycle_state(instance_id).await,
            None,
            "an abandoned instance leaves its group"
        );
        let state = self.instance_state(instance_id).await;
        assert!(
            matches!(state.as_deref(), Some("terminated" | "shutting-down")),
            "an abandoned instance is terminated, not {state:?}"
        );
        assert_eq!(self.pending(instance_id), None, "the action is completed");
    }
}

/// The checks a summary lists, in its order.
fn violated(summary: &Value) -> Vec<String> {
    summary["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["check"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_compliant_launch_is_continued_and_enters_service() {
    let bed = Bed::guarded().await;
    let action = bed.launch(&bed.cluster.templates.compliant).await;
    assert_eq!(
        bed.lifecycle_state(&action.instance_id).await.as_deref(),
        Some("Pending:Wait"),
        "given an instance waiting for the guard"
    );

    let summary = bed.decide(&action).await;

    assert_eq!(
        summary,
        json!({
            "decision": "CONTINUE",
            "instance_id": action.instance_id,
            "group": action.group,
            "violations": [],
            "mode": "enforce",
            "duplicate": false,
        })
    );
    assert_eq!(
        bed.lifecycle_state(&action.instance_id).await.as_deref(),
        Some("InService")
    );
    assert_eq!(
        bed.instance_state(&action.instance_id).await.as_deref(),
        Some("running")
    );
    assert_eq!(bed.pending(&action.instance_id), None);
    assert!(
        bed.archived().await.is_empty(),
        "no alert for a clean launch"
    );
    let decided = bed
        .guard()
        .log_records()
        .into_iter()
        .filter(|r| r["fields"]["message"] == "launch decided")
        .count();
    assert_eq!(decided, 1, "one structured log line per decision");
}

#[tokio::test]
async fn a_denied_instance_type_is_abandoned_terminated_and_alerted_to_subscribers() {
    let bed = Bed::guarded().await;
    let action = bed.launch(&bed.cluster.templates.denied_type).await;

    let summary = bed.decide(&action).await;

    assert_eq!(summary["decision"], "ABANDON", "{summary}");
    assert_eq!(violated(&summary), ["instance_type.allowed"]);
    assert_eq!(summary["violations"][0]["blocking"], true);
    assert_eq!(summary["violations"][0]["actual"], "p5.48xlarge");
    bed.assert_terminated(&action.instance_id).await;

    // The alert, as the paging queue (filter policy: severity warning or
    // critical) receives it: the SNS envelope with subject and attributes.
    let paged = bed.paged().await;
    assert_eq!(paged.len(), 1, "{paged:?}");
    let alert = &paged[0];
    let id = &action.instance_id;
    assert_eq!(
        alert.subject.as_deref(),
        Some(
            format!("[scaling-guard] prod: launch of {id} denied (instance_type.allowed)").as_str()
        )
    );
    assert_eq!(
        alert.attributes,
        BTreeMap::from(
            [
                ("cluster", "prod"),
                ("kind", "launch_denied"),
                ("severity", "warning"),
                ("decision", "ABANDON"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        )
    );
    assert_eq!(alert.envelope["TopicArn"], json!(bed.cluster.topic_arn));
    let body = &alert.message;
    assert_eq!(body["version"], 1);
    assert_eq!(body["kind"], "launch_denied");
    assert_eq!(body["cluster"], "prod");
    assert_eq!(body["severity"], "warning");
    assert_eq!(body["decision"], "ABANDON");
    assert_eq!(body["instance_id"], json!(id));
    assert_eq!(body["group"], json!(action.group));
    assert_eq!(body["mode"], "enforce");
    assert_eq!(body["account"], ACCOUNT);
    assert_eq!(body["region"], REGION);
    assert_eq!(body["violations"][0]["check"], "instance_type.allowed");
    assert_eq!(bed.archived().await.len(), 1, "the archive gets it too");
}

#[tokio::test]
async fn a_node_in_a_public_subnet_is_abandoned() {
    let bed = Bed::guarded().await;
    let public = [bed.cluster.public_subnet_id.clone()];
    bed.cluster
        .use_subnets(bed.first_group(), &public)
        .await
        .unwrap();
    let action = bed.launch(&bed.cluster.templates.compliant).await;

    // Two facts make the node public: the subnet maps public addresses, and
    // the instance got one. Each is a violation of its own resource.
    bed.assert_abandoned_for(
        &action,
        &["subnet.allowed", "subnet.public", "subnet.public"],
    )
    .await;
}

#[tokio::test]
async fn a_foreign_security_group_is_abandoned() {
    let bed = Bed::guarded().await;
    let action = bed
        .launch(&bed.cluster.templates.foreign_security_group)
        .await;

    bed.assert_abandoned_for(&action, &["security_groups.allowed"])
        .await;
}

#[tokio::test]
async fn an_old_image_is_abandoned() {
    let bed = Bed::guarded().await;
    let action = bed.launch(&bed.cluster.templates.old_image).await;

    bed.assert_abandoned_for(&action, &["image.age"]).await;
}

#[tokio::test]
async fn a_deprecated_image_is_abandoned() {
    let bed = Bed::guarded().await;
    let action = bed.launch(&bed.cluster.templates.deprecated_image).await;

    bed.assert_abandoned_for(&action, &["image.deprecated"])
        .await;
}

#[tokio::test]
async fn an_unapproved_image_is_abandoned() {
    let bed = Bed::guarded().await;
    let action = bed.launch(&bed.cluster.templates.unapproved_image).await;

    bed.assert_abandoned_for(&action, &["image.allowed"]).await;
}

#[tokio::test]
async fn a_node_without_imdsv2_is_abandoned() {
    let bed = Bed::guarded().await;
    let action = bed.launch(&bed.cluster.templates.imdsv1.clone()).await;

    bed.assert_abandoned_for(&action, &["imds.v2"]).await;
}

#[tokio::test]
async fn the_other_environments_instance_profile_is_abandoned() {
    let bed = Bed::guarded().await;
    let action = bed.launch(&bed.cluster.templates.staging_profile).await;

    bed.assert_abandoned_for(&action, &["instance_profile.allowed"])
        .await;
}

#[tokio::test]
async fn audit_mode_lets_a_violating_node_in_and_reports_it_with_severity_info() {
    let bed = Bed::with_guard(|policy| {
        policy.insert("GUARD_MODE".into(), "audit".into());
    })
    .await;
    let action = bed.launch(&bed.cluster.templates.denied_type).await;

    let summary = bed.decide(&action).await;

    assert_eq!(summary["decision"], "CONTINUE", "{summary}");
    assert_eq!(summary["mode"], "audit");
    assert_eq!(violated(&summary), ["instance_type.allowed"]);
    assert_eq!(summary["violations"][0]["blocking"], false);
    assert_eq!(
        bed.lifecycle_state(&action.instance_id).await.as_deref(),
        Some("InService")
    );
    // The unfiltered queue gets the report; the paging queue's filter policy
    // (severity warning or critical) drops it.
    let archived = bed.archived().await;
    assert_eq!(archived.len(), 1, "{archived:?}");
    assert_eq!(
        archived[0].attribute("kind"),
        Some("launch_violation_reported")
    );
    assert_eq!(archived[0].attribute("severity"), Some("info"));
    assert_eq!(archived[0].attribute("decision"), Some("CONTINUE"));
    assert_eq!(archived[0].field("mode"), Some(&json!("audit")));
    assert!(bed.paged().await.is_empty(), "info is filtered out");
}

#[tokio::test]
async fn a_duplicate_event_is_answered_as_duplicate_and_alerted_once() {
    let bed = Bed::guarded().await;
    let action = bed.launch(&bed.cluster.templates.denied_type).await;
    let first = bed.decide(&action).await;
    assert_eq!(first["decision"], "ABANDON");
    assert_eq!(first["duplicate"], false);

    // EventBridge delivers at least once: the same event again.
    let second = bed.decide(&action).await;

    assert_eq!(second["duplicate"], true, "{second}");
    assert_eq!(second["instance_id"], json!(action.instance_id));
    bed.assert_terminated(&action.instance_id).await;
    assert_eq!(bed.archived().await.len(), 1, "one alert only");
}

#[tokio::test]
async fn a_test_notification_is_ignored() {
    let bed = Bed::guarded().await;
    let waiting = bed.launch(&bed.cluster.templates.compliant).await;

    let summary = bed
        .guard()
        .invoke(&events::test_notification().unwrap())
        .await
        .unwrap();

    assert_eq!(summary["decision"], "IGNORED", "{summary}");
    assert_eq!(summary["reason"], "test notification");
    assert_eq!(
        bed.pending(&waiting.instance_id),
        Some(waiting),
        "nothing completed"
    );
    assert!(bed.archived().await.is_empty(), "no alert");
}

#[tokio::test]
async fn a_launch_in_another_clusters_group_is_left_alone() {
    let bed = Bed::guarded().await;
    let group = bed.cluster.staging_group.clone();
    let action = bed.cluster.launch(&group).await.unwrap();

    let summary = bed.decide(&action).await;

    assert_eq!(summary["decision"], "IGNORED", "{summary}");
    assert_eq!(
        summary["reason"],
        "group `staging-general` is not a member of cluster `prod`"
    );
    assert_eq!(
        bed.lifecycle_state(&action.instance_id).await.as_deref(),
        Some("Pending:Wait"),
        "the guard did not complete another cluster's action"
    );
    assert_eq!(bed.pending(&action.instance_id), Some(action.clone()));
    assert_eq!(
        bed.instance_state(&action.instance_id).await.as_deref(),
        Some("running")
    );
    assert!(bed.archived().await.is_empty(), "no alert");
}

#[tokio::test]
async fn an_sqs_batch_decides_every_good_message_and_reports_the_malformed_one() {
    let bed = Bed::guarded().await;
    let [general, system, ..] = bed.cluster.groups.as_slice() else {
        panic!("three prod groups");
    };
    let compliant = bed
        .cluster
        .launch_with(general, &bed.cluster.templates.compliant)
        .await
        .unwrap();
    let denied = bed
        .cluster
        .launch_with(system, &bed.cluster.templates.denied_type)
        .await
        .unwrap();
    // The hook's own message format, an EventBridge event forwarded to SQS,
    // and a message that is not JSON.
    let batch = events::sqs_batch(&[
        events::hook_message(&compliant),
        events::lifecycle_event(&denied).unwrap().to_string(),
        "{not json".to_owned(),
    ])
    .unwrap();

    let response = bed.guard().invoke(&batch).await.unwrap();

    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": events::message_id(2)}]})
    );
    assert_eq!(
        bed.lifecycle_state(&compliant.instance_id).await.as_deref(),
        Some("InService")
    );
    bed.assert_terminated(&denied.instance_id).await;
    let paged = bed.paged().await;
    assert_eq!(paged.len(), 1, "{paged:?}");
    assert_eq!(
        paged[0].field("instance_id"),
        Some(&json!(denied.instance_id))
    );
}

/// A policy that parses, for tests that need no AWS behind the function.
fn offline_policy() -> BTreeMap<String, String> {
    [
        ("GUARD_CLUSTER", "prod"),
        (
            "GUARD_ALERT_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:123456789012:scaling-guard-alerts",
        ),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into()
}

#[tokio::test]
async fn a_bad_policy_is_alerted_once_and_every_invocation_is_refused_naming_every_problem() {
    // Given the seeded cluster and a policy with two problems.
    let bed = Bed::new().await;
    let mut policy = bed.cluster.policy_env();
    policy.insert("GUARD_MODE".into(), "strict".into());
    policy.insert("GUARD_ALLOWED_SECURITY_GROUP_IDS".into(), "sg-nope".into());
    let action = bed.launch(&bed.cluster.templates.compliant).await;
    let event = events::lifecycle_event(&action).unwrap();

    // When that environment starts and gets the launch twice (a retry),
    let misconfigured = Function::launch_guard(&bed.endpoint(), &policy)
        .await
        .expect("the environment stays up to refuse invocations");
    let mut refusals = Vec::new();
    for _ in 0..2 {
        refusals.push(misconfigured.invoke(&event).await.expect_err("refused"));
    }

    // then each invocation fails naming every problem (so the event is
    // retried, then kept in the dead-letter queue) and changes nothing,
    for err in refusals {
        let (error_type, error_message) = function_error(err);
        assert_eq!(error_type, "GuardMisconfigured");
        assert!(
            error_message.starts_with("launch-guard decides nothing: invalid policy (2 problems)"),
            "{error_message}"
        );
        assert!(
            error_message.contains("`GUARD_MODE` must be one of `enforce`, `audit`, not `strict`"),
            "{error_message}"
        );
        assert!(error_message.contains("`sg-nope`"), "{error_message}");
    }
    assert_eq!(bed.pending(&action.instance_id), Some(action.clone()));
    // and one critical alert says so, once for the environment.
    let paged = bed.paged().await;
    assert_eq!(paged.len(), 1, "{paged:?}");
    assert_eq!(paged[0].attribute("kind"), Some("guard_misconfigured"));
    assert_eq!(paged[0].attribute("severity"), Some("critical"));
    let problems = &paged[0].message["details"]["problems"];
    assert_eq!(problems.as_array().map(Vec::len), Some(2), "{problems}");
}

/// The error type and message the function answered with.
fn function_error(err: InvokeError) -> (String, String) {
    let InvokeError::Function {
        error_type,
        error_message,
    } = err
    else {
        panic!("not a function error: {err}");
    };
    (error_type, error_message)
}

#[tokio::test]
async fn a_malformed_event_is_answered_with_a_clear_error() {
    let guard = Function::launch_guard("http://127.0.0.1:9", offline_policy())
        .await
        .unwrap();

    let err = guard
        .invoke(&json!({"hello": "world"}))
        .await
        .expect_err("not a lifecycle event");

    let (error_type, error_message) = function_error(err);
    assert_eq!(error_type, "MalformedEvent");
    assert!(
        error_message.starts_with("event is not a lifecycle notification"),
        "{error_message}"
    );
}
