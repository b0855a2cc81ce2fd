//! The demo: the product's main job, locally. A moto emulator with a seeded
//! cluster, the real function binaries behind a local Lambda Runtime API,
//! a realistic sequence of launches, a surge, and nodes that bypass the
//! central configuration — printed as a timeline, followed by every alert as
//! SNS received it (the e-mail text and the JSON).
//!
//! Run it with `scripts/demo`. Exits non-zero if any step does not turn out
//! as the product promises.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::process::Output;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{
    InstanceType, ManagedResourceDefaultVisibility, ResourceType, Tag, TagSpecification,
};
use scaling_guard_e2e::CLUSTER;
use scaling_guard_e2e::{
    Clients, Cluster, Emulator, Function, PendingAction, Templates, events, http,
};
use serde_json::{Value, json};

type Result<T, E = Box<dyn StdError>> = std::result::Result<T, E>;

#[path = "demo/security_hub.rs"]
mod security_hub;

#[path = "demo/decision_events.rs"]
mod decision_events;

#[path = "demo/organisation.rs"]
mod organisation;

/// The cluster-wide instance budget of the demo's deployment.
const MAX_INSTANCES: u64 = 4;

#[tokio::main]
async fn main() {
    let started = Instant::now();
    match run().await {
        Ok(failures) if failures.is_empty() => {
            println!(
                "\ndemo finished in {:.0?}: every step turned out as expected",
                started.elapsed()
            );
        }
        Ok(failures) => {
            eprintln!(
                "\ndemo FAILED: {} step(s) did not turn out as expected:",
                failures.len()
            );
            for failure in failures {
                eprintln!("  - {failure}");
            }
            std::process::exit(1);
        }
        Err(err) => {
            eprintln!("\ndemo FAILED: {err}");
            std::process::exit(1);
        }
    }
}

/// The running demo: the emulator, the cluster, the three functions.
struct Demo {
    emulator: Emulator,
    clients: Clients,
    cluster: Cluster,
    launch_guard: Function,
    budget_guard: Function,
    instance_audit: Function,
    failures: Vec<String>,
}

async fn run() -> Result<Vec<String>> {
    heading("Setting up: local AWS emulator, seeded cluster, the three functions");
    let emulator = Emulator::start()?;
    let clients = Clients::new(&emulator).await;
    let cluster = Cluster::seed(&clients).await?;
    let quarantine = quarantine_group(&clients, &cluster.vpc_id).await?;
    let policy = demo_policy(&cluster, &quarantine);
    print_setup(&emulator, &cluster);
    let mut demo = Demo::start(emulator, clients, cluster, &policy).await?;
    demo.launches().await?;
    demo.surge().await?;
    demo.bypass(&quarantine).await?;
    demo.launchers(&policy).await?;
    demo.security_hub(&policy).await?;
    demo.decision_events(&policy).await?;
    demo.alerts()?;
    demo.operator_audit(&policy)?;
    demo.organisation().await?;
    Ok(demo.failures)
}

/// The security group `isolate` moves hand-launched nodes into.
async fn quarantine_group(clients: &Clients, vpc_id: &str) -> Result<String> {
    Ok(clients
        .ec2
        .create_security_group()
        .group_name("scaling-guard-quarantine")
        .description("no ingress, no egress: isolated nodes")
        .vpc_id(vpc_id)
        .send()
        .await?
        .group_id()
        .unwrap_or_default()
        .to_owned())
}

/// The seeded cluster's policy with the demo's instance budget and the
/// audit action `isolate` into `quarantine`.
fn demo_policy(cluster: &Cluster, quarantine: &str) -> BTreeMap<String, String> {
    let mut policy = cluster.policy_env();
    policy.insert("GUARD_MAX_INSTANCES".into(), MAX_INSTANCES.to_string());
    policy.insert("GUARD_AUDIT_ACTION".into(), "isolate".into());
    policy.insert(
        "GUARD_QUARANTINE_SECURITY_GROUP_ID".into(),
        quarantine.to_owned(),
    );
    policy
}

fn print_setup(emulator: &Emulator, cluster: &Cluster) {
    println!(
        "  emulator      {} (moto + scripts/emulator extension)",
        emulator.endpoint()
    );
    println!(
        "  cluster       `{CLUSTER}`: groups {}, and `{}` of cluster `staging`",
        cluster.groups.join(", "),
        cluster.staging_group
    );
    println!(
        "  policy        approved EKS images from this account (max {} days old), private subnets, node security groups,",
        90
    );
    println!(
        "                m6i.* only, IMDSv2, the prod node profile, at most {MAX_INSTANCES} instances, audit action `isolate`"
    );
}

