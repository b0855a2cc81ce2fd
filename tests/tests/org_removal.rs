//! Removal at scale (issue 25, point 4), end to end: three accounts of one
//! emulator (each acting as itself: `scaling_guard_e2e::accounts`), one of them with two
//! clusters' guards. Every guard leaves, while it runs, what a guard
//! leaves — made by the real `target/debug/budget-guard` acting in its
//! account in a surge: its hooks (enrolment), suspensions with a MaxSize
//! clamp, the launch breaker on a launcher role and the record of an
//! expired exception's alert. Then each stack instance is deleted: the real
//! `target/debug/stack-guard`, acting in its account, gets CloudFormation's
//! Delete while the emulator throttles a share of the Auto Scaling calls.
//!
//! What a guard left is read three ways: straight from the emulator's APIs
//! here, by the leftovers survey ([`shared::leftovers`]) in each account,
//! and by the real `scaling-guard org audit --leftovers` over the three
//! accounts (exit 1 with every item before, exit 0 after).
//!
//! Seeded directly, not by a guard: the clusters (groups, instances, the
//! alert topic), the launcher roles, and the seed's shared-name hooks, which
//! are removed first so that every guard hook here is one a budget-guard
//! enrolled.
//!
//! Build the binaries first:
//! `cargo build -p budget-guard -p stack-guard -p scaling-guard`.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_autoscaling::types::AutoScalingGroup;
use scaling_guard_e2e::accounts::{account_config, account_env};
use scaling_guard_e2e::launcher::LauncherDouble;
use scaling_guard_e2e::{
    ACCOUNT, CLUSTER, Clients, Cluster, Emulator, FaultRule, Function, OTHER_CLUSTER, REGION,
    events, operator_cli,
};
use serde_json::Value;
use shared::leftovers::{Leftovers, Thing, survey_leftovers};
use shared::time::utc_date;

mod support;

use support::custom_resource::{answer_to, request};

/// The account with two clusters' guards, and two with one each.
const MEMBERS: [&str; 2] = ["111111111111", "222222222222"];
const STAGING_HOOK: &str = "scaling-guard-staging";
/// What every guard-owned group tag's key starts with.
const TAG_PREFIX: &str = "scaling-guard:";
const EXCEPTION_RECORD: &str = "scaling-guard:exception-expired";
/// The share of Auto Scaling calls the emulator throttles during the deletes.
const THROTTLED_SHARE: f64 = 0.3;

/// One account: its seeded clusters, and what makes a binary act in it.
struct Account {
    id: String,
    clients: Clients,
    cluster: Cluster,
    config: aws_config::SdkConfig,
    env: Vec<(String, String)>,
}

/// One cluster's guard in an account: the policy its stack would give.
struct Guard {
    cluster: &'static str,
    groups: Vec<String>,
    policy: BTreeMap<String, String>,
}

impl Account {
    async fn seed(emulator: &Emulator, id: &str) -> Self {
        let clients = Clients::in_account(emulator, id).await.unwrap();
        let cluster = Cluster::seed(&clients).await.unwrap();
        Account {
            id: id.to_owned(),
            clients,
            cluster,
            config: account_config(emulator, id).await.unwrap(),
            env: account_env(emulator, id).await.unwrap(),
        }
    }

    /// A binary of the workspace, acting in this account.
    async fn start(
        &self,
        emulator: &Emulator,
        name: &str,
        policy: &BTreeMap<String, String>,
    ) -> Function {
        let env = policy.clone().into_iter().chain(self.env.iter().cloned());
        Function::start(&Function::binary(name).unwrap(), &emulator.endpoint(), env)
            .await
            .unwrap()
    }

