//! The end-to-end harness (SPEC §10, tier 4): the real function binaries, the
//! real AWS SDK over HTTP, a local AWS.
//!
//! * [`Emulator`]: moto with the project's extensions (`scripts/emulator/`),
//!   one process per test, stopped on drop (also when the test panics);
//! * [`Clients`]: SDK clients bound to an emulator, plus its control endpoint;
//! * [`Cluster`]: a seeded cluster — VPC, subnets, images, security groups,
//!   launch templates, the node groups of two clusters, the alert topic and
//!   the queues subscribed to it;
//! * [`RuntimeApi`] and [`Function`]: an in-process Lambda Runtime API that
//!   runs an unmodified function binary (`target/debug/launch-guard`);
//! * [`events`]: the sample events of `events/`, filled from pending actions;
//! * [`alerts`]: alerts as an SQS subscriber of the topic receives them.
//!
//! Everything returns [`Result`] (no panics in the harness): tests unwrap,
//! the demo reports.

mod account_clients;
pub mod accounts;
pub mod alerts;
pub mod chat;
mod clients;
mod cluster;
pub mod decision_rule;
mod emulator;
mod error;
pub mod events;
mod function;
pub mod http;
pub mod launcher;
mod operator_cli;
pub mod org_bus;
mod runtime_api;
pub mod security_hub;

use std::path::PathBuf;

pub use clients::{Clients, REGION, sdk_config};
pub use cluster::{
    CLUSTER, Cluster, GroupState, HOOK, Images, NODE_TYPE, NODECLAIM_TAG, NODECLASS_TAG,
    NODEPOOL_TAG, OTHER_CLUSTER, RECORD_KEY, Templates,
};
pub use emulator::{
    ACCOUNT, Control, Emulator, EndedAction, FaultCounter, FaultKind, FaultRule, FaultState,
    ImageDates, PendingAction, ReceivedEvent, RequestRecord, SlowPages,
};
pub use error::{Error, Result};
pub use function::{Function, InvokeError};
pub use operator_cli::{CliRun, operator_cli};
pub use runtime_api::{Outcome, RuntimeApi};

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The cargo target directory: `CARGO_TARGET_DIR` when set (relative to the
/// workspace root), else `<root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}
