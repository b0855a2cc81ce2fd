//! Wiring: read the policy, connect to AWS once, run the command, print.
//! Results go to standard output (tables or one JSON document), notes and
//! errors to standard error.

use std::io::{self, BufWriter, Read as _, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use aws_config::timeout::TimeoutConfig;
use serde::Serialize;
use shared::aws::{
    Adapters, AutoScaling, Destinations, Iam, PageSizes, load_config_with_default_chains,
};
use shared::lifecycle::{self, Notification};
use shared::policy::Policy;
use shared::ports::{
    AwsError, ClusterGroupsRead, GroupRead, LauncherRoles, ReadPorts, ScaleOutControl,
};
use shared::release::{ReleaseReport, Scope};

use crate::args::{Args, AuditFormat, Command, Format, Identity, OrgCommand, Timeout};
use crate::audit::findings;
use crate::exit_status::ExitStatus;
use crate::settings::{Invalid, Loaded, Settings};
use crate::{audit, explain, export, release, validate};

/// Why a command could not run (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot read the policy file `{path}`")]
    PolicyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Policy(#[from] Invalid),
    #[error("cannot read the event `{path}`")]
    EventFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the event `{path}` cannot be explained: {message}")]
    Event { path: PathBuf, message: String },
    #[error(
        "no aws region: set `AWS_REGION` (or `AWS_DEFAULT_REGION`), or a `region` in the profile"
    )]
    NoRegion,
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("cannot write the export into `{path}`")]
    OutDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write json")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Findings(#[from] findings::ExportError),
    #[error("cannot write the output")]
    Output(#[from] io::Error),
}

pub async fn run(args: Args) -> Result<ExitStatus, CliError> {
    let settings = read_settings(args.policy.as_deref())?;
    match args.command {
        Command::Validate => Ok(run_validate(&settings)),
        Command::Audit {
            format, timeout, ..
        } => run_audit(&settings, format, timeout).await,
        Command::Explain { event, json } => run_explain(&settings, &event, json).await,
        Command::Export { format, out } => run_export(&settings, format, out.as_deref()),
        Command::Release {
            yes,
            trust_unsigned_records,
            json,
            identity,
        } => run_release(settings, &identity, yes, trust_unsigned_records, json).await,
        Command::Org {
            command: OrgCommand::Audit(org),
        } => crate::org::audit(&settings, &org).await,
    }
}

/// `release`: what the guard of the policy (and the flags) left, undone with
/// `--yes`, else only listed. It gets the Auto Scaling port, the only service
/// the release reads; only `--yes` may change it, and only `--yes` gets the
/// IAM port of the launcher roles too, to delete the launch breaker
/// ([`release_changes`]). The dry run only names the breaker: no IAM call.
async fn run_release(
    mut settings: Settings,
    identity: &Identity,
    yes: bool,
    trust_unsigned_records: bool,
    json: bool,
) -> Result<ExitStatus, CliError> {
    release::apply(&mut settings, identity);
    let Loaded { policy, notes, .. } = settings.load()?;
    for note in &notes {
        eprintln!("note: {note}");
    }
    let config = sdk_config(DEFAULT_TIMEOUT).await?;
    let groups = AutoScaling::new(aws_sdk_autoscaling::Client::new(&config));
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    let scope = release::scope(&policy, trust_unsigned_records);
    let outcome = match yes {
        false => release_dry_run(&groups, &policy, &scope, &region).await,
        true => {
            let launchers = Iam::new(&config);
            release_changes(&groups, &launchers, &policy, &scope).await
        }
    };
    print_result(json, &outcome, |o, out| release::write_text(o, out))?;
    Ok(outcome.status())
}

/// What `release` would undo: a dry run reads the groups and their hooks
/// ([`ClusterGroupsRead`]) and nothing else; the launch breaker of `region`
/// is only named.
async fn release_dry_run(
    groups: &impl ClusterGroupsRead,
    policy: &Policy,
    scope: &Scope,
    region: &str,
) -> release::Outcome {
    let survey = shared::release::survey(groups, scope).await;
    let clamps = match scope.restores_max_size() {
        true => survey.clamps(scope.record_key.as_ref()),
        false => Vec::new(),
    };
    release::Outcome::DryRun {
        cluster: policy.cluster.clone(),
        hook_name: policy.hook_name.clone(),
        survey,
        clamps,
        launch_breaker: release::Breaker::of(policy, region),
    }
}