    /// The guard of `cluster` over `groups`: a budget of 2 instances with a
    /// clamp, enrolment, the launch breaker on a new launcher role, and an
    /// exception that expired yesterday on the first group.
    async fn guard(&self, cluster: &'static str, groups: &[String], hook: &str) -> Guard {
        let launcher = LauncherDouble::create(&self.config, &format!("{cluster}-karpenter"))
            .await
            .unwrap();
        let yesterday =
            utc_date(std::time::SystemTime::now() - std::time::Duration::from_secs(86_400));
        let mut policy = self.cluster.policy_env();
        for (key, value) in [
            ("GUARD_CLUSTER", cluster.to_owned()),
            ("GUARD_HOOK_NAME", hook.to_owned()),
            ("GUARD_MAX_VCPUS", String::new()),
            ("GUARD_MAX_MEMORY_MIB", String::new()),
            ("GUARD_MAX_INSTANCES", "2".to_owned()),
            ("GUARD_CLAMP_MAX_SIZE", "true".to_owned()),
            ("GUARD_ENROLL_GROUPS", "true".to_owned()),
            ("GUARD_LAUNCHER_ROLE_ARNS", launcher.role_arn.clone()),
            (
                "GUARD_CHECK_EXCEPTIONS",
                format!(
                    "imds.hop_limit@{} until={yesterday} reason=PLAT-9",
                    groups[0]
                ),
            ),
        ] {
            policy.insert(key.to_owned(), value);
        }
        Guard {
            cluster,
            groups: groups.to_vec(),
            policy,
        }
    }

    /// Removes every hook of `group` (the seed's shared-name hook).
    async fn unhook(&self, group: &str) {
        for hook in self.cluster.lifecycle_hooks(group).await.unwrap() {
            self.clients
                .autoscaling
                .delete_lifecycle_hook()
                .auto_scaling_group_name(group)
                .lifecycle_hook_name(hook.lifecycle_hook_name().unwrap_or_default())
                .send()
                .await
                .unwrap();
        }
    }

    /// A surge: 2 instances in service on the guard's first group, MaxSize
    /// 20 so that the clamp has something to lower; then the seed's hooks
    /// go and the guard's budget-guard runs once: it enrolls every group,
    /// suspends and clamps them, puts the breaker and records the expiry.
    /// Returns the surge's instances.
    async fn run_guard(&self, emulator: &Emulator, guard: &Guard) -> Vec<String> {
        let first = &guard.groups[0];
        self.cluster.set_max_size(first, 20).await.unwrap();
        let nodes = self.cluster.launch_in_service(first, 2).await.unwrap();
        for group in &guard.groups {
            self.unhook(group).await;
        }
        let budget = self.start(emulator, "budget-guard", &guard.policy).await;
        let summary = budget
            .invoke(&events::budget_schedule().unwrap())
            .await
            .unwrap();
        assert_eq!(
            strings(&summary["enrolled"]),
            sorted(&guard.groups),
            "{}: {summary}",
            self.id
        );
        assert_eq!(
            strings(&summary["suspended"]),
            sorted(&guard.groups),
            "{}: {summary}",
            self.id
        );
        assert_eq!(
            summary["launch_breaker"]["put"].as_array().map(Vec::len),
            Some(1),
            "{summary}"
        );
        nodes
    }

    /// The stack of `guard` is deleted: its Delete, to stack-guard acting in
    /// this account.
    async fn delete_stack(&self, emulator: &Emulator, guard: &Guard) {
        let stack_guard = self.start(emulator, "stack-guard", &BTreeMap::new()).await;
        let answer = answer_to(&stack_guard, "Delete", |url| {
            request("Delete", url, &guard.policy)
        })
        .await;
        assert_eq!(
            answer.body["Status"], "SUCCESS",
            "{}: {:?}",
            self.id, answer.body
        );
    }

    /// The survey `org audit --leftovers` runs, in this account.
    async fn survey(&self) -> Leftovers {
        let groups = shared::aws::AutoScaling::new(aws_sdk_autoscaling::Client::new(&self.config));
        let roles = shared::aws::Iam::new(&self.config);
        survey_leftovers(&groups, &roles, REGION).await.unwrap()
    }