impl Demo {
    /// Starts the three functions with `policy` against the emulator.
    async fn start(
        emulator: Emulator,
        clients: Clients,
        cluster: Cluster,
        policy: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let endpoint = emulator.endpoint();
        let launch_guard =
            Function::start(&Function::binary("launch-guard")?, &endpoint, policy).await?;
        let budget_guard =
            Function::start(&Function::binary("budget-guard")?, &endpoint, policy).await?;
        let instance_audit =
            Function::start(&Function::binary("instance-audit")?, &endpoint, policy).await?;
        println!(
            "  functions     launch-guard, budget-guard, instance-audit (target/debug binaries behind a local Runtime API)"
        );
        Ok(Demo {
            emulator,
            clients,
            cluster,
            launch_guard,
            budget_guard,
            instance_audit,
            failures: Vec::new(),
        })
    }

    fn expect(&mut self, what: &str, actual: &str, expected: &str) {
        if actual != expected {
            self.failures
                .push(format!("{what}: expected `{expected}`, got `{actual}`"));
        }
    }

    /// Part 1: every launch is vetted before it serves.
    async fn launches(&mut self) -> Result<()> {
        heading("1. Launches: every node vetted before it serves (launch-guard)");
        let group = self.cluster.groups.first().cloned().unwrap_or_default();
        let templates = self.cluster.templates.clone();
        for (label, template, expected) in vetted_templates(&templates) {
            self.vet(&group, &template, label, label, expected).await?;
        }
        self.public_subnet(&group, &templates.compliant).await?;
        self.duplicate_event(&group, &templates.compliant).await?;
        self.other_cluster(&templates.staging).await
    }

    /// Launches one node of `template` into `group`, prints its row as
    /// `label` and checks (as `check`) that the decision is `expected`.
    async fn vet(
        &mut self,
        group: &str,
        template: &str,
        label: &str,
        check: &str,
        expected: &str,
    ) -> Result<PendingAction> {
        let action = self.cluster.launch_with(group, template).await?;
        let decided = self.decide(&action).await?;
        self.row(label, &action, &decided).await?;
        self.expect(
            check,
            decided["decision"].as_str().unwrap_or_default(),
            expected,
        );
        Ok(action)
    }

    /// A node in the public subnet; then the group goes back to the private
    /// subnets and comes to rest.
    async fn public_subnet(&mut self, group: &str, template: &str) -> Result<()> {
        self.cluster
            .use_subnets(group, std::slice::from_ref(&self.cluster.public_subnet_id))
            .await?;
        self.vet(group, template, "public subnet", "public subnet", "ABANDON")
            .await?;
        self.cluster
            .use_subnets(group, &self.cluster.private_subnet_ids.clone())
            .await?;
        self.settle(group).await
    }

    /// The same event delivered twice (at-least-once delivery).
    async fn duplicate_event(&mut self, group: &str, template: &str) -> Result<()> {
        let action = self.cluster.launch_with(group, template).await?;
        let first = self.decide(&action).await?;
        let again = self.decide(&action).await?;
        self.row("compliant node", &action, &first).await?;
        self.row("  ...its event again", &action, &again).await?;
        self.expect("duplicate event", &again["duplicate"].to_string(), "true");
        Ok(())
    }

    /// Another cluster's group with the same hook name: not ours.
    async fn other_cluster(&mut self, template: &str) -> Result<()> {
        let staging = self.cluster.staging_group.clone();
        let label = "staging cluster's node";
        let action = self
            .vet(&staging, template, label, "other cluster", "IGNORED")
            .await?;
        let waiting = self
            .cluster
            .lifecycle_state(&action.instance_id)
            .await?
            .unwrap_or_default();
        self.expect("other cluster's node untouched", &waiting, "Pending:Wait");
        Ok(())
    }

