//! The demo's organisation step (issue 25): one organisation on the
//! emulator, a hub account whose bus (`org/hub.yaml`, deployed as
//! `scripts/org-deploy hub` does) receives every member's decision events
//! through the member stack's forwarding rule, and `scaling-guard org audit`
//! reading every member with the audit role, one member lacking it.
//!
//! Each member acts as its own account (credentials of an `AssumeRole` into
//! it: `scaling_guard_e2e::accounts`), as it would in an organisation.

use std::collections::BTreeMap;
use std::process::Output;
use std::time::{Duration, Instant};

use scaling_guard_e2e::accounts::{TEST_ROLE, account_config, account_env};
use scaling_guard_e2e::decision_rule::DecisionRule;
use scaling_guard_e2e::org_bus::{self, HUB_BUS, Organisation};
use scaling_guard_e2e::{CLUSTER, Clients, Cluster, Emulator, Function, PendingAction, events};
use serde_json::{Value, json};

use super::{Demo, Result, heading};

/// The organisation's management account (moto picks the others' ids).
const MANAGEMENT: &str = "210000000001";
const LAUNCH_DECISION: &str = "Scaling Guard Launch Decision v1";
/// How long the hub's queue is given to receive both decisions.
const WAIT: Duration = Duration::from_secs(10);
/// Each member's nodes: two in service, one with IMDSv1 left on, and the
/// one its guard lets in.
const NODES_PER_MEMBER: usize = 4;

/// A member account with its seeded cluster.
struct Member {
    account: String,
    cluster: Cluster,
}

/// The organisation of the step: the hub, the two members with clusters,
/// the member without the audit role.
struct Org {
    id: String,
    hub: String,
    members: Vec<Member>,
    roleless: String,
}

impl Demo {
    /// Part 6: the organisation, its central bus, one decision per member
    /// received at the hub, then `org audit` over the three members.
    pub(super) async fn organisation(&mut self) -> Result<()> {
        heading("6. Across an organisation: one central bus, `scaling-guard org audit`");
        let org = Org::create(&self.emulator).await?;
        let hub_env = account_env(&self.emulator, &org.hub).await?;
        let hub_bus = org_bus::deploy_hub(&self.emulator, &hub_env, &org.id)?;
        let hub_config = account_config(&self.emulator, &org.hub).await?;
        let rule = DecisionRule::on_bus(&hub_config, "fleet-decisions", HUB_BUS).await?;
        org.print(&hub_bus);
        let mut decided = Vec::new();
        for member in &org.members {
            decided.push(member.decide_one(&self.emulator, &hub_bus).await?);
        }
        let received = hub_decisions(&rule, decided.len()).await?;
        self.expect_at_hub(&decided, &received);
        let output = self.org_audit(&org, &hub_env)?;
        self.expect_fleet(&org, &output);
        Ok(())
    }

    /// Each member's decision reached the hub once, with its account.
    fn expect_at_hub(&mut self, decided: &[(String, PendingAction)], received: &[Value]) {
        println!("  the hub's queue received:");
        if received.is_empty() {
            println!("      no launch decision within {WAIT:?}");
        }
        for event in received {
            println!(
                "      account {}  {}  {}  {}",
                text(&event["account"]),
                text(&event["detail-type"]),
                text(&event["detail"]["decision"]),
                text(&event["detail"]["instance_id"]),
            );
        }
        for (account, action) in decided {
            let arrived: Vec<String> = received
                .iter()
                .filter(|e| e["account"] == account.as_str())
                .filter(|e| e["detail"]["instance_id"] == action.instance_id.as_str())
                .map(|e| text(&e["detail"]["decision"]))
                .collect();
            self.expect(
                &format!("{account}'s decision at the hub, once"),
                &arrived.join(","),
                "CONTINUE",
            );
        }
    }

