use pretty_assertions::assert_eq;
use serde_json::json;
use shared::checks::membership::GROUP_NAME_TAG;
use shared::facts::{HttpTokens, InstanceFacts};
use shared::fixtures::at;

use super::*;
use crate::fixtures::{GROUP, cluster, node, now, policy, waiting};

async fn audit(policy: &Policy, aws: &shared::fakes::FakeAws) -> AuditReport {
    run(policy, aws, now()).await.unwrap()
}

/// The text `audit` prints: [`write_text`] collected.
fn render(report: &AuditReport) -> String {
    let mut out = Vec::new();
    write_text(report, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn imdsv1(id: &str) -> InstanceFacts {
    let mut instance = node(id, Some(GROUP));
    instance.http_tokens = Some(HttpTokens::Optional);
    instance
}

#[tokio::test]
async fn a_clean_cluster_prints_one_ok_row_per_instance_and_exits_0() {
    let aws = cluster(vec![
        node("i-0000000000000000a", Some(GROUP)),
        node("i-0000000000000000b", Some(GROUP)),
    ]);

    let report = audit(&policy(&[]), &aws).await;

    assert_eq!(report.outcome(), ExitStatus::Clean);
    assert_eq!(
        render(&report),
        "cluster prod (tag `kubernetes.io/cluster/prod`), mode enforce, 2026-09-21T14:13:20Z\n\
         \n\
         INSTANCE             GROUP         TYPE       STATE    CHECKS\n\
         i-0000000000000000a  prod-general  m6i.large  running  ok\n\
         i-0000000000000000b  prod-general  m6i.large  running  ok\n\
         \n\
         2 instance(s): 2 compliant, 0 non-compliant\n"
    );
}

#[tokio::test]
async fn violations_are_listed_per_instance_with_whether_they_block_and_exit_1() {
    let mut karpenter = node("i-0000000000000000c", None);
    karpenter
        .tags
        .insert("karpenter.sh/nodepool".into(), "default".into());
    let aws = cluster(vec![
        node("i-0000000000000000a", Some(GROUP)),
        imdsv1("i-0000000000000000b"),
        karpenter,
        node("i-0000000000000000d", None),
    ]);

    let report = audit(&policy(&[("GUARD_AUDIT_ONLY_CHECKS", "imds.v2")]), &aws).await;

    assert_eq!(report.outcome(), ExitStatus::Found);
    assert_eq!(
        render(&report),
        "cluster prod (tag `kubernetes.io/cluster/prod`), mode enforce, 2026-09-21T14:13:20Z\n\
         \n\
         INSTANCE             GROUP                    TYPE       STATE    CHECKS\n\
         i-0000000000000000a  prod-general             m6i.large  running  ok\n\
         i-0000000000000000b  prod-general             m6i.large  running  imds.v2\n\
         i-0000000000000000c  (karpenter.sh/nodepool)  m6i.large  running  ok\n\
         i-0000000000000000d  (none)                   m6i.large  running  membership.unmanaged\n\
         \n\
         violations:\n\
         INSTANCE             CHECK                 BLOCKING  MESSAGE\n\
         i-0000000000000000b  imds.v2               no        instance `i-0000000000000000b` allows IMDSv1 (HttpTokens=optional); set the launch template's metadata option HttpTokens to `required`\n\
         i-0000000000000000d  membership.unmanaged  yes       instance `i-0000000000000000d` joined cluster `prod` outside any Auto Scaling group and was not launched by an allowed launcher\n\
         \n\
         4 instance(s): 2 compliant, 2 non-compliant\n"
    );
}

#[tokio::test]
async fn the_json_document_has_the_summary_every_instance_and_its_findings() {
    let aws = cluster(vec![
        node("i-0000000000000000a", Some(GROUP)),
        node("i-0000000000000000d", None),
    ]);

    let report = audit(&policy(&[]), &aws).await;
    let json = serde_json::to_value(&report).unwrap();

    assert_eq!(
        *at(&json, "summary"),
        json!({"instances": 2, "non_compliant": 1, "unchecked": 0, "counts": {"membership.unmanaged": 1}})
    );
    assert_eq!(*at(&json, "budget"), json!(null));
    assert_eq!(
        *at(&json, "instances/0"),
        json!({
            "instance_id": "i-0000000000000000a", "group": "prod-general",
            "membership": "guarded_group", "instance_type": "m6i.large",
            "state": "running", "compliant": true, "violations": []
        })
    );
    let unmanaged = at(&json, "instances/1");
    assert_eq!(*at(unmanaged, "membership"), "unmanaged");
    assert_eq!(*at(unmanaged, "group"), json!(null));
    assert_eq!(*at(unmanaged, "violations/0/check"), "membership.unmanaged");
    assert_eq!(*at(unmanaged, "violations/0/blocking"), true);
    assert_eq!(
        *at(unmanaged, "violations/0/resource"),
        "i-0000000000000000d"
    );
}

#[tokio::test]
async fn budget_usage_is_shown_per_dimension_without_instances_waiting_for_launch_guard() {
    let aws = cluster(vec![
        node("i-0000000000000000a", Some(GROUP)),
        node("i-0000000000000000b", Some(GROUP)),
        node("i-0000000000000000c", Some(GROUP)),
    ]);
    waiting(&aws, "i-0000000000000000c");
    let policy = policy(&[
        ("GUARD_MAX_VCPUS", "5"),
        ("GUARD_MAX_INSTANCES", "2"),
        ("GUARD_SUSPEND_AT_PERCENT", "80"),
        ("GUARD_RESUME_BELOW_PERCENT", "50"),
    ]);

    let report = audit(&policy, &aws).await;

    let budget = report.budget.clone().unwrap();
    assert_eq!(budget.waiting_for_decision, 1);
    assert_eq!(
        budget.dimensions,
        vec![
            DimensionRow {
                check: CheckName::BudgetVcpus,
                name: "vcpus",
                used: 4,
                max: 5,
                percent: 80.0,
                status: BudgetStatus::Suspend,
            },
            DimensionRow {
                check: CheckName::BudgetInstances,
                name: "instances",
                used: 2,
                max: 2,
                percent: 100.0,
                status: BudgetStatus::Suspend,
            },
        ]
    );
    assert_eq!(
        report.outcome(),
        ExitStatus::Clean,
        "at the budget is not over it"
    );
    let text = render(&report);
    assert!(
        text.contains(
            "\nBUDGET     USED  MAX  PERCENT  STATUS\n\
             vcpus      4     5    80.0%    at or above 80%: budget-guard suspends scale-out\n\
             instances  2     2    100.0%   at or above 80%: budget-guard suspends scale-out\n\
             (1 instance(s) waiting in Pending:Wait for launch-guard are not counted)\n"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn usage_over_a_budget_is_a_violation() {
    let aws = cluster(vec![
        node("i-0000000000000000a", Some(GROUP)),
        node("i-0000000000000000b", Some(GROUP)),
    ]);

    let report = audit(&policy(&[("GUARD_MAX_INSTANCES", "1")]), &aws).await;

    let dims = report.budget.clone().unwrap().dimensions;
    assert_eq!(dims[0].status, BudgetStatus::Over);
    assert_eq!(report.outcome(), ExitStatus::Found);
    assert!(render(&report).contains("instances  2     1    200.0%   over budget\n"));
}

#[tokio::test]
async fn the_audit_only_reads() {
    let aws = cluster(vec![node("i-0000000000000000d", None)]);

    audit(
        &policy(&[
            ("GUARD_AUDIT_ACTION", "terminate"),
            ("GUARD_MAX_VCPUS", "1"),
        ]),
        &aws,
    )
    .await;

    assert_eq!(aws.mutations(), BTreeMap::new());
    assert!(aws.published().is_empty());
    assert_eq!(
        aws.instance_facts("i-0000000000000000d").unwrap().state,
        "running"
    );
}

#[tokio::test]
async fn an_instance_whose_facts_cannot_be_read_makes_the_audit_incomplete() {
    let aws = cluster(vec![node("i-0000000000000000a", Some(GROUP))]);
    aws.fail("DescribeImages");

    let report = audit(&policy(&[]), &aws).await;

    assert_eq!(report.outcome(), ExitStatus::Error);
    assert_eq!(report.summary.unchecked, 1);
    let text = render(&report);
    assert!(text.contains("running  unchecked (see below)\n"), "{text}");
    assert!(
        text.contains("not audited: `DescribeImages` failed: injected failure\n"),
        "{text}"
    );
    assert!(text.ends_with("1 instance(s): 0 compliant, 0 non-compliant, 1 unchecked\n"));
}

#[tokio::test]
async fn unknown_usage_makes_the_audit_incomplete() {
    let mut odd = node("i-0000000000000000a", Some(GROUP));
    odd.instance_type = "m6i.odd".into();
    let aws = cluster(vec![odd]);

    let report = audit(&policy(&[("GUARD_MAX_VCPUS", "8")]), &aws).await;

    assert_eq!(report.outcome(), ExitStatus::Error);
    assert!(render(&report).contains(
        "budget: usage cannot be measured: instance type `m6i.odd` is unknown, so its capacity cannot be counted\n"
    ));
}

#[tokio::test]
async fn an_empty_cluster_is_clean() {
    let report = audit(&policy(&[]), &cluster(vec![])).await;
    assert_eq!(report.outcome(), ExitStatus::Clean);
    assert!(render(&report).contains("\nno cluster instance is pending or running\n"));
}

#[tokio::test]
async fn when_the_instances_cannot_be_listed_the_audit_fails() {
    let aws = cluster(vec![]);
    aws.fail("DescribeInstances");
    let err = run(&policy(&[]), &aws, now()).await.unwrap_err();
    assert_eq!(err.operation, "DescribeInstances");
}

#[tokio::test]
async fn the_new_checks_run_and_an_exempted_violation_is_shown_but_not_counted() {
    let mut unencrypted = node("i-0000000000000000a", Some(GROUP));
    unencrypted.volume_ids = vec!["vol-0a".into()];
    let mut hops = node("i-0000000000000000b", Some(GROUP));
    hops.http_put_response_hop_limit = Some(2);
    let aws = cluster(vec![unencrypted, hops]);
    aws.add_volume(shared::facts::VolumeFacts {
        volume_id: "vol-0a".into(),
        encrypted: false,
        kms_key_id: None,
    });
    let policy = policy(&[
        ("GUARD_REQUIRE_ENCRYPTED_VOLUMES", "true"),
        ("GUARD_MAX_IMDS_HOP_LIMIT", "1"),
        ("GUARD_CHECK_EXCEPTIONS", "imds.hop_limit@prod-general"),
    ]);

    let report = audit(&policy, &aws).await;

    assert_eq!(report.outcome(), ExitStatus::Found);
    assert_eq!(aws.calls("DescribeVolumes"), 1);
    let text = render(&report);
    assert!(
        text.contains("\ni-0000000000000000a  volumes.encrypted  yes       volume `vol-0a` of instance `i-0000000000000000a` is not encrypted"),
        "{text}"
    );
    assert!(
        text.contains("\ni-0000000000000000b  imds.hop_limit     exempted  instance `i-0000000000000000b` lets metadata responses"),
        "{text}"
    );
    assert!(
        text.ends_with("2 instance(s): 1 compliant, 1 non-compliant\n"),
        "{text}"
    );
}

#[tokio::test]
async fn the_cluster_is_listed_once_for_the_audit_and_the_budget() {
    let aws = cluster(vec![
        node("i-0000000000000000a", Some(GROUP)),
        node("i-0000000000000000b", None),
    ]);

    let report = audit(&policy(&[("GUARD_MAX_INSTANCES", "10")]), &aws).await;

    assert_eq!(aws.calls("DescribeInstances"), 1, "one listing, shared");
    assert_eq!(report.summary.instances, 2);
    assert_eq!(report.budget.unwrap().usage.unwrap().instances, 2);
}

#[tokio::test]
async fn groups_that_cannot_be_read_leave_the_budget_unmeasured_and_the_instances_audited() {
    let aws = cluster(vec![node("i-0000000000000000a", Some(GROUP))]);
    aws.fail("DescribeAutoScalingGroups");

    let report = audit(&policy(&[("GUARD_MAX_INSTANCES", "10")]), &aws).await;

    assert_eq!(report.summary.instances, 1);
    assert_eq!(report.summary.unchecked, 0);
    let error = report.budget.clone().unwrap().error.unwrap();
    assert!(error.contains("DescribeAutoScalingGroups"), "{error}");
    assert_eq!(
        report.outcome(),
        ExitStatus::Error,
        "the audit is incomplete"
    );
}

#[tokio::test]
async fn with_a_shared_tag_key_only_the_clusters_own_nodes_are_audited() {
    // Given: every node tagged eks:cluster-name, one of them staging's
    let eks = |id: &str, cluster: &str| {
        let mut instance = node(id, Some(GROUP));
        instance.tags = [
            ("eks:cluster-name".to_owned(), cluster.to_owned()),
            (GROUP_NAME_TAG.to_owned(), GROUP.to_owned()),
        ]
        .into();
        instance
    };
    let aws = cluster(vec![
        eks("i-0000000000000000a", "prod"),
        eks("i-0000000000000000b", "staging"),
    ]);
    aws.update_group(GROUP, |group| {
        group.tags = [("eks:cluster-name".to_owned(), "prod".to_owned())].into();
    });
    let policy = policy(&[
        ("GUARD_CLUSTER_TAG_KEY", "eks:cluster-name"),
        ("GUARD_CLUSTER_TAG_VALUE", "prod"),
    ]);

    // When
    let report = audit(&policy, &aws).await;

    // Then
    let ids: Vec<&str> = report
        .instances
        .iter()
        .map(|row| row.instance_id.as_str())
        .collect();
    assert_eq!(ids, ["i-0000000000000000a"]);
    assert_eq!(report.cluster_tag_value.as_deref(), Some("prod"));
    assert!(
        render(&report).starts_with("cluster prod (tag `eks:cluster-name=prod`), mode enforce"),
        "{}",
        render(&report)
    );
}
