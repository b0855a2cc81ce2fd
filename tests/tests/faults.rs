//! Fault injection end to end (issue 9 §8): the real `target/debug/launch-guard`
//! against the emulator while a share of every AWS call it makes is
//! throttled, fails with a 5xx or is slowed (`scripts/emulator/faults.py`),
//! and an execution environment dies mid-burst.
//!
//! Delivery is modelled on production (`template.yaml`): EventBridge sends one
//! event per lifecycle action to launch-guard as an asynchronous invocation;
//! the function has reserved concurrency 1 (one environment decides one
//! launch at a time, the others queue in Lambda); an invocation that fails
//! (an error answer, a crash, a timeout) is retried by Lambda at most twice
//! (`EventInvokeConfig.MaximumRetryAttempts: 2`), then dropped to the
//! dead-letter queue, and the action takes its DefaultResult at the hook's
//! heartbeat timeout. Lambda waits about a minute before a retry; here the
//! retry goes to the back of the queue at once. The emulator enforces the
//! heartbeat timeouts, so "completed by the guard" is not a foregone
//! conclusion.
//!
//! Build the binaries first: `cargo build --workspace --bins`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use scaling_guard_e2e::{
    EndedAction, FaultKind, FaultRule, Function, HOOK, InvokeError, PendingAction, events,
};
use serde_json::Value;

mod support;

use support::Bed;

/// Launches per cluster group (three groups): a burst of 51.
const PER_GROUP: i32 = 17;
/// The instance budget: smaller than the burst.
const BUDGET: u64 = 24;
/// What fails or is slowed: this share of every AWS call, split evenly
/// between throttling, 500, 503 and a delay.
const FAULT_SHARE: f64 = 0.2;
const LATENCY_MS: (u64, u64) = (300, 1500);
/// The environment is killed while this CreateTags call (an admission being
/// recorded; retries count) is held up: mid-burst, before the budget is full.
const KILL_AT_CREATE_TAGS: u32 = 10;
/// Held longer than the SDK's attempt timeout (2 s), so the kill lands inside it.
const KILL_HOLD_MS: u64 = 2500;
/// One try and the two retries of an asynchronous invocation.
const ATTEMPTS: u32 = 3;
const SEED: u64 = 7;

/// The rules of the burst: the kill point first (it must see every
/// CreateTags), then four rules that together hit `FAULT_SHARE` of all calls
/// (the first rule that fires decides, so rule n gets share/(1 - (n-1)·share)).
fn burst_rules() -> Vec<FaultRule> {
    let each = FAULT_SHARE / 4.0;
    let share = |n: u32| each / (1.0 - f64::from(n) * each);
    vec![
        FaultRule::latency("CreateTags", KILL_HOLD_MS, KILL_HOLD_MS)
            .service("ec2")
            .count(1)
            .skip(KILL_AT_CREATE_TAGS - 1),
        FaultRule::throttle("*").share(share(0)),
        FaultRule::error("*").share(share(1)),
        FaultRule::error("*").status(503).share(share(2)),
        FaultRule::latency("*", LATENCY_MS.0, LATENCY_MS.1).share(share(3)),
    ]
}

/// What happened to one event across its attempts.
#[derive(Debug, Default)]
struct Delivery {
    attempts: u32,
    failures: Vec<String>,
    summary: Option<Value>,
}

/// The launch events of a burst delivered as Lambda would: see the module
/// docs. Returns the outcome per token, the logs of every environment, and
/// how many environments ran.
struct Dispatcher<'a> {
    bed: &'a Bed,
    policy: BTreeMap<String, String>,
    queue: VecDeque<PendingAction>,
    seen: BTreeSet<String>,
    deliveries: BTreeMap<String, Delivery>,
    logs: Vec<String>,
    environments: u32,
    killed: bool,
    started: Instant,
}

impl<'a> Dispatcher<'a> {
    fn new(bed: &'a Bed, policy: BTreeMap<String, String>) -> Self {
        Self {
            bed,
            policy,
            queue: VecDeque::new(),
            seen: BTreeSet::new(),
            deliveries: BTreeMap::new(),
            logs: Vec::new(),
            environments: 0,
            killed: false,
            started: Instant::now(),
        }
    }

