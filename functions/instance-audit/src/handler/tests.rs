use std::collections::BTreeMap;
use std::time::Duration;

use pretty_assertions::assert_eq;
use rstest::rstest;
use serde_json::{Value, json};
use shared::alerts::{AlertKind, Severity};
use shared::audit::{
    PREVIOUS_GROUPS_TAG, QUARANTINE_REASON_TAG, QUARANTINED_TAG, REMEDIATED_TAG,
    REMEDIATION_HELD_TAG,
};
use shared::checks::membership::{GROUP_NAME_TAG, VETTED_TAG};
use shared::facts::{HttpTokens, ImageFacts, InstanceFacts, SubnetFacts};
use shared::fakes::{FakeAws, checks_of};
use shared::fixtures::{
    CLUSTER_SETTINGS, CLUSTER_TAG, GROUP, IMAGE, NODE_SETTINGS, NOW_RFC3339, compliant_instance,
    days_ago, now, policy_of,
};
use shared::policy::Policy;
use shared::ports::MetricUnit;

use super::*;
use crate::response::SweepSummary;

const PENDING: &str = include_str!("../../../../events/state-change-pending.json");
const RUNNING: &str = include_str!("../../../../events/state-change-running.json");
const LAUNCHED: &str = include_str!("../../../../events/launch-successful.json");
const SWEEP: &str = include_str!("../../../../events/audit-sweep.json");

/// The instance of the two state-change samples.
const BY_HAND: &str = "i-0d1e2f3a4b5c60789";
/// The instance of the launch-successful sample, in group `prod-legacy`.
const LEGACY: &str = "i-0e1f2a3b4c5d60718";
const QUARANTINE: &str = "sg-0eee0001";
const KARPENTER: &str = "karpenter.sh/nodepool";

/// `seconds` before the test world's clock, as a tag records a time.
fn ago(seconds: u64) -> String {
    shared::time::format_rfc3339(now() - Duration::from_secs(seconds))
}

fn policy(extra: &[(&str, &str)]) -> Policy {
    let quarantine = [("GUARD_QUARANTINE_SECURITY_GROUP_ID", QUARANTINE)];
    policy_of(&[&CLUSTER_SETTINGS, &NODE_SETTINGS, &quarantine], extra)
}

/// A compliant cluster instance with the given extra tags.
fn member(id: &str, state: &str, tags: &[(&str, &str)]) -> InstanceFacts {
    let mut instance = InstanceFacts {
        instance_id: id.into(),
        state: state.into(),
        ..compliant_instance()
    };
    instance.tags.insert(CLUSTER_TAG.into(), "owned".into());
    instance
        .tags
        .extend(tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    instance
}

/// The account: the test world's compliant cluster (its images, subnet
/// and the guarded group [`GROUP`]); `prod-legacy` has no hook. No instances.
fn account() -> FakeAws {
    FakeAws::compliant_cluster()
}

/// An instance launched by hand into the cluster, with IMDSv1 on.
fn by_hand(state: &str) -> InstanceFacts {
    let mut instance = member(BY_HAND, state, &[("Name", "debug-box")]);
    instance.http_tokens = Some(HttpTokens::Optional);
    instance
}

async fn run(policy: &Policy, aws: &FakeAws, event: &str) -> Result<Value, HandlerError> {
    Auditor::new(policy, aws)
        .with_clock(now)
        .handle(serde_json::from_str(event).unwrap())
        .await
        .map(json_of)
}

/// The handler's summary of an instance event; panics on any other answer.
async fn run_instance(policy: &Policy, aws: &FakeAws, event: &str) -> Summary {
    instance_of(answer(policy, aws, event).await)
}

/// The summary of an instance event; panics on any other answer.
fn instance_of(response: Response) -> Summary {
    match response {
        Response::Instance(summary) => summary,
        other => panic!("not an instance summary: {other:?}"),
    }
}

/// The handler's summary of a sweep; panics on any other answer.
async fn run_sweep(policy: &Policy, aws: &FakeAws, event: &str) -> SweepSummary {
    match answer(policy, aws, event).await {
        Response::Sweep(summary) => summary,
        other => panic!("not a sweep summary: {other:?}"),
    }
}

/// The handler's answer to `event`, typed, before the runtime serialises it.
async fn answer(policy: &Policy, aws: &FakeAws, event: &str) -> Response {
    Auditor::new(policy, aws)
        .with_clock(now)
        .handle(serde_json::from_str(event).unwrap())
        .await
        .unwrap()
}

/// Why the summary's outcome is what it is; panics when it does not say.
fn reason(summary: &Summary) -> &str {
    summary
        .reason
        .as_deref()
        .unwrap_or_else(|| panic!("no reason: {summary:?}"))
}

/// The instance's group; panics when the summary names none.
fn group(summary: &Summary) -> &str {
    summary
        .group
        .as_deref()
        .unwrap_or_else(|| panic!("no group: {summary:?}"))
}

/// The checks the summary's violations name, in order.
fn checks(summary: &Summary) -> Vec<&'static str> {
    checks_of(&summary.violations)
}

/// A part of a summary as the runtime writes it: where its wire shape is
/// what the test states.
fn wire(part: &impl serde::Serialize) -> Value {
    serde_json::to_value(part).unwrap()
}

/// The response as the runtime sends it.
fn json_of(response: Response) -> Value {
    serde_json::to_value(response).unwrap()
}

/// What EC2 does between two events: the instance moves on.
fn set_state(aws: &FakeAws, id: &str, state: &str) {
    let mut instance = aws.instance_facts(id).unwrap();
    instance.state = state.into();
    aws.add_instance(instance);
}

fn kinds(aws: &FakeAws) -> Vec<AlertKind> {
    aws.published().into_iter().map(|a| a.kind).collect()
}

fn with(event: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(event).unwrap();
    change(&mut value);
    value.to_string()
}

// ---------------------------------------------------------------------------
// Only the cluster's instances
// ---------------------------------------------------------------------------

fn outsider(tags: &[(&str, &str)]) -> InstanceFacts {
    let mut instance = by_hand("running");
    instance.tags = tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    instance.instance_type = "p5.48xlarge".into();
    instance
}

#[rstest]
#[case::another_cluster_pending(&[("kubernetes.io/cluster/staging", "owned")], PENDING)]
#[case::another_cluster_running(&[("kubernetes.io/cluster/staging", "owned")], RUNNING)]
#[case::no_cluster_pending(&[("Name", "someones-box")], PENDING)]
#[case::no_cluster_running(&[], RUNNING)]
#[tokio::test]
async fn an_instance_of_another_cluster_or_of_none_is_never_touched(
    #[case] tags: &[(&str, &str)],
    #[case] event: &str,
) {
    // Given: the harshest policy, and a non-compliant instance outside the cluster
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    aws.add_instance(outsider(tags));

    // When
    let summary = run_instance(&policy, &aws, event).await;

    // Then: ignored, no alert, no change, no further reads
    assert_eq!(summary.outcome, Outcome::Ignored);
    assert_eq!(
        reason(&summary),
        format!("instance `{BY_HAND}` is not a member of cluster `prod`")
    );
    assert_eq!(aws.mutations(), BTreeMap::new());
    assert_eq!(aws.instance_facts(BY_HAND), Some(outsider(tags)));
    assert_eq!(aws.calls("DescribeLifecycleHooks"), 0);
}

