//! One central event bus for an organisation (issue 25, point 2), end to
//! end on one emulator: a hub account holds the organisation bus, deployed
//! from `org/hub.yaml` by `scripts/org-deploy hub` (its policy:
//! `events:PutEvents` for the organisation only), and a rule on it into a
//! queue; three member accounts, one running two
//! clusters, each cluster with its real launch-guard acting in its account
//! and the member stack's forwarding rule; and an account outside the
//! organisation forwarding the same way. 300 decisions, SQS batches of 10.
//!
//! Build the binary first: `cargo build -p launch-guard`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use scaling_guard_e2e::accounts::{account_config, account_env};
use scaling_guard_e2e::decision_rule::DecisionRule;
use scaling_guard_e2e::org_bus::{self, HUB_BUS, Organisation};
use scaling_guard_e2e::{CLUSTER, Clients, Cluster, Emulator, Function, OTHER_CLUSTER, events};
use serde_json::{Value, json};

const LAUNCH: &str = "Scaling Guard Launch Decision v1";
const MANAGEMENT: &str = "210000000001";
/// An account of no organisation.
const OUTSIDER: &str = "390000000009";
/// Four guarded clusters × 75 = the 300 decisions that must reach the hub.
const PER_CLUSTER: usize = 75;
const OUTSIDER_DECISIONS: usize = 10;
const BATCH: usize = 10;
const WAIT: Duration = Duration::from_secs(30);

/// A decision as the hub sees it: the sender's account and the instance.
type Key = (String, String);

/// One account's seeded world (the `prod` and `staging` clusters).
struct Member {
    account: String,
    config: aws_config::SdkConfig,
    cluster: Cluster,
}

impl Member {
    async fn seed(emulator: &Emulator, account: &str) -> Self {
        let config = account_config(emulator, account).await.unwrap();
        let clients = Clients::in_account(emulator, account).await.unwrap();
        let cluster = Cluster::seed(&clients).await.unwrap();
        Member {
            account: account.to_owned(),
            config,
            cluster,
        }
    }

    /// `cluster`'s node group and the policy of its guard in this account.
    fn guarded(&self, cluster: &str) -> (String, BTreeMap<String, String>) {
        let mut policy = self.cluster.policy_env();
        let (group, profile) = match cluster {
            CLUSTER => (&self.cluster.groups[0], &self.cluster.prod_profile_arn),
            _ => (
                &self.cluster.staging_group,
                &self.cluster.staging_profile_arn,
            ),
        };
        for (key, value) in [
            ("GUARD_CLUSTER", cluster),
            ("GUARD_ALLOWED_AMI_OWNERS", &self.account),
            ("GUARD_ALLOWED_INSTANCE_PROFILES", profile),
            ("GUARD_EVENT_BUS", "default"),
        ] {
            policy.insert(key.to_owned(), value.to_owned());
        }
        (group.clone(), policy)
    }

    /// Runs `cluster`'s launch-guard in this account, with the member
    /// stack's forwarding rule to `hub_bus`, through `count` launches in
    /// SQS batches; the decisions it made.
    async fn decide(
        &self,
        emulator: &Emulator,
        cluster: &str,
        hub_bus: &str,
        count: usize,
    ) -> BTreeSet<Key> {
        org_bus::forward(&self.config, &self.account, cluster, hub_bus)
            .await
            .unwrap();
        let (group, policy) = self.guarded(cluster);
        let env = policy
            .into_iter()
            .chain(account_env(emulator, &self.account).await.unwrap());
        let guard = Function::launch_guard(&emulator.endpoint(), env)
            .await
            .unwrap();
        let mut decided = BTreeSet::new();
        while decided.len() < count {
            let size = BATCH.min(count - decided.len());
            decided.extend(self.batch(&guard, &group, decided.len() + size).await);
        }
        decided
    }