    /// EventBridge: one event per new action of the guard's hook (launches,
    /// and replacements of abandoned instances).
    fn emit_new_events(&mut self) {
        for action in self.bed.clients.control.lifecycle_actions(None).unwrap() {
            if action.hook == HOOK && self.seen.insert(action.token.clone()) {
                self.queue.push_back(action);
            }
        }
    }

    fn kill_point_reached(&self) -> bool {
        self.bed.clients.control.faults().unwrap().rules[0].injected > 0
    }

    async fn start_environment(&mut self) -> Function {
        self.environments += 1;
        self.bed.launch_guard(&self.policy).await
    }

    fn retire(&mut self, guard: Function) {
        self.logs.push(guard.logs());
        drop(guard);
    }

    async fn run(&mut self) {
        let mut guard = Some(self.start_environment().await);
        loop {
            self.emit_new_events();
            let Some(action) = self.queue.pop_front() else {
                break;
            };
            let event = events::lifecycle_event(&action).unwrap();
            let env = match guard.take() {
                Some(env) => env,
                None => self.start_environment().await,
            };
            let outcome = {
                let invocation = env.invoke(&event);
                tokio::pin!(invocation);
                loop {
                    tokio::select! {
                        outcome = &mut invocation => break Some(outcome),
                        () = tokio::time::sleep(Duration::from_millis(50)), if !self.killed => {
                            if self.kill_point_reached() {
                                break None;
                            }
                        }
                    }
                }
            };
            let delivery = self.deliveries.entry(action.token.clone()).or_default();
            delivery.attempts += 1;
            if delivery.attempts == 1 && self.deliveries.len().is_multiple_of(10) {
                eprintln!(
                    "{} events taken in {:.0?}, {} queued",
                    self.deliveries.len(),
                    self.started.elapsed(),
                    self.queue.len()
                );
            }
            let failure = match outcome {
                None => {
                    // The environment dies mid-invocation (as on a crash or an
                    // out-of-memory kill); Lambda counts the attempt as failed.
                    self.killed = true;
                    eprintln!(
                        "killing launch-guard environment {} while it decides {}",
                        self.environments, action.instance_id
                    );
                    Some("environment killed mid-invocation".to_owned())
                }
                Some(Ok(summary)) => {
                    if let Some(delivery) = self.deliveries.get_mut(&action.token) {
                        delivery.summary = Some(summary);
                    }
                    None
                }
                Some(Err(err @ InvokeError::Exited { .. })) => {
                    Some(format!("environment exited by itself: {err}"))
                }
                Some(Err(err)) => Some(err.to_string()),
            };
            match failure {
                None => guard = Some(env),
                Some(failure) => {
                    let exited = failure.starts_with("environment");
                    let delivery = self.deliveries.entry(action.token.clone()).or_default();
                    delivery.failures.push(failure);
                    if delivery.attempts < ATTEMPTS {
                        self.queue.push_back(action);
                    }
                    if exited {
                        self.retire(env);
                    } else {
                        guard = Some(env);
                    }
                }
            }
        }
        if let Some(env) = guard {
            self.retire(env);
        }
    }
}

