//! `scaling-guard`: the operator's read-only view of what the guard would do
//! — `validate` the policy, `audit` the cluster, `explain` a launch decision,
//! `export` the policy as preventive controls —
//! and `release`, the one command that changes the account (with `--yes`):
//! it undoes what a guard whose stack is gone left.

mod app;
mod args;
mod audit;
mod exit_status;
mod explain;
mod export;
mod org;
mod release;
mod settings;
mod table;
mod validate;

#[cfg(test)]
mod fixtures;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Usage errors print clap's message and exit 2; `--help` exits 0.
    let args = args::Args::parse();
    match app::run(args).await {
        Ok(outcome) => outcome.into(),
        Err(err) => {
            eprintln!("scaling-guard: {}", chain(&err));
            exit_status::ExitStatus::Error.into()
        }
    }
}

/// An error and its sources, `: `-separated: an error names its source by
/// `#[source]`, not in its own message.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn an_error_is_printed_with_its_source_once() {
        let err = app::CliError::PolicyFile {
            path: PathBuf::from("policy.env"),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        };
        assert_eq!(
            chain(&err),
            "cannot read the policy file `policy.env`: no such file"
        );
    }
}
