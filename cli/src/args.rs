//! The command line (clap derive): `--help`, usage lines and usage errors
//! (exit code 2) come from these definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  valid policy / clean cluster / the launch would CONTINUE (or is not the guard's)
     / nothing of the guard (left) to release
  1  violations found / the launch would be ABANDONed / something to release (dry
     run) or left after `release --yes`
  2  usage, policy, event or AWS error

The policy comes from the GUARD_* environment variables, as the functions read
them, or from --policy FILE (KEY=VALUE lines; the environment is then ignored).
GUARD_ALERT_TOPIC_ARN may be left out: the CLI never publishes. AWS access uses
the standard credential chain (AWS_PROFILE, AWS_REGION, ...) and
AWS_ENDPOINT_URL. Nothing is changed in the account (no completion,
remediation, suspension or alert), except by `release --yes`: the one command
that changes anything, it undoes what a guard did (its hooks, suspensions and
MaxSize clamps).";

/// Operator tool for scaling-guard: validate the policy, audit the cluster,
/// explain a launch decision (all read-only), and release what a removed
/// guard left (`release --yes`, the one command that changes the account).
#[derive(Debug, Parser)]
#[command(name = "scaling-guard", version, after_help = EXIT_CODES)]
pub struct Args {
    /// Read the policy from FILE (KEY=VALUE lines, `#` comments) instead of
    /// the GUARD_* environment variables.
    #[arg(long, global = true, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse the policy; print every setting's effective value, which checks
    /// are on, and every problem (exit 0 valid, 2 invalid).
    Validate,
    /// Sweep the cluster's pending and running instances: a table of their
    /// violations and the budget usage, or their findings as ASFF or OCSF
    /// (exit 0 clean, 1 violations, 2 error, in every format).
    Audit {
        /// How to print. `asff` and `ocsf` print one JSON array with one
        /// finding per instance and broken check (exempted ones suppressed,
        /// with the exception's reason).
        #[arg(
            long,
            value_enum,
            default_value = "text",
            default_value_if("json", "true", "json")
        )]
        format: AuditFormat,
        /// The same as `--format json`.
        #[arg(long, conflicts_with = "format")]
        json: bool,
        #[command(flatten)]
        timeout: Timeout,
    },
    /// Show what launch-guard would decide for a lifecycle event, without
    /// completing it (exit 0 CONTINUE, 1 ABANDON, 2 error).
    Explain {
        /// The EventBridge `EC2 Instance-launch Lifecycle Action` event or the
        /// hook's own message (e.g. events/launch-lifecycle-action.json); `-`
        /// reads standard input.
        #[arg(value_name = "EVENT.json")]
        event: PathBuf,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Compile the policy into preventive controls: SCP / permissions-boundary
    /// documents, EC2 Allowed AMIs criteria and an EC2 declarative policy,
    /// each within AWS's size limit (or split, and said so), and list the
    /// checks no launch-time control can express. Reads no AWS (exit 0, or 2
    /// for a bad policy or an unwritable --out).
    Export {
        /// `text` (for people) or `json` (one document).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Write each document (and checks.json) into DIR instead of printing it.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// CHANGES THE ACCOUNT with --yes: undo what a guard did when its stack is
    /// gone — remove its launch hook from every group that carries it (tagged
    /// or not), lift the suspensions and MaxSize clamps it recorded on the
    /// cluster's groups; a Launch someone else suspended stays. Without the
    /// record key (GUARD_RECORD_KEY, deleted with the stack) no record can be
    /// verified: they are listed, not lifted. Without --yes, a dry run:
    /// prints what it would undo and changes nothing (exit 0 nothing to undo,
    /// 1 something to undo or left, 2 error).
    Release {
        /// Act: without it, nothing is changed.
        #[arg(long)]
        yes: bool,
        /// Without the record key, still lift the Launch suspensions whose
        /// records cannot be verified (anyone who may tag a group can write
        /// one); MaxSize is never set from them, only advised.
        #[arg(long)]
        trust_unsigned_records: bool,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        identity: Identity,
    },
    /// Across an organisation: `org audit` audits every account (and
    /// region) asked, each with credentials of its own.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
}

/// `scaling-guard org ...`
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// `audit` in every account (named, or under organisational units) and
    /// every region asked, as the audit role assumed in each account: one
    /// report whose rows name their account, region and cluster (exit 0
    /// clean, 1 findings, 2 when any account or region could not be read:
    /// its row says why).
    Audit(OrgAudit),
}