    /// Every guard of `here` left its things in this account, and the
    /// survey lists each of them, with its guard's cluster.
    async fn assert_listed(&self, here: &[Guard]) {
        let direct = self.read_directly().await;
        let mut expected = BTreeMap::new();
        for guard in here {
            for (kind, n) in expected_of(guard) {
                *expected.entry(kind).or_default() += n;
            }
        }
        assert_eq!(kinds(&direct), expected, "{}: {direct:?}", self.id);
        let survey = self.survey().await;
        assert!(survey.unread.is_empty(), "{survey:?}");
        let listed = surveyed(&survey);
        let things: BTreeSet<Found> = listed.iter().map(|(f, _)| f.clone()).collect();
        assert_eq!(things, direct, "{}: the survey lists every item", self.id);
        for guard in here {
            let of_cluster = listed
                .iter()
                .filter(|(_, c)| c.as_deref() == Some(guard.cluster))
                .count();
            let expected: usize = expected_of(guard).values().sum();
            assert_eq!(of_cluster, expected, "{}: {listed:?}", self.id);
        }
        assert_eq!(survey.lines().len(), direct.len());
    }

    /// What any guard left, read straight from the emulator's APIs.
    async fn read_directly(&self) -> BTreeSet<Found> {
        let mut found = BTreeSet::new();
        for group in self.groups().await {
            let name = group
                .auto_scaling_group_name()
                .unwrap_or_default()
                .to_owned();
            found.extend(on_group(&group));
            for hook in self.cluster.lifecycle_hooks(&name).await.unwrap() {
                let hook = hook.lifecycle_hook_name().unwrap_or_default();
                if hook.starts_with("scaling-guard-") {
                    found.insert(Found::Hook(name.clone(), hook.to_owned()));
                }
            }
        }
        found.extend(self.breakers().await);
        found
    }

    async fn groups(&self) -> Vec<AutoScalingGroup> {
        let client = &self.clients.autoscaling;
        let listed = client
            .describe_auto_scaling_groups()
            .max_records(100)
            .send()
            .await
            .unwrap();
        assert!(
            listed.next_token().is_none(),
            "one page holds the seed's groups"
        );
        listed.auto_scaling_groups().to_vec()
    }

    async fn breakers(&self) -> Vec<Found> {
        let iam = aws_sdk_iam::Client::new(&self.config);
        let roles = iam.list_roles().send().await.unwrap();
        let mut found = Vec::new();
        for role in roles.roles() {
            let policies = iam
                .list_role_policies()
                .role_name(role.role_name())
                .send()
                .await
                .unwrap();
            for policy in policies.policy_names() {
                if policy.starts_with("scaling-guard-") && policy.ends_with("-launch-breaker") {
                    found.push(Found::Policy(role.role_name().to_owned(), policy.clone()));
                }
            }
        }
        found
    }
}

/// One thing a guard left, as read from the emulator.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Found {
    Hook(String, String),
    Suspension(String),
    Clamp(String),
    Tag(String, String),
    Policy(String, String),
}

/// The suspension, clamp and `scaling-guard:` tags of one group.
fn on_group(group: &AutoScalingGroup) -> Vec<Found> {
    let name = group
        .auto_scaling_group_name()
        .unwrap_or_default()
        .to_owned();
    let tags: BTreeMap<&str, &str> = group
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
        .collect();
    let launch_suspended = group
        .suspended_processes()
        .iter()
        .any(|p| p.process_name() == Some("Launch"));
    let record = tags
        .get(support::SUSPENDED_TAG)
        .map(|value| serde_json::from_str::<Value>(value).unwrap());
    let suspended = launch_suspended && record.is_some();
    let mut found: Vec<Found> = tags
        .keys()
        .filter(|key| {
            key.starts_with(TAG_PREFIX) && !(suspended && **key == support::SUSPENDED_TAG)
        })
        .map(|key| Found::Tag(name.clone(), (*key).to_owned()))
        .collect();
    if suspended {
        found.push(Found::Suspension(name.clone()));
    }
    let original = record
        .as_ref()
        .and_then(|r| r["original_max_size"].as_i64());
    if original.is_some_and(|size| size != i64::from(group.max_size().unwrap_or_default())) {
        found.push(Found::Clamp(name));
    }
    found
}

