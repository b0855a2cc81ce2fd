//! The chat thread an alert goes to (`metadata.threadId`): the channel
//! reads one thread per cluster and group, and one per cluster's scale-out.
//!
//! A surge is one story told by several functions: budget-guard suspends
//! scale-out (no group: the budget is the cluster's), launch-guard denies
//! launches over the budget in whichever groups launch, budget-guard resumes.
//! So the suspension, the resume and every launch denied or reported for a
//! budget check share the cluster's scale-out thread. Everything else about
//! one group (a launch denied for its image, an instance out of policy, a
//! hook unanswered) is that group's thread; what concerns no group (a sweep,
//! the policy, the hand-over) is the cluster's.

use sha2::{Digest, Sha256};

use super::limits;
use crate::alerts::{Alert, AlertKind};
use crate::checks::CheckName;

/// Which thread, before it is spelt as an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Thread {
    /// The cluster's scale-out: suspensions, resumes, budget denials.
    ScaleOut { cluster: String },
    /// One group of the cluster.
    Group { cluster: String, group: String },
    /// The cluster as a whole.
    Cluster { cluster: String },
}

impl Thread {
    pub fn of(alert: &Alert) -> Self {
        let cluster = alert.cluster.clone();
        if is_scale_out(alert) {
            return Thread::ScaleOut { cluster };
        }
        match &alert.group {
            Some(group) => Thread::Group {
                cluster,
                group: group.clone(),
            },
            None => Thread::Cluster { cluster },
        }
    }

    /// `scaling-guard/prod/scale-out`, `scaling-guard/prod/group/prod-general`,
    /// `scaling-guard/prod`; longer than [`limits::THREAD_ID`] characters, its
    /// start and a digest of the whole (two long names stay two threads).
    pub fn id(&self) -> String {
        let raw = match self {
            Thread::ScaleOut { cluster } => format!("scaling-guard/{cluster}/scale-out"),
            Thread::Group { cluster, group } => format!("scaling-guard/{cluster}/group/{group}"),
            Thread::Cluster { cluster } => format!("scaling-guard/{cluster}"),
        };
        if raw.chars().count() <= limits::THREAD_ID {
            return raw;
        }
        let digest: String = Sha256::digest(raw.as_bytes())
            .iter()
            .take(8)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let start: String = raw
            .chars()
            .take(limits::THREAD_ID - digest.len() - 1)
            .collect();
        format!("{start}~{digest}")
    }
}

/// A suspension or resume, or a launch that a budget check denied or reported.
fn is_scale_out(alert: &Alert) -> bool {
    match alert.kind {
        AlertKind::ScaleOutSuspended | AlertKind::ScaleOutResumed => true,
        AlertKind::LaunchDenied | AlertKind::LaunchViolationReported => {
            alert.violations.iter().any(|finding| {
                matches!(
                    finding.violation.check,
                    CheckName::BudgetVcpus | CheckName::BudgetMemory | CheckName::BudgetInstances
                )
            })
        }
        _ => false,
    }
}