#[tokio::test]
async fn a_launch_of_another_clusters_group_is_never_touched() {
    let policy = policy(&[("GUARD_AUDIT_ACTION", "isolate")]);
    let aws = account();
    let mut instance = outsider(&[("kubernetes.io/cluster/staging", "owned")]);
    instance.instance_id = LEGACY.into();
    instance
        .tags
        .insert(GROUP_NAME_TAG.into(), "prod-legacy".into());
    aws.add_instance(instance);

    let summary = run_instance(&policy, &aws, LAUNCHED).await;

    assert_eq!(summary.outcome, Outcome::Ignored);
    assert_eq!(aws.mutations(), BTreeMap::new());
}

#[tokio::test]
async fn the_sweep_never_touches_or_counts_instances_outside_the_cluster() {
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    aws.add_instance(outsider(&[("kubernetes.io/cluster/staging", "owned")]));

    let summary = run_sweep(&policy, &aws, SWEEP).await;

    assert_eq!(summary.report.instances, 0);
    assert_eq!(aws.instance_changes(), Vec::<String>::new());
    assert_eq!(aws.instance_facts(BY_HAND).unwrap().state, "running");
}

/// prod's guard keyed on `eks:cluster-name` = `prod`, terminating.
fn shared_key_policy() -> Policy {
    policy(&[
        ("GUARD_AUDIT_ACTION", "terminate"),
        ("GUARD_CLUSTER_TAG_KEY", "eks:cluster-name"),
        ("GUARD_CLUSTER_TAG_VALUE", "prod"),
    ])
}

#[rstest]
#[case::pending(PENDING)]
#[case::running(RUNNING)]
#[tokio::test]
async fn another_clusters_node_with_the_same_tag_key_is_never_alerted_or_terminated(
    #[case] event: &str,
) {
    let (policy, aws) = (shared_key_policy(), account());
    aws.add_instance(outsider(&[("eks:cluster-name", "staging")]));

    let summary = run_instance(&policy, &aws, event).await;

    assert_eq!(summary.outcome, Outcome::Ignored);
    assert_eq!(aws.mutations(), BTreeMap::new());
    assert_eq!(aws.published(), Vec::new());
}

#[tokio::test]
async fn the_sweep_with_a_shared_tag_key_terminates_its_own_hand_launched_node_alone() {
    // Given: prod's and staging's hand-launched nodes, both tagged eks:cluster-name
    let (policy, aws) = (shared_key_policy(), account());
    let mut staging = outsider(&[("eks:cluster-name", "staging")]);
    staging.instance_id = "i-0staging0000000001".into();
    aws.add_instance(staging);
    let mut prod = by_hand("running");
    prod.tags = [("eks:cluster-name".to_owned(), "prod".to_owned())].into();
    aws.add_instance(prod);

    // When
    let summary = run_sweep(&policy, &aws, SWEEP).await;

    // Then: one instance swept, prod's, and only it terminated
    assert_eq!(summary.report.instances, 1);
    assert!(
        aws.instance_changes()
            .iter()
            .all(|change| !change.contains("i-0staging0000000001")),
        "{:?}",
        aws.instance_changes()
    );
    assert_eq!(
        aws.instance_facts("i-0staging0000000001").unwrap().state,
        "running"
    );
    assert!(
        aws.instance_changes()
            .contains(&format!("TerminateInstances {BY_HAND}")),
        "{:?}",
        aws.instance_changes()
    );
}

#[tokio::test]
async fn an_unknown_instance_is_ignored() {
    let (policy, aws) = (policy(&[]), account());
    let summary = run_instance(&policy, &aws, RUNNING).await;
    assert_eq!(summary.outcome, Outcome::Ignored);
    assert_eq!(
        reason(&summary),
        format!("instance `{BY_HAND}` was not found")
    );
    assert_eq!(aws.mutations(), BTreeMap::new());
}

#[rstest]
#[case::stopping("stopping")]
#[case::shutting_down("shutting-down")]
#[tokio::test]
async fn other_state_changes_are_ignored_without_a_call(#[case] state: &str) {
    let (policy, aws) = (policy(&[]), account());
    let event = with(RUNNING, |e| e["detail"]["state"] = json!(state));
    let summary = run_instance(&policy, &aws, &event).await;
    assert_eq!(summary.outcome, Outcome::Ignored);
    assert_eq!(
        reason(&summary),
        format!("state `{state}` is neither pending nor running")
    );
    assert_eq!(aws.calls("DescribeInstances"), 0);
}

// ---------------------------------------------------------------------------
// Membership
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_instance_launched_by_hand_is_reported_once_when_running() {
    // Given: alert is the default action
    let (policy, aws) = (policy(&[]), account());
    aws.add_instance(by_hand("pending"));

    // When: it is pending
    let pending = run_instance(&policy, &aws, PENDING).await;

    // Then: nothing to remediate, so the report waits for `running`
    assert_eq!(pending.outcome, Outcome::Deferred);
    assert_eq!(
        reason(&pending),
        "reported once, when the instance is running"
    );
    assert_eq!(kinds(&aws), vec![]);

    // When: it runs
    aws.add_instance(by_hand("running"));
    let running = run_instance(&policy, &aws, RUNNING).await;

    // Then: one alert with both findings; nothing changed
    assert_eq!(running.outcome, Outcome::Reported);
    assert_eq!(checks(&running), vec!["imds.v2", "membership.unmanaged"]);
    let alerts = aws.published();
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert.kind, AlertKind::InstanceNonCompliant);
    assert_eq!(alert.severity, Severity::Warning);
    assert_eq!(alert.decision, "alert");
    assert_eq!(
        alert.subject(),
        format!(
            "[scaling-guard] prod: instance {BY_HAND} non-compliant (imds.v2, membership.unmanaged)"
        )
    );
    assert_eq!(alert.account.as_deref(), Some("123456789012"));
    assert_eq!(alert.region.as_deref(), Some("eu-west-1"));
    assert!(
        alert.email().contains("CloudTrail `RunInstances`"),
        "{}",
        alert.email()
    );
    assert!(alert.email().contains("GUARD_AUDIT_ACTION is `alert`"));
    assert_eq!(aws.instance_changes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_node_of_an_allowed_launcher_is_a_member_and_compliant() {
    let (policy, aws) = (policy(&[]), account());
    aws.add_instance(member(BY_HAND, "running", &[(KARPENTER, "default")]));

    let summary = run_instance(&policy, &aws, RUNNING).await;

    assert_eq!(summary.outcome, Outcome::Compliant);
    assert_eq!(summary.violations, vec![]);
    assert_eq!(aws.mutations(), BTreeMap::new());
}

#[tokio::test]
async fn launcher_tags_are_a_policy_setting() {
    let (policy, aws) = (policy(&[("GUARD_ALLOWED_LAUNCHER_TAGS", "")]), account());
    aws.add_instance(member(BY_HAND, "running", &[(KARPENTER, "default")]));

    let summary = run_instance(&policy, &aws, RUNNING).await;

    assert_eq!(checks(&summary), vec!["membership.unmanaged"]);
}

#[tokio::test]
async fn a_launch_by_a_group_without_the_hook_is_reported_at_launch_successful() {
    // Given: a compliant node of the hook-less group
    let (policy, aws) = (policy(&[]), account());
    aws.add_instance(member(
        LEGACY,
        "running",
        &[(GROUP_NAME_TAG, "prod-legacy")],
    ));

    // When: its state changes first, then its group reports the launch
    let running = with(RUNNING, |e| e["detail"]["instance-id"] = json!(LEGACY));
    let on_running = run_instance(&policy, &aws, &running).await;
    let on_launch = run_instance(&policy, &aws, LAUNCHED).await;

    // Then: one alert, at launch successful
    assert_eq!(on_running.outcome, Outcome::Deferred);
    assert_eq!(
        reason(&on_running),
        "reported once, when group `prod-legacy` reports the launch successful"
    );
    assert_eq!(on_launch.outcome, Outcome::Reported);
    assert_eq!(group(&on_launch), "prod-legacy");
    assert_eq!(checks(&on_launch), vec!["membership.unguarded_group"]);
    let alerts = aws.published();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].group.as_deref(), Some("prod-legacy"));
    assert!(alerts[0].email().contains("GUARD_ENROLL_GROUPS"));
}

