//! The benchmark driver of `scripts/bench`: what the function binaries cost
//! at run time, measured with the end-to-end harness (the local emulator,
//! the in-process Lambda Runtime API) on the binaries of
//! `SCALING_GUARD_BIN_DIR` (`target/release` under `scripts/bench`).
//!
//! * cold start of each function (spawn to the first poll of the Runtime
//!   API) and its peak RSS after warm invocations;
//! * AWS calls per decision, counted at the emulator, and the bytes on the
//!   wire, counted by a TCP proxy between the functions and the emulator;
//! * decision latency for clusters of growing size, and each function's
//!   peak RSS after reading the whole cluster;
//! * the CLI's `audit` of large clusters (wall, CPU, peak RSS, requests);
//! * launches per second of a scale-up through the EventBridge path and the
//!   SQS path, every AWS call 50 ms slower;
//! * what another cluster's burst costs instance-audit: `DescribeInstances`
//!   per 1,000 foreign state changes through the instance-event queue, and
//!   one invocation each as before (issue 20);
//! * how fast a Karpenter-style burst's non-compliant nodes are remediated:
//!   p50 and p99 from the state change to the remediation call, every AWS
//!   call 50 ms slower (issue 23);
//! * `scaling-guard org audit` of 10 accounts × 1,000 instances (wall, CPU,
//!   peak RSS against issue 25's goals), its findings checked against ten
//!   single-account audits.
//!
//! Prints the rows of one markdown table (`| area | measurement | value |
//! notes |`) and writes them to `--out FILE`. `--smoke`: a tiny run (3
//! starts, 5 invocations, a cluster of 20, scale-ups of 20); `--large`: also
//! a cluster of 30,000 instances; `--memory`: only each function's and the
//! CLI's peak RSS at 10,000 instances; `--startup`: only the cold starts and
//! the peak RSS after warm invocations (the first rows, alone, to compare
//! binaries quickly); `--karpenter`: only the Karpenter fleet's row;
//! `--org-audit`: only the `org audit` rows (with `--smoke`: 2 accounts ×
//! 20 instances); `--function NAME` (repeatable): those rows for NAME alone. Exits non-zero
//! if any measurement failed.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use scaling_guard_e2e::{
    Clients, Cluster, Control, Emulator, FaultRule, Function, RequestRecord, events,
};
use serde_json::{Value, json};

// A crate root's modules live beside it: this one is the driver's own.
#[path = "bench/karpenter.rs"]
mod karpenter;
#[path = "bench/org_audit.rs"]
mod org_audit;

type Result<T, E = Box<dyn StdError>> = std::result::Result<T, E>;

/// The functions whose start and memory are measured.
const FUNCTIONS: [&str; 4] = [
    "launch-guard",
    "budget-guard",
    "instance-audit",
    "stack-guard",
];
/// The budget of the "budgets on" deployment: far above any cluster here,
/// so every launch is admitted and the whole admission path runs.
const MAX_INSTANCES: &str = "100000";
/// The latency added to every AWS call of the scale-up measurements.
const SLOWER_MS: u64 = 50;
/// Another cluster's state changes that instance-audit hears, in every run
/// (the measurement is defined per 1,000, and cheap).
const FOREIGN_CHANGES: usize = 1_000;
/// The instance-event queue's batch: `BatchSize` of
/// `InstanceEventQueueEventSourceMapping` in template.yaml.
const QUEUE_BATCH: usize = 100;

#[derive(Debug)]
struct Plan {
    starts: usize,
    invocations: usize,
    /// The functions whose cold start and memory after invocations are
    /// measured (FUNCTIONS, or those named by `--function`).
    functions: Vec<String>,
    /// Whether to count the AWS calls of each decision (small cluster).
    calls: bool,
    decision_sizes: Vec<usize>,
    audit_sizes: Vec<usize>,
    /// Cluster sizes at which each function's peak RSS is measured after
    /// one event that reads the whole cluster.
    memory_sizes: Vec<usize>,
    /// Launches fired at once through each delivery path.
    scale_ups: Vec<usize>,
    /// Whether to measure another cluster's burst (FOREIGN_CHANGES).
    foreign_burst: bool,
    /// The Karpenter-style fleet of the remediation latency: its nodes and
    /// how many of them are non-compliant.
    fleet: Option<(usize, usize)>,
    /// The fleet of `org audit`: its accounts and the instances of each.
    org_audit: Option<(usize, usize)>,
    out: Option<PathBuf>,
}

/// Which run the arguments ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Full {
        large: bool,
    },
    Smoke,
    Memory,
    Startup,
    /// Only the Karpenter fleet's remediation latency.
    Karpenter,
    /// Only the `org audit` rows (`smoke`: the smoke run's fleet).
    OrgAudit {
        smoke: bool,
    },
}

