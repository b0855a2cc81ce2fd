//! `scaling-guard`: the operator's read-only view of what the guard would do
//! — `validate` the policy, `audit` the cluster, `explain` a launch decision.

mod app;
mod args;
mod audit;
mod exit_status;
mod explain;
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
            eprintln!("scaling-guard: {err}");
            exit_status::ExitStatus::Error.into()
        }
    }
}
