//! The operator CLI end to end: the built binary (`target/debug/scaling-guard`)
//! run as an operator runs it — the policy from `GUARD_*` variables or a
//! policy file, `AWS_ENDPOINT_URL` pointing at the emulator seeded with a
//! cluster — checking its output, its JSON and its exit codes, and that it
//! changes nothing (no completion, no alert, no remediation).
//!
//! Build the binary first: `cargo build -p scaling-guard`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_ec2::types::LaunchTemplateSpecification;
use scaling_guard_e2e::{CliRun as Run, events};

mod support;

use support::Bed;

/// Runs the CLI with a clean environment: test credentials, the region,
/// `AWS_ENDPOINT_URL` (when given) and `env` (the policy), nothing inherited.
fn cli(endpoint: Option<&str>, env: &BTreeMap<String, String>, args: &[&str]) -> Run {
    cli_with_input(endpoint, env, args, None)
}

fn cli_with_input(
    endpoint: Option<&str>,
    env: &BTreeMap<String, String>,
    args: &[&str],
    input: Option<&str>,
) -> Run {
    let mut command = scaling_guard_e2e::operator_cli(endpoint).unwrap();
    command
        .envs(env)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the cli starts");
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(input.as_bytes()).unwrap();
    }
    Run::from(child.wait_with_output().unwrap())
}

/// A file in the temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, content: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "scaling-guard-cli-{}-{n}-{name}",
            std::process::id()
        ));
        std::fs::write(&path, content).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The line of a table whose first cell is `first`, with its cells separated
/// by single spaces (column widths vary with the ids).
fn row(out: &str, first: &str) -> String {
    out.lines()
        .find(|line| line.split_whitespace().next() == Some(first))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| panic!("no row `{first}` in:\n{out}"))
}

/// `KEY=VALUE` lines, as an operator would write a policy file.
fn policy_file(policy: &BTreeMap<String, String>) -> String {
    let mut text = "# scaling-guard policy\n".to_owned();
    for (key, value) in policy {
        text.push_str(&format!("{key}={value}\n"));
    }
    text
}

/// What only these tests ask of the bed.
impl Bed {
    fn run(&self, env: &BTreeMap<String, String>, args: &[&str]) -> Run {
        cli(Some(&self.endpoint()), env, args)
    }

    /// Launches one instance from `template` into `group` and completes its
    /// action with `CONTINUE`, as launch-guard would: it is `InService`.
    async fn in_service(&self, group: &str, template: &str) -> String {
        let action = self.cluster.launch_with(group, template).await.unwrap();
        self.cluster.complete(&action, "CONTINUE").await.unwrap();
        action.instance_id
    }

    /// Runs an instance by hand (`RunInstances` with the compliant launch
    /// template), tagged into the cluster but in no group: unmanaged.
    async fn launched_by_hand(&self) -> String {
        support::run_one(
            self.clients
                .ec2
                .run_instances()
                .launch_template(
                    LaunchTemplateSpecification::builder()
                        .launch_template_name(&self.cluster.templates.compliant)
                        .version("$Latest")
                        .build(),
                )
                .subnet_id(&self.cluster.private_subnet_ids[0])
                .tag_specifications(support::in_cluster()),
        )
        .await
    }
}