impl Plan {
    fn from_args() -> Result<Self> {
        let (mut smoke, mut large, mut memory, mut startup) = (false, false, false, false);
        let (mut karpenter, mut org_audit) = (false, false);
        let (mut functions, mut out) = (Vec::new(), None);
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--smoke" => smoke = true,
                "--large" => large = true,
                "--memory" => memory = true,
                "--startup" => startup = true,
                "--karpenter" => karpenter = true,
                "--org-audit" => org_audit = true,
                "--function" => functions.push(function_arg(args.next())?),
                "--out" => out = Some(PathBuf::from(args.next().ok_or("--out needs a file")?)),
                other => return Err(format!("unknown argument `{other}`").into()),
            }
        }
        let mode = if memory {
            Mode::Memory
        } else if karpenter {
            Mode::Karpenter
        } else if org_audit {
            Mode::OrgAudit { smoke }
        } else if startup {
            Mode::Startup
        } else if smoke {
            Mode::Smoke
        } else {
            Mode::Full { large }
        };
        let mut plan = Self::of(mode);
        if !functions.is_empty() {
            plan.functions = functions;
        }
        plan.out = out;
        Ok(plan)
    }

    fn of(mode: Mode) -> Self {
        let all = Self {
            starts: 20,
            invocations: 50,
            functions: FUNCTIONS.map(String::from).to_vec(),
            calls: true,
            decision_sizes: Vec::new(),
            audit_sizes: Vec::new(),
            memory_sizes: Vec::new(),
            scale_ups: vec![100, 1_000],
            foreign_burst: true,
            fleet: Some((200, 20)),
            org_audit: Some(org_audit::GOAL_SCALE),
            out: None,
        };
        match mode {
            Mode::Full { large } => Self::full(large, all),
            Mode::Smoke => Self {
                starts: 3,
                invocations: 5,
                decision_sizes: vec![20],
                audit_sizes: vec![20],
                memory_sizes: vec![20],
                scale_ups: vec![20],
                fleet: Some((20, 2)),
                org_audit: Some((2, 20)),
                ..all
            },
            // Only the memory at 10,000 instances: each function and the CLI.
            Mode::Memory => Self {
                starts: 0,
                invocations: 0,
                calls: false,
                audit_sizes: vec![10_000],
                memory_sizes: vec![10_000],
                scale_ups: Vec::new(),
                foreign_burst: false,
                fleet: None,
                org_audit: None,
                ..all
            },
            // Only the cold starts and the memory after warm invocations.
            Mode::Startup => Self {
                calls: false,
                scale_ups: Vec::new(),
                foreign_burst: false,
                fleet: None,
                org_audit: None,
                ..all
            },
            Mode::Karpenter => Self {
                starts: 0,
                invocations: 0,
                calls: false,
                scale_ups: Vec::new(),
                foreign_burst: false,
                org_audit: None,
                ..all
            },
            Mode::OrgAudit { smoke } => Self {
                starts: 0,
                invocations: 0,
                calls: false,
                scale_ups: Vec::new(),
                foreign_burst: false,
                fleet: None,
                org_audit: if smoke { Some((2, 20)) } else { all.org_audit },
                ..all
            },
        }
    }

    /// The default run: `all` at every cluster size (`large`: also 30,000).
    fn full(large: bool, all: Self) -> Self {
        let mut sizes = vec![1_000, 10_000];
        if large {
            sizes.push(30_000);
        }
        Self {
            decision_sizes: [100].into_iter().chain(sizes.iter().copied()).collect(),
            audit_sizes: [3_000].into_iter().chain(sizes.iter().copied()).collect(),
            memory_sizes: sizes,
            ..all
        }
    }

    /// Whether any cluster size is measured (a second emulator to seed).
    fn has_sizes(&self) -> bool {
        !(self.decision_sizes.is_empty()
            && self.audit_sizes.is_empty()
            && self.memory_sizes.is_empty())
    }
}

/// The value of `--function`: one of FUNCTIONS.
fn function_arg(value: Option<String>) -> Result<String> {
    match value {
        Some(name) if FUNCTIONS.contains(&name.as_str()) => Ok(name),
        Some(name) => Err(format!("--function {name}: not one of {FUNCTIONS:?}").into()),
        None => Err("--function needs a name".into()),
    }
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let plan = match Plan::from_args() {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!("bench: {err}");
            std::process::exit(2);
        }
    };
    let mut bench = Bench::default();
    if let Err(err) = bench.run(&plan).await {
        bench.fail("the run", &err.to_string());
    }
    let table = bench.rows.join("\n");
    println!("{table}");
    if let Some(out) = &plan.out
        && let Err(err) = std::fs::write(out, format!("{table}\n"))
    {
        bench.fail("writing the rows", &format!("{}: {err}", out.display()));
    }
    eprintln!("bench: driver finished in {:.0?}", started.elapsed());
    if !bench.failures.is_empty() {
        eprintln!("bench FAILED: {} measurement(s):", bench.failures.len());
        for failure in &bench.failures {
            eprintln!("  - {failure}");
        }
        std::process::exit(1);
    }
}

#[derive(Debug, Default)]
struct Bench {
    rows: Vec<String>,
    failures: Vec<String>,
}