    /// Scales `group` to `desired` and lets `guard` decide the new launches
    /// in one SQS batch.
    async fn batch(&self, guard: &Function, group: &str, desired: usize) -> Vec<Key> {
        let actions: Vec<_> = self
            .cluster
            .scale_to(group, i32::try_from(desired).unwrap())
            .await
            .unwrap()
            .into_iter()
            .filter(|action| action.account == self.account)
            .collect();
        let bodies: Vec<String> = actions.iter().map(events::hook_message).collect();
        let answer = guard
            .invoke(&events::sqs_batch(&bodies).unwrap())
            .await
            .unwrap();
        assert_eq!(
            answer,
            json!({ "batchItemFailures": [] }),
            "{}",
            guard.logs()
        );
        actions
            .into_iter()
            .map(|action| (self.account.clone(), action.instance_id))
            .collect()
    }
}

/// Drains `rule`'s queue until `count` launch decisions arrived (or `WAIT`
/// passed), then once more after a pause, so that a duplicate shows.
async fn launch_decisions(rule: &DecisionRule, count: usize) -> Vec<Value> {
    let started = Instant::now();
    let mut received = Vec::new();
    while received.len() < count && started.elapsed() < WAIT {
        received.extend(rule.drain().await.unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    received.extend(rule.drain().await.unwrap());
    received.retain(|event| event["detail-type"] == LAUNCH);
    received
}

/// How many times each (account, instance) arrived.
fn tally(received: &[Value]) -> BTreeMap<Key, usize> {
    let mut counts = BTreeMap::new();
    for event in received {
        let account = event["account"].as_str().unwrap_or_default().to_owned();
        assert_eq!(event["detail"]["account"], json!(account), "{event}");
        let instance = event["detail"]["instance_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        *counts.entry((account, instance)).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn three_member_accounts_with_four_clusters_deliver_300_decisions_once_each_to_the_hub_and_an_outsider_none()
 {
    // Given an organisation, its hub bus and a rule on it into a queue
    let emulator = Emulator::start().unwrap();
    let org = Organisation::create(&emulator, MANAGEMENT, &["hub", "a", "b", "c"]).unwrap();
    let hub_config = account_config(&emulator, &org.accounts[0]).await.unwrap();
    let hub_credentials = account_env(&emulator, &org.accounts[0]).await.unwrap();
    let hub_bus = org_bus::deploy_hub(&emulator, &hub_credentials, &org.id).unwrap();
    let rule = DecisionRule::on_bus(&hub_config, "fleet-decisions", HUB_BUS)
        .await
        .unwrap();

    // When each member's guards decide, account b running two clusters
    let mut expected = BTreeSet::new();
    for (account, clusters) in [
        (&org.accounts[1], &[CLUSTER][..]),
        (&org.accounts[2], &[CLUSTER, OTHER_CLUSTER][..]),
        (&org.accounts[3], &[CLUSTER][..]),
    ] {
        let member = Member::seed(&emulator, account).await;
        for cluster in clusters {
            expected.extend(
                member
                    .decide(&emulator, cluster, &hub_bus, PER_CLUSTER)
                    .await,
            );
        }
    }
    // and an account outside the organisation forwards its own
    let outsider = Member::seed(&emulator, OUTSIDER).await;
    let outsiders = outsider
        .decide(&emulator, CLUSTER, &hub_bus, OUTSIDER_DECISIONS)
        .await;

    // Then the hub's queue holds each of the 300 decisions exactly once
    assert_eq!(expected.len(), 300);
    let received = launch_decisions(&rule, expected.len()).await;
    let counts = tally(&received);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert_eq!(
        twice,
        Vec::<(&Key, &usize)>::new(),
        "delivered more than once"
    );
    assert_eq!(counts.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(
        received
            .iter()
            .all(|event| event["detail"]["decision"] == "CONTINUE"),
        "every launch let in"
    );
    // and the bus policy refused each of the outsider's, none of the members'
    let refused = org_bus::refused(&emulator).unwrap();
    let senders: BTreeSet<_> = refused.iter().map(|r| r.sender.as_str()).collect();
    assert_eq!(senders, BTreeSet::from([OUTSIDER]), "{refused:#?}");
    let refused_instances: BTreeSet<_> = refused
        .iter()
        .map(|r| {
            (
                r.sender.clone(),
                r.detail["instance_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(refused_instances, outsiders);
}