#[tokio::test]
async fn validate_prints_the_effective_policy_or_every_problem() {
    let bed = Bed::new().await;
    let policy = bed.cluster.policy_env();

    // Given the deployment's policy in the environment: valid, exit 0, every
    // setting and check listed.
    let good = bed.run(&policy, &["validate"]);
    assert_eq!(good.code, 0, "{good:#?}");
    assert!(
        good.stdout
            .starts_with("policy from environment (`GUARD_*` variables)\n"),
        "{}",
        good.stdout
    );
    // Sets of ids are shown sorted.
    let mut subnets = bed.cluster.private_subnet_ids.clone();
    subnets.sort();
    let subnets = subnets.join(",");
    let out = &good.stdout;
    assert_eq!(
        row(out, "GUARD_ALLOWED_SUBNET_IDS"),
        format!("GUARD_ALLOWED_SUBNET_IDS given {subnets}")
    );
    assert_eq!(
        row(out, "GUARD_MAX_VCPUS"),
        "GUARD_MAX_VCPUS default (unset: no budget)"
    );
    assert_eq!(
        row(out, "GUARD_CLUSTER_TAG_KEY"),
        "GUARD_CLUSTER_TAG_KEY default kubernetes.io/cluster/prod"
    );
    assert_eq!(
        row(out, "instance_type.allowed"),
        "instance_type.allowed on, blocks launch-guard, instance-audit"
    );
    assert_eq!(
        row(out, "budget.vcpus"),
        "budget.vcpus off launch-guard (admission), budget-guard"
    );
    assert!(out.ends_with("\npolicy is valid: 11 of 18 checks on, mode enforce\n"));

    // Given a policy file without the topic: the placeholder, said so.
    let mut without_topic = policy.clone();
    without_topic.remove("GUARD_ALERT_TOPIC_ARN");
    let file = TempFile::new("no-topic.env", &policy_file(&without_topic));
    let noted = cli(
        None,
        &BTreeMap::new(),
        &["validate", "--policy", file.path()],
    );
    assert_eq!(noted.code, 0, "{noted:#?}");
    assert!(noted.stdout.contains(
        "note: `GUARD_ALERT_TOPIC_ARN` is not set: the CLI never publishes and uses a placeholder"
    ));

    // Given a bad policy file: exit 2 and every problem named.
    let mut bad = policy.clone();
    bad.insert("GUARD_MODE".into(), "strict".into());
    bad.insert("GUARD_RESUME_BELOW_PERCENT".into(), "100".into());
    bad.insert("GUARD_ALLOWED_SUBNET_IDS".into(), "subnet-nope".into());
    let file = TempFile::new("bad.env", &policy_file(&bad));
    let invalid = bed.run(&BTreeMap::new(), &["validate", "--policy", file.path()]);
    assert_eq!(invalid.code, 2, "{invalid:#?}");
    for problem in [
        "(3 problems)",
        "- `GUARD_MODE` must be one of `enforce`, `audit`, not `strict`",
        "- `GUARD_RESUME_BELOW_PERCENT` (`100`) must be below `GUARD_SUSPEND_AT_PERCENT` (`100`)",
        "- `GUARD_ALLOWED_SUBNET_IDS` has `subnet-nope`, which is not a subnet id (`subnet-…`)",
    ] {
        assert!(invalid.stdout.contains(problem), "{problem}: {invalid:#?}");
    }

    // A bad policy stops `audit` too, before any AWS call.
    let audit = bed.run(&bad, &["audit"]);
    assert_eq!(audit.code, 2, "{audit:#?}");
    assert!(audit.stderr.contains("invalid policy from environment"));

    // A usage error is clap's, exit 2.
    let usage = bed.run(&policy, &["audti"]);
    assert_eq!(usage.code, 2, "{usage:#?}");
    assert!(usage.stderr.contains("audit"), "{usage:#?}");
}

#[tokio::test]
async fn audit_of_a_clean_cluster_exits_0() {
    let bed = Bed::new().await;
    let node = bed
        .in_service(&bed.cluster.groups[0], &bed.cluster.templates.compliant)
        .await;
    // Another cluster's instance, however non-compliant, is none of its business.
    let staging = bed
        .in_service(&bed.cluster.staging_group, &bed.cluster.templates.staging)
        .await;

    let run = bed.run(&bed.cluster.policy_env(), &["audit"]);

    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        row(&run.stdout, &node),
        format!("{node} prod-general m6i.large running ok")
    );
    assert!(!run.stdout.contains(&staging), "{}", run.stdout);
    assert!(
        run.stdout
            .ends_with("1 instance(s): 1 compliant, 0 non-compliant\n")
    );
}