/// What one measured step cost at the emulator.
#[derive(Debug, Default)]
struct Cost {
    wall: Duration,
    /// Requests per operation.
    calls: BTreeMap<String, usize>,
    /// Bytes sent to the emulator (requests) and received (responses).
    up: u64,
    down: u64,
}

impl Cost {
    fn total(&self) -> usize {
        self.calls.values().sum()
    }

    fn breakdown(&self) -> String {
        self.calls
            .iter()
            .map(|(operation, n)| format!("{operation} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Bench {
    fn row(&mut self, area: &str, measurement: &str, value: &str, notes: &str) {
        let line = format!("| {area} | {measurement} | {value} | {notes} |");
        eprintln!("{line}");
        self.rows.push(line);
    }

    fn fail(&mut self, what: &str, why: &str) {
        let why = why.lines().next().unwrap_or_default().to_owned();
        self.row("FAILED", what, "-", &why.replace('|', "/"));
        self.failures.push(format!("{what}: {why}"));
    }

    async fn run(&mut self, plan: &Plan) -> Result<()> {
        eprintln!("bench: binaries from {}", Function::binary_dir().display());
        if plan.starts > 0 || plan.calls {
            self.small_cluster(plan).await?;
        }

        // Growing clusters, on a fresh emulator.
        if plan.has_sizes()
            && let Err(err) = self.sizes(plan).await
        {
            self.fail("cluster sizes", &err.to_string());
        }
        self.bursts(plan).await;

        // One organisation's accounts, on a fresh emulator.
        if let Some((accounts, instances)) = plan.org_audit
            && let Err(err) = self.org_audit(accounts, instances).await
        {
            self.fail("org audit", &err.to_string());
        }
        Ok(())
    }

    /// The scenarios on a small cluster: one emulator behind a counting proxy.
    async fn small_cluster(&mut self, plan: &Plan) -> Result<()> {
        let emulator = Emulator::start()?;
        let proxy = Proxy::start(&emulator.address())?;
        let clients = Clients::new(&emulator).await;
        let cluster = Cluster::seed(&clients).await?;
        let policy_off = cluster.policy_env();
        let policy_on = budgets_on(&cluster);
        let scene = Scene {
            control: emulator.control(),
            proxy: &proxy,
            cluster: &cluster,
        };

        if plan.starts > 0 {
            for name in &plan.functions {
                if let Err(err) = self.start_and_memory(plan, &scene, name, &policy_on).await {
                    self.fail(&format!("{name} start and memory"), &err.to_string());
                }
            }
        }
        if plan.calls
            && let Err(err) = self
                .calls_per_decision(&scene, &policy_off, &policy_on)
                .await
        {
            self.fail("calls per decision", &err.to_string());
        }
        Ok(())
    }

    /// Bursts, each on a fresh emulator: another cluster's state changes, a
    /// Karpenter fleet's remediations, scale-ups through each delivery path.
    async fn bursts(&mut self, plan: &Plan) {
        // Another cluster's burst, as instance-audit hears it.
        if plan.foreign_burst
            && let Err(err) = self.foreign_burst(FOREIGN_CHANGES).await
        {
            self.fail("foreign state changes", &err.to_string());
        }

        // A Karpenter-style burst's remediations, on a fresh emulator.
        if let Some((nodes, bad)) = plan.fleet
            && let Err(err) = self.karpenter_remediation(nodes, bad).await
        {
            self.fail("Karpenter fleet remediation", &err.to_string());
        }

        // Scale-ups through each delivery path, each on a fresh emulator.
        for &launches in &plan.scale_ups {
            for path in [Delivery::EventBridge, Delivery::Sqs] {
                if let Err(err) = self.scale_up(launches, path).await {
                    self.fail(&format!("{launches} launches, {path:?}"), &err.to_string());
                }
            }
        }
    }

    /// Cold starts of `name` (spawn → first poll), then its peak RSS after
    /// warm invocations of a cheap event.
    async fn start_and_memory(
        &mut self,
        plan: &Plan,
        scene: &Scene<'_>,
        name: &str,
        policy: &BTreeMap<String, String>,
    ) -> Result<()> {
        let binary = Function::binary(name)?;
        let endpoint = scene.proxy.endpoint();
        let mut starts = Vec::new();
        for _ in 0..plan.starts {
            let function = Function::start(&binary, &endpoint, policy).await?;
            starts.push(function.cold_start().ok_or("no first poll recorded")?);
        }
        starts.sort();
        let median = starts.get(starts.len() / 2).copied().unwrap_or_default();
        let max = starts.last().copied().unwrap_or_default();
        self.row(
            "cold start",
            &format!("{name}: spawn → first poll"),
            &format!("median {} ms, max {} ms", ms(median), ms(max)),
            &format!("{} starts, emulator endpoint, 256 MB env", starts.len()),
        );

        let function = Function::start(&binary, &endpoint, policy).await?;
        let (event, what) = cheap_event(name, scene).await?;
        for _ in 0..plan.invocations {
            match function.invoke(&event).await {
                Ok(_) => {}
                // stack-guard's cheap event is one it rejects: an answer all the same.
                Err(scaling_guard_e2e::InvokeError::Function { .. }) if name == "stack-guard" => {}
                Err(err) => return Err(err.into()),
            }
        }
        let rss = function.peak_rss_kib().ok_or("no VmHWM in /proc")?;
        self.row(
            "memory",
            &format!("{name}: peak RSS (VmHWM)"),
            &format!("{:.1} MiB", kib_to_mib(rss)),
            &format!("after {} invocations of {what}", plan.invocations),
        );
        Ok(())
    }

    async fn calls_per_decision(
        &mut self,
        scene: &Scene<'_>,
        policy_off: &BTreeMap<String, String>,
        policy_on: &BTreeMap<String, String>,
    ) -> Result<()> {
        let endpoint = scene.proxy.endpoint();
        let group = scene.cluster.groups.first().cloned().unwrap_or_default();
        let mut admitted = None;
        for (budgets, policy) in [("off", policy_off), ("on", policy_on)] {
            let guard = Function::launch_guard(&endpoint, policy).await?;
            for caches in ["cold", "warm"] {
                let action = scene.cluster.launch(&group).await?;
                let event = events::lifecycle_event(&action)?;
                let (answer, cost) = scene.measure(guard.invoke(&event)).await?;
                expect_decision(&answer, "CONTINUE")?;
                admitted = Some(action.instance_id.clone());
                self.cost_row(
                    &format!("launch decision, budgets {budgets}, caches {caches}"),
                    &cost,
                    1,
                );
            }
            if budgets == "on" {
                self.sqs_batch_calls(scene, &guard, &group).await?;
            }
        }
        self.budget_guard_calls(scene, policy_on).await?;
        let instance = admitted.ok_or("no admitted instance")?;
        self.instance_audit_calls(scene, policy_on, &instance).await
    }

    /// An SQS batch of 10 launches, on the warm launch-guard `guard`.
    async fn sqs_batch_calls(
        &mut self,
        scene: &Scene<'_>,
        guard: &Function,
        group: &str,
    ) -> Result<()> {
        let desired = scene.cluster.group_state(group).await?.desired_capacity;
        let actions = scene
            .cluster
            .scale_to(group, desired.saturating_add(10))
            .await?;
        let bodies: Vec<String> = actions.iter().map(events::hook_message).collect();
        let batch = events::sqs_batch(&bodies)?;
        let (answer, cost) = scene.measure(guard.invoke(&batch)).await?;
        let failed = answer["batchItemFailures"]
            .as_array()
            .map(Vec::len)
            .unwrap_or_default();
        if failed > 0 || bodies.len() != 10 {
            return Err(format!(
                "SQS batch of {}: {failed} item failures: {answer}",
                bodies.len()
            )
            .into());
        }
        self.cost_row("SQS batch of 10 launches, budgets on", &cost, 10);
        Ok(())
    }

    /// Two schedule runs of a new budget-guard.
    async fn budget_guard_calls(
        &mut self,
        scene: &Scene<'_>,
        policy: &BTreeMap<String, String>,
    ) -> Result<()> {
        let budget_guard = Function::budget_guard(&scene.proxy.endpoint(), policy).await?;
        for run in ["first", "second"] {
            let (_, cost) = scene
                .measure(budget_guard.invoke(&events::budget_schedule()?))
                .await?;
            self.cost_row(&format!("budget-guard schedule run ({run})"), &cost, 1);
        }
        Ok(())
    }

    /// A new instance-audit: the state change of the group node `instance`,
    /// then a sweep.
    async fn instance_audit_calls(
        &mut self,
        scene: &Scene<'_>,
        policy: &BTreeMap<String, String>,
        instance: &str,
    ) -> Result<()> {
        let audit = Function::instance_audit(&scene.proxy.endpoint(), policy).await?;
        let event = events::state_change(instance, "running")?;
        let (_, cost) = scene.measure(audit.invoke(&event)).await?;
        self.cost_row("instance-audit state-change event (group node)", &cost, 1);
        let (_, cost) = scene.measure(audit.invoke(&events::audit_sweep()?)).await?;
        self.cost_row("instance-audit sweep", &cost, 1);
        Ok(())
    }

    fn cost_row(&mut self, what: &str, cost: &Cost, per: usize) {
        let per_item = if per > 1 {
            format!(
                " ({:.1} per launch)",
                cost.total() as f64 / per.max(1) as f64
            )
        } else {
            String::new()
        };
        self.row(
            "AWS calls",
            what,
            &format!("{} calls{per_item}", cost.total()),
            &format!(
                "{}; {} ms, {:.1} KiB in / {:.1} KiB out",
                cost.breakdown(),
                ms(cost.wall),
                kib(cost.down),
                kib(cost.up)
            ),
        );
    }

    /// Decisions and the CLI's audit on clusters of growing size.
    async fn sizes(&mut self, plan: &Plan) -> Result<()> {
        let emulator = Emulator::start()?;
        let proxy = Proxy::start(&emulator.address())?;
        let clients = Clients::new(&emulator).await;
        let cluster = Cluster::seed(&clients).await?;
        let scene = Scene {
            control: emulator.control(),
            proxy: &proxy,
            cluster: &cluster,
        };
        let policy = budgets_on(&cluster);
        let guard = Function::launch_guard(&proxy.endpoint(), &policy).await?;
        let group = cluster.groups.first().cloned().unwrap_or_default();
        // Warm the function's caches (image, subnet) on the empty cluster.
        let action = cluster.launch(&group).await?;
        guard.invoke(&events::lifecycle_event(&action)?).await?;

        let mut sizes: Vec<usize> = plan
            .decision_sizes
            .iter()
            .chain(&plan.audit_sizes)
            .chain(&plan.memory_sizes)
            .copied()
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        let mut seeded = 0;
        for size in sizes {
            let started = Instant::now();
            cluster.run_nodes(size - seeded).await?;
            seeded = size;
            eprintln!(
                "bench: seeded {seeded} cluster instances in {:.1?}",
                started.elapsed()
            );
            if plan.decision_sizes.contains(&size) {
                let reps = if size >= 10_000 { 1 } else { 3 };
                if let Err(err) = self.decisions_at(&scene, &guard, &group, size, reps).await {
                    self.fail(&format!("decision at {size}"), &err.to_string());
                }
            }
            if plan.memory_sizes.contains(&size) {
                for name in ["launch-guard", "budget-guard", "instance-audit"] {
                    if let Err(err) = self.memory_at(&scene, &policy, name, size).await {
                        self.fail(&format!("{name} memory at {size}"), &err.to_string());
                    }
                }
            }
            if plan.audit_sizes.contains(&size)
                && let Err(err) = self.cli_audit(&scene, &policy, size)
            {
                self.fail(&format!("CLI audit at {size}"), &err.to_string());
            }
        }
        Ok(())
    }

    /// The peak RSS of a new execution environment of `name` after one event
    /// that reads the whole cluster of `size` instances: launch-guard's first
    /// decision (its snapshot is cold), budget-guard's schedule run,
    /// instance-audit's sweep.
    async fn memory_at(
        &mut self,
        scene: &Scene<'_>,
        policy: &BTreeMap<String, String>,
        name: &str,
        size: usize,
    ) -> Result<()> {
        let function =
            Function::start(&Function::binary(name)?, &scene.proxy.endpoint(), policy).await?;
        let group = scene.cluster.groups.first().cloned().unwrap_or_default();
        let (event, what) = match name {
            "launch-guard" => (
                events::lifecycle_event(&scene.cluster.launch(&group).await?)?,
                "its first launch decision (budgets on: reads every instance)",
            ),
            "budget-guard" => (
                events::budget_schedule()?,
                "a schedule run (reads every instance)",
            ),
            _ => (events::audit_sweep()?, "a sweep (reads every instance)"),
        };
        let (answer, cost) = scene.measure(function.invoke(&event)).await?;
        if name == "launch-guard" {
            expect_decision(&answer, "CONTINUE")?;
        }
        let rss = function.peak_rss_kib().ok_or("no VmHWM in /proc")?;
        self.row(
            "memory at size",
            &format!("{name}: peak RSS, {size} instances"),
            &format!("{:.1} MiB", kib_to_mib(rss)),
            &format!(
                "new environment, after {what}; {} ms, {} calls, {:.1} KiB in",
                ms(cost.wall),
                cost.total(),
                kib(cost.down)
            ),
        );
        Ok(())
    }

    /// Another cluster's burst as this stack's instance-audit hears it
    /// (issue 20): `changes` state changes of another cluster's nodes
    /// (`pending` for each, then `running` for each), through the
    /// instance-event queue in batches of [`QUEUE_BATCH`] as its event source
    /// mapping delivers them, then one invocation each as the EventBridge
    /// rule delivered them before. Counted in the emulator's journal; on a
    /// fresh emulator.
    async fn foreign_burst(&mut self, changes: usize) -> Result<()> {
        let emulator = Emulator::start()?;
        let clients = Clients::new(&emulator).await;
        let cluster = Cluster::seed(&clients).await?;
        let nodes = cluster
            .run_foreign_nodes(scaling_guard_e2e::OTHER_CLUSTER, changes.div_ceil(2))
            .await?;
        let events: Vec<Value> = ["pending", "running"]
            .iter()
            .flat_map(|state| nodes.iter().map(|id| events::state_change(id, state)))
            .take(changes)
            .collect::<Result<_, _>>()?;
        // The harshest policy: anything it touched would show in the journal.
        let mut policy = cluster.policy_env();
        policy.insert("GUARD_AUDIT_ACTION".into(), "terminate".into());
        let audit = Function::instance_audit(&emulator.endpoint(), &policy).await?;
        let control = emulator.control();
        self.foreign_burst_queued(&audit, &control, &events, nodes.len())
            .await?;
        self.foreign_burst_direct(&audit, &control, &events).await
    }

    /// The burst's `events` through the instance-event queue, in batches of
    /// [`QUEUE_BATCH`]: `DescribeInstances` per state change.
    async fn foreign_burst_queued(
        &mut self,
        audit: &Function,
        control: &Control,
        events: &[Value],
        nodes: usize,
    ) -> Result<()> {
        let changes = events.len();
        control.clear_requests()?;
        let started = Instant::now();
        let batches = events.chunks(QUEUE_BATCH).len();
        for batch in events.chunks(QUEUE_BATCH) {
            let bodies: Vec<String> = batch.iter().map(Value::to_string).collect();
            let answer = audit.invoke(&events::sqs_batch(&bodies)?).await?;
            if answer["batchItemFailures"] != json!([]) {
                return Err(format!("a batch returned messages: {answer}").into());
            }
        }
        let queued = journal_cost(control, started.elapsed())?;
        let reads = queued
            .calls
            .get("DescribeInstances")
            .copied()
            .unwrap_or_default();
        self.row(
            "many stacks",
            &format!("instance-audit: DescribeInstances per {changes} foreign state changes"),
            &format!(
                "{reads} calls ({:.2} per state change)",
                reads as f64 / changes.max(1) as f64
            ),
            &format!(
                "the instance-event queue, {batches} batches of {QUEUE_BATCH} (the event source mapping's BatchSize), {nodes} nodes of another cluster pending then running, action terminate; all requests: {}; {} ms; issue 20's bound: 1 per 10",
                queued.breakdown(),
                ms(queued.wall)
            ),
        );
        Ok(())
    }

    /// The burst's `events` one invocation each, as the EventBridge rule
    /// delivered them before the queue.
    async fn foreign_burst_direct(
        &mut self,
        audit: &Function,
        control: &Control,
        events: &[Value],
    ) -> Result<()> {
        let changes = events.len();
        control.clear_requests()?;
        let started = Instant::now();
        for event in events {
            audit.invoke(event).await?;
        }
        let direct = journal_cost(control, started.elapsed())?;
        self.row(
            "AWS calls",
            &format!("instance-audit: {changes} foreign state changes, one invocation each"),
            &format!("{} calls", direct.total()),
            &format!(
                "as the EventBridge rule delivered them before the queue (issue 20); {}; {} ms",
                direct.breakdown(),
                ms(direct.wall)
            ),
        );
        Ok(())
    }

    /// `launches` launches at once into one launch-guard (reserved
    /// concurrency 1) through `path`, every AWS call 50 ms slower at the
    /// emulator, budgets on (all admitted): launches per second from the
    /// first event to the last answer, every action completed by the guard.
    async fn scale_up(&mut self, launches: usize, path: Delivery) -> Result<()> {
        let emulator = Emulator::start()?;
        let clients = Clients::new(&emulator).await;
        let cluster = Cluster::seed(&clients).await?;
        let policy = budgets_on(&cluster);
        let guard = Arc::new(Function::launch_guard(&emulator.endpoint(), &policy).await?);
        let group = cluster.groups.first().cloned().unwrap_or_default();
        let actions = cluster.scale_to(&group, i32::try_from(launches)?).await?;
        let control = emulator.control();
        control.set_faults(&[FaultRule::latency("*", SLOWER_MS, SLOWER_MS)], 13)?;
        let started = Instant::now();
        let events = path.events(&actions)?;
        let invocations = events.len();
        invoke_all_at_once(&guard, events).await?;
        let wall = started.elapsed();
        control.clear_faults()?;
        expect_all_continued(&control, &group, launches)?;
        self.row(
            "throughput",
            &format!("{launches} launches at once, {path}"),
            &format!("{:.1} launches/s", launches as f64 / wall.as_secs_f64()),
            &format!(
                "{:.1} s from the first event to the last answer; {invocations} invocations of one environment; every AWS call +{SLOWER_MS} ms",
                wall.as_secs_f64()
            ),
        );
        Ok(())
    }

    async fn decisions_at(
        &mut self,
        scene: &Scene<'_>,
        guard: &Function,
        group: &str,
        size: usize,
        reps: usize,
    ) -> Result<()> {
        // One decision first, not measured: the cluster just grew by
        // thousands of foreign instances, and seeding them can outlast the
        // snapshot's age, so this one may read the whole cluster again (the
        // run at 46e7988 measured such a refresh as the 10,000 row: 14 calls).
        let action = scene.cluster.launch(group).await?;
        let answer = guard.invoke(&events::lifecycle_event(&action)?).await?;
        expect_decision(&answer, "CONTINUE")?;
        let mut costs = Vec::new();
        for _ in 0..reps {
            let action = scene.cluster.launch(group).await?;
            let event = events::lifecycle_event(&action)?;
            let (answer, cost) = scene.measure(guard.invoke(&event)).await?;
            expect_decision(&answer, "CONTINUE")?;
            costs.push(cost);
        }
        costs.sort_by_key(|c| c.wall);
        let median = costs.get(costs.len() / 2).ok_or("no decision")?;
        let max = costs.last().map(|c| c.wall).unwrap_or_default();
        self.row(
            "decision latency",
            &format!("warm launch decision, budgets on, {size} instances"),
            &format!("median {} ms (max {} ms)", ms(median.wall), ms(max)),
            &format!(
                "{reps} decisions; {} calls ({}), {:.1} KiB in / {:.1} KiB out per decision",
                median.total(),
                median.breakdown(),
                kib(median.down),
                kib(median.up)
            ),
        );
        Ok(())
    }

    /// `scaling-guard audit` under scripts/lib/rusage.py (the child's own
    /// rusage, GNU time's format), against the proxy. The Python that runs it
    /// is `BENCH_PYTHON` (scripts/bench passes the project's virtualenv).
    fn cli_audit(
        &mut self,
        scene: &Scene<'_>,
        policy: &BTreeMap<String, String>,
        size: usize,
    ) -> Result<()> {
        let binary = Function::binary("scaling-guard")?;
        let started = scene.reset()?;
        let output = run_cli_audit(scene, policy, &binary)?;
        let cost = scene.cost_since(started)?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let code = output.status.code().unwrap_or(-1);
        // 0: clean; 1: violations (the seeded instances are unmanaged).
        if code > 1 || !output.status.success() && code != 1 {
            return Err(format!("exit code {code}: {}", stderr.trim()).into());
        }
        let [_, user, sys, rss_kib] = rusage_line(&stderr)?;
        self.row(
            "CLI audit",
            &format!("`scaling-guard audit`, {size} instances"),
            &format!(
                "wall {} ms, CPU {} ms, peak RSS {:.1} MiB",
                ms(cost.wall),
                ((user + sys) * 1000.0).round(),
                rss_kib / 1024.0
            ),
            &format!(
                "exit {code}; {} requests ({}), {:.1} KiB in",
                cost.total(),
                cost.breakdown(),
                kib(cost.down)
            ),
        );
        Ok(())
    }
}

/// Runs `binary audit` with `policy` against the scene's proxy, under
/// scripts/lib/rusage.py run by `BENCH_PYTHON` (default `python3`).
fn run_cli_audit(
    scene: &Scene<'_>,
    policy: &BTreeMap<String, String>,
    binary: &std::path::Path,
) -> Result<std::process::Output> {
    let python = std::env::var("BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let rusage = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/lib/rusage.py");
    Ok(std::process::Command::new(&python)
        .arg(rusage)
        .arg(binary)
        .arg("audit")
        .env_clear()
        .envs(policy)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("AWS_ENDPOINT_URL", scene.proxy.endpoint())
        .env("AWS_REGION", scaling_guard_e2e::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .map_err(|err| format!("cannot run {python} {rusage} {}: {err}", binary.display()))?)
}

/// Wall, user CPU, system CPU (seconds) and peak RSS (KiB) of rusage.py's
/// last `time:` line on `stderr` (GNU time's format).
fn rusage_line(stderr: &str) -> Result<[f64; 4]> {
    let times = stderr
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("time:"))
        .ok_or("no rusage line")?;
    let fields: Vec<f64> = times
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    <[f64; 4]>::try_from(fields).map_err(|_| format!("cannot read rusage.py's `{times}`").into())
}

/// How launch notifications reach launch-guard.
#[derive(Debug, Clone, Copy)]
enum Delivery {
    /// One asynchronous invocation per launch (the EventBridge rule).
    EventBridge,
    /// Batches of 10 (the SQS queue's event source mapping).
    Sqs,
}

impl Delivery {
    /// The events that carry `actions` along this path.
    fn events(self, actions: &[scaling_guard_e2e::PendingAction]) -> Result<Vec<Value>> {
        Ok(match self {
            Self::EventBridge => actions
                .iter()
                .map(events::lifecycle_event)
                .collect::<Result<_, _>>()?,
            Self::Sqs => actions
                .chunks(10)
                .map(|batch| {
                    events::sqs_batch(&batch.iter().map(events::hook_message).collect::<Vec<_>>())
                })
                .collect::<Result<_, _>>()?,
        })
    }
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::EventBridge => "EventBridge path (one invocation a launch)",
            Self::Sqs => "SQS path (batches of 10)",
        })
    }
}