    /// Part 2: a surge meets the budget; scale-out is suspended and resumed.
    async fn surge(&mut self) -> Result<()> {
        heading(&format!(
            "2. A surge: the budget is {MAX_INSTANCES} instances (launch-guard admission, budget-guard)"
        ));
        let group = self.cluster.groups.get(1).cloned().unwrap_or_default();
        let run = self.schedule().await?;
        println!(
            "  budget-guard schedule: usage {} instance(s) of {MAX_INSTANCES}",
            run["usage"]["instances"]
        );
        self.cluster
            .use_template(&group, &self.cluster.templates.compliant.clone())
            .await?;
        let desired = self.desired(&group).await?;
        println!("  the cluster autoscaler asks `{group}` for 6 more nodes at once");
        self.cluster
            .set_desired(&group, desired.saturating_add(6))
            .await?;
        let (admitted, denied) = self.decide_all_waiting(&group).await?;
        self.surge_held(&group, admitted, denied).await?;
        self.surge_ends(&group).await
    }

    /// Delivers every pending launch of `group`, including replacements of
    /// abandoned ones, until the group has nothing waiting. Returns how many
    /// were admitted and how many denied.
    async fn decide_all_waiting(&mut self, group: &str) -> Result<(usize, usize)> {
        let (mut admitted, mut denied) = (0, 0);
        while let Some(action) = self
            .emulator
            .control()
            .lifecycle_actions(Some(group))?
            .into_iter()
            .next()
        {
            let decided = self.decide(&action).await?;
            self.row("surge node", &action, &decided).await?;
            match decided["decision"].as_str() {
                Some("CONTINUE") => admitted += 1,
                _ => denied += 1,
            }
        }
        Ok((admitted, denied))
    }

    /// After the surge's launches: usage within the budget, only `Launch`
    /// suspended on `group`.
    async fn surge_held(&mut self, group: &str, admitted: usize, denied: usize) -> Result<()> {
        let run = self.schedule().await?;
        let usage = run["usage"]["instances"].as_u64().unwrap_or_default();
        println!(
            "  admitted {admitted}, denied {denied}; cluster now {usage} of {MAX_INSTANCES} instances"
        );
        self.expect(
            "usage within budget",
            &(usage <= MAX_INSTANCES).to_string(),
            "true",
        );
        let suspended = self.suspended_processes(group).await?;
        println!(
            "  `{group}` suspended processes: {suspended:?} (only Launch: health checks go on; an unhealthy node is not replaced until Launch resumes)"
        );
        self.expect(
            "only Launch suspended",
            &format!("{suspended:?}"),
            "[\"Launch\"]",
        );
        Ok(())
    }

    /// The surge ends: the group shrinks, usage falls, scale-out resumes.
    async fn surge_ends(&mut self, group: &str) -> Result<()> {
        println!("  the surge ends: the autoscaler scales `{group}` back to 1 node, usage falls");
        self.set_desired_and_shrink(group, 1).await?;
        let run = self.schedule().await?;
        println!(
            "  budget-guard schedule: usage {} of {MAX_INSTANCES}, resumed {}",
            run["usage"]["instances"], run["resumed"]
        );
        let after = self.suspended_processes(group).await?;
        self.expect("resumed after the surge", &format!("{after:?}"), "[]");
        Ok(())
    }

    /// Part 3: nodes that bypass the central configuration.
    async fn bypass(&mut self, quarantine: &str) -> Result<()> {
        heading("3. Nodes launched by hand (instance-audit)");
        let inside = self.run_by_hand(true).await?;
        let audited = self.audit(&inside, "pending").await?;
        let groups = self.security_groups(&inside).await?;
        println!(
            "  {inside}  tagged for cluster `{CLUSTER}`, no group  -> {} ({}), security groups now {groups:?}",
            audited["outcome"].as_str().unwrap_or_default(),
            audited["action"].as_str().unwrap_or("none"),
        );
        print_findings(&audited);
        self.expect(
            "hand-launched node isolated",
            &format!("{groups:?}"),
            &format!("[{quarantine:?}]"),
        );

        let outside = self.run_by_hand(false).await?;
        let audited = self.audit(&outside, "pending").await?;
        println!(
            "  {outside}  no cluster tag                  -> {} (never touched, never alerted)",
            audited["outcome"].as_str().unwrap_or_default()
        );
        self.expect(
            "node of no cluster ignored",
            audited["outcome"].as_str().unwrap_or_default(),
            "ignored",
        );
        Ok(())
    }

