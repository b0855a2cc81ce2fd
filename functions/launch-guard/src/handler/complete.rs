//! Completing the lifecycle action with the verdict: the one step the guard
//! owes Auto Scaling. A completion that fails fails the invocation (Lambda or
//! SQS retries it) and is alerted once, also across environments.

use shared::assess::Decided;
use shared::deadline::Deadline;
use shared::ports::{Completion, InstanceTag, LifecycleComplete, Ports};

use super::reserves::CLOSING;
use super::{HandlerError, LaunchGuard};
use crate::alerts::{self, DecidedLaunch};

/// Marks an instance whose lifecycle action could not be completed, with the
/// action's token: a retry in any environment finds it and alerts no more.
pub const COMPLETION_FAILED_TAG: &str = "scaling-guard:completion-failed";

impl<P: Ports> LaunchGuard<'_, P> {
    /// Completes the lifecycle action with the verdict; a failure is alerted
    /// once and fails the invocation, for a retry.
    pub(super) async fn complete_action(
        &self,
        launch: DecidedLaunch<'_>,
        decided: &Decided,
        deadline: Deadline,
    ) -> Result<Completion, HandlerError> {
        let action = launch.action;
        let result = decided.verdict.result;
        match self.aws.groups().complete(action, result).await {
            Ok(completion) => Ok(completion),
            Err(error) => {
                let err = HandlerError::Completion {
                    instance_id: action.instance_id.clone(),
                    error,
                };
                self.alert_failed_completion(launch, decided, &err, deadline)
                    .await;
                Err(err)
            }
        }
    }

    /// One critical alert per lifecycle action whose completion failed, also
    /// across retries in other environments: the instance is marked with the
    /// action's token, and a retry that finds the mark stays quiet.
    async fn alert_failed_completion(
        &self,
        launch: DecidedLaunch<'_>,
        decided: &Decided,
        err: &HandlerError,
        deadline: Deadline,
    ) {
        let action = launch.action;
        let marked = decided
            .facts
            .as_ref()
            .and_then(|facts| facts.instance.tags.get(COMPLETION_FAILED_TAG))
            == Some(&action.token);
        let first_here = self
            .failed_completions
            .lock()
            .map(|mut tokens| tokens.insert(action.token.clone()))
            .unwrap_or(true);
        if marked || !first_here {
            tracing::error!(instance_id = %action.instance_id, %err, "completion failed again (alerted before)");
            return;
        }
        let alert = alerts::failed_completion(launch, &decided.verdict, &err.to_string());
        let mark = async {
            let tags = [(COMPLETION_FAILED_TAG, action.token.as_str())];
            let ids = [action.instance_id.as_str()];
            let tagged = self.aws.instances().tag_instances(&ids, &tags);
            if let Err(err) = tagged.await {
                tracing::warn!(instance_id = %action.instance_id, %err, "failed completion could not be marked");
            }
            shared::alerts::publish_best_effort(self.aws.alerts(), &alert).await;
        };
        let _ = deadline.run(CLOSING, mark).await;
    }
}
