//! `scaling-guard org audit`: `audit` across an organisation — every
//! account (named, or under organisational units) in every region asked,
//! each read with credentials of its own (an `AssumeRole` of the audit role
//! into that account), a few at a time, into one report.
//!
//! Each target's audit is `audit`'s ([`audit::run`], read ports only, the
//! same policy for the fleet), so the fleet's findings are those of one
//! `audit` per account and region. An account that cannot be read (the
//! role denied, a call refused or timed out) is a row with its error: the
//! others are still audited, and the exit status is 2.

mod fleet;
pub mod leftovers;
mod targets;

use std::io::{self, BufWriter, Write};
use std::time::SystemTime;

use aws_config::Region;
use aws_sdk_organizations::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_organizations::error::{DisplayErrorContext, ProvideErrorMetadata};
use futures::stream::{self, StreamExt};
use shared::aws::PageSizes;
use shared::policy::Policy;
use shared::time::format_rfc3339;

use crate::app::{self, CliError};
use crate::args::{AuditFormat, OrgAudit};
use crate::audit::{self, SlowNote, findings};
use crate::exit_status::ExitStatus;
use crate::settings::{Loaded, Settings};
pub use fleet::{Fleet, TargetReport};
pub use targets::{Skipped, Target, account_id};

/// The session name the audit role's sessions carry, in each account's
/// CloudTrail: the tool that read it.
const SESSION_NAME: &str = "scaling-guard-org-audit";

/// `org audit`: the targets, their audits, one report; the exit status of
/// the fleet ([`Fleet::outcome`]).
pub async fn audit(settings: &Settings, args: &OrgAudit) -> Result<ExitStatus, CliError> {
    let Loaded { policy, notes, .. } = settings.load()?;
    for note in &notes {
        eprintln!("note: {note}");
    }
    let base = app::sdk_config(args.timeout).await?;
    let (accounts, skipped) = accounts(&base, args).await?;
    let regions = match args.regions.is_empty() {
        true => base
            .region()
            .map(|r| vec![r.to_string()])
            .unwrap_or_default(),
        false => args.regions.clone(),
    };
    let now = SystemTime::now();
    let audits = targets::targets(&accounts, &regions)
        .into_iter()
        .map(|target| audit_target(&base, &policy, args, target, now));
    let mut reports: Vec<TargetReport> = stream::iter(audits)
        .buffer_unordered(usize::from(args.concurrency))
        .collect()
        .await;
    reports.sort_by(|a, b| a.target.cmp(&b.target));
    let fleet = Fleet {
        cluster: policy.cluster.clone(),
        time: format_rfc3339(audit::whole_seconds(now)),
        targets: reports,
        skipped,
    };
    print(&fleet, &policy, args.format, now)?;
    Ok(fleet.outcome())
}

/// `--accounts`, or the active accounts under `--ou` (and the others,
/// skipped).
async fn accounts(
    base: &aws_config::SdkConfig,
    args: &OrgAudit,
) -> Result<(Vec<String>, Vec<Skipped>), CliError> {
    if args.ou.is_empty() {
        return Ok((args.accounts.clone(), Vec::new()));
    }
    let organizations = aws_sdk_organizations::Client::new(base);
    let (mut active, skipped) = targets::accounts_under(&organizations, &args.ou).await?;
    active.extend(args.accounts.iter().cloned());
    for skip in &skipped {
        eprintln!(
            "note: account {} is {}: not audited",
            skip.account, skip.status
        );
    }
    Ok((active, skipped))
}

/// One account in one region: its credentials, then [`audit::run`] with
/// them; what went wrong, as the target's error.
async fn audit_target(
    base: &aws_config::SdkConfig,
    policy: &Policy,
    args: &OrgAudit,
    target: Target,
    now: SystemTime,
) -> TargetReport {
    let config = match account_config(base, args, &target).await {
        Ok(config) => config,
        Err(error) => {
            let leftovers = args.leftovers.then(|| Err(error.clone()));
            let read = Err(error);
            return TargetReport {
                target,
                read,
                leftovers,
            };
        }
    };
    let read = audit_with(&config, policy, args, &target, now).await;
    let leftovers = match args.leftovers {
        true => Some(leftovers::survey(&config).await.map_err(|e| e.to_string())),
        false => None,
    };
    TargetReport {
        target,
        read,
        leftovers,
    }
}