    /// Part 3b: launchers without hooks. A Karpenter-style node (`CreateFleet`,
    /// no group, no hook) is judged at its first state change; an EKS Auto
    /// Mode node (an EC2 managed instance, hidden from a plain
    /// `DescribeInstances`) is reported, never touched, and counted. Usage
    /// is read with the read-only CLI: a budget-guard run would suspend.
    async fn launchers(&mut self, policy: &BTreeMap<String, String>) -> Result<()> {
        heading("3b. Launchers without hooks: Karpenter and EKS Auto Mode (instance-audit)");
        let before = self.usage(policy)?;
        let imdsv1 = self.cluster.templates.imdsv1.clone();
        for id in self.cluster.karpenter_fleet("default", &imdsv1, 1).await? {
            let audited = self.audit(&id, "pending").await?;
            print_audited(&id, "Karpenter node (CreateFleet, IMDSv1)", &audited);
            let outcome = audited["outcome"].as_str().unwrap_or_default();
            self.expect("Karpenter node judged", outcome, "remediated");
        }
        let managed = self.auto_mode_node().await?;
        let audited = self.audit(&managed, "running").await?;
        print_audited(&managed, "Auto Mode node (managed, hidden)", &audited);
        let outcome = audited["outcome"].as_str().unwrap_or_default();
        self.expect(
            "Auto Mode node reported, never remediated",
            outcome,
            "reported",
        );
        let after = self.usage(policy)?;
        println!(
            "  `scaling-guard audit`: usage {before} -> {after} instance(s): both count, the hidden managed node included"
        );
        self.expect(
            "Karpenter and Auto Mode nodes counted",
            &after.to_string(),
            &(before + 2).to_string(),
        );
        Ok(())
    }

    /// The cluster's instance usage as `scaling-guard audit --json` measures it.
    fn usage(&self, policy: &BTreeMap<String, String>) -> Result<u64> {
        let output = self.cli(policy, &["audit", "--json"])?;
        let report: Value = serde_json::from_slice(&output.stdout)?;
        report["budget"]["usage"]["instances"]
            .as_u64()
            .ok_or_else(|| format!("no budget usage in the audit report: {report}").into())
    }

    /// One EKS Auto Mode node of the cluster: launched, marked an EC2 managed
    /// instance of EKS, with the account's managed-resource visibility
    /// `hidden`. Returns its id.
    async fn auto_mode_node(&self) -> Result<String> {
        let id = self.run_by_hand(true).await?;
        self.emulator
            .control()
            .mark_managed(std::slice::from_ref(&id), "eks.amazonaws.com")?;
        self.clients
            .ec2
            .modify_managed_resource_visibility()
            .default_visibility(ManagedResourceDefaultVisibility::Hidden)
            .send()
            .await?;
        Ok(id)
    }

    /// Part 5: what an operator sees with the read-only CLI.
    fn operator_audit(&mut self, policy: &BTreeMap<String, String>) -> Result<()> {
        heading("5. The operator's view: `scaling-guard audit` (read-only CLI) on this cluster");
        let output = self.cli(policy, &["audit"])?;
        print!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        println!("(exit code {})", output.status.code().unwrap_or(-1));
        // The hand-launched node is still unmanaged (isolated, not removed): violations, exit 1.
        self.expect(
            "cli audit exit code",
            &output.status.code().unwrap_or(-1).to_string(),
            "1",
        );
        Ok(())
    }

    /// Runs the operator CLI with `args` and `policy` against the emulator.
    fn cli(&self, policy: &BTreeMap<String, String>, args: &[&str]) -> Result<Output> {
        scaling_guard_e2e::operator_cli(Some(self.emulator.endpoint().as_str()))?
            .args(args)
            .envs(policy)
            .output()
            .map_err(|err| format!("cannot run the operator CLI: {err}").into())
    }

    /// Part 4: the alerts as SNS received them.
    fn alerts(&mut self) -> Result<()> {
        heading("4. Alerts on the topic, as subscribers receive them");
        let published = self.published()?;
        let mut shown: BTreeMap<String, usize> = BTreeMap::new();
        for (n, publish) in published.iter().enumerate() {
            let (_, body) = decode(publish)?;
            let kind = body["kind"].as_str().unwrap_or_default().to_owned();
            println!(
                "  {:>2}. [{:<8}] {}",
                n + 1,
                body["severity"].as_str().unwrap_or_default(),
                publish["subject"].as_str().unwrap_or_default()
            );
            *shown.entry(kind).or_default() += 1;
        }
        self.expect_alert_kinds(&shown);
        print_one_of_each_kind(&published)
    }

    /// What the emulator's SNS published on the alert topic, in order.
    fn published(&self) -> Result<Vec<Value>> {
        let path = format!(
            "/_scaling_guard/sns/published?topic={}",
            self.cluster.topic_arn
        );
        let answer = http::request(
            &self.emulator.address(),
            "GET",
            &path,
            None,
            Duration::from_secs(10),
        )?;
        Ok(serde_json::from_str(&answer.body)?)
    }

