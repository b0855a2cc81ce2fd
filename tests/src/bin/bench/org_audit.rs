//! Issue 25's row: `scaling-guard org audit` of a fleet of accounts on one
//! emulator at its normal speed — wall, CPU and peak RSS of the CLI process
//! against the goals (≤ 60 s, ≤ 64 MB at 10 accounts × 1,000 instances) —
//! and the reference it must agree with: one single-account
//! `scaling-guard audit` per account, with that account's credentials.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use scaling_guard_e2e::accounts::{TEST_ROLE, account_env};
use scaling_guard_e2e::{ACCOUNT, Clients, Cluster, Emulator, Function};
use serde_json::Value;

use super::{Bench, Proxy, Result, per_operation, rusage_line};

/// Issue 25's goals for 10 accounts × 1,000 instances.
pub(super) const GOAL_SCALE: (usize, usize) = (10, 1_000);
const GOAL_WALL_S: f64 = 60.0;
const GOAL_RSS_MB: f64 = 64.0;
const MB_PER_MIB: f64 = 1.048_576;

/// The fleet: one seeded cluster per account, each seeded acting as its
/// account (moto keeps one world per account).
struct Fleet {
    accounts: Vec<String>,
    clusters: Vec<Cluster>,
}

/// What one run of the CLI cost, from scripts/lib/rusage.py, and what it
/// printed.
struct Run {
    code: i32,
    wall_s: f64,
    cpu_s: f64,
    rss_kib: f64,
    stdout: String,
    stderr: String,
}

impl Bench {
    /// Seeds `accounts` accounts with `instances` cluster nodes each, runs
    /// one `scaling-guard audit --format json` per account (the reference,
    /// with each account's credentials), then `scaling-guard org audit` of
    /// them all (the default credentials assume [`TEST_ROLE`] in each): each
    /// account's findings in the fleet's report must be its single audit's
    /// (so their sum too). On a fresh emulator, through the counting proxy.
    pub(super) async fn org_audit(&mut self, accounts: usize, instances: usize) -> Result<()> {
        let emulator = Emulator::start()?;
        let proxy = Proxy::start(&emulator.address())?;
        let started = Instant::now();
        let fleet = Fleet::seed(&emulator, accounts, instances).await?;
        eprintln!(
            "bench: seeded {accounts} accounts × {instances} instances in {:.1?}",
            started.elapsed()
        );
        let policy = fleet.policy();
        let endpoint = proxy.endpoint();
        let expected = self
            .single_audits(&emulator, &fleet, &policy, &endpoint, instances)
            .await?;
        let control = emulator.control();
        control.clear_requests()?;
        proxy.take();
        let run = run_cli(&org_audit_args(&fleet.accounts), &policy, &[], &endpoint)?;
        let (_, down) = proxy.take();
        let calls = per_operation(control.requests(None)?);
        let found = check_org_run(&run)?;
        let total: usize = found.values().sum();
        let scale = format!("{accounts} accounts × {instances} instances");
        let goals = if (accounts, instances) == GOAL_SCALE {
            goals(&run)
        } else {
            "judged at 10 accounts × 1,000 instances only".to_owned()
        };
        self.row(
            "org audit",
            &format!("`scaling-guard org audit`, {scale}"),
            &usage(&run),
            &format!(
                "exit {}; {total} findings, as the {accounts} single audits; {} requests ({}), {:.1} KiB in; goals: {goals}",
                run.code,
                calls.values().sum::<usize>(),
                breakdown(&calls),
                down as f64 / 1024.0
            ),
        );
        same_findings(&found, &expected)
    }