fn continued(ended: &[EndedAction]) -> usize {
    ended
        .iter()
        .filter(|e| e.by == "CompleteLifecycleAction" && e.result.as_deref() == Some("CONTINUE"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_under_faults_and_a_killed_environment_completes_every_owned_action_within_the_budget()
 {
    // Given the cluster's three groups, an instance budget of 24, heartbeat
    // timeouts that apply on their own, and a burst of 51 launches waiting.
    let bed = Bed::new().await;
    let control = &bed.clients.control;
    control.enforce_heartbeat_timeouts(true).unwrap();
    let policy = bed.policy(None, None, Some(BUDGET));
    let mut burst = BTreeSet::new();
    for group in &bed.cluster.groups {
        for action in bed.cluster.scale_to(group, PER_GROUP).await.unwrap() {
            burst.insert(action.token);
        }
    }
    assert_eq!(burst.len(), 51, "51 launches wait for the guard");

    // When every AWS call launch-guard makes fails or is slowed 20 % of the
    // time, one environment is killed mid-burst, and the events are
    // delivered as Lambda does (one at a time, failed ones retried twice).
    control.set_faults(&burst_rules(), SEED).unwrap();
    let started = Instant::now();
    let mut dispatcher = Dispatcher::new(&bed, policy);
    dispatcher.run().await;
    let elapsed = started.elapsed();
    let faults = control.clear_faults().unwrap();

    // (Report.)
    let tokens: BTreeSet<String> = dispatcher.seen.clone();
    let ended: Vec<EndedAction> = control
        .ended_actions(None)
        .unwrap()
        .into_iter()
        .filter(|e| e.hook == HOOK && tokens.contains(&e.token))
        .collect();
    let failed_attempts: Vec<(String, Vec<String>)> = dispatcher
        .deliveries
        .iter()
        .filter(|(_, d)| !d.failures.is_empty())
        .map(|(token, d)| (token.clone(), d.failures.clone()))
        .collect();
    let decisions = dispatcher
        .deliveries
        .values()
        .filter_map(|d| d.summary.as_ref())
        .fold(BTreeMap::<String, usize>::new(), |mut acc, s| {
            *acc.entry(s["decision"].as_str().unwrap_or("?").to_owned())
                .or_default() += 1;
            acc
        });
    let duplicates = dispatcher
        .deliveries
        .values()
        .filter_map(|d| d.summary.as_ref())
        .filter(|s| s["duplicate"] == true)
        .count();
    let records: Vec<Value> = dispatcher
        .logs
        .iter()
        .flat_map(|logs| logs.lines())
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let trouble: Vec<&Value> = records
        .iter()
        .filter(|r| matches!(r["level"].as_str(), Some("WARN" | "ERROR")))
        .collect();
    eprintln!(
        "burst under faults: {} events ({} launches, {} replacements), {} environments, {:.1} s\n\
         {faults}\n\
         decisions {decisions:?} ({duplicates} duplicates); {} events needed a retry: {failed_attempts:#?}\n\
         {} warnings/errors logged; the first ones: {:#?}",
        tokens.len(),
        burst.len(),
        tokens.len() - burst.len(),
        dispatcher.environments,
        elapsed.as_secs_f64(),
        failed_attempts.len(),
        trouble.len(),
        trouble.iter().take(12).collect::<Vec<_>>(),
    );

    // Then no function panicked,
    for logs in &dispatcher.logs {
        assert!(!logs.contains("panicked"), "a function panicked:\n{logs}");
    }
    assert!(dispatcher.killed, "an environment was killed mid-burst");

    // every owned action was completed by the guard, none left waiting, none
    // by its heartbeat timeout, each within the hook's heartbeat timeout,
    let pending: Vec<PendingAction> = control
        .lifecycle_actions(None)
        .unwrap()
        .into_iter()
        .filter(|a| a.hook == HOOK)
        .collect();
    assert_eq!(
        pending,
        [],
        "no guard action is left pending; failed deliveries: {failed_attempts:#?}"
    );
    let ended_tokens: BTreeSet<String> = ended.iter().map(|e| e.token.clone()).collect();
    assert_eq!(ended_tokens, tokens, "every action ended");
    let not_by_guard: Vec<&EndedAction> = ended
        .iter()
        .filter(|e| e.by != "CompleteLifecycleAction")
        .collect();
    assert_eq!(
        not_by_guard,
        Vec::<&EndedAction>::new(),
        "every action was completed by CompleteLifecycleAction; failed deliveries: {failed_attempts:#?}"
    );
    for action in &ended {
        let timeout = action.heartbeat_timeout.unwrap();
        assert!(
            action.seconds <= timeout as f64,
            "{} completed {} s after its launch, beyond the heartbeat timeout of {timeout} s",
            action.instance_id,
            action.seconds
        );
    }

    // no instance over the budget,
    let admitted = continued(&ended);
    let mut in_service = 0;
    for group in &bed.cluster.groups {
        in_service += bed
            .group(group)
            .await
            .instances
            .values()
            .filter(|s| *s == "InService")
            .count();
    }
    eprintln!("admitted {admitted} of the budget {BUDGET}; {in_service} in service");
    assert_eq!(in_service, admitted, "every CONTINUE is in service");
    assert!(
        admitted as u64 <= BUDGET,
        "{admitted} instances continued, over the budget of {BUDGET}"
    );

    // and each decision was alerted at most once.
    let received = bed.alerts().await;
    let mut per_instance_and_kind = BTreeMap::<(String, String), usize>::new();
    for alert in &received {
        let instance = alert
            .field("instance_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let kind = alert.attribute("kind").unwrap_or("").to_owned();
        *per_instance_and_kind.entry((instance, kind)).or_default() += 1;
    }
    eprintln!("alerts received: {per_instance_and_kind:?}");
    let repeated: Vec<String> = per_instance_and_kind
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|((instance, kind), n)| format!("{kind} for {instance}: {n} times"))
        .collect();
    assert_eq!(repeated, Vec::<String>::new(), "no alert twice");
}

// ---------------------------------------------------------------------------

/// The decision, its checks, and whether it was a duplicate.
fn verdict(summary: &Value) -> (String, Vec<String>) {
    let decision = summary["decision"].as_str().unwrap().to_owned();
    (decision, support::violated(summary))
}

#[tokio::test]
async fn the_alert_topic_failing_entirely_never_delays_or_changes_a_decision() {
    // Given a compliant group and a group launching a denied instance type,
    // and their decisions with a healthy alert topic.
    let bed = Bed::new().await;
    let control = &bed.clients.control;
    let [compliant, violating, ..] = bed.cluster.groups.as_slice() else {
        panic!("three prod groups");
    };
    bed.cluster
        .use_template(violating, &bed.cluster.templates.denied_type)
        .await
        .unwrap();
    let guard = bed.launch_guard(&bed.policy(None, None, None)).await;
    let mut healthy = Vec::new();
    for group in [compliant, violating] {
        let action = bed.cluster.launch(group).await.unwrap();
        let event = events::lifecycle_event(&action).unwrap();
        healthy.push(verdict(&guard.invoke(&event).await.unwrap()));
    }
    assert_eq!(healthy[0].0, "CONTINUE", "{healthy:?}");
    assert_eq!(healthy[1].0, "ABANDON", "{healthy:?}");
    let received = bed.alerts().await;
    assert_eq!(received.len(), 1, "the denial is alerted: {received:?}");

    // When every Publish fails (throttled or a 5xx: the SDK retries both),
    control
        .set_faults(
            &[
                FaultRule::throttle("Publish").service("sns").share(0.5),
                FaultRule::error("Publish").service("sns").status(503),
            ],
            3,
        )
        .unwrap();

    // then the same launches are decided alike, each invocation succeeds
    // (so Lambda does not retry it), and its lifecycle action was completed
    // before the first Publish was even attempted.
    //
    // What is honestly testable here: the emulator orders every request and
    // every completion in one sequence, so "CompleteLifecycleAction came
    // before any Publish attempt" is an observed fact, not a timing guess:
    // the failing topic cannot have delayed or changed the completion. How
    // long the function then spends on the doomed publish is bounded by the
    // SDK's retry policy; that is observed as the number of attempts (at
    // most the configured 3), not as wall-clock time, which on two shared
    // cores would make a flaky test. The invocation's own success shows the
    // failure was absorbed rather than turned into a retry of the decision.
    for (n, group) in [compliant, violating].into_iter().enumerate() {
        control.clear_requests().unwrap();
        let action = bed.cluster.launch(group).await.unwrap();
        let event = events::lifecycle_event(&action).unwrap();
        let summary = guard
            .invoke(&event)
            .await
            .expect("a failing alert topic does not fail the invocation");
        assert_eq!(
            verdict(&summary),
            healthy[n],
            "decided as without the fault"
        );
        assert_eq!(summary["duplicate"], false, "{summary}");

        let ended: Vec<EndedAction> = control
            .ended_actions(Some(group))
            .unwrap()
            .into_iter()
            .filter(|e| e.token == action.token)
            .collect();
        let [completion] = ended.as_slice() else {
            panic!("one end for the action: {ended:?}");
        };
        assert_eq!(completion.by, "CompleteLifecycleAction");
        assert_eq!(completion.result.as_deref(), Some(healthy[n].0.as_str()));
        let publishes = control.requests(Some("Publish")).unwrap();
        eprintln!(
            "{group}: {} completed at seq {:?}; Publish attempts at seq {:?}",
            healthy[n].0,
            completion.seq,
            publishes.iter().map(|p| p.seq).collect::<Vec<_>>()
        );
        assert!(
            publishes.iter().all(|p| p.fault.is_some()),
            "every Publish failed: {publishes:?}"
        );
        assert!(
            publishes
                .iter()
                .all(|p| matches!(p.fault, Some(FaultKind::Throttle | FaultKind::Error))),
            "{publishes:?}"
        );
        assert!(
            publishes.len() <= 3,
            "the publish is retried a bounded number of times: {publishes:?}"
        );
        if healthy[n].0 == "ABANDON" {
            assert!(!publishes.is_empty(), "the denial's alert was attempted");
        }
        let completed_at = completion.seq.unwrap();
        assert!(
            publishes.iter().all(|p| completed_at < p.seq),
            "the action was completed (seq {completed_at}) before any Publish attempt: {publishes:?}"
        );
    }
    let faults = control.clear_faults().unwrap();
    eprintln!("{faults}");
    assert!(faults.injected >= 1, "{faults}");
    assert_eq!(bed.alerts().await, [], "nothing was published meanwhile");
    let logs = guard.logs();
    for line in logs
        .lines()
        .filter(|l| l.contains("could not be published"))
    {
        eprintln!("{}", line.chars().take(400).collect::<String>());
    }
    assert!(!logs.contains("panicked"), "{logs}");
    assert!(
        guard
            .log_records()
            .iter()
            .any(|r| r["fields"]["message"] == "alert could not be published"
                || r["message"] == "alert could not be published"),
        "the lost alert is logged: {logs}"
    );
}

#[tokio::test]
async fn a_completion_that_keeps_failing_is_alerted_once_across_environments_until_a_retry_completes_it()
 {
    // Given a compliant launch, and CompleteLifecycleAction failing for every
    // attempt the SDK makes (three) in each of two invocations.
    let bed = Bed::new().await;
    let control = &bed.clients.control;
    let group = bed.cluster.groups[0].clone();
    let policy = bed.policy(None, None, None);
    let action = bed.cluster.launch(&group).await.unwrap();
    let event = events::lifecycle_event(&action).unwrap();
    let failing = || {
        control
            .set_faults(
                &[FaultRule::error("CompleteLifecycleAction")
                    .service("autoscaling")
                    .count(3)],
                1,
            )
            .unwrap();
    };

    // When the first invocation fails, its environment is replaced, the
    // retry in the new one fails too, and the last retry goes through,
    failing();
    let first = bed.launch_guard(&policy).await;
    let err = first
        .invoke(&event)
        .await
        .expect_err("the completion fails");
    drop(first);
    failing();
    let second = bed.launch_guard(&policy).await;
    let again = second.invoke(&event).await.expect_err("and fails again");
    control.clear_faults().unwrap();
    let summary = second
        .invoke(&event)
        .await
        .expect("the last retry completes it");

    // then both failures said why, the action was completed by the guard,
    for err in [err, again] {
        let InvokeError::Function { error_type, .. } = &err else {
            panic!("not a function error: {err}");
        };
        assert_eq!(error_type, "CompletionFailed", "{err}");
    }
    assert_eq!(summary["decision"], "CONTINUE", "{summary}");
    let ended = control.ended_actions(Some(&group)).unwrap();
    let completion = ended.iter().find(|e| e.token == action.token).unwrap();
    assert_eq!(completion.by, "CompleteLifecycleAction");
    // and the failure was alerted once, marked on the instance for any
    // environment to see.
    let received = bed.alerts().await;
    let failed: Vec<_> = received
        .iter()
        .filter(|a| a.attribute("kind") == Some("guard_error"))
        .collect();
    assert_eq!(failed.len(), 1, "{received:?}");
    assert_eq!(
        bed.tag_of(&action.instance_id, "scaling-guard:completion-failed")
            .await
            .as_deref(),
        Some(action.token.as_str())
    );
    assert!(
        bed.tag_of(&action.instance_id, "scaling-guard:vetted")
            .await
            .is_some(),
        "the checks ran: marked vetted"
    );
}