    /// `scaling-guard org audit` over the three members, as the hub account
    /// with its credentials; printed as an operator sees it.
    fn org_audit(&self, org: &Org, hub_env: &[(String, String)]) -> Result<Output> {
        let accounts = org.member_ids().join(",");
        let args = ["org", "audit", "--accounts", &accounts, "--role", TEST_ROLE];
        println!(
            "\n  $ scaling-guard {}   (as the hub account)",
            args.join(" ")
        );
        let output = scaling_guard_e2e::operator_cli(Some(self.emulator.endpoint().as_str()))?
            .envs(org.policy())
            .envs(hub_env.iter().cloned())
            .args(args)
            .output()
            .map_err(|err| format!("cannot run the operator CLI: {err}"))?;
        print!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        println!("(exit code {})", output.status.code().unwrap_or(-1));
        Ok(output)
    }

    /// Each member's row and nodes in the fleet table, the role-less
    /// member's error row, exit 2.
    fn expect_fleet(&mut self, org: &Org, output: &Output) {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let code = output.status.code().unwrap_or(-1).to_string();
        self.expect("org audit exit code", &code, "2");
        for member in &org.members {
            let account = member.account.as_str();
            let status = target_status(&stdout, account);
            let summary = format!("{NODES_PER_MEMBER} instance(s), 1 non-compliant");
            self.expect(&format!("{account}'s fleet row"), &status, &summary);
            let nodes = node_rows(&stdout, account).to_string();
            let wanted = NODES_PER_MEMBER.to_string();
            self.expect(
                &format!("{account}'s nodes of `{CLUSTER}`"),
                &nodes,
                &wanted,
            );
        }
        let status = target_status(&stdout, &org.roleless);
        let refused = status.starts_with("error: cannot assume") && status.contains("AccessDenied");
        self.expect(
            &format!("{}'s error row (no audit role): `{status}`", org.roleless),
            &refused.to_string(),
            "true",
        );
    }
}

impl Org {
    /// The organisation with a hub and three members: two seeded, each with
    /// the audit role; the third without it. `AssumeRole` is checked in the
    /// three, as on AWS.
    async fn create(emulator: &Emulator) -> Result<Self> {
        let names = ["hub", "team-a", "team-b", "team-c"];
        let made = Organisation::create(emulator, MANAGEMENT, &names)?;
        let [hub, a, b, c]: [String; 4] = made
            .accounts
            .try_into()
            .map_err(|ids| format!("the organisation made accounts {ids:?}"))?;
        let mut members = Vec::new();
        for account in [a, b] {
            members.push(Member::seed(emulator, &account, &hub).await?);
        }
        let org = Org {
            id: made.id,
            hub,
            members,
            roleless: c,
        };
        let ids = org.member_ids();
        let checked: Vec<&str> = ids.iter().map(String::as_str).collect();
        emulator.control().check_roles_in(&checked)?;
        Ok(org)
    }

    fn member_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.members.iter().map(|m| m.account.clone()).collect();
        ids.push(self.roleless.clone());
        ids
    }

    /// The fleet's one policy: the seeded cluster's, with the members'
    /// images, private subnets and node security groups allowed.
    fn policy(&self) -> BTreeMap<String, String> {
        let mut policy = self
            .members
            .first()
            .map(|m| m.cluster.policy_env())
            .unwrap_or_default();
        let each = |part: fn(&Member) -> Vec<String>| {
            self.members
                .iter()
                .flat_map(part)
                .collect::<Vec<_>>()
                .join(",")
        };
        let owners = each(|m| vec![m.account.clone()]);
        let subnets = each(|m| m.cluster.private_subnet_ids.clone());
        let groups = each(|m| m.cluster.node_security_group_ids.clone());
        for (key, value) in [
            ("GUARD_ALLOWED_AMI_OWNERS", owners),
            ("GUARD_ALLOWED_SUBNET_IDS", subnets),
            ("GUARD_ALLOWED_SECURITY_GROUP_IDS", groups),
        ] {
            policy.insert(key.to_owned(), value);
        }
        policy
    }

    fn print(&self, hub_bus: &str) {
        println!(
            "  organisation  {}: hub {}, members {}",
            self.id,
            self.hub,
            self.member_ids().join(", ")
        );
        println!(
            "  hub           bus {hub_bus} (org/hub.yaml: PutEvents from the organisation only),"
        );
        println!("                a rule on it into an SQS queue");
        for member in &self.members {
            println!(
                "  member        {}: cluster `{CLUSTER}`, {} nodes (one with IMDSv1 on), the audit role `{TEST_ROLE}`,",
                member.account,
                NODES_PER_MEMBER - 1
            );
            println!(
                "                the member stack's rule forwarding `{CLUSTER}`'s events to the hub"
            );
        }
        println!(
            "  member        {}: no audit role (AssumeRole into it is refused)",
            self.roleless
        );
    }
}