/// What `release --yes` undid. The one write of the CLI, typed as such:
/// Auto Scaling's group reads and [`ScaleOutControl`] (resume `Launch`,
/// restore MaxSize, delete the hook), and [`LauncherRoles`] (delete the
/// launch breaker), nothing else — no instance tag, no lifecycle
/// completion, no remediation, no alert, no metric.
async fn release_changes(
    groups: &(impl ClusterGroupsRead + GroupRead + ScaleOutControl),
    launchers: &impl LauncherRoles,
    policy: &Policy,
    scope: &Scope,
) -> release::Outcome {
    let mut report = ReleaseReport::default();
    let until = tokio::time::Instant::now() + release::TIME_LIMIT;
    shared::release::release(groups, scope, SystemTime::now(), until, &mut report).await;
    let launch_breaker = release::remove_breaker(launchers, policy, &mut report).await;
    release::Outcome::Released {
        cluster: policy.cluster.clone(),
        hook_name: policy.hook_name.clone(),
        report,
        launch_breaker,
    }
}

/// `audit`: the cluster's instances against the policy, and the budgets;
/// or their findings as ASFF or OCSF. The exit status is the same in
/// every format. A slow `DescribeInstances` shrinks its pages
/// ([`PageSizes::shrinking`]) and the report says so.
async fn run_audit(
    settings: &Settings,
    format: AuditFormat,
    timeout: Timeout,
) -> Result<ExitStatus, CliError> {
    let pages = PageSizes::shrinking();
    let (policy, aws, region) = connect(settings, timeout, pages.clone()).await?;
    let now = SystemTime::now();
    let mut report = audit::run(&policy, &aws, now).await?;
    report.slow = audit::SlowNote::of(pages.slow(), &region, timeout);
    let standard = match format {
        AuditFormat::Text | AuditFormat::Json => {
            print_result(format == AuditFormat::Json, &report, |report, out| {
                audit::write_text(report, out)
            })?;
            return Ok(report.outcome());
        }
        AuditFormat::Asff => findings::Standard::Asff,
        AuditFormat::Ocsf => findings::Standard::Ocsf,
    };
    let export = findings::Export {
        standard,
        policy: &policy,
        region: &region,
        now,
    };
    print_findings(&report, &export)?;
    Ok(report.outcome())
}

/// The findings of `audit --format asff|ocsf` on standard output; what they
/// leave out (unaudited instances, the budgets) is said on standard error.
fn print_findings(report: &audit::AuditReport, export: &findings::Export) -> Result<(), CliError> {
    let mut out = BufWriter::new(io::stdout().lock());
    findings::write(report, export, &mut out)?;
    out.flush()?;
    for row in &report.instances {
        if let Some(error) = &row.error {
            eprintln!("note: {} was not audited: {error}", row.instance_id);
        }
    }
    if report.budget.is_some() {
        eprintln!(
            "note: the budgets are the cluster's, no instance's finding: `--format text` or `json` shows them"
        );
    }
    Ok(())
}

/// `explain`: what launch-guard would decide for the event. The event is
/// read first: a bad event is reported before the policy or AWS is looked at.
async fn run_explain(
    settings: &Settings,
    event: &Path,
    json: bool,
) -> Result<ExitStatus, CliError> {
    let notification = read_event(event)?;
    let (policy, aws, _) = connect(settings, Timeout::default(), PageSizes::default()).await?;
    let now = SystemTime::now();
    let explanation = explain::run(&policy, &aws, notification, now).await?;
    print_result(json, &explanation, |e, out| {
        out.write_all(explain::render(e, &policy).as_bytes())
    })?;
    Ok(explanation.outcome())
}

