//! `scaling-guard audit --timeout` and `scaling-guard org audit` end to end:
//! the built CLI against the emulator, with clusters seeded in several
//! accounts (each acting as its own account: [`accounts`]), an account that
//! denies the audit role, and a slow `DescribeInstances` whose pages take
//! longer the more they ask for.
//!
//! Build the binary first: `cargo build -p scaling-guard`.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
use scaling_guard_e2e::{
    CliRun as Run, Clients, Cluster, Emulator, REGION, SlowPages, accounts, operator_cli,
};
use serde_json::{Value, json};

/// Runs the CLI against `emulator` with `policy`, then `env` (credentials
/// of another account, say), and `args`.
fn cli(
    emulator: &Emulator,
    policy: &BTreeMap<String, String>,
    env: &[(String, String)],
    args: &[&str],
) -> Run {
    let mut command = operator_cli(Some(&emulator.endpoint())).unwrap();
    command.envs(policy).envs(env.iter().cloned()).args(args);
    Run::of(command)
}

/// The report's instance rows, by id.
fn rows_by_id(report: &Value) -> BTreeMap<String, Value> {
    report["instances"]
        .as_array()
        .unwrap_or_else(|| panic!("no instances: {report}"))
        .iter()
        .map(|row| (row["instance_id"].as_str().unwrap().to_owned(), row.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_endpoint_shrinks_the_pages_and_the_audit_completes_with_the_same_findings() {
    let emulator = Emulator::start().unwrap();
    let cluster = Cluster::seed(&Clients::new(&emulator).await).await.unwrap();
    cluster.run_nodes(300).await.unwrap();
    let policy = cluster.policy_env();
    let baseline = cli(&emulator, &policy, &[], &["audit", "--format", "json"]);
    assert_ne!(baseline.code, 2, "{baseline:#?}");

    // A page of 1000 takes 3 s, past the 2 s timeout; one of 250, 0.75 s.
    let slow = SlowPages {
        ms_per_result: 3,
        account: None,
        region: None,
    };
    emulator.control().set_slow_pages(&slow).unwrap();
    let run = cli(
        &emulator,
        &policy,
        &[],
        &["audit", "--format", "json", "--timeout", "2"],
    );

    assert_eq!(run.code, baseline.code, "{run:#?}");
    let report = run.json();
    assert_eq!(rows_by_id(&report).len(), 300);
    assert_eq!(rows_by_id(&report), rows_by_id(&baseline.json()));
    assert_eq!(
        report["slow"],
        json!({"region": REGION, "timeout_seconds": 2, "timeouts": 1, "page_size": 250})
    );
    let text = cli(&emulator, &policy, &[], &["audit", "--timeout", "2"]);
    assert!(
        text.stdout
            .contains(&format!("slow: DescribeInstances in {REGION} timed out")),
        "{text:#?}"
    );
}

// --- `org audit`: several accounts ------------------------------------------

const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";
/// The second region, where account A runs a few nodes too.
const OTHER_REGION: &str = "us-east-1";
/// `org audit`'s default audit role.
const AUDIT_ROLE: &str = "scaling-guard-audit";

/// The cluster seeded acting as `account`, with `nodes` nodes outside any
/// group (besides the seeded groups' own).
async fn seed_account(emulator: &Emulator, account: &str, nodes: usize) -> Cluster {
    let clients = Clients::in_account(emulator, account).await.unwrap();
    let cluster = Cluster::seed(&clients).await.unwrap();
    cluster.run_nodes(nodes).await.unwrap();
    cluster
}

/// `count` instances of the cluster run by hand in [`OTHER_REGION`], acting
/// as `account`, from one of the region's public images.
async fn run_in_other_region(emulator: &Emulator, account: &str, count: i32) {
    let config = accounts::account_config(emulator, account)
        .await
        .unwrap()
        .into_builder()
        .region(aws_config::Region::new(OTHER_REGION))
        .build();
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let images = ec2.describe_images().owners("amazon").send().await.unwrap();
    let image = images.images()[0].image_id().unwrap();
    let tag = Tag::builder()
        .key("kubernetes.io/cluster/prod")
        .value("owned")
        .build();
    ec2.run_instances()
        .image_id(image)
        .instance_type(InstanceType::M6iLarge)
        .min_count(count)
        .max_count(count)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .tags(tag)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// `audit --format json` acting as `account` in `region`.
async fn single_audit(
    emulator: &Emulator,
    policy: &BTreeMap<String, String>,
    account: &str,
    region: &str,
) -> Run {
    let mut env = accounts::account_env(emulator, account).await.unwrap();
    env.push(("AWS_REGION".to_owned(), region.to_owned()));
    cli(emulator, policy, &env, &["audit", "--format", "json"])
}

/// `org audit` with `args`, as the tests' default account.
fn org_audit(emulator: &Emulator, policy: &BTreeMap<String, String>, args: &[&str]) -> Run {
    cli(emulator, policy, &[], &[&["org", "audit"], args].concat())
}

/// The fleet's rows of one account and region, by id, without the three
/// columns the fleet adds.
fn fleet_rows(fleet: &Value, account: &str, region: &str) -> BTreeMap<String, Value> {
    fleet["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows: {fleet}"))
        .iter()
        .filter(|row| row["account"] == account && row["region"] == region)
        .map(|row| {
            let mut row = row.clone();
            assert_eq!(row["cluster"], "prod", "{row}");
            for key in ["account", "region", "cluster"] {
                row.as_object_mut().unwrap().remove(key);
            }
            (row["instance_id"].as_str().unwrap().to_owned(), row)
        })
        .collect()
}

/// The target entry of `account` in `region`.
fn target<'a>(fleet: &'a Value, account: &str, region: &str) -> &'a Value {
    fleet["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["account"] == account && t["region"] == region)
        .unwrap_or_else(|| panic!("no target {account} {region}: {fleet}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fleets_findings_are_those_of_one_audit_per_account_and_region() {
    let emulator = Emulator::start().unwrap();
    let policy = seed_account(&emulator, A, 3).await.policy_env();
    seed_account(&emulator, B, 2).await;
    seed_account(&emulator, C, 0).await;
    run_in_other_region(&emulator, A, 2).await;
    let regions = format!("{REGION},{OTHER_REGION}");

    let run = org_audit(
        &emulator,
        &policy,
        &[
            "--accounts",
            &format!("{C},{A},{B}"),
            "--regions",
            &regions,
            "--format",
            "json",
        ],
    );

    let fleet = run.json();
    let mut worst = 0;
    for account in [A, B, C] {
        for region in [REGION, OTHER_REGION] {
            let single = single_audit(&emulator, &policy, account, region).await;
            assert_ne!(single.code, 2, "{single:#?}");
            worst = worst.max(single.code);
            assert_eq!(
                fleet_rows(&fleet, account, region),
                rows_by_id(&single.json()),
                "{account} {region}"
            );
            assert_eq!(target(&fleet, account, region)["status"], "audited");
        }
    }
    assert_eq!(fleet_rows(&fleet, A, OTHER_REGION).len(), 2);
    assert!(fleet_rows(&fleet, B, REGION).len() >= 2);
    assert_eq!(run.code, worst, "{}", run.stderr);
    let order: Vec<(&str, &str)> = fleet["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["account"].as_str().unwrap(),
                t["region"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            (A, REGION),
            (A, OTHER_REGION),
            (B, REGION),
            (B, OTHER_REGION),
            (C, REGION),
            (C, OTHER_REGION)
        ],
        "by account, then region"
    );

    // The same fleet as ASFF findings: each names its own account and region.
    let asff = org_audit(
        &emulator,
        &policy,
        &[
            "--accounts",
            &format!("{A},{B}"),
            "--regions",
            &regions,
            "--format",
            "asff",
        ],
    );
    let findings: Vec<Value> =
        serde_json::from_str(&asff.stdout).unwrap_or_else(|e| panic!("{e}: {asff:#?}"));
    let places: BTreeSet<(String, String)> = findings
        .iter()
        .map(|f| {
            (
                f["AwsAccountId"].as_str().unwrap().to_owned(),
                f["Region"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [(A, REGION), (A, OTHER_REGION), (B, REGION)]
        .into_iter()
        .filter(|(account, region)| {
            fleet_rows(&fleet, account, region)
                .values()
                .any(|r| r["compliant"] == false)
        })
        .map(|(a, r)| (a.to_owned(), r.to_owned()))
        .collect();
    assert!(!expected.is_empty(), "the policy finds something: {fleet}");
    assert_eq!(places, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_that_denies_the_role_is_a_row_with_its_error_and_the_others_are_audited() {
    let emulator = Emulator::start().unwrap();
    let policy = seed_account(&emulator, A, 2).await.policy_env();
    seed_account(&emulator, B, 2).await;
    // A has the audit role; B does not, and both check it, as AWS does.
    let iam = aws_sdk_iam::Client::new(&accounts::account_config(&emulator, A).await.unwrap());
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": scaling_guard_e2e::ACCOUNT}, "Action": "sts:AssumeRole"}]});
    iam.create_role()
        .role_name(AUDIT_ROLE)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    emulator.control().check_roles_in(&[A, B]).unwrap();

    let run = org_audit(
        &emulator,
        &policy,
        &["--accounts", &format!("{A},{B}"), "--format", "json"],
    );

    assert_eq!(run.code, 2, "{run:#?}");
    let fleet = run.json();
    let denied = target(&fleet, B, REGION);
    assert_eq!(denied["status"], "error");
    let error = denied["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("arn:aws:iam::{B}:role/{AUDIT_ROLE}"))
            && error.contains("AccessDenied"),
        "{error}"
    );
    assert_eq!(target(&fleet, A, REGION)["status"], "audited");
    assert!(fleet_rows(&fleet, A, REGION).len() >= 2);
    assert!(fleet_rows(&fleet, B, REGION).is_empty());
    let text = org_audit(&emulator, &policy, &["--accounts", &format!("{A},{B}")]);
    assert_eq!(text.code, 2);
    assert!(
        text.stdout
            .contains(&format!("{B}  {REGION}  error: cannot assume")),
        "{text:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_account_is_said_slow_and_completes_with_smaller_pages() {
    let emulator = Emulator::start().unwrap();
    let policy = seed_account(&emulator, A, 2).await.policy_env();
    seed_account(&emulator, B, 2).await;
    let slow = SlowPages {
        ms_per_result: 3,
        account: Some(B.to_owned()),
        region: None,
    };
    emulator.control().set_slow_pages(&slow).unwrap();

    let run = org_audit(
        &emulator,
        &policy,
        &[
            "--accounts",
            &format!("{A},{B}"),
            "--timeout",
            "2",
            "--format",
            "json",
        ],
    );

    assert_ne!(run.code, 2, "{run:#?}");
    let fleet = run.json();
    assert_eq!(
        target(&fleet, B, REGION)["slow"],
        json!({"region": REGION, "timeout_seconds": 2, "timeouts": 1, "page_size": 250})
    );
    assert!(target(&fleet, A, REGION).get("slow").is_none(), "{fleet}");
    assert_eq!(
        fleet_rows(&fleet, B, REGION),
        rows_by_id(&single_audit(&emulator, &policy, B, REGION).await.json())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ou_is_audited_with_its_child_ous_and_suspended_accounts_are_skipped() {
    use aws_sdk_organizations::types::OrganizationFeatureSet;

    let emulator = Emulator::start().unwrap();
    let organizations =
        aws_sdk_organizations::Client::new(&scaling_guard_e2e::sdk_config(&emulator).await);
    organizations
        .create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let root = organizations.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_owned();
    let mut made = Vec::new();
    for name in ["team", "team-sub", "elsewhere", "closed"] {
        let status = organizations
            .create_account()
            .account_name(name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .unwrap();
        made.push(
            status
                .create_account_status()
                .unwrap()
                .account_id()
                .unwrap()
                .to_owned(),
        );
    }
    let [team, team_sub, elsewhere, closed] = made.try_into().unwrap();
    let ou = |parent: String, name: &'static str| {
        let organizations = organizations.clone();
        async move {
            let made = organizations
                .create_organizational_unit()
                .parent_id(parent)
                .name(name)
                .send()
                .await
                .unwrap();
            made.organizational_unit().unwrap().id().unwrap().to_owned()
        }
    };
    let team_ou = ou(root.clone(), "team").await;
    let sub_ou = ou(team_ou.clone(), "sub").await;
    for (account, to) in [(&team, &team_ou), (&closed, &team_ou), (&team_sub, &sub_ou)] {
        organizations
            .move_account()
            .account_id(account)
            .source_parent_id(&root)
            .destination_parent_id(to)
            .send()
            .await
            .unwrap();
    }
    organizations
        .close_account()
        .account_id(&closed)
        .send()
        .await
        .unwrap();
    let policy = seed_account(&emulator, &team, 1).await.policy_env();
    seed_account(&emulator, &team_sub, 1).await;
    seed_account(&emulator, &elsewhere, 1).await;

    let run = org_audit(&emulator, &policy, &["--ou", &team_ou, "--format", "json"]);

    assert_ne!(run.code, 2, "{run:#?}");
    let fleet = run.json();
    let mut audited: Vec<&str> = fleet["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["account"].as_str().unwrap())
        .collect();
    audited.sort();
    let mut expected = vec![team.as_str(), team_sub.as_str()];
    expected.sort();
    assert_eq!(audited, expected);
    assert_eq!(
        fleet["skipped"],
        json!([{"account": closed, "status": "SUSPENDED"}])
    );
    assert!(!fleet_rows(&fleet, &team_sub, REGION).is_empty());
    assert!(
        run.stderr
            .contains(&format!("account {closed} is SUSPENDED")),
        "{run:#?}"
    );

    // `--leftovers`: each audited account is surveyed as well, in its own
    // account (no guard was ever deployed here: at most the seeded hooks).
    let left = org_audit(&emulator, &policy, &["--ou", &team_ou, "--leftovers"]);
    assert_ne!(left.code, 2, "{left:#?}");
    for account in [&team, &team_sub] {
        let heading = format!("leftovers in {account} {REGION}");
        assert!(left.stdout.contains(&heading), "{left:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_that_asks_for_an_external_id_is_assumed_with_it_and_refused_without() {
    let emulator = Emulator::start().unwrap();
    let policy = seed_account(&emulator, A, 2).await.policy_env();
    let iam = aws_sdk_iam::Client::new(&accounts::account_config(&emulator, A).await.unwrap());
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": scaling_guard_e2e::ACCOUNT},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "platform-audit-7"}}}]});
    iam.create_role()
        .role_name(AUDIT_ROLE)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    emulator.control().check_roles_in(&[A]).unwrap();
    let accounts = ["--accounts", A, "--format", "json"];

    let without = org_audit(&emulator, &policy, &accounts);
    let with = org_audit(
        &emulator,
        &policy,
        &[&accounts[..], &["--external-id", "platform-audit-7"]].concat(),
    );

    assert_eq!(without.code, 2, "{without:#?}");
    let error = target(&without.json(), A, REGION)["error"]
        .as_str()
        .unwrap()
        .to_owned();
    // The service's code and message, in one line: not the HTTP response.
    assert!(
        error.contains("AccessDenied") && !error.contains('\n') && error.len() < 400,
        "{error}"
    );
    assert_ne!(with.code, 2, "{with:#?}");
    assert_eq!(target(&with.json(), A, REGION)["status"], "audited");
    assert!(fleet_rows(&with.json(), A, REGION).len() >= 2);
}