#[tokio::test]
async fn the_group_of_the_launch_event_counts_before_the_tag_is_visible() {
    let (policy, aws) = (policy(&[]), account());
    aws.add_instance(member(LEGACY, "running", &[]));

    let summary = run_instance(&policy, &aws, LAUNCHED).await;

    assert_eq!(checks(&summary), vec!["membership.unguarded_group"]);
    assert_eq!(aws.calls("DescribeLifecycleHooks"), 1);
}

#[tokio::test]
async fn a_launch_into_the_warm_pool_waits_for_the_launch_into_service() {
    let (policy, aws) = (policy(&[("GUARD_AUDIT_ACTION", "terminate")]), account());
    aws.add_instance(member(
        LEGACY,
        "running",
        &[(GROUP_NAME_TAG, "prod-legacy")],
    ));

    let into_pool = with(LAUNCHED, |e| e["detail"]["Destination"] = json!("WarmPool"));
    let pooled = run_instance(&policy, &aws, &into_pool).await;
    let into_service = with(LAUNCHED, |e| e["detail"]["Origin"] = json!("WarmPool"));
    let served = run_instance(&policy, &aws, &into_service).await;

    assert_eq!(pooled.outcome, Outcome::Ignored);
    assert_eq!(
        reason(&pooled),
        "launched into the warm pool of group `prod-legacy`: audited when it enters service"
    );
    assert_eq!(served.outcome, Outcome::Remediated);
    assert_eq!(
        aws.instance_changes(),
        vec![
            format!("CreateTags {LEGACY}"),
            format!("TerminateInstances {LEGACY}")
        ]
    );
}

#[tokio::test]
async fn an_instance_of_a_guarded_group_was_vetted_by_launch_guard_and_is_left_alone() {
    // Given: a non-compliant node of the guarded group that launch-guard
    // recorded, terminate on
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    let mut instance = member(
        LEGACY,
        "running",
        &[(GROUP_NAME_TAG, GROUP), (VETTED_TAG, &ago(60))],
    );
    instance.http_tokens = Some(HttpTokens::Optional);
    aws.add_instance(instance);
    let launched = with(LAUNCHED, |e| {
        e["detail"]["AutoScalingGroupName"] = json!(GROUP)
    });

    let summary = run_instance(&policy, &aws, &launched).await;

    assert_eq!(summary.outcome, Outcome::Vetted);
    assert_eq!(group(&summary), "prod-general");
    assert_eq!(aws.mutations(), BTreeMap::new());
    assert_eq!(
        (aws.calls("DescribeImages"), aws.calls("DescribeSubnets")),
        (0, 0),
        "launch-guard already read them"
    );
}

// ---------------------------------------------------------------------------
// Node checks
// ---------------------------------------------------------------------------

type Breaker = fn(&mut InstanceFacts);

#[rstest]
#[case::image_not_allowed(|i: &mut InstanceFacts| i.image_id = "ami-0ccc0099".into(), "image.allowed")]
#[case::subnet_not_allowed(|i: &mut InstanceFacts| i.subnet_id = Some("subnet-0aaa0002".into()), "subnet.allowed")]
#[case::public_ip(|i: &mut InstanceFacts| i.public_ip = Some("203.0.113.9".into()), "subnet.public")]
#[case::foreign_security_group(|i: &mut InstanceFacts| i.security_group_ids.push("sg-0fff0666".into()), "security_groups.allowed")]
#[case::instance_type(|i: &mut InstanceFacts| i.instance_type = "p5.48xlarge".into(), "instance_type.allowed")]
#[case::imdsv1(|i: &mut InstanceFacts| i.http_tokens = Some(HttpTokens::Optional), "imds.v2")]
#[case::other_environments_profile(|i: &mut InstanceFacts| i.instance_profile_arn = Some("arn:aws:iam::123456789012:instance-profile/staging-node".into()), "instance_profile.allowed")]
#[tokio::test]
async fn each_node_check_runs_on_a_running_instance(#[case] breaker: Breaker, #[case] check: &str) {
    let (policy, aws) = (policy(&[]), account());
    aws.add_image(ImageFacts {
        image_id: "ami-0ccc0099".into(),
        name: Some("ubuntu-custom".into()),
        creation_date: Some(days_ago(1)),
        ..ImageFacts::default()
    });
    aws.add_subnet(SubnetFacts {
        subnet_id: "subnet-0aaa0002".into(),
        ..SubnetFacts::default()
    });
    let mut instance = member(BY_HAND, "running", &[(KARPENTER, "gpu")]);
    breaker(&mut instance);
    aws.add_instance(instance);

    let summary = run_instance(&policy, &aws, RUNNING).await;

    assert_eq!(summary.outcome, Outcome::Reported);
    assert_eq!(checks(&summary), vec![check]);
    assert_eq!(kinds(&aws), vec![AlertKind::InstanceNonCompliant]);
}

#[tokio::test]
async fn an_image_that_aged_past_the_limit_is_found() {
    let (policy, aws) = (policy(&[]), account());
    aws.add_image(ImageFacts {
        image_id: IMAGE.into(),
        name: Some("amazon-eks-node-al2023-x86_64-standard-1.29-v20250101".into()),
        owner_alias: Some("amazon".into()),
        creation_date: Some(days_ago(200)),
        deprecation_time: Some(days_ago(10)),
        ..ImageFacts::default()
    });
    aws.add_instance(member(BY_HAND, "running", &[(KARPENTER, "default")]));

    let summary = run_instance(&policy, &aws, RUNNING).await;

    assert_eq!(checks(&summary), vec!["image.age", "image.deprecated"]);
}