/// `scaling-guard org audit --leftovers --format json` over every account,
/// as the operator (the default account, assuming the default audit role):
/// its exit code and report. The policy is prod's, its AMI owners every
/// account (the seeded nodes' images are each account's own).
fn org_audit(emulator: &Emulator, accounts: &[Account], guard: &Guard) -> (i32, Value) {
    let ids: Vec<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
    let mut policy = guard.policy.clone();
    policy.insert("GUARD_ALLOWED_AMI_OWNERS".into(), ids.join(","));
    let output = operator_cli(Some(&emulator.endpoint()))
        .unwrap()
        .envs(&policy)
        .args([
            "org",
            "audit",
            "--accounts",
            &ids.join(","),
            "--leftovers",
            "--format",
            "json",
        ])
        .output()
        .expect("the cli runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!(
            "not json ({err}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().expect("the cli exits"), report)
}

/// How many things `org audit --leftovers` lists in `account`.
fn listed_by_cli(report: &Value, account: &str) -> usize {
    let target = report["targets"]
        .as_array()
        .unwrap_or_else(|| panic!("no targets: {report}"))
        .iter()
        .find(|t| t["account"] == account)
        .unwrap_or_else(|| panic!("no target {account}: {report}"));
    target["leftovers"]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no leftovers in {target}"))
        .len()
}

/// The survey's items, as [`Found`], each with its cluster.
fn surveyed(leftovers: &Leftovers) -> BTreeSet<(Found, Option<String>)> {
    leftovers
        .items
        .iter()
        .map(|item| {
            let found = match &item.thing {
                Thing::Hook { group, hook } => Found::Hook(group.clone(), hook.clone()),
                Thing::Suspension { group } => Found::Suspension(group.clone()),
                Thing::Clamp { group, .. } => Found::Clamp(group.clone()),
                Thing::GroupTag { group, key } => Found::Tag(group.clone(), key.clone()),
                Thing::InlinePolicy { role, policy } => Found::Policy(role.clone(), policy.clone()),
            };
            (found, item.cluster.clone())
        })
        .collect()
}

/// How many of each kind, for the messages: `hooks 3, suspensions 3, …`.
fn kinds(found: &BTreeSet<Found>) -> BTreeMap<&'static str, usize> {
    let mut kinds = BTreeMap::new();
    for thing in found {
        let kind = match thing {
            Found::Hook(..) => "hooks",
            Found::Suspension(_) => "suspensions",
            Found::Clamp(_) => "clamps",
            Found::Tag(_, key) if key == EXCEPTION_RECORD => "exception records",
            Found::Tag(..) => "other tags",
            Found::Policy(..) => "inline policies",
        };
        *kinds.entry(kind).or_default() += 1;
    }
    kinds
}

fn strings(value: &Value) -> Vec<String> {
    let mut items: Vec<String> = value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    items.sort();
    items
}

fn sorted(items: &[String]) -> Vec<String> {
    let mut items = items.to_vec();
    items.sort();
    items
}