/// The emulator, its counting proxy and the seeded cluster.
struct Scene<'a> {
    control: Control,
    proxy: &'a Proxy,
    cluster: &'a Cluster,
}

impl Scene<'_> {
    /// Runs `step` with fresh counters and returns what it cost.
    async fn measure<T, E>(
        &self,
        step: impl Future<Output = std::result::Result<T, E>>,
    ) -> Result<(T, Cost)>
    where
        E: StdError + 'static,
    {
        let started = self.reset()?;
        let answer = step.await?;
        Ok((answer, self.cost_since(started)?))
    }

    /// Clears the journal and the proxy's counters; returns the start of
    /// the step they will count.
    fn reset(&self) -> Result<Instant> {
        self.control.clear_requests()?;
        self.proxy.take();
        Ok(Instant::now())
    }

    /// What the step begun at `started` cost: its wall time, the bytes
    /// through the proxy and the requests of the journal.
    fn cost_since(&self, started: Instant) -> Result<Cost> {
        let wall = started.elapsed();
        let (up, down) = self.proxy.take();
        let calls = self.calls()?;
        Ok(Cost {
            wall,
            calls,
            up,
            down,
        })
    }

    /// The requests of the journal per operation. The emulator may still be
    /// busy answering what a client gave up on (a large cluster's pages):
    /// asked again for up to a minute.
    fn calls(&self) -> Result<BTreeMap<String, usize>> {
        let mut tries = 0;
        let records = loop {
            match self.control.requests(None) {
                Ok(records) => break records,
                Err(_) if tries < 6 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_secs(10));
                }
                Err(err) => return Err(err.into()),
            }
        };
        Ok(per_operation(records))
    }
}