// ---------------------------------------------------------------------------
// Remediation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn isolate_swaps_in_the_quarantine_group_and_tags_at_pending_then_stays_quiet() {
    // Given
    let policy = policy(&[("GUARD_AUDIT_ACTION", "isolate")]);
    let aws = account();
    aws.add_instance(by_hand("pending"));

    // When: pending
    let summary = run_instance(&policy, &aws, PENDING).await;

    // Then: isolated at once, tagged, alerted
    assert_eq!(summary.outcome, Outcome::Remediated);
    assert_eq!(summary.action, Some("isolate"));
    assert_eq!(
        aws.instance_changes(),
        vec![
            format!("CreateTags {BY_HAND}"),
            format!("ModifyInstanceAttribute {BY_HAND}"),
            format!("CreateTags {BY_HAND}")
        ]
    );
    let isolated = aws.instance_facts(BY_HAND).unwrap();
    assert_eq!(isolated.security_group_ids, vec![QUARANTINE.to_owned()]);
    assert_eq!(isolated.tags[QUARANTINED_TAG], NOW_RFC3339);
    assert_eq!(
        isolated.tags[QUARANTINE_REASON_TAG],
        "imds.v2 membership.unmanaged"
    );
    assert_eq!(isolated.tags[PREVIOUS_GROUPS_TAG], "sg-0bbb0001");
    let alerts = aws.published();
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert.kind, AlertKind::InstanceRemediated);
    assert_eq!(alert.severity, Severity::Critical);
    assert_eq!(alert.decision, "isolate");
    assert_eq!(
        alert.subject(),
        format!(
            "[scaling-guard] prod: instance {BY_HAND} isolated (imds.v2, membership.unmanaged)"
        )
    );
    assert_eq!(
        alert.details["previous_security_groups"],
        json!(["sg-0bbb0001"])
    );

    // When: the running event, a duplicate of it, and a sweep follow
    set_state(&aws, BY_HAND, "running");
    let running = run_instance(&policy, &aws, RUNNING).await;
    let again = run_instance(&policy, &aws, RUNNING).await;
    let sweep = run_sweep(&policy, &aws, SWEEP).await;

    // Then: nothing more is changed, and no second instance alert
    assert_eq!(running.outcome, Outcome::AlreadyRemediated);
    assert_eq!(again.outcome, Outcome::AlreadyRemediated);
    assert_eq!(sweep.report.already_remediated, 1);
    assert_eq!(aws.instance_changes().len(), 3);
    assert_eq!(
        kinds(&aws),
        vec![AlertKind::InstanceRemediated, AlertKind::SweepSummary]
    );
}

#[tokio::test]
async fn terminate_happens_at_pending_and_the_running_event_finds_nothing_to_do() {
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    aws.add_instance(by_hand("pending"));

    let pending = run_instance(&policy, &aws, PENDING).await;
    let running = run_instance(&policy, &aws, RUNNING).await;

    assert_eq!(pending.outcome, Outcome::Remediated);
    assert_eq!(
        aws.instance_changes(),
        vec![
            format!("CreateTags {BY_HAND}"),
            format!("TerminateInstances {BY_HAND}")
        ]
    );
    assert_eq!(running.outcome, Outcome::Ignored);
    assert_eq!(
        reason(&running),
        format!("instance `{BY_HAND}` is `shutting-down` now")
    );
    assert_eq!(kinds(&aws), vec![AlertKind::InstanceRemediated]);
    assert!(aws.published()[0].email().contains("being terminated"));
}

#[tokio::test]
async fn stop_waits_for_running_and_is_not_repeated() {
    let policy = policy(&[("GUARD_AUDIT_ACTION", "stop")]);
    let aws = account();
    aws.add_instance(by_hand("pending"));

    // EC2 cannot stop a pending instance.
    let pending = run_instance(&policy, &aws, PENDING).await;
    assert_eq!(pending.outcome, Outcome::Deferred);
    assert_eq!(pending.action, Some("stop"));
    assert_eq!(aws.mutations(), BTreeMap::new());

    set_state(&aws, BY_HAND, "running");
    let running = run_instance(&policy, &aws, RUNNING).await;
    let duplicate = run_instance(&policy, &aws, RUNNING).await;

    assert_eq!(running.outcome, Outcome::Remediated);
    assert_eq!(duplicate.outcome, Outcome::Ignored);
    assert_eq!(
        aws.instance_changes(),
        vec![
            format!("CreateTags {BY_HAND}"),
            format!("StopInstances {BY_HAND}")
        ]
    );
    assert_eq!(kinds(&aws), vec![AlertKind::InstanceRemediated]);
    assert_eq!(aws.published()[0].decision, "stop");
}

#[rstest]
#[case::audit_mode(&[("GUARD_MODE", "audit")], "the guard runs in audit mode")]
#[case::audit_only_checks(&[("GUARD_AUDIT_ONLY_CHECKS", "imds.v2,membership.unmanaged")], "these checks only report")]
#[tokio::test]
async fn reported_only_findings_are_never_remediated(
    #[case] extra: &[(&str, &str)],
    #[case] why: &str,
) {
    // Given: terminate is configured, but nothing may block
    let mut vars = vec![("GUARD_AUDIT_ACTION", "terminate")];
    vars.extend_from_slice(extra);
    let (policy, aws) = (policy(&vars), account());
    aws.add_instance(by_hand("pending"));

    // When: every trigger fires
    let pending = run_instance(&policy, &aws, PENDING).await;
    set_state(&aws, BY_HAND, "running");
    let running = run_instance(&policy, &aws, RUNNING).await;
    let sweep = run_sweep(&policy, &aws, SWEEP).await;

    // Then: reported, never changed
    assert_eq!(pending.outcome, Outcome::Deferred);
    assert_eq!(running.outcome, Outcome::Reported);
    assert_eq!(running.violations[0].blocking, false);
    assert_eq!(sweep.report.non_compliant, 1);
    assert_eq!(sweep.report.remediated, vec![]);
    assert_eq!(aws.instance_changes(), Vec::<String>::new());
    assert_eq!(aws.instance_facts(BY_HAND).unwrap().state, "running");
    assert!(aws.published()[0].email().contains(why));
}

#[tokio::test]
async fn a_failed_remediation_is_alerted_once_and_left_to_the_next_sweep() {
    let policy = policy(&[("GUARD_AUDIT_ACTION", "isolate")]);
    let aws = account();
    aws.add_instance(by_hand("pending"));
    aws.fail("ModifyInstanceAttribute");

    let summary = run_instance(&policy, &aws, PENDING).await;

    assert_eq!(summary.outcome, Outcome::RemediationFailed);
    let alerts = aws.published();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::GuardError);
    assert_eq!(
        alerts[0].subject(),
        format!("[scaling-guard] prod: isolate of non-compliant instance {BY_HAND} failed")
    );
    assert!(
        alerts[0]
            .email()
            .contains("`ModifyInstanceAttribute` failed: injected failure"),
        "{}",
        alerts[0].email()
    );
    assert_eq!(aws.calls("CreateTags"), 1, "the record only");
    let instance = aws.instance_facts(BY_HAND).unwrap();
    assert!(
        !instance.tags.contains_key(QUARANTINED_TAG),
        "no isolation tag without the group swap"
    );
    assert!(
        instance.tags.contains_key(REMEDIATED_TAG),
        "the attempt counts"
    );
}

#[tokio::test]
async fn a_failed_alert_does_not_undo_the_remediation() {
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    aws.add_instance(by_hand("running"));
    aws.fail("Publish");

    let summary = run_instance(&policy, &aws, RUNNING).await;

    assert_eq!(summary.outcome, Outcome::Remediated);
    assert_eq!(aws.instance_facts(BY_HAND).unwrap().state, "shutting-down");
}