/// What each guard's run leaves: a hook, a suspension and a clamp on each
/// of its groups (each's MaxSize above its desired capacity), the breaker,
/// the expiry record.
fn expected_of(guard: &Guard) -> BTreeMap<&'static str, usize> {
    let groups = guard.groups.len();
    [
        ("hooks", groups),
        ("suspensions", groups),
        ("clamps", groups),
        ("inline policies", 1),
        ("exception records", 1),
    ]
    .into_iter()
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_stack_instances_leaves_nothing_of_any_guard_in_any_account() {
    // Given: three accounts; the first guards prod and staging, the others prod.
    let emulator = Emulator::start().unwrap();
    let mut accounts = Vec::new();
    for id in std::iter::once(ACCOUNT).chain(MEMBERS) {
        accounts.push(Account::seed(&emulator, id).await);
    }
    let mut guards: Vec<Vec<Guard>> = Vec::new();
    for account in &accounts {
        let prod = account
            .guard(CLUSTER, &account.cluster.groups, scaling_guard_e2e::HOOK)
            .await;
        let mut here = vec![prod];
        let staging = [account.cluster.staging_group.clone()];
        if account.id == ACCOUNT {
            here.push(account.guard(OTHER_CLUSTER, &staging, STAGING_HOOK).await);
        } else {
            // No staging guard here: the seed's hook on its group goes.
            account.unhook(&staging[0]).await;
        }
        guards.push(here);
    }

    // ... each guard in a surge, run by budget-guard in its own account.
    let mut nodes: Vec<(&Account, String)> = Vec::new();
    for (account, here) in accounts.iter().zip(&guards) {
        for guard in here {
            let surge = account.run_guard(&emulator, guard).await;
            nodes.extend(surge.into_iter().map(|id| (account, id)));
        }
    }

    // Then, before the deletes: every account holds what its guards left,
    // and the survey lists every item, each with its cluster.
    for (account, here) in accounts.iter().zip(&guards) {
        account.assert_listed(here).await;
    }
    let (code, report) = org_audit(&emulator, &accounts, &guards[0][0]);
    assert_eq!(code, 1, "something is left: {report}");
    for (account, here) in accounts.iter().zip(&guards) {
        let expected: usize = here
            .iter()
            .map(|g| expected_of(g).values().sum::<usize>())
            .sum();
        assert_eq!(
            listed_by_cli(&report, &account.id),
            expected,
            "{}: {report}",
            account.id
        );
    }

    // When: prod's stack instance is deleted in every account, Auto Scaling
    // throttling a share of the calls.
    emulator
        .control()
        .set_faults(
            &[FaultRule::throttle("*")
                .service("autoscaling")
                .share(THROTTLED_SHARE)],
            25,
        )
        .unwrap();
    for (account, here) in accounts.iter().zip(&guards) {
        account.delete_stack(&emulator, &here[0]).await;
    }

    // Then: staging's guard, in the shared account, keeps all its things
    // until its own stack goes.
    let shared_account = &accounts[0];
    let staging = &guards[0][1];
    let left = shared_account.read_directly().await;
    assert_eq!(kinds(&left), expected_of(staging), "{left:?}");
    let listed = surveyed(&shared_account.survey().await);
    assert!(
        listed
            .iter()
            .all(|(_, c)| c.as_deref() == Some(OTHER_CLUSTER)),
        "{listed:?}"
    );
    shared_account.delete_stack(&emulator, staging).await;
    let faults = emulator.control().clear_faults().unwrap();

    // Then: nothing of any guard in any account, read directly and surveyed.
    for account in &accounts {
        let direct = account.read_directly().await;
        assert_eq!(direct, BTreeSet::new(), "{}: nothing left", account.id);
        let survey = account.survey().await;
        assert!(survey.is_empty(), "{}: {:?}", account.id, survey.lines());
    }
    assert!(faults.injected > 0, "the emulator throttled: {faults}");
    // The clusters' nodes go too: unguarded now, each would be an audit
    // finding (exit 1) of its own.
    for (account, id) in &nodes {
        account.cluster.terminate_in_group(id).await.unwrap();
    }
    let (code, report) = org_audit(&emulator, &accounts, &guards[0][0]);
    assert_eq!(code, 0, "nothing is left: {report}");
    for account in &accounts {
        assert_eq!(listed_by_cli(&report, &account.id), 0, "{report}");
    }
}
