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