    /// Every kind the demo provokes was published, the suspension once.
    fn expect_alert_kinds(&mut self, shown: &BTreeMap<String, usize>) {
        let kinds: Vec<&str> = shown.keys().map(String::as_str).collect();
        for wanted in [
            "launch_denied",
            "scale_out_suspended",
            "scale_out_resumed",
            "instance_remediated",
        ] {
            if !kinds.contains(&wanted) {
                self.failures
                    .push(format!("no `{wanted}` alert was published"));
            }
        }
        self.expect(
            "no repeated suspension alert",
            &shown
                .get("scale_out_suspended")
                .copied()
                .unwrap_or_default()
                .to_string(),
            "1",
        );
    }

    async fn decide(&self, action: &PendingAction) -> Result<Value> {
        Ok(self
            .launch_guard
            .invoke(&events::lifecycle_event(action)?)
            .await?)
    }

    async fn schedule(&self) -> Result<Value> {
        let event: Value =
            serde_json::from_str(include_str!("../../../events/budget-schedule.json"))?;
        Ok(self.budget_guard.invoke(&event).await?)
    }

    /// instance-audit on the instance's state change to `state`.
    async fn audit(&self, instance_id: &str, state: &str) -> Result<Value> {
        let mut event: Value =
            serde_json::from_str(include_str!("../../../events/state-change-pending.json"))?;
        event["detail"]["instance-id"] = json!(instance_id);
        event["detail"]["state"] = json!(state);
        Ok(self.instance_audit.invoke(&event).await?)
    }