/// What `org audit` reads, as whom, and how it prints.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("targets").required(true).multiple(true).args(["accounts", "ou"])))]
pub struct OrgAudit {
    /// The accounts to audit (12-digit ids, comma-separated or repeated).
    #[arg(long, value_name = "ID,ID", value_delimiter = ',', value_parser = crate::org::account_id)]
    pub accounts: Vec<String>,
    /// An organisational unit (or root) whose accounts, and its child OUs'
    /// accounts, are audited (AWS Organizations, from the management or a
    /// delegated administrator account); repeatable. Suspended accounts are
    /// skipped and said so.
    #[arg(long, value_name = "OU-ID")]
    pub ou: Vec<String>,
    /// The role assumed in each account:
    /// `arn:<partition>:iam::<account>:role/<NAME>`, with the default
    /// credential chain.
    #[arg(long, value_name = "NAME", default_value = "scaling-guard-audit")]
    pub role: String,
    /// The ExternalId the role's trust policy requires.
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,
    /// The regions to audit in every account (default: the configured region).
    #[arg(long, value_name = "R,R", value_delimiter = ',')]
    pub regions: Vec<String>,
    /// How many accounts and regions are read at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    #[command(flatten)]
    pub timeout: Timeout,
    /// How to print: `text`, `json` (one document: targets and rows), or
    /// the findings as `asff` or `ocsf` (each naming its own account and
    /// region).
    #[arg(long, value_enum, default_value = "text")]
    pub format: AuditFormat,
    /// Also list, per account, what a removed guard left (hooks,
    /// suspensions, clamps, inline policies).
    #[arg(long)]
    pub leftovers: bool,
}

/// How `export` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// How `audit` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    /// Tables, for people.
    Text,
    /// The report as one JSON document.
    Json,
    /// AWS Security Finding Format: the findings the functions import into
    /// Security Hub, as BatchImportFindings takes them.
    Asff,
    /// OCSF 1.6.0 Compliance Finding events (class 2003), for a data lake.
    Ocsf,
}

/// How long one AWS operation may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct Timeout {
    /// Seconds one AWS operation may take (all its attempts). A
    /// `DescribeInstances` page that takes longer is asked again smaller
    /// (1000, then 250, then 50 instances) and the report says the region
    /// was slow; any other call that takes longer fails.
    #[arg(
        long = "timeout",
        value_name = "SECONDS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub seconds: u64,
}

impl Timeout {
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.seconds)
    }
}

/// Whose guard to release: each flag replaces the policy's setting.
#[derive(Debug, Default, clap::Args)]
pub struct Identity {
    /// The cluster (`GUARD_CLUSTER`).
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// The tag that marks the cluster's groups (`GUARD_CLUSTER_TAG_KEY`).
    #[arg(long, value_name = "KEY")]
    pub cluster_tag_key: Option<String>,
    /// The value that tag must have (`GUARD_CLUSTER_TAG_VALUE`).
    #[arg(long, value_name = "VALUE")]
    pub cluster_tag_value: Option<String>,
    /// The guard's launch hook (`GUARD_HOOK_NAME`; default
    /// `scaling-guard-<cluster>`).
    #[arg(long, value_name = "NAME")]
    pub hook_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn the_policy_file_may_follow_the_subcommand() {
        let args = Args::try_parse_from(["scaling-guard", "audit", "--json", "--policy", "p.env"])
            .unwrap();
        assert_eq!(args.policy, Some(PathBuf::from("p.env")));
        assert!(matches!(
            args.command,
            Command::Audit {
                format: AuditFormat::Json,
                ..
            }
        ));
    }

    #[test]
    fn release_is_a_dry_run_unless_told_yes() {
        let args = Args::try_parse_from(["scaling-guard", "release", "--cluster", "prod"]).unwrap();
        let Command::Release { yes, identity, .. } = args.command else {
            panic!("not release")
        };
        assert!(!yes);
        assert_eq!(identity.cluster.as_deref(), Some("prod"));
        let args = Args::try_parse_from(["scaling-guard", "release", "--yes"]).unwrap();
        assert!(matches!(args.command, Command::Release { yes: true, .. }));
    }

    #[test]
    fn a_usage_error_exits_with_code_2() {
        let err = Args::try_parse_from(["scaling-guard", "explain"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = Args::try_parse_from(["scaling-guard", "audti"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("audit"), "suggests: {err}");
    }
}

#[cfg(test)]
mod audit_format_tests;