async fn audit_with(
    config: &aws_config::SdkConfig,
    policy: &Policy,
    args: &OrgAudit,
    target: &Target,
    now: SystemTime,
) -> Result<audit::AuditReport, String> {
    let pages = PageSizes::shrinking();
    let aws = app::adapters(policy, config, pages.clone());
    let mut report = audit::run(policy, &aws, now)
        .await
        .map_err(|err| err.to_string())?;
    report.slow = SlowNote::of(pages.slow(), &target.region, args.timeout);
    Ok(report)
}

/// The SDK configuration of `target`: the base configuration (endpoint,
/// timeouts, retries) in the target's region, with credentials of an
/// `AssumeRole` of the audit role into the target's account, fetched here
/// so that a denied role is this target's error, said once, and kept:
/// no other target's client ever holds them.
async fn account_config(
    base: &aws_config::SdkConfig,
    args: &OrgAudit,
    target: &Target,
) -> Result<aws_config::SdkConfig, String> {
    let regional = base
        .to_builder()
        .region(Region::new(target.region.clone()))
        .build();
    let role = targets::role_arn(target, &args.role);
    let credentials = assume(&regional, &role, args.external_id.as_deref())
        .await
        .map_err(|reason| format!("cannot assume `{role}`: {reason}"))?;
    Ok(regional
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build())
}

/// The audit role's credentials, with the default chain's; a refusal is the
/// service's code and message in one line (`AccessDenied: …`), not the
/// whole HTTP response.
async fn assume(
    config: &aws_config::SdkConfig,
    role: &str,
    external_id: Option<&str>,
) -> Result<Credentials, String> {
    let assumed = aws_sdk_sts::Client::new(config)
        .assume_role()
        .role_arn(role)
        .role_session_name(SESSION_NAME)
        .set_external_id(external_id.map(str::to_owned))
        .send()
        .await
        .map_err(|err| match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            _ => DisplayErrorContext(&err).to_string(),
        })?;
    let issued = assumed
        .credentials()
        .ok_or("AssumeRole answered without credentials")?;
    Ok(Credentials::new(
        issued.access_key_id(),
        issued.secret_access_key(),
        Some(issued.session_token().to_owned()),
        SystemTime::try_from(*issued.expiration()).ok(),
        SESSION_NAME,
    ))
}

/// The fleet's report on standard output, in `format`.
fn print(
    fleet: &Fleet,
    policy: &Policy,
    format: AuditFormat,
    now: SystemTime,
) -> Result<(), CliError> {
    let mut out = BufWriter::new(io::stdout().lock());
    let standard = match format {
        AuditFormat::Text => return finish(fleet::write_text(fleet, &mut out), out),
        AuditFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &fleet.document())?;
            return finish(out.write_all(b"\n"), out);
        }
        AuditFormat::Asff => findings::Standard::Asff,
        AuditFormat::Ocsf => findings::Standard::Ocsf,
    };
    let reports: Vec<_> = fleet
        .targets
        .iter()
        .filter_map(|t| {
            let export = findings::Export {
                standard,
                policy,
                region: &t.target.region,
                now,
            };
            t.read.as_ref().ok().map(|report| (report, export))
        })
        .collect();
    findings::write_all(&reports, &mut out)?;
    out.flush()?;
    for target in fleet.targets.iter().filter(|t| t.read.is_err()) {
        eprintln!(
            "note: account {} in {} was not audited: see `--format text` or `json`",
            target.target.account, target.target.region
        );
    }
    Ok(())
}

fn finish(written: io::Result<()>, mut out: impl Write) -> Result<(), CliError> {
    written?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests;