    /// One line of the timeline: what launched, the decision, the reasons.
    async fn row(&self, label: &str, action: &PendingAction, decided: &Value) -> Result<()> {
        let state = self
            .cluster
            .lifecycle_state(&action.instance_id)
            .await?
            .unwrap_or_else(|| "terminated".into());
        let decision = decided["decision"].as_str().unwrap_or("?");
        let extra = match (decided["duplicate"].as_bool(), decided["reason"].as_str()) {
            (Some(true), _) => "  (duplicate: already decided, nothing done)".to_owned(),
            (_, Some(reason)) => format!("  ({reason})"),
            _ => String::new(),
        };
        println!(
            "  {:<14} {}  {:<28} {:<8} -> {state}{extra}",
            action.group, action.instance_id, label, decision
        );
        for finding in decided["violations"].as_array().into_iter().flatten() {
            println!(
                "      {}: {}",
                finding["check"].as_str().unwrap_or_default(),
                finding["message"].as_str().unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Lets a group come to rest: Auto Scaling launched a replacement for
    /// every abandoned node (with the bad template of its time); the
    /// autoscaler scales those in before they are decided.
    async fn settle(&self, group: &str) -> Result<()> {
        let waiting = self.emulator.control().lifecycle_actions(Some(group))?;
        for action in &waiting {
            self.cluster.terminate_in_group(&action.instance_id).await?;
        }
        println!(
            "  ({} replacement launch(es) of abandoned nodes scaled in while still waiting)",
            waiting.len()
        );
        Ok(())
    }

    async fn group(&self, group: &str) -> Result<aws_sdk_autoscaling::types::AutoScalingGroup> {
        Ok(self.cluster.describe_group(group).await?)
    }

    async fn desired(&self, group: &str) -> Result<i32> {
        Ok(self
            .group(group)
            .await?
            .desired_capacity()
            .unwrap_or_default())
    }

    /// Scales the group in to `keep` nodes, terminating the rest.
    async fn set_desired_and_shrink(&self, group: &str, keep: usize) -> Result<()> {
        let g = self.group(group).await?;
        for instance in g.instances().iter().skip(keep) {
            self.cluster
                .terminate_in_group(instance.instance_id().unwrap_or_default())
                .await?;
        }
        // The autoscaler's new wish: abandoned launches left the old one high.
        Ok(self
            .cluster
            .set_desired(group, i32::try_from(keep)?)
            .await?)
    }

    async fn suspended_processes(&self, group: &str) -> Result<Vec<String>> {
        let g = self.group(group).await?;
        Ok(g.suspended_processes()
            .iter()
            .filter_map(|p| p.process_name().map(str::to_owned))
            .collect())
    }

    async fn security_groups(&self, instance_id: &str) -> Result<Vec<String>> {
        let instance = self.cluster.instance(instance_id).await?;
        Ok(instance
            .iter()
            .flat_map(|i| i.security_groups())
            .filter_map(|g| g.group_id().map(str::to_owned))
            .collect())
    }

    /// `RunInstances` by hand: a compliant-looking node, with or without the
    /// cluster tag, outside any group.
    async fn run_by_hand(&self, in_cluster: bool) -> Result<String> {
        let mut tags = TagSpecification::builder()
            .resource_type(ResourceType::Instance)
            .tags(Tag::builder().key("Name").value("launched-by-hand").build());
        if in_cluster {
            tags = tags.tags(
                Tag::builder()
                    .key(format!("kubernetes.io/cluster/{CLUSTER}"))
                    .value("owned")
                    .build(),
            );
        }
        let output = self
            .clients
            .ec2
            .run_instances()
            .image_id(&self.cluster.images.fresh)
            .instance_type(InstanceType::M6iLarge)
            .min_count(1)
            .max_count(1)
            .subnet_id(
                self.cluster
                    .private_subnet_ids
                    .first()
                    .cloned()
                    .unwrap_or_default(),
            )
            .set_security_group_ids(Some(self.cluster.node_security_group_ids.clone()))
            .tag_specifications(tags.build())
            .send()
            .await?;
        output
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .map(str::to_owned)
            .ok_or_else(|| "RunInstances returned no instance".into())
    }
}

/// One audited instance: its outcome, the action taken, the findings.
fn print_audited(id: &str, label: &str, audited: &Value) {
    println!(
        "  {id}  {label:<38} -> {} ({})",
        audited["outcome"].as_str().unwrap_or_default(),
        audited["action"].as_str().unwrap_or("none"),
    );
    print_findings(audited);
}

/// The findings instance-audit answered with, one line each.
fn print_findings(audited: &Value) {
    for finding in audited["violations"].as_array().into_iter().flatten() {
        println!(
            "      {}: {}",
            finding["check"].as_str().unwrap_or_default(),
            finding["message"].as_str().unwrap_or_default()
        );
    }
}

/// The launches of part 1 with one template each: a label, the template,
/// the decision the guard must take.
fn vetted_templates(templates: &Templates) -> [(&'static str, String, &'static str); 7] {
    [
        ("compliant node", templates.compliant.clone(), "CONTINUE"),
        (
            "GPU type nobody approved",
            templates.denied_type.clone(),
            "ABANDON",
        ),
        (
            "image older than 90 days",
            templates.old_image.clone(),
            "ABANDON",
        ),
        (
            "deprecated image",
            templates.deprecated_image.clone(),
            "ABANDON",
        ),
        ("IMDSv1 left on", templates.imdsv1.clone(), "ABANDON"),
        (
            "staging's instance profile",
            templates.staging_profile.clone(),
            "ABANDON",
        ),
        (
            "a foreign security group",
            templates.foreign_security_group.clone(),
            "ABANDON",
        ),
    ]
}

/// A published alert's message structure (one body per protocol) and its
/// default body (the JSON).
fn decode(publish: &Value) -> Result<(Value, Value)> {
    let structure: Value = serde_json::from_str(publish["message"].as_str().unwrap_or("{}"))?;
    let body: Value = serde_json::from_str(structure["default"].as_str().unwrap_or("{}"))?;
    Ok((structure, body))
}

/// One alert of each kind in full: the e-mail text, then the JSON.
fn print_one_of_each_kind(published: &[Value]) -> Result<()> {
    let mut seen = Vec::new();
    for publish in published {
        let (structure, body) = decode(publish)?;
        let kind = body["kind"].as_str().unwrap_or_default().to_owned();
        if seen.contains(&kind) {
            continue;
        }
        seen.push(kind.clone());
        println!("\n---------------- {kind}: e-mail ----------------");
        println!(
            "Subject: {}",
            publish["subject"].as_str().unwrap_or_default()
        );
        println!(
            "{}",
            structure["email"].as_str().unwrap_or_default().trim_end()
        );
        println!(
            "---------------- {kind}: JSON (default body), attributes {} ----------------",
            attributes(&publish["attributes"])
        );
        println!("{}", serde_json::to_string_pretty(&body)?);
    }
    Ok(())
}

fn heading(text: &str) {
    println!("\n== {text} ==");
}

fn attributes(value: &Value) -> String {
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, v)| {
            format!(
                "{name}={}",
                v["Value"].as_str().or(v.as_str()).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}