impl Member {
    /// The account's cluster with two compliant nodes in service and one
    /// with IMDSv1 on (launched before the guard), and the audit role
    /// trusted by `hub`.
    async fn seed(emulator: &Emulator, account: &str, hub: &str) -> Result<Self> {
        let clients = Clients::in_account(emulator, account).await?;
        let cluster = Cluster::seed(&clients).await?;
        let general = &cluster.groups[0];
        let system = &cluster.groups[1];
        cluster.launch_in_service(general, 2).await?;
        cluster
            .use_template(system, &cluster.templates.imdsv1)
            .await?;
        cluster.launch_in_service(system, 1).await?;
        let config = account_config(emulator, account).await?;
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{hub}:root")}, "Action": "sts:AssumeRole"}]});
        aws_sdk_iam::Client::new(&config)
            .create_role()
            .role_name(TEST_ROLE)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await?;
        Ok(Member {
            account: account.to_owned(),
            cluster,
        })
    }

    /// The forwarding rule to `hub_bus`, then one compliant launch decided
    /// by the real launch-guard acting in this account; its action.
    async fn decide_one(
        &self,
        emulator: &Emulator,
        hub_bus: &str,
    ) -> Result<(String, PendingAction)> {
        let config = account_config(emulator, &self.account).await?;
        org_bus::forward(&config, &self.account, CLUSTER, hub_bus).await?;
        let mut policy = self.cluster.policy_env();
        policy.insert("GUARD_ALLOWED_AMI_OWNERS".into(), self.account.clone());
        policy.insert("GUARD_EVENT_BUS".into(), "default".into());
        let env = policy
            .into_iter()
            .chain(account_env(emulator, &self.account).await?);
        let guard = Function::launch_guard(&emulator.endpoint(), env).await?;
        let general = &self.cluster.groups[0];
        let action = self
            .cluster
            .launch_with(general, &self.cluster.templates.compliant)
            .await?;
        let decided = guard.invoke(&events::lifecycle_event(&action)?).await?;
        println!(
            "  launch-guard in {}: {} {} -> {}",
            self.account,
            action.group,
            action.instance_id,
            text(&decided["decision"])
        );
        Ok((self.account.clone(), action))
    }
}

/// Drains the hub's queue until `count` launch decisions arrived (or
/// [`WAIT`] passed); the launch decisions, in order.
async fn hub_decisions(rule: &DecisionRule, count: usize) -> Result<Vec<Value>> {
    let started = Instant::now();
    let mut received = Vec::new();
    loop {
        received.extend(rule.drain().await?);
        received.retain(|event| event["detail-type"] == LAUNCH_DECISION);
        if received.len() >= count || started.elapsed() > WAIT {
            return Ok(received);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The status cell of `account`'s row in the targets table (`ACCOUNT
/// REGION STATUS`), empty when it has none.
fn target_status(stdout: &str, account: &str) -> String {
    stdout
        .lines()
        .find_map(|line| {
            let mut cells = line.split_whitespace();
            (cells.next()? == account).then_some(())?;
            cells.next()?;
            Some(cells.collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_default()
}

/// How many instance rows of `account`'s cluster the fleet table has.
fn node_rows(stdout: &str, account: &str) -> usize {
    stdout
        .lines()
        .filter(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            cells.first() == Some(&account)
                && cells.get(2) == Some(&CLUSTER)
                && cells.get(3).is_some_and(|id| id.starts_with("i-"))
        })
        .count()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}
