//! The custom resource's steps: read the policy from the resource's
//! properties, validate it (create, update; an update also moves a renamed
//! hook) or undo what the guard did to the cluster (delete), answer
//! CloudFormation.

mod delete;
mod update;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use shared::policy::{Policy, PolicyError};
use shared::ports::Ports;

use crate::event::{EventError, Input, Request, RequestType};
use crate::respond::{ResponseSend, SendError};
use crate::response::{Response, Status};

pub use delete::Cleanup;
pub use update::{Rename, Renaming};

/// How long a delete may spend undoing before it answers with what is left:
/// every AWS call is bounded by the SDK (5 s, three attempts), this bounds
/// them all, well inside the function's timeout.
pub const CLEANUP_BUDGET: Duration = Duration::from_secs(60);

/// How long an update may spend moving a renamed hook before it answers with
/// what is left, bounded like a delete's cleanup.
pub const RENAME_BUDGET: Duration = Duration::from_secs(60);

/// The invocation failed: CloudFormation got no answer from this attempt.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    MalformedEvent(#[from] EventError),
    #[error(transparent)]
    Send(#[from] SendError),
}

impl HandlerError {
    /// The error type Lambda reports.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::MalformedEvent(_) => "MalformedEvent",
            HandlerError::Send(_) => "ResponseNotSent",
        }
    }
}

/// The handler over the AWS ports and the response port.
#[derive(Debug)]
pub struct StackGuard<'a, P, R> {
    aws: &'a P,
    responder: &'a R,
}

impl<'a, P: Ports, R: ResponseSend> StackGuard<'a, P, R> {
    pub fn new(aws: &'a P, responder: &'a R) -> Self {
        Self { aws, responder }
    }

    /// Answers one request; the answer is also the invocation's result.
    pub async fn handle(&self, input: Input) -> Result<Response, HandlerError> {
        self.handle_at(input, SystemTime::now()).await
    }

    /// [`StackGuard::handle`] at a given time (the suspension records' age).
    pub async fn handle_at(&self, input: Input, now: SystemTime) -> Result<Response, HandlerError> {
        let request = match input {
            Input::Request(request) => request,
            Input::Refused(err) => {
                tracing::error!(%err, "event refused");
                return Err(err.into());
            }
        };
        let response = match request.request_type {
            RequestType::Create => validate(&request),
            RequestType::Update => self.update(&request).await,
            RequestType::Delete => self.delete(&request, now).await,
        };
        tracing::info!(
            request_type = request.request_type.as_str(),
            status = ?response.status,
            reason = %response.reason,
            physical_resource_id = %response.physical_resource_id,
            data = ?response.data,
            "answering CloudFormation"
        );
        self.responder
            .send(&request.response_url, &response)
            .await
            .inspect_err(|err| tracing::error!(%err, "response not delivered"))?;
        Ok(response)
    }

    /// Validates the new policy; when it is valid and the hook's name
    /// changed from the old policy's, moves the hook (see [`update`]),
    /// within [`RENAME_BUDGET`].
    async fn update(&self, request: &Request) -> Response {
        let policy = match policy_of(request) {
            Ok(policy) => policy,
            Err(err) => return invalid(request, err),
        };
        let Some(rename) = rename_of(request, &policy) else {
            return valid(request, &policy, String::new(), Renaming::default().data());
        };
        let mut renaming = Renaming::default();
        let finished = tokio::time::timeout(
            RENAME_BUDGET,
            update::rename(self.aws.groups(), &rename, &mut renaming),
        )
        .await
        .is_ok();
        if !finished {
            renaming.not_renamed.push(format!(
                "the renaming stopped after {} s: a group not listed here may keep `{}`",
                RENAME_BUDGET.as_secs(),
                rename.from
            ));
        }
        let renaming = renaming.sorted();
        valid(request, &policy, renaming.reason(&rename), renaming.data())
    }