#[tokio::test]
async fn audit_names_each_violation_in_its_table_and_json_and_exits_1() {
    let bed = Bed::new().await;
    let compliant = bed
        .in_service(&bed.cluster.groups[0], &bed.cluster.templates.compliant)
        .await;
    let by_hand = bed.launched_by_hand().await;
    let mut policy = bed.cluster.policy_env();
    policy.insert("GUARD_MAX_VCPUS".into(), "64".into());
    policy.insert("GUARD_MAX_INSTANCES".into(), "10".into());
    // Enforce mode with `terminate`: the CLI still only reads.
    policy.insert("GUARD_AUDIT_ACTION".into(), "terminate".into());
    let file = TempFile::new("prod.env", &policy_file(&policy));

    // The table (policy from a file).
    let table = bed.run(&BTreeMap::new(), &["audit", "--policy", file.path()]);
    assert_eq!(table.code, 1, "{table:#?}");
    let out = &table.stdout;
    assert_eq!(row(out, "INSTANCE"), "INSTANCE GROUP TYPE STATE CHECKS");
    assert_eq!(
        row(out, &compliant),
        format!("{compliant} prod-general m6i.large running ok")
    );
    // The instance table lists it first, then the violations table.
    let rows: Vec<String> = out
        .lines()
        .filter(|line| line.starts_with(&by_hand))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(
        rows[0],
        format!("{by_hand} (none) m6i.large running membership.unmanaged")
    );
    assert!(
        rows[1].starts_with(&format!(
            "{by_hand} membership.unmanaged yes instance `{by_hand}` joined cluster `prod` outside any Auto Scaling group"
        )),
        "{out}"
    );
    assert_eq!(row(out, "BUDGET"), "BUDGET USED MAX PERCENT STATUS");
    assert_eq!(row(out, "vcpus"), "vcpus 4 64 6.3% ok");
    assert_eq!(row(out, "instances"), "instances 2 10 20.0% ok");
    assert!(
        out.ends_with("2 instance(s): 1 compliant, 1 non-compliant\n"),
        "{out}"
    );

    // The same as one JSON document.
    let json = bed.run(&policy, &["audit", "--json"]);
    assert_eq!(json.code, 1, "{json:#?}");
    let report = json.json();
    assert_eq!(report["cluster"], "prod");
    assert_eq!(report["summary"]["non_compliant"], 1);
    assert_eq!(report["summary"]["counts"]["membership.unmanaged"], 1);
    let instances = report["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 2);
    let row = instances
        .iter()
        .find(|i| i["instance_id"] == by_hand.as_str())
        .unwrap();
    assert_eq!(row["membership"], "unmanaged");
    assert_eq!(row["compliant"], false);
    assert_eq!(row["violations"][0]["check"], "membership.unmanaged");
    assert_eq!(row["violations"][0]["blocking"], true);
    assert_eq!(report["budget"]["dimensions"][0]["name"], "vcpus");
    assert_eq!(report["budget"]["dimensions"][0]["used"], 4);
    assert_eq!(report["budget"]["dimensions"][1]["used"], 2);

    // Read-only: the unmanaged instance still runs, nothing was alerted.
    assert_eq!(
        bed.cluster
            .instance_state(&by_hand)
            .await
            .unwrap()
            .as_deref(),
        Some("running")
    );
    let archived = bed.archived().await;
    assert_eq!(archived, vec![], "the cli never alerts");
}

#[tokio::test]
async fn explain_tells_what_launch_guard_would_decide_and_completes_nothing() {
    let bed = Bed::new().await;
    let policy = bed.cluster.policy_env();
    let compliant = bed
        .cluster
        .launch_with(&bed.cluster.groups[0], &bed.cluster.templates.compliant)
        .await
        .unwrap();
    let denied = bed
        .cluster
        .launch_with(&bed.cluster.groups[1], &bed.cluster.templates.denied_type)
        .await
        .unwrap();

    // A compliant launch would CONTINUE (event from a file).
    let event = events::lifecycle_event(&compliant).unwrap().to_string();
    let file = TempFile::new("launch.json", &event);
    let run = bed.run(&policy, &["explain", file.path()]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout.starts_with(&format!(
            "launch of {} into group prod-general (hook scaling-guard-prod)\n",
            compliant.instance_id
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\ndecision: CONTINUE (mode enforce)\n\nno violations\n")
    );
    assert!(run.stdout.contains("\nnothing was completed"));

    // A launch of a denied type would be ABANDONed (event on stdin, JSON out).
    let event = events::lifecycle_event(&denied).unwrap().to_string();
    let run = cli_with_input(
        Some(&bed.endpoint()),
        &policy,
        &["explain", "-", "--json"],
        Some(&event),
    );
    assert_eq!(run.code, 1, "{run:#?}");
    let explanation = run.json();
    assert_eq!(explanation["decision"], "ABANDON");
    assert_eq!(explanation["completed"], false);
    assert_eq!(explanation["lifecycle_state"], "Pending:Wait");
    assert_eq!(
        explanation["violations"][0]["check"],
        "instance_type.allowed"
    );
    assert_eq!(explanation["violations"][0]["blocking"], true);
    assert_eq!(explanation["instance"]["instance_type"], "p5.48xlarge");

    // With a budget the compliant launch does not fit, the admission says so.
    let mut tight = policy.clone();
    tight.insert("GUARD_MAX_VCPUS".into(), "1".into());
    let run = bed.run(&tight, &["explain", file.path()]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stdout
            .contains("\nbudget admission: denied (budget.vcpus)\n"),
        "{}",
        run.stdout
    );
    assert_eq!(row(&run.stdout, "vcpus"), "vcpus 0 2 1 no");

    // Nothing was completed: both actions still wait.
    for action in [&compliant, &denied] {
        assert_eq!(bed.pending(&action.instance_id).as_ref(), Some(action));
        assert_eq!(
            bed.lifecycle_state(&action.instance_id).await.as_deref(),
            Some("Pending:Wait")
        );
    }
    let archived = bed.archived().await;
    assert_eq!(archived, vec![], "the cli never alerts");

    // The sample event names an instance the account does not have:
    // launch-guard would decide by its fail mode.
    let sample = scaling_guard_e2e::workspace_root().join("events/launch-lifecycle-action.json");
    let run = bed.run(&policy, &["explain", sample.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stdout.contains(
        "\ndecision: ABANDON (mode enforce)\n  by GUARD_FAIL_MODE `abandon`: the facts cannot be established: instance `i-0a1b2c3d4e5f60718` was not found\n"
    ), "{}", run.stdout);
}

#[tokio::test]
async fn aws_and_event_errors_exit_2() {
    let policy: BTreeMap<String, String> = [("GUARD_CLUSTER", "prod")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();

    // Nothing listens on port 9 of the loopback.
    let unreachable = cli(Some("http://127.0.0.1:9"), &policy, &["audit"]);
    assert_eq!(unreachable.code, 2, "{unreachable:#?}");
    assert!(
        unreachable
            .stderr
            .starts_with("scaling-guard: `DescribeInstances` failed"),
        "{unreachable:#?}"
    );

    // No region anywhere (no AWS_REGION, no profile).
    let no_region = cli(None, &policy, &["audit"]);
    assert_eq!(no_region.code, 2, "{no_region:#?}");
    assert!(no_region.stderr.contains("no aws region"), "{no_region:#?}");

    // Not a lifecycle event.
    let file = TempFile::new("not-an-event.json", r#"{"hello":"world"}"#);
    let event = cli(
        Some("http://127.0.0.1:9"),
        &policy,
        &["explain", file.path()],
    );
    assert_eq!(event.code, 2, "{event:#?}");
    assert!(
        event.stderr.contains("is not a lifecycle notification"),
        "{event:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_is_a_dry_run_until_yes_then_leaves_nothing_of_the_guard() {
    // Given: the seeded cluster, every group carrying the guard's hook
    let bed = Bed::new().await;
    let mut groups = bed.cluster.groups.clone();
    groups.sort();
    let hooked = |group: &str| {
        let group = group.to_owned();
        let cluster = &bed.cluster;
        async move {
            cluster
                .lifecycle_hooks(&group)
                .await
                .unwrap()
                .iter()
                .any(|h| h.lifecycle_hook_name() == Some(scaling_guard_e2e::HOOK))
        }
    };
    let env = bed.cluster.policy_env();

    // When: a dry run
    let dry = bed.run(&env, &["release"]);

    // Then: it lists what it would undo, exits 1 and changes nothing
    assert_eq!(dry.code, 1, "{dry:#?}");
    assert!(
        dry.stdout.starts_with("DRY RUN: nothing was changed."),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains(&format!("remove the hook from (3): {}", groups.join(", "))),
        "{}",
        dry.stdout
    );
    for group in &groups {
        assert!(hooked(group).await, "{group} keeps its hook");
    }

    // When: --yes
    let done = bed.run(&env, &["release", "--yes", "--json"]);

    // Then: nothing of the guard is left on the cluster; staging keeps its own
    assert_eq!(done.code, 0, "{done:#?}");
    let report = done.json();
    assert_eq!(report["mode"], "released");
    assert_eq!(report["leftovers"], serde_json::json!([]));
    for group in &groups {
        assert!(!hooked(group).await, "{group} lost the hook");
    }
    assert!(hooked(&bed.cluster.staging_group).await);
    assert_eq!(bed.run(&env, &["release"]).code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_without_the_record_key_lifts_no_forged_record_unless_told() {
    // Given: a prod group with Launch suspended, MaxSize 3 and a record
    // anyone who may tag could write; the CLI has no GUARD_RECORD_KEY (the
    // secret went with the stack)
    const FORGED: &str = r#"{"reason":"x","trigger":"schedule","time":"2026-01-01T00:00:00Z","original_max_size":5000,"clamped_to":3}"#;
    let bed = Bed::new().await;
    let group = bed.cluster.groups[0].clone();
    let tag = aws_sdk_autoscaling::types::Tag::builder()
        .resource_id(&group)
        .resource_type("auto-scaling-group")
        .key("scaling-guard:suspended")
        .value(FORGED)
        .propagate_at_launch(false)
        .build();
    bed.clients
        .autoscaling
        .create_or_update_tags()
        .tags(tag)
        .send()
        .await
        .unwrap();
    bed.cluster
        .suspend_processes(&group, &["Launch"])
        .await
        .unwrap();
    bed.cluster.set_max_size(&group, 3).await.unwrap();
    let mut env = bed.cluster.policy_env();
    env.remove("GUARD_RECORD_KEY");
    let state = |group: String| {
        let cluster = &bed.cluster;
        async move {
            let state = cluster.group_state(&group).await.unwrap();
            (state.suspended_processes, state.max_size)
        }
    };

    // When: --yes
    let done = bed.run(&env, &["release", "--yes", "--json"]);

    // Then: the record is listed as unverified, exit 1, nothing lifted
    assert_eq!(done.code, 1, "{done:#?}");
    assert_eq!(
        done.json()["unverified"],
        serde_json::json!([{"group": group, "record": FORGED}])
    );
    assert_eq!(state(group.clone()).await, (vec!["Launch".to_owned()], 3));

    // When: --yes --trust-unsigned-records
    let trusted = bed.run(&env, &["release", "--yes", "--trust-unsigned-records"]);

    // Then: Launch lifted, MaxSize kept, 5000 only advised
    assert_eq!(trusted.code, 0, "{trusted:#?}");
    assert!(
        trusted.stdout.contains("--max-size 5000`"),
        "{}",
        trusted.stdout
    );
    assert_eq!(state(group.clone()).await, (Vec::new(), 3));
}