    /// One `scaling-guard audit --format json` per account, acting as that
    /// account, in turn: the reference row (their sums, the largest RSS)
    /// and each account's findings.
    async fn single_audits(
        &mut self,
        emulator: &Emulator,
        fleet: &Fleet,
        policy: &BTreeMap<String, String>,
        endpoint: &str,
        instances: usize,
    ) -> Result<BTreeMap<String, usize>> {
        let mut per_account = BTreeMap::new();
        let (mut findings, mut wall_s, mut cpu_s, mut rss_kib) = (0, 0.0, 0.0, 0.0_f64);
        let mut checks = BTreeMap::new();
        let mut seen = BTreeSet::new();
        let mut audited = 0;
        for account in &fleet.accounts {
            let credentials = account_env(emulator, account).await?;
            let run = run_cli(
                &["audit", "--format", "json"],
                policy,
                &credentials,
                endpoint,
            )?;
            if !matches!(run.code, 0 | 1) {
                return Err(
                    format!("audit of {account}: exit {}: {}", run.code, run.stderr).into(),
                );
            }
            let report: Value = serde_json::from_str(&run.stdout)
                .map_err(|err| format!("audit of {account}: not JSON: {err}"))?;
            let found = count_findings(&report);
            findings += found;
            per_account.insert(account.clone(), found);
            add_check_counts(&mut checks, &report);
            let ids = instance_ids(&report);
            audited += ids.len();
            seen.extend(ids);
            wall_s += run.wall_s;
            cpu_s += run.cpu_s;
            rss_kib = rss_kib.max(run.rss_kib);
        }
        if seen.len() != audited {
            return Err(format!(
                "the single audits read {audited} instances, {} distinct: an account's credentials read another's",
                seen.len()
            )
            .into());
        }
        let n = fleet.accounts.len();
        self.row(
            "org audit",
            &format!("{n} single-account `scaling-guard audit`s, {instances} instances each"),
            &format!(
                "wall {wall_s:.2} s, CPU {cpu_s:.2} s in total, peak RSS {:.1} MiB (largest)",
                rss_kib / 1024.0
            ),
            &format!(
                "the reference: one after the other, each with its account's credentials, `--format json`; {audited} instances, {findings} findings (instances per check: {})",
                breakdown(&checks)
            ),
        );
        Ok(per_account)
    }
}

impl Fleet {
    /// `accounts` accounts (none moto's default), each with the seeded
    /// cluster and `instances` of its nodes outside any group, seeded
    /// acting as the account.
    async fn seed(emulator: &Emulator, accounts: usize, instances: usize) -> Result<Self> {
        let accounts: Vec<String> = (1..=accounts).map(|i| format!("2000000{i:05}")).collect();
        let mut clusters = Vec::with_capacity(accounts.len());
        for account in &accounts {
            let clients = Clients::in_account(emulator, account).await?;
            let cluster = Cluster::seed(&clients).await?;
            cluster.run_nodes(instances).await?;
            clusters.push(cluster);
        }
        Ok(Self { accounts, clusters })
    }

    /// One policy for the whole fleet, as `org audit` applies: the first
    /// cluster's, with every account's subnets, security groups and image
    /// owners allowed (moto's ids differ per account), so each account's
    /// findings are its nodes', not the policy's ids.
    fn policy(&self) -> BTreeMap<String, String> {
        let mut policy = self
            .clusters
            .first()
            .map(Cluster::policy_env)
            .unwrap_or_default();
        let joined = |ids: &dyn Fn(&Cluster) -> Vec<String>| {
            self.clusters
                .iter()
                .flat_map(ids)
                .collect::<Vec<_>>()
                .join(",")
        };
        policy.insert(
            "GUARD_ALLOWED_SUBNET_IDS".into(),
            joined(&|c| c.private_subnet_ids.clone()),
        );
        policy.insert(
            "GUARD_ALLOWED_SECURITY_GROUP_IDS".into(),
            joined(&|c| c.node_security_group_ids.clone()),
        );
        let owners: Vec<&str> = self.accounts.iter().map(String::as_str).collect();
        policy.insert(
            "GUARD_ALLOWED_AMI_OWNERS".into(),
            [ACCOUNT]
                .into_iter()
                .chain(owners)
                .collect::<Vec<_>>()
                .join(","),
        );
        policy
    }
}

/// `org audit` of `accounts`, assuming [`TEST_ROLE`] in each.
fn org_audit_args(accounts: &[String]) -> Vec<String> {
    let accounts = accounts.join(",");
    [
        "org",
        "audit",
        "--accounts",
        &accounts,
        "--role",
        TEST_ROLE,
        "--format",
        "json",
    ]
    .map(String::from)
    .to_vec()
}

