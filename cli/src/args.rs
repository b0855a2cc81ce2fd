//! The command line (clap derive): `--help`, usage lines and usage errors
//! (exit code 2) come from these definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  valid policy / clean cluster / the launch would CONTINUE (or is not the guard's)
  1  violations found / the launch would be ABANDONed
  2  usage, policy, event or AWS error

The policy comes from the GUARD_* environment variables, as the functions read
them, or from --policy FILE (KEY=VALUE lines; the environment is then ignored).
GUARD_ALERT_TOPIC_ARN may be left out: the CLI never publishes. AWS access uses
the standard credential chain (AWS_PROFILE, AWS_REGION, ...) and
AWS_ENDPOINT_URL. Nothing is changed in the account: no completion,
remediation, suspension or alert.";

/// Read-only operator tool for scaling-guard: validate the policy, audit the
/// cluster, explain a launch decision.
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
    /// violations and the budget usage (exit 0 clean, 1 violations, 2 error).
    Audit {
        /// Print one JSON document instead of tables.
        #[arg(long)]
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
        assert!(matches!(args.command, Command::Audit { json: true }));
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
