//! Issue 23's row: how fast instance-audit remediates the non-compliant
//! nodes of a Karpenter-style burst, every AWS call slower.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use scaling_guard_e2e::{Clients, Cluster, Control, Emulator, FaultRule, Function, events};
use serde_json::{Value, json};

use super::{Bench, QUEUE_BATCH, Result, SLOWER_MS};

/// Issue 23's bound on the p99.
const BOUND_S: f64 = 10.0;

impl Bench {
    /// `nodes` nodes of one `instant` `CreateFleet` with Karpenter's tags,
    /// `bad` of them with IMDSv1; their `pending` state changes through the
    /// instance-event queue (batches of [`QUEUE_BATCH`], in id order, one
    /// environment) to instance-audit (enforce, `terminate`), every AWS call
    /// +50 ms: the time from the batches' delivery to each node's
    /// `TerminateInstances` at the emulator, p50 and p99. On a fresh emulator.
    pub(super) async fn karpenter_remediation(&mut self, nodes: usize, bad: usize) -> Result<()> {
        let emulator = Emulator::start()?;
        let clients = Clients::new(&emulator).await;
        let cluster = Cluster::seed(&clients).await?;
        let templates = &cluster.templates;
        let good = nodes.saturating_sub(bad);
        let mut ids = cluster
            .karpenter_fleet("default", &templates.compliant, good)
            .await?;
        let non_compliant = cluster
            .karpenter_fleet("default", &templates.imdsv1, bad)
            .await?;
        ids.extend(non_compliant.iter().cloned());
        ids.sort();
        let audit = Function::instance_audit(&emulator.endpoint(), &fleet_policy(&cluster)).await?;
        let control = emulator.control();
        control.clear_requests()?;
        control.set_faults(&[FaultRule::latency("*", SLOWER_MS, SLOWER_MS)], 23)?;
        let delivered = epoch_seconds(SystemTime::now())?;
        for batch in pending_batches(&ids)? {
            let answer = audit.invoke(&batch).await?;
            if answer["batchItemFailures"] != json!([]) {
                return Err(format!("a batch returned messages: {answer}").into());
            }
        }
        control.clear_faults()?;
        let latencies = remediation_latencies(&control, delivered, &non_compliant)?;
        let (p50, p99) = (percentile(&latencies, 50), percentile(&latencies, 99));
        self.row(
            "latency",
            &format!("Karpenter fleet of {nodes} ({bad} non-compliant): state change to remediation call, p50 / p99"),
            &format!("{p50:.2} s / {p99:.2} s"),
            &format!(
                "`instant` CreateFleet nodes with Karpenter's tags; their `pending` state changes through the instance-event queue ({} batches of up to {QUEUE_BATCH}, one environment, in id order), action terminate; every AWS call +{SLOWER_MS} ms; from the batches' delivery to TerminateInstances at the emulator (EventBridge delivery and the queue's batching window, at most 5 s and none once a batch is full, not included); exactly the {bad} terminated; issue 23's bound: p99 ≤ {BOUND_S:.0} s",
                ids.len().div_ceil(QUEUE_BATCH)
            ),
        );
        Ok(())
    }
}

/// The fixture's policy, terminating, with room for every remediation of
/// the row in the hour and in the NodePool.
fn fleet_policy(cluster: &Cluster) -> std::collections::BTreeMap<String, String> {
    let mut policy = cluster.policy_env();
    for (key, value) in [
        ("GUARD_AUDIT_ACTION", "terminate"),
        ("GUARD_MAX_REMEDIATIONS_PER_HOUR", "1000"),
        ("GUARD_MAX_REMEDIATIONS_PER_POOL", "0"),
    ] {
        policy.insert(key.into(), value.into());
    }
    policy
}

/// The `pending` state changes of `ids`, as SQS batches of [`QUEUE_BATCH`].
fn pending_batches(ids: &[String]) -> Result<Vec<Value>> {
    let mut batches = Vec::new();
    for chunk in ids.chunks(QUEUE_BATCH) {
        let bodies = chunk
            .iter()
            .map(|id| events::state_change(id, "pending").map(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        batches.push(events::sqs_batch(&bodies)?);
    }
    Ok(batches)
}

/// Seconds from `delivered` to each `TerminateInstances` the journal shows,
/// sorted; an error unless exactly `expected` were terminated.
fn remediation_latencies(
    control: &Control,
    delivered: f64,
    expected: &[String],
) -> Result<Vec<f64>> {
    let records = control.requests(Some("TerminateInstances"))?;
    let mut seen = BTreeSet::new();
    let mut latencies = Vec::new();
    for record in &records {
        for target in record.targets.iter().filter(|t| t.starts_with("i-")) {
            seen.insert(target.clone());
            latencies.push(record.received - delivered);
        }
    }
    let wanted: BTreeSet<String> = expected.iter().cloned().collect();
    if seen != wanted || latencies.len() != wanted.len() {
        return Err(format!("terminated {seen:?}, not exactly {wanted:?}").into());
    }
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

/// The nearest-rank percentile of sorted `values` (0 when empty).
fn percentile(values: &[f64], percent: usize) -> f64 {
    let rank = (values.len() * percent).div_ceil(100).max(1);
    values.get(rank - 1).copied().unwrap_or_default()
}

fn epoch_seconds(time: SystemTime) -> Result<f64> {
    Ok(time.duration_since(UNIX_EPOCH)?.as_secs_f64())
}