/// How many of `records` each operation made.
fn per_operation(records: Vec<RequestRecord>) -> BTreeMap<String, usize> {
    let mut calls = BTreeMap::new();
    for record in records {
        let operation = record.operation.unwrap_or_else(|| "?".into());
        *calls.entry(operation).or_default() += 1;
    }
    calls
}

/// What the emulator's journal holds since it was last cleared, per
/// operation, with the step's wall time.
fn journal_cost(control: &Control, wall: Duration) -> Result<Cost> {
    Ok(Cost {
        wall,
        calls: per_operation(control.requests(None)?),
        ..Cost::default()
    })
}

/// The seeded cluster's policy with budgets on ([`MAX_INSTANCES`]).
fn budgets_on(cluster: &Cluster) -> BTreeMap<String, String> {
    let mut policy = cluster.policy_env();
    policy.insert("GUARD_MAX_INSTANCES".into(), MAX_INSTANCES.into());
    policy
}

/// Invokes `guard` with every event at once (each in its own task) and
/// waits for every answer.
async fn invoke_all_at_once(guard: &Arc<Function>, events: Vec<Value>) -> Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for event in events {
        let guard = Arc::clone(guard);
        tasks.spawn(async move {
            guard
                .invoke_within(&event, Duration::from_secs(1_800))
                .await
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(())
}

/// Every one of the group's `launches` actions was completed by the guard
/// with `CONTINUE`.
fn expect_all_continued(control: &Control, group: &str, launches: usize) -> Result<()> {
    let ended = control.ended_actions(Some(group))?;
    let completed = ended
        .iter()
        .filter(|a| a.by == "CompleteLifecycleAction" && a.result.as_deref() == Some("CONTINUE"))
        .count();
    if completed != launches {
        return Err(format!("{completed} of {launches} launches completed with CONTINUE").into());
    }
    Ok(())
}

/// The cheap event of each function for the memory measurement: one it
/// answers without deciding anything.
async fn cheap_event(name: &str, scene: &Scene<'_>) -> Result<(Value, &'static str)> {
    Ok(match name {
        "launch-guard" => (
            events::test_notification()?,
            "a test notification (ignored)",
        ),
        "budget-guard" => (events::budget_schedule()?, "the schedule (small cluster)"),
        "instance-audit" => {
            let id = scene
                .cluster
                .run_node(scaling_guard_e2e::OTHER_CLUSTER, "m6i.large", None)
                .await?;
            (
                events::state_change(&id, "running")?,
                "a state change of another cluster's node (ignored)",
            )
        }
        _ => (json!({}), "an empty event (rejected)"),
    })
}

fn expect_decision(answer: &Value, expected: &str) -> Result<()> {
    match answer["decision"].as_str() {
        Some(decision) if decision == expected => Ok(()),
        _ => Err(format!("expected decision {expected}, got {answer}").into()),
    }
}

/// A TCP proxy in front of the emulator that counts the bytes each way.
#[derive(Debug)]
struct Proxy {
    address: String,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
}

impl Proxy {
    fn start(upstream: &str) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let (up, down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let upstream = upstream.to_owned();
        let (up_total, down_total) = (Arc::clone(&up), Arc::clone(&down));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (Ok(client_reader), Ok(server_reader)) =
                    (client.try_clone(), server.try_clone())
                else {
                    continue;
                };
                pipe(client_reader, server, Arc::clone(&up_total));
                pipe(server_reader, client, Arc::clone(&down_total));
            }
        });
        Ok(Self { address, up, down })
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The bytes (to the emulator, from it) since the last call.
    fn take(&self) -> (u64, u64) {
        (
            self.up.swap(0, Ordering::SeqCst),
            self.down.swap(0, Ordering::SeqCst),
        )
    }
}

/// Copies `from` to `to` in a thread, counting, until `from` closes.
fn pipe(mut from: TcpStream, mut to: TcpStream, total: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        let mut buffer = vec![0_u8; 64 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let Some(chunk) = buffer.get(..n) else { break };
                    total.fetch_add(n as u64, Ordering::SeqCst);
                    if to.write_all(chunk).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

fn kib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}

fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