// ---------------------------------------------------------------------------
// Failures and malformed events
// ---------------------------------------------------------------------------

#[rstest]
#[case::instance("DescribeInstances")]
#[case::hooks("DescribeLifecycleHooks")]
#[case::image("DescribeImages")]
#[tokio::test]
async fn when_facts_cannot_be_read_the_event_fails_for_a_retry_and_nothing_changes(
    #[case] operation: &'static str,
) {
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    aws.add_instance(member(
        LEGACY,
        "running",
        &[(GROUP_NAME_TAG, "prod-legacy")],
    ));
    aws.fail(operation);

    let err = run(&policy, &aws, LAUNCHED).await.unwrap_err();

    assert_eq!(
        err.to_string(),
        format!("cannot audit instance `{LEGACY}`: `{operation}` failed: injected failure")
    );
    assert_eq!(aws.mutations(), BTreeMap::new());
}

#[rstest]
#[case::not_eventbridge("{\"hello\": \"world\"}", "event is not an EventBridge event")]
#[case::lifecycle_action(include_str!("../../../../events/launch-lifecycle-action.json"), "event is not one instance-audit handles")]
#[case::missing_instance_id(
    "{\"detail-type\":\"EC2 Instance Launch Successful\",\"source\":\"aws.autoscaling\",\"detail\":{\"AutoScalingGroupName\":\"prod-legacy\"}}",
    "`EC2 Instance Launch Successful` event is missing a field"
)]
#[tokio::test]
async fn a_malformed_or_foreign_event_gets_a_clear_error_and_changes_nothing(
    #[case] event: &str,
    #[case] starts: &str,
) {
    let (policy, aws) = (policy(&[]), account());
    let err = run(&policy, &aws, event).await.unwrap_err();
    assert!(err.to_string().starts_with(starts), "{err}");
    assert_eq!(aws.mutations(), BTreeMap::new());
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "MalformedEvent");
}

// ---------------------------------------------------------------------------
// The sweep
// ---------------------------------------------------------------------------

/// 12 nodes of the guarded group that launch-guard vetted (one on an image
/// past the age limit), 6 of the hook-less group, 4 Karpenter nodes and 2
/// launched by hand.
fn cluster(aws: &FakeAws) {
    aws.add_image(ImageFacts {
        image_id: "ami-0ccc0002".into(),
        name: Some("amazon-eks-node-al2023-x86_64-standard-1.29-v20250101".into()),
        owner_alias: Some("amazon".into()),
        creation_date: Some(days_ago(120)),
        ..ImageFacts::default()
    });
    for n in 0..12 {
        let mut node = member(
            &format!("i-{n:017x}"),
            "running",
            &[(GROUP_NAME_TAG, GROUP), (VETTED_TAG, &ago(25 * 86_400))],
        );
        if n == 0 {
            node.image_id = "ami-0ccc0002".into();
        }
        aws.add_instance(node);
    }
    for n in 12..18 {
        aws.add_instance(member(
            &format!("i-{n:017x}"),
            "running",
            &[(GROUP_NAME_TAG, "prod-legacy")],
        ));
    }
    for n in 18..22 {
        aws.add_instance(member(
            &format!("i-{n:017x}"),
            "running",
            &[(KARPENTER, "default")],
        ));
    }
    for n in 22..24 {
        let mut node = member(&format!("i-{n:017x}"), "running", &[]);
        node.http_tokens = Some(HttpTokens::Optional);
        aws.add_instance(node);
    }
}

#[tokio::test]
async fn the_sweep_sends_one_summary_and_the_metric_with_bounded_calls() {
    // Given: alert only
    let (policy, aws) = (policy(&[]), account());
    cluster(&aws);

    // When
    let summary = run_sweep(&policy, &aws, SWEEP).await;

    // Then: the figures
    assert_eq!(summary.trigger, "sweep");
    assert_eq!(summary.report.instances, 24);
    assert_eq!(summary.report.non_compliant, 9);
    assert_eq!(
        wire(&summary.report.counts),
        json!({"image.age": 1, "imds.v2": 2, "membership.unmanaged": 2, "membership.unguarded_group": 6})
    );
    // Then: one alert, no per-instance alerts, nothing changed
    let alerts = aws.published();
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert.kind, AlertKind::SweepSummary);
    assert_eq!(alert.severity, Severity::Warning);
    assert_eq!(
        alert.subject(),
        "[scaling-guard] prod: sweep: 9 of 24 instances non-compliant"
    );
    assert_eq!(
        alert.details["worst"][0],
        "i-00000000000000016: imds.v2, membership.unmanaged"
    );
    assert_eq!(alert.details["worst"].as_array().unwrap().len(), 9);
    assert_eq!(alert.account.as_deref(), Some("123456789012"));
    assert_eq!(aws.instance_changes(), Vec::<String>::new());
    // Then: the metric, in one call
    let metrics = aws.metrics();
    assert_eq!(metrics.len(), 1);
    let (cluster, data) = &metrics[0];
    assert_eq!(cluster, "prod");
    assert_eq!(data[0].name, "NonCompliantInstances");
    assert_eq!(data[0].value, 9.0);
    assert_eq!(data[0].unit, MetricUnit::Count);
    // Then: one listing, hooks once per group, each image and subnet once
    assert_eq!(
        (
            aws.calls("DescribeInstances"),
            aws.calls("DescribeLifecycleHooks"),
            aws.calls("DescribeImages"),
            aws.calls("DescribeSubnets"),
        ),
        (1, 2, 2, 1)
    );
}

#[tokio::test]
async fn the_sweep_remediates_only_unvetted_instances_and_reports_what_it_did() {
    // Given: isolate, and the cluster above
    let policy = policy(&[("GUARD_AUDIT_ACTION", "isolate")]);
    let aws = account();
    cluster(&aws);

    // When
    let summary = run_sweep(&policy, &aws, SWEEP).await;

    // Then: the hook-less group's and the hand-launched nodes are isolated,
    // the guarded group's aged node is only reported
    let remediated: Vec<&str> = summary
        .report
        .remediated
        .iter()
        .map(|r| r.instance_id.as_str())
        .collect();
    assert_eq!(remediated.len(), 8);
    assert!(!remediated.contains(&"i-00000000000000000"), "vetted drift");
    assert_eq!(
        aws.instance_facts("i-00000000000000000")
            .unwrap()
            .security_group_ids,
        vec!["sg-0bbb0001".to_owned()]
    );
    let alerts = aws.published();
    assert_eq!(alerts.len(), 1, "one summary, no per-instance alerts");
    assert_eq!(alerts[0].severity, Severity::Warning);
    assert_eq!(
        alerts[0].subject(),
        "[scaling-guard] prod: sweep: 9 of 24 instances non-compliant, 8 remediated"
    );
    assert_eq!(
        alerts[0].details["remediated"][0],
        "i-0000000000000000c isolate"
    );
    assert_eq!(aws.metrics()[0].1[1].value, 8.0);

    // When: the next sweep
    let next = run_sweep(&policy, &aws, SWEEP).await;

    // Then: nothing more to do
    assert_eq!(next.report.already_remediated, 8);
    assert_eq!(next.report.remediated, vec![]);
    assert_eq!(
        aws.instance_changes().len(),
        24,
        "8 records, 8 swaps and 8 isolation tags, once"
    );
}