/// `export`: the policy compiled into preventive controls, printed, or
/// written into `out` (then only the summary is printed). No AWS is read.
fn run_export(
    settings: &Settings,
    format: Format,
    out: Option<&Path>,
) -> Result<ExitStatus, CliError> {
    let Loaded { policy, notes, .. } = settings.load()?;
    for note in &notes {
        eprintln!("note: {note}");
    }
    let exported = export::Exported::of(shared::export::compile(&policy));
    if let Some(dir) = out {
        exported.write_to(dir).map_err(|source| CliError::OutDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    print_result(format == Format::Json, &exported, |e, w| {
        w.write_all(export::render(e, out).as_bytes())
    })?;
    Ok(ExitStatus::Clean)
}

/// One JSON document (`--json`), or the text for people; either written as
/// it is made, so that a large cluster's output is not first built in
/// memory.
fn print_result<T: Serialize>(
    json: bool,
    result: &T,
    write_text: impl FnOnce(&T, &mut dyn Write) -> io::Result<()>,
) -> Result<(), CliError> {
    let mut out = BufWriter::new(io::stdout().lock());
    match json {
        true => {
            serde_json::to_writer_pretty(&mut out, result)?;
            out.write_all(b"\n")?;
        }
        false => write_text(result, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

fn read_settings(policy_file: Option<&Path>) -> Result<Settings, CliError> {
    let env = Settings::from_env(std::env::vars_os());
    match policy_file {
        None => Ok(env),
        Some(path) => {
            let env_keys: Vec<String> = env.vars.into_keys().collect();
            Settings::from_file(path, &env_keys).map_err(|source| CliError::PolicyFile {
                path: path.to_owned(),
                source,
            })
        }
    }
}

/// `validate` prints its verdict on standard output, problems included.
fn run_validate(settings: &Settings) -> ExitStatus {
    match settings.load() {
        Ok(loaded) => {
            print!("{}", validate::render_valid(settings, &loaded));
            ExitStatus::Clean
        }
        Err(invalid) => {
            for note in &settings.notes {
                println!("note: {note}");
            }
            println!("{invalid}");
            ExitStatus::Error
        }
    }
}

/// The policy, the AWS clients and their region for `audit` and
/// `explain`; the policy's notes go to standard error. The clients come
/// back as read ports only: neither command can change anything.
async fn connect(
    settings: &Settings,
    timeout: Timeout,
    pages: PageSizes,
) -> Result<(Policy, impl ReadPorts, String), CliError> {
    let Loaded { policy, notes, .. } = settings.load()?;
    for note in &notes {
        eprintln!("note: {note}");
    }
    let config = sdk_config(timeout).await?;
    let region = config.region().map(ToString::to_string).unwrap_or_default();
    let aws = adapters(&policy, &config, pages);
    Ok((policy, aws, region))
}

/// The functions' adapters on the CLI's SDK configuration ([`sdk_config`]),
/// listing the cluster's instances with `pages`.
pub(crate) fn adapters(
    policy: &Policy,
    config: &aws_config::SdkConfig,
    pages: PageSizes,
) -> Adapters {
    let mut aws = Adapters::new(config, &Destinations::of(policy));
    aws.ec2 = aws.ec2.with_page_sizes(pages);
    aws
}

/// What `release` and `explain` allow an AWS operation.
const DEFAULT_TIMEOUT: Timeout = Timeout { seconds: 60 };

impl Default for Timeout {
    fn default() -> Self {
        DEFAULT_TIMEOUT
    }
}

/// The functions' SDK configuration (`AWS_ENDPOINT_URL`, bounded retries)
/// with the default credential and region chains (profiles, SSO), and
/// timeouts for a laptop on a slow link rather than for a Lambda's deadline.
pub(crate) async fn sdk_config(timeout: Timeout) -> Result<aws_config::SdkConfig, CliError> {
    let config = load_config_with_default_chains()
        .await
        .into_builder()
        .timeout_config(timeout_config(timeout))
        .build();
    if config.region().is_none() {
        return Err(CliError::NoRegion);
    }
    Ok(config)
}

/// The operation's bound is `timeout`; each attempt's, at most
/// [`ATTEMPT_TIMEOUT`] of it, so that a stalled connection is retried
/// within the bound (as before `--timeout`: 20 s attempts, 60 s in all).
pub(crate) fn timeout_config(timeout: Timeout) -> TimeoutConfig {
    TimeoutConfig::builder()
        .operation_attempt_timeout(timeout.duration().min(ATTEMPT_TIMEOUT))
        .operation_timeout(timeout.duration())
        .build()
}

const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);

/// Reads and parses the event file (`-`: standard input).
fn read_event(path: &Path) -> Result<Notification, CliError> {
    let io_error = |source| CliError::EventFile {
        path: path.to_owned(),
        source,
    };
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(io_error)?;
        text
    } else {
        std::fs::read_to_string(path).map_err(io_error)?
    };
    parse_event(&text).map_err(|message| CliError::Event {
        path: path.to_owned(),
        message,
    })
}

/// One lifecycle notification; an SQS batch holds several and is refused.
fn parse_event(text: &str) -> Result<Notification, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|err| format!("event is not json: {err}"))?;
    if value.get("Records").is_some() {
        return Err(
            "it is an SQS batch: pass one notification (a record's `body`) instead".to_owned(),
        );
    }
    lifecycle::parse(value).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAUNCH: &str = include_str!("../../events/launch-lifecycle-action.json");
    const SQS: &str = include_str!("../../events/launch-sqs-batch.json");
    const TEST: &str = include_str!("../../events/test-notification.json");

    #[test]
    fn the_sample_launch_event_is_a_lifecycle_action() {
        let Ok(Notification::Action { action, .. }) = parse_event(LAUNCH) else {
            panic!("not an action");
        };
        assert_eq!(action.instance_id, "i-0a1b2c3d4e5f60718");
        assert!(matches!(parse_event(TEST), Ok(Notification::Test { .. })));
    }

    #[test]
    fn an_sqs_batch_or_garbage_is_refused_with_a_reason() {
        assert_eq!(
            parse_event(SQS).unwrap_err(),
            "it is an SQS batch: pass one notification (a record's `body`) instead"
        );
        assert!(
            parse_event("{")
                .unwrap_err()
                .starts_with("event is not json")
        );
        assert_eq!(
            parse_event(r#"{"hello":1}"#).unwrap_err(),
            "event is not a lifecycle notification: expected an EventBridge event or an Auto Scaling lifecycle hook message"
        );
    }
}

#[cfg(test)]
mod read_only;