    async fn delete(&self, request: &Request, now: SystemTime) -> Response {
        let physical_id = request
            .physical_resource_id
            .clone()
            .unwrap_or_else(|| request.logical_resource_id.clone());
        let policy = match policy_of(request) {
            Ok(policy) => policy,
            Err(err) => {
                // A stack whose create failed on its policy: the guard never ran.
                return Response::to(
                    request,
                    Status::Success,
                    physical_id,
                    format!("nothing to undo: the guard never ran with this policy ({err})"),
                    BTreeMap::new(),
                );
            }
        };
        let mut cleanup = Cleanup::default();
        let finished = tokio::time::timeout(
            CLEANUP_BUDGET,
            delete::undo(self.aws.groups(), &policy, now, &mut cleanup),
        )
        .await
        .is_ok();
        if !finished {
            cleanup.not_undone.push(format!(
                "the cleanup stopped after {} s: a step not reported here may or may not have been done",
                CLEANUP_BUDGET.as_secs()
            ));
        }
        Response::to(
            request,
            Status::Success,
            physical_id,
            cleanup.reason(&policy.cluster),
            cleanup.data(&policy.cluster),
        )
    }
}

/// The id of the guard of `cluster`: stable across updates that keep the
/// cluster; a new cluster replaces the resource (and deletes the old one).
pub fn physical_resource_id(cluster: &str) -> String {
    format!("scaling-guard-{cluster}")
}

/// The policy the resource's properties carry, read like the functions read
/// their environment; every problem at once.
fn policy_of(request: &Request) -> Result<Policy, PolicyError> {
    let vars = request
        .policy_vars()
        .map_err(|problems| PolicyError { problems })?;
    Policy::from_vars(vars)
}

/// The hook an update from the request's old policy to `policy` moves.
fn rename_of(request: &Request, policy: &Policy) -> Option<Rename> {
    let Some(Ok(old_vars)) = request.old_policy_vars() else {
        tracing::info!("the previous policy is unreadable: no hook to move");
        return None;
    };
    match Policy::from_vars(old_vars.clone()) {
        Ok(old) => Rename::between(&old, policy),
        Err(err) => {
            let rename = Rename::from_refused(&old_vars, policy);
            tracing::info!(%err, ?rename, "the previous policy is not valid today");
            rename
        }
    }
}

fn validate(request: &Request) -> Response {
    match policy_of(request) {
        Ok(policy) => valid(request, &policy, String::new(), []),
        Err(err) => invalid(request, err),
    }
}

/// `SUCCESS` for a valid policy: the cluster's id, `Data` on the policy,
/// with what the request did besides (`more_reason`, `more_data`).
fn valid(
    request: &Request,
    policy: &Policy,
    more_reason: String,
    more_data: impl IntoIterator<Item = (String, String)>,
) -> Response {
    let mut data: BTreeMap<String, String> = [
        ("Cluster".to_owned(), policy.cluster.clone()),
        ("ClusterTagKey".to_owned(), policy.cluster_tag.key.clone()),
        (
            "ClusterTagValue".to_owned(),
            policy.cluster_tag.value().unwrap_or_default().to_owned(),
        ),
        ("HookName".to_owned(), policy.hook_name.clone()),
        ("Mode".to_owned(), policy.mode.to_string()),
    ]
    .into();
    data.extend(more_data);
    Response::to(
        request,
        Status::Success,
        physical_resource_id(&policy.cluster),
        format!(
            "the policy of cluster `{}` is valid{more_reason}",
            policy.cluster
        ),
        data,
    )
}

/// `FAILED` with every problem. An update keeps the resource's id, so that
/// CloudFormation rolls back to it; a create that fails has none yet.
fn invalid(request: &Request, err: PolicyError) -> Response {
    let physical_id = request
        .physical_resource_id
        .clone()
        .unwrap_or_else(|| format!("scaling-guard-invalid-{}", request.logical_resource_id));
    Response::to(
        request,
        Status::Failed,
        physical_id,
        err.to_string(),
        BTreeMap::new(),
    )
}

#[cfg(test)]
mod tests;