#[tokio::test]
async fn the_sweep_changes_at_most_its_limit_of_instances_per_run() {
    let policy = policy(&[("GUARD_AUDIT_ACTION", "stop")]);
    let aws = account();
    for n in 0..(MAX_REMEDIATIONS_PER_SWEEP + 5) {
        aws.add_instance(member(&format!("i-{n:017x}"), "running", &[]));
    }

    let summary = run_sweep(&policy, &aws, SWEEP).await;

    assert_eq!(summary.report.remediated.len(), MAX_REMEDIATIONS_PER_SWEEP);
    assert_eq!(summary.report.deferred, 5);
    assert_eq!(aws.calls("StopInstances"), MAX_REMEDIATIONS_PER_SWEEP);
}

#[tokio::test]
async fn a_clean_sweep_is_an_info_summary_with_a_zero_metric() {
    let (policy, aws) = (policy(&[]), account());
    aws.add_instance(member(
        "i-00000000000000001",
        "running",
        &[(GROUP_NAME_TAG, GROUP)],
    ));

    run(&policy, &aws, SWEEP).await.unwrap();

    let alerts = aws.published();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].severity, Severity::Info);
    assert_eq!(
        alerts[0].subject(),
        "[scaling-guard] prod: sweep: all 1 instances compliant"
    );
    assert_eq!(aws.metrics()[0].1[0].value, 0.0);
}

#[tokio::test]
async fn instances_whose_facts_cannot_be_read_are_unchecked_and_not_remediated() {
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    aws.add_instance(member(
        "i-00000000000000001",
        "running",
        &[(GROUP_NAME_TAG, "prod-legacy")],
    ));
    aws.fail("DescribeLifecycleHooks");

    let summary = run_sweep(&policy, &aws, SWEEP).await;

    assert_eq!(
        wire(&summary.report.unchecked),
        json!([{"instance_id": "i-00000000000000001", "reason": "`DescribeLifecycleHooks` failed: injected failure"}])
    );
    assert_eq!(aws.instance_changes(), Vec::<String>::new());
    assert_eq!(aws.published()[0].severity, Severity::Warning);
}

#[tokio::test]
async fn failed_remediations_make_the_summary_critical() {
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    aws.add_instance(member("i-00000000000000001", "running", &[]));
    aws.fail("TerminateInstances");

    let summary = run_sweep(&policy, &aws, SWEEP).await;

    assert_eq!(
        summary.report.failed[0]
            .error
            .as_deref()
            .unwrap_or_default(),
        "`TerminateInstances` failed: injected failure"
    );
    assert_eq!(aws.published()[0].severity, Severity::Critical);
}

#[tokio::test]
async fn when_the_cluster_cannot_be_listed_the_sweep_fails_without_an_alert() {
    let (policy, aws) = (policy(&[]), account());
    aws.fail("DescribeInstances");

    let err = run(&policy, &aws, SWEEP).await.unwrap_err();

    assert_eq!(
        err.to_string(),
        "cannot list the cluster's instances: `DescribeInstances` failed: injected failure"
    );
    assert_eq!(aws.mutations(), BTreeMap::new());
}

#[tokio::test]
async fn a_failed_metric_does_not_stop_the_summary() {
    let (policy, aws) = (policy(&[]), account());
    aws.fail("PutMetricData");
    run(&policy, &aws, SWEEP).await.unwrap();
    assert_eq!(kinds(&aws), vec![AlertKind::SweepSummary]);
}

#[tokio::test]
async fn a_repeated_event_does_not_report_the_same_finding_twice() {
    // Given: an unmanaged instance, alert action, one execution environment
    let (policy, aws) = (policy(&[]), account());
    aws.add_instance(by_hand("running"));
    let auditor = Auditor::new(&policy, &aws);

    // When: EventBridge delivers the running event twice
    let first = instance_of(
        auditor
            .handle(serde_json::from_str(RUNNING).unwrap())
            .await
            .unwrap(),
    );
    let again = instance_of(
        auditor
            .handle(serde_json::from_str(RUNNING).unwrap())
            .await
            .unwrap(),
    );

    // Then: one alert; the repeat says so
    assert_eq!(first.outcome, Outcome::Reported);
    assert_eq!(reason(&again), "already reported");
    assert_eq!(kinds(&aws), vec![AlertKind::InstanceNonCompliant]);
}

// ---------------------------------------------------------------------------
// Vetted means launch-guard recorded its decision (issue 9 §3)
// ---------------------------------------------------------------------------

/// launch-guard's record of a launch it checked and let in (enforce mode).
const VETTED: &str = VETTED_TAG;

/// The launch-successful sample, for an instance of the guarded group.
fn launched_in_general(id: &str) -> String {
    with(LAUNCHED, |e| {
        e["detail"]["AutoScalingGroupName"] = json!(GROUP);
        e["detail"]["EC2InstanceId"] = json!(id);
    })
}

/// A node of the guarded group with IMDSv1 on, launched `age` ago.
fn general_node_with_imdsv1(id: &str, state: &str, age: Duration) -> InstanceFacts {
    let mut instance = member(id, state, &[(GROUP_NAME_TAG, GROUP)]);
    instance.http_tokens = Some(HttpTokens::Optional);
    instance.launch_time = Some(now() - age);
    instance
}

#[tokio::test]
async fn a_guarded_groups_instance_without_launch_guards_record_is_remediated_like_any_unvetted_one()
 {
    // Given: terminate; a node of the hooked group that launch-guard never
    // recorded (admitted by the hook's DefaultResult after its timeout)
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    aws.add_instance(general_node_with_imdsv1(
        LEGACY,
        "running",
        Duration::from_secs(3700),
    ));

    // When: its group reports the launch successful
    let summary = run_instance(&policy, &aws, &launched_in_general(LEGACY)).await;

    // Then: checked like any unvetted instance, and remediated
    assert_eq!(summary.outcome, Outcome::Remediated, "{summary:?}");
    assert_eq!(group(&summary), "prod-general");
    assert_eq!(
        checks(&summary),
        vec!["imds.v2"],
        "a hooked group is not unguarded"
    );
    assert!(
        aws.instance_changes()
            .contains(&format!("TerminateInstances {LEGACY}")),
        "{:?}",
        aws.instance_changes()
    );
    let alerts = aws.published();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::InstanceRemediated);
    let email = alerts[0].email();
    assert!(
        email.contains("carries the hook but launch-guard never recorded a decision on it: admitted by the hook's DefaultResult, by the fail mode, or before the hook"),
        "{email}"
    );
}

#[tokio::test]
async fn a_guarded_groups_instance_with_launch_guards_record_is_vetted_and_left_alone() {
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    let mut instance = general_node_with_imdsv1(LEGACY, "running", Duration::from_secs(60));
    instance.tags.insert(VETTED.into(), ago(50));
    aws.add_instance(instance);

    let summary = run_instance(&policy, &aws, &launched_in_general(LEGACY)).await;

    assert_eq!(summary.outcome, Outcome::Vetted, "{summary:?}");
    assert_eq!(aws.mutations(), BTreeMap::new());
}