/// The findings of the fleet's report per account; an exit other than 1
/// (findings) is the failure this row exists to catch.
fn check_org_run(run: &Run) -> Result<BTreeMap<String, usize>> {
    if run.code != 1 {
        let why = run
            .stderr
            .lines()
            .rfind(|line| !line.starts_with("time:"))
            .unwrap_or_default();
        return Err(format!("org audit: exit {} (expected 1, findings): {why}", run.code).into());
    }
    let report: Value =
        serde_json::from_str(&run.stdout).map_err(|err| format!("org audit: not JSON: {err}"))?;
    Ok(findings_per_account(&report))
}

/// The fleet's findings per account must be the single audits': a
/// difference fails the run.
fn same_findings(fleet: &BTreeMap<String, usize>, singles: &BTreeMap<String, usize>) -> Result<()> {
    if fleet == singles {
        return Ok(());
    }
    Err(format!("findings per account: org audit {fleet:?}, single audits {singles:?}").into())
}

/// The findings of `org audit`'s JSON report per account: the `violations`
/// of its `rows`, each row naming its account.
fn findings_per_account(report: &Value) -> BTreeMap<String, usize> {
    let mut found = BTreeMap::new();
    for row in report["rows"].as_array().into_iter().flatten() {
        let account = row["account"].as_str().unwrap_or("?").to_owned();
        *found.entry(account).or_default() += count_findings(row);
    }
    found
}

/// The findings of a JSON report: the `violations` of every instance row,
/// wherever the document lists rows (an audit's `instances`, the fleet's
/// rows).
fn count_findings(report: &Value) -> usize {
    match report {
        Value::Object(fields) => match (fields.get("instance_id"), fields.get("violations")) {
            (Some(_), Some(Value::Array(violations))) => violations.len(),
            _ => fields.values().map(count_findings).sum(),
        },
        Value::Array(items) => items.iter().map(count_findings).sum(),
        _ => 0,
    }
}

/// The ids of a single audit's instance rows.
fn instance_ids(report: &Value) -> Vec<String> {
    let rows = report["instances"].as_array().into_iter().flatten();
    rows.filter_map(|row| row["instance_id"].as_str().map(str::to_owned))
        .collect()
}

/// Adds a single audit's instances per broken check (`summary.counts`).
fn add_check_counts(checks: &mut BTreeMap<String, usize>, report: &Value) {
    let counts = report["summary"]["counts"]
        .as_object()
        .into_iter()
        .flatten();
    for (check, n) in counts {
        let n = usize::try_from(n.as_u64().unwrap_or_default()).unwrap_or(usize::MAX);
        *checks.entry(check.clone()).or_default() += n;
    }
}

/// Whether `run` met issue 25's goals, said in the row.
fn goals(run: &Run) -> String {
    let rss_mb = run.rss_kib / 1024.0 * MB_PER_MIB;
    let verdict = |met: bool| if met { "met" } else { "**not met**" };
    format!(
        "wall ≤ {GOAL_WALL_S:.0} s {}, peak RSS ≤ {GOAL_RSS_MB:.0} MB {} ({rss_mb:.1} MB)",
        verdict(run.wall_s <= GOAL_WALL_S),
        verdict(rss_mb <= GOAL_RSS_MB)
    )
}

fn usage(run: &Run) -> String {
    format!(
        "wall {:.2} s, CPU {:.2} s, peak RSS {:.1} MiB",
        run.wall_s,
        run.cpu_s,
        run.rss_kib / 1024.0
    )
}

fn breakdown(calls: &BTreeMap<String, usize>) -> String {
    calls
        .iter()
        .map(|(operation, n)| format!("{operation} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the CLI with `args` and `policy` against `endpoint` under
/// scripts/lib/rusage.py (run by `BENCH_PYTHON`, default `python3`), with the
/// static test credentials (moto's default account) unless `credentials`
/// replace them.
fn run_cli(
    args: &[impl AsRef<std::ffi::OsStr>],
    policy: &BTreeMap<String, String>,
    credentials: &[(String, String)],
    endpoint: &str,
) -> Result<Run> {
    let binary = Function::binary("scaling-guard")?;
    let python = std::env::var("BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let rusage = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/lib/rusage.py");
    let output = Command::new(&python)
        .arg(rusage)
        .arg(&binary)
        .args(args)
        .env_clear()
        .envs(policy)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", scaling_guard_e2e::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(credentials.iter().map(|(k, v)| (k, v)))
        .output()
        .map_err(|err| cannot_run(&python, rusage, &binary, &err))?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let [wall_s, user, sys, rss_kib] = rusage_line(&stderr)?;
    Ok(Run {
        code: output.status.code().unwrap_or(-1),
        wall_s,
        cpu_s: user + sys,
        rss_kib,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr,
    })
}

fn cannot_run(python: &str, rusage: &str, binary: &Path, err: &std::io::Error) -> String {
    format!("cannot run {python} {rusage} {}: {err}", binary.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn findings_are_the_violations_of_every_instance_row_wherever_listed() {
        let single = json!({"summary": {"non_compliant": 2}, "instances": [
            {"instance_id": "i-1", "violations": [{"check": "a"}, {"check": "b"}]},
            {"instance_id": "i-2", "violations": []},
            {"instance_id": "i-3", "violations": [{"check": "a"}]},
        ]});
        assert_eq!(count_findings(&single), 3);
        let fleet = json!({"targets": [{"account": "1", "summary": single["summary"]},
                                       {"account": "2", "status": "error"}],
                           "rows": [
            {"account": "1", "instance_id": "i-1", "violations": [{"check": "a"}, {"check": "b"}]},
            {"account": "3", "instance_id": "i-4", "violations": [{"check": "a"}]},
            {"account": "1", "instance_id": "i-3", "violations": [{"check": "a"}]},
        ]});
        assert_eq!(count_findings(&fleet), 4);
        let per_account = findings_per_account(&fleet);
        assert_eq!(
            per_account,
            BTreeMap::from([("1".to_owned(), 3), ("3".to_owned(), 1)])
        );
        assert!(same_findings(&per_account, &per_account.clone()).is_ok());
        // The same total, another account's: a failure all the same.
        let moved = BTreeMap::from([("1".to_owned(), 3), ("2".to_owned(), 1)]);
        assert!(same_findings(&per_account, &moved).is_err());
    }

    #[test]
    fn the_org_audit_mode_measures_only_the_fleet_the_full_and_smoke_runs_include_it() {
        use crate::{Mode, Plan};
        let only = Plan::of(Mode::OrgAudit { smoke: false });
        assert_eq!(only.org_audit, Some((10, 1_000)));
        assert!(only.starts == 0 && !only.calls && !only.has_sizes());
        assert!(only.scale_ups.is_empty() && !only.foreign_burst && only.fleet.is_none());
        let smoke_only = Plan::of(Mode::OrgAudit { smoke: true });
        assert_eq!(smoke_only.org_audit, Some((2, 20)));
        assert_eq!(Plan::of(Mode::Smoke).org_audit, Some((2, 20)));
        assert_eq!(
            Plan::of(Mode::Full { large: false }).org_audit,
            Some((10, 1_000))
        );
        assert_eq!(Plan::of(Mode::Karpenter).org_audit, None);
    }

    #[test]
    fn the_goals_are_judged_in_mb() {
        let run = |wall_s, rss_kib| Run {
            code: 1,
            wall_s,
            cpu_s: 0.0,
            rss_kib,
            stdout: String::new(),
            stderr: String::new(),
        };
        // 61 MiB is 64.0 MB; 62 MiB is 65.0 MB.
        assert_eq!(
            goals(&run(59.0, 61.0 * 1024.0)),
            "wall ≤ 60 s met, peak RSS ≤ 64 MB met (64.0 MB)"
        );
        assert_eq!(
            goals(&run(61.0, 62.0 * 1024.0)),
            "wall ≤ 60 s **not met**, peak RSS ≤ 64 MB **not met** (65.0 MB)"
        );
    }
}