#[tokio::test]
async fn a_guarded_groups_new_instance_is_left_to_launch_guard_until_its_launch_completes() {
    // Given: a node of the hooked group a minute old, not recorded yet:
    // launch-guard may still be deciding it (Pending:Wait)
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    aws.add_instance(general_node_with_imdsv1(
        BY_HAND,
        "pending",
        Duration::from_secs(60),
    ));

    // When: EC2's pending event, and a sweep
    let pending = run_instance(&policy, &aws, PENDING).await;
    let sweep = run_sweep(&policy, &aws, SWEEP).await;

    // Then: nothing changed; the event waits for the launch to complete
    assert_eq!(pending.outcome, Outcome::Deferred, "{pending:?}");
    assert_eq!(
        reason(&pending),
        "launch-guard has not decided it yet: audited when group `prod-general` reports the launch successful"
    );
    assert_eq!(sweep.report.remediated, vec![], "{sweep:?}");
    assert_eq!(aws.instance_changes(), Vec::<String>::new());
}

#[tokio::test]
async fn the_sweep_remediates_a_guarded_groups_old_instance_that_no_one_vetted() {
    // Given: two old nodes of the hooked group with IMDSv1, one recorded by
    // launch-guard, one launched before the hook was added
    let policy = policy(&[("GUARD_AUDIT_ACTION", "stop")]);
    let aws = account();
    let week = Duration::from_secs(7 * 86_400);
    let mut vetted = general_node_with_imdsv1("i-00000000000000001", "running", week);
    vetted.tags.insert(VETTED.into(), ago(7 * 86_400));
    aws.add_instance(vetted);
    aws.add_instance(general_node_with_imdsv1(
        "i-00000000000000002",
        "running",
        week,
    ));

    // When
    let summary = run_sweep(&policy, &aws, SWEEP).await;

    // Then: only the unvetted one is stopped; both are reported
    assert_eq!(summary.report.non_compliant, 2, "{summary:?}");
    assert_eq!(
        wire(&summary.report.remediated),
        json!([{"instance_id": "i-00000000000000002", "action": "stop"}])
    );
    assert_eq!(
        aws.instance_facts("i-00000000000000001").unwrap().state,
        "running"
    );
}

#[tokio::test]
async fn audit_mode_changes_nothing_on_an_unvetted_instance_of_a_guarded_group() {
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate"), ("GUARD_MODE", "audit")]);
    let aws = account();
    aws.add_instance(general_node_with_imdsv1(
        LEGACY,
        "running",
        Duration::from_secs(3700),
    ));

    let summary = run_instance(&policy, &aws, &launched_in_general(LEGACY)).await;
    let sweep = run_sweep(&policy, &aws, SWEEP).await;

    assert_eq!(summary.outcome, Outcome::Reported, "{summary:?}");
    assert_eq!(sweep.report.remediated, vec![]);
    assert_eq!(aws.instance_changes(), Vec::<String>::new());
    assert!(aws.published()[0].email().contains("audit mode"));
}

// ---------------------------------------------------------------------------
// Event-path remediation is capped per hour, across environments (issue 9 §4)
// ---------------------------------------------------------------------------

/// The guard's record of a remediation, written before the change.
const REMEDIATED: &str = REMEDIATED_TAG;

/// `count` cluster instances the guard remediated `ago`, now in `state`.
fn remediated_earlier(aws: &FakeAws, count: usize, ago: Duration, state: &str) {
    for n in 0..count {
        let mut instance = member(&format!("i-0a{n:015x}"), state, &[]);
        instance
            .tags
            .insert(REMEDIATED.into(), shared::time::format_rfc3339(now() - ago));
        aws.add_instance(instance);
    }
}

fn running_event(id: &str) -> String {
    with(RUNNING, |e| e["detail"]["instance-id"] = json!(id))
}

#[tokio::test]
async fn every_remediation_is_recorded_on_the_instance_before_the_change() {
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    aws.add_instance(by_hand("pending"));

    let summary = run_instance(&policy, &aws, PENDING).await;

    assert_eq!(summary.outcome, Outcome::Remediated);
    assert_eq!(
        aws.instance_changes(),
        vec![
            format!("CreateTags {BY_HAND}"),
            format!("TerminateInstances {BY_HAND}")
        ]
    );
    assert_eq!(
        aws.instance_facts(BY_HAND).unwrap().tags[REMEDIATED],
        NOW_RFC3339
    );
}

#[tokio::test]
async fn event_path_remediations_stop_at_the_hourly_cap_across_environments_and_alert_once() {
    // Given: terminate, and the default cap (20 an hour) already reached by
    // remediations of other execution environments: 12 instances since
    // terminated, 8 stopped, all within the last hour
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    remediated_earlier(&aws, 12, Duration::from_secs(50 * 60), "terminated");
    let mut stopped = Vec::new();
    for n in 0..8 {
        let id = format!("i-0b{n:015x}");
        let mut instance = member(&id, "stopped", &[]);
        instance.tags.insert(
            REMEDIATED.into(),
            shared::time::format_rfc3339(now() - Duration::from_secs(600)),
        );
        aws.add_instance(instance);
        stopped.push(id);
    }
    let held = ["i-0c000000000000001", "i-0c000000000000002"];
    for id in held {
        let mut instance = by_hand("running");
        instance.instance_id = id.into();
        aws.add_instance(instance);
    }

    // When: two new unmanaged instances run, each event in a fresh environment
    let first = run_instance(&policy, &aws, &running_event(held[0])).await;
    let second = run_instance(&policy, &aws, &running_event(held[1])).await;

    // Then: both held, nothing changed, one alert that says why
    assert_eq!(first.outcome, Outcome::Capped, "{first:?}");
    assert_eq!(second.outcome, Outcome::Capped, "{second:?}");
    for id in held {
        assert_eq!(aws.instance_facts(id).unwrap().state, "running");
    }
    assert_eq!(aws.calls("TerminateInstances"), 0);
    for id in held {
        assert_eq!(
            aws.instance_facts(id).unwrap().tags[REMEDIATION_HELD_TAG],
            NOW_RFC3339,
            "the hold records when the cap was alerted"
        );
    }
    let alerts = aws.published();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].kind.as_str(), "remediation_capped");
    assert_eq!(alerts[0].severity, Severity::Critical);
    assert!(
        alerts[0]
            .email()
            .contains("GUARD_MAX_REMEDIATIONS_PER_HOUR"),
        "{}",
        alerts[0].email()
    );
}

#[tokio::test]
async fn remediations_older_than_an_hour_no_longer_count() {
    let policy = policy(&[("GUARD_AUDIT_ACTION", "terminate")]);
    let aws = account();
    remediated_earlier(&aws, 25, Duration::from_secs(61 * 60), "stopped");
    aws.add_instance(by_hand("running"));

    let summary = run_instance(&policy, &aws, RUNNING).await;

    assert_eq!(summary.outcome, Outcome::Remediated, "{summary:?}");
}

#[tokio::test]
async fn the_sweep_shares_the_hourly_cap_with_the_event_path() {
    // Given: 18 remediations within the hour, 5 unmanaged running instances
    let policy = policy(&[("GUARD_AUDIT_ACTION", "stop")]);
    let aws = account();
    remediated_earlier(&aws, 18, Duration::from_secs(30 * 60), "stopped");
    for n in 0..5 {
        aws.add_instance(member(&format!("i-0d{n:015x}"), "running", &[]));
    }

    // When
    let summary = run_sweep(&policy, &aws, SWEEP).await;

    // Then: 2 more fit the hour; 3 are held and the summary says so
    assert_eq!(summary.report.remediated.len(), 2, "{summary:?}");
    assert_eq!(summary.report.capped, 3, "{summary:?}");
    assert_eq!(aws.calls("StopInstances"), 2);
    let alerts = aws.published();
    assert_eq!(alerts.len(), 1, "the summary only");
    assert_eq!(alerts[0].details["capped"], 3);
}

// ---------------------------------------------------------------------------
// The checks of issue 12, and exceptions per group
// ---------------------------------------------------------------------------

mod second_round {
    use pretty_assertions::assert_eq;
    use shared::facts::VolumeFacts;
    use shared::fixtures::{AL2023_PARAMETER, KMS_KEY, MORE_NODE_SETTINGS};

    use super::*;

    fn every_check(extra: &[(&str, &str)]) -> Policy {
        policy(&[&MORE_NODE_SETTINGS[..], extra].concat())
    }

    /// [`account`] with AWS's recommended 1.31 image ten days newer than
    /// the nodes', and one encrypted volume per node of [`node`].
    fn with_recommended() -> FakeAws {
        let aws = account();
        aws.add_image(ImageFacts {
            image_id: "ami-0ccc0009".into(),
            name: Some("amazon-eks-node-al2023-x86_64-standard-1.31-v20261111".into()),
            owner_alias: Some("amazon".into()),
            creation_date: Some(days_ago(15)),
            ..ImageFacts::default()
        });
        aws.add_public_parameter(AL2023_PARAMETER, "ami-0ccc0009");
        aws
    }

    /// A compliant node (hop limit 1, one encrypted volume), tagged `tags`.
    fn node(aws: &FakeAws, id: &str, tags: &[(&str, &str)]) -> InstanceFacts {
        let mut instance = member(id, "running", tags);
        instance.http_put_response_hop_limit = Some(1);
        let volume = format!("vol-{}", &id[2..]);
        instance.volume_ids = vec![volume.clone()];
        aws.add_volume(VolumeFacts {
            volume_id: volume,
            encrypted: true,
            kms_key_id: Some(KMS_KEY.into()),
        });
        instance
    }

    #[rstest]
    #[case::hop_limit(|i: &mut InstanceFacts| i.http_put_response_hop_limit = Some(3), "imds.hop_limit")]
    #[case::key_pair(|i: &mut InstanceFacts| i.key_name = Some("ops".into()), "instance.key_pair")]
    #[case::unencrypted_volume(|i: &mut InstanceFacts| i.volume_ids.push("vol-0unencrypted".into()), "volumes.encrypted")]
    #[case::image_of_another_kubernetes_version(|i: &mut InstanceFacts| i.image_id = "ami-0ccc0130".into(), "image.outdated")]
    #[tokio::test]
    async fn each_new_check_runs_on_a_running_instance(
        #[case] breaker: Breaker,
        #[case] check: &str,
    ) {
        let (policy, aws) = (every_check(&[]), with_recommended());
        aws.add_volume(VolumeFacts {
            volume_id: "vol-0unencrypted".into(),
            ..VolumeFacts::default()
        });
        aws.add_image(ImageFacts {
            image_id: "ami-0ccc0130".into(),
            name: Some("amazon-eks-node-al2023-x86_64-standard-1.30-v20261101".into()),
            owner_alias: Some("amazon".into()),
            creation_date: Some(days_ago(25)),
            ..ImageFacts::default()
        });
        let mut instance = node(&aws, BY_HAND, &[(KARPENTER, "gpu")]);
        breaker(&mut instance);
        aws.add_instance(instance);

        let summary = run_instance(&policy, &aws, RUNNING).await;

        assert_eq!(summary.outcome, Outcome::Reported, "{summary:#?}");
        assert_eq!(checks(&summary), vec![check]);
        assert_eq!(kinds(&aws), vec![AlertKind::InstanceNonCompliant]);
    }

    #[tokio::test]
    async fn the_sweep_reads_every_volume_in_one_call_and_the_recommended_images_once() {
        let (policy, aws) = (every_check(&[]), with_recommended());
        for n in 0..30 {
            let id = format!("i-{n:017x}");
            aws.add_instance(node(&aws, &id, &[(KARPENTER, "default")]));
        }
        let mut bad = node(&aws, "i-0bad0000000000001", &[(KARPENTER, "default")]);
        bad.http_put_response_hop_limit = Some(2);
        aws.add_instance(bad);

        let sweep = run_sweep(&policy, &aws, SWEEP).await;

        assert_eq!(sweep.report.instances, 31, "{sweep:#?}");
        assert_eq!(sweep.report.non_compliant, 1);
        assert_eq!(
            (aws.calls("DescribeVolumes"), aws.calls("GetParameters")),
            (1, 1)
        );
    }

    #[tokio::test]
    async fn an_exempted_check_is_listed_never_remediated_and_not_counted() {
        let policy = every_check(&[
            ("GUARD_AUDIT_ACTION", "terminate"),
            ("GUARD_CHECK_EXCEPTIONS", "imds.hop_limit@prod-gen*"),
        ]);
        let aws = with_recommended();
        let mut instance = node(&aws, BY_HAND, &[(GROUP_NAME_TAG, GROUP)]);
        instance.http_put_response_hop_limit = Some(2);
        aws.add_instance(instance);

        let running = run_instance(&policy, &aws, RUNNING).await;
        let sweep = run_sweep(&policy, &aws, SWEEP).await;

        assert_eq!(running.outcome, Outcome::Compliant, "{running:#?}");
        assert_eq!(running.violations, vec![]);
        assert_eq!(running.exempted[0].check.as_str(), "imds.hop_limit");
        assert_eq!(sweep.report.non_compliant, 0, "{sweep:#?}");
        assert_eq!(wire(&sweep.report.exempted), json!({"imds.hop_limit": 1}));
        assert_eq!(
            aws.published()[0].details["exempted"],
            json!({"imds.hop_limit": 1})
        );
        assert_eq!(aws.instance_changes(), Vec::<String>::new());
        assert_eq!(kinds(&aws), vec![AlertKind::SweepSummary]);
    }

    #[tokio::test]
    async fn when_the_recommended_images_cannot_be_read_the_instance_is_not_audited() {
        let (policy, aws) = (every_check(&[]), with_recommended());
        aws.add_instance(node(&aws, BY_HAND, &[(KARPENTER, "gpu")]));
        aws.fail("GetParameters");

        let sweep = run_sweep(&policy, &aws, SWEEP).await;

        assert_eq!(sweep.report.non_compliant, 0, "{sweep:#?}");
        assert_eq!(sweep.report.unchecked[0].instance_id, BY_HAND);
    }
}

mod batch;

mod nodepool;

mod managed;

mod managed_node_group;

mod security_hub;
