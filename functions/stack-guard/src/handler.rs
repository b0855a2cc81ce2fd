//! The custom resource's steps: read the policy from the resource's
//! properties, validate it (create, update; an update also moves a renamed
//! hook) or undo what the guard did to the cluster (delete), answer
//! CloudFormation.

mod delete;
mod launchers;
mod off_switch;
mod update;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use shared::deadline::Deadline;
use shared::policy::{Policy, PolicyError};
use shared::ports::Ports;
use shared::release::{ReleaseReport, Scope};
use shared::suspension::RecordKey;

use crate::event::{EventError, Input, Request, RequestType};
use crate::respond::{ResponseSend, SendError};
use crate::response::{Response, Status};

pub use update::{IdentityChange, Rename, Renaming};

/// What a delete or an identity change keeps of the invocation's time to
/// answer: the answer's three attempts of at most 10 s, 1 s and 2 s apart,
/// and a margin. The rest, most of the function's timeout, is the cleanup's.
pub const ANSWER_RESERVE: Duration = Duration::from_secs(45);

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
    /// The key of the guard's suspension records, from this function's
    /// environment: CloudFormation resolves no secret into a custom
    /// resource's properties, so the request's policy cannot carry it.
    record_key: Option<RecordKey>,
}

impl<'a, P: Ports, R: ResponseSend> StackGuard<'a, P, R> {
    pub fn new(aws: &'a P, responder: &'a R) -> Self {
        Self {
            aws,
            responder,
            record_key: None,
        }
    }

    /// Trusts only suspension records signed with `key` (`GUARD_RECORD_KEY`).
    pub fn with_record_key(mut self, key: Option<RecordKey>) -> Self {
        self.record_key = key;
        self
    }

    /// The request's policy with the stack's record key.
    fn policy_of(&self, request: &Request) -> Result<Policy, PolicyError> {
        let mut policy = policy_of(request)?;
        policy.record_key = self.record_key.clone().or(policy.record_key);
        Ok(policy)
    }

    /// Answers one request before `deadline` (the invocation's); the answer
    /// is also the invocation's result.
    pub async fn handle(&self, input: Input, deadline: Deadline) -> Result<Response, HandlerError> {
        self.handle_at(input, SystemTime::now(), deadline).await
    }

    /// [`StackGuard::handle`] at a given time (the suspension records' age).
    pub async fn handle_at(
        &self,
        input: Input,
        now: SystemTime,
        deadline: Deadline,
    ) -> Result<Response, HandlerError> {
        let request = match input {
            Input::Request(request) => request,
            Input::Refused(err) => {
                tracing::error!(%err, "event refused");
                return Err(err.into());
            }
        };
        // A function given less time than the template's keeps a quarter.
        let until = deadline.less(ANSWER_RESERVE.min(deadline.left() / 4));
        let response = match request.request_type {
            RequestType::Create => validate(&request),
            RequestType::Update => {
                let response = self.update(&request, now, until).await;
                self.hand_over_if_audit(&request, response, now, until)
                    .await
            }
            RequestType::Delete => self.delete(&request, now, until).await,
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

    /// Validates the new policy; when it is valid and the guard's identity
    /// changed from the old policy's, moves the hook on the new identity's
    /// groups and releases the old identity everywhere else (see [`update`])
    /// until `until`. What cannot be moved or released fails the update.
    async fn update(
        &self,
        request: &Request,
        now: SystemTime,
        until: tokio::time::Instant,
    ) -> Response {
        let policy = match self.policy_of(request) {
            Ok(policy) => policy,
            Err(err) => return invalid(request, err),
        };
        let Some(change) = identity_change(request, &policy) else {
            let data = Renaming::default()
                .data()
                .into_iter()
                .chain(update::released_data(&ReleaseReport::default()));
            return valid(request, &policy, String::new(), data);
        };
        let (renaming, released) = self.change_identity(&change, now, until).await;
        identity_changed(request, &policy, &change, &renaming, &released)
    }

    /// Moves the hook on the new identity's groups, then releases the old
    /// identity, both within `until`: what was moved, what was released.
    async fn change_identity(
        &self,
        change: &IdentityChange,
        now: SystemTime,
        until: tokio::time::Instant,
    ) -> (Renaming, ReleaseReport) {
        let mut renaming = Renaming::default();
        if let Some(rename) = &change.rename {
            let moved = update::rename(self.aws.groups(), rename, &mut renaming);
            if tokio::time::timeout_at(until, moved).await.is_err() {
                renaming.not_renamed.push(format!(
                    "the renaming stopped at its time limit: a group not listed here may keep `{}`",
                    rename.from
                ));
            }
        }
        let mut released = ReleaseReport::default();
        if let Some(scope) = &change.release {
            shared::release::release(self.aws.groups(), scope, now, until, &mut released).await;
        }
        (renaming.sorted(), released)
    }

    /// Releases what the guard did (see [`delete`]) until `until`: `SUCCESS`
    /// when nothing is left, `FAILED` with every leftover otherwise, so that
    /// the stack shows `DELETE_FAILED` and the operator can retry.
    async fn delete(
        &self,
        request: &Request,
        now: SystemTime,
        until: tokio::time::Instant,
    ) -> Response {
        let physical_id = kept_id(request);
        let policy = match self.policy_of(request) {
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
        // The launch breaker first: a few calls, and Karpenter launches again.
        let breaker = launchers::remove_breaker(self.aws, &policy).await;
        let mut report = ReleaseReport::default();
        shared::release::release(
            self.aws.groups(),
            &Scope::of(&policy),
            now,
            until,
            &mut report,
        )
        .await;
        report.leftovers.extend(launchers::leftovers(&breaker));
        let status = match report.is_complete() {
            true => Status::Success,
            false => Status::Failed,
        };
        Response::to(
            request,
            status,
            physical_id,
            delete::reason(&report, &policy.cluster),
            delete::data(&report, &policy.cluster)
                .into_iter()
                .chain(launchers::data(&policy, &breaker))
                .collect(),
        )
    }
}

/// The update's answer once the identity changed: `SUCCESS` with what was
/// moved and released, or `FAILED` (the update rolls back) when anything of
/// the old identity is left.
fn identity_changed(
    request: &Request,
    policy: &Policy,
    change: &IdentityChange,
    renaming: &Renaming,
    released: &ReleaseReport,
) -> Response {
    let mut reason = change
        .rename
        .as_ref()
        .map(|rename| renaming.reason(rename))
        .unwrap_or_default();
    reason.push_str(
        &change
            .release
            .as_ref()
            .map(|scope| update::released_reason(scope, released))
            .unwrap_or_default(),
    );
    let data = renaming
        .data()
        .into_iter()
        .chain(update::released_data(released));
    if renaming.not_renamed.is_empty() && released.is_complete() {
        return valid(request, policy, reason, data);
    }
    Response::to(
        request,
        Status::Failed,
        kept_id(request),
        format!(
            "the old identity of cluster `{}` could not be cleaned up, so the update fails and rolls back{reason}",
            policy.cluster
        ),
        data.collect(),
    )
}

/// The resource's id as CloudFormation knows it (the logical id before it
/// has one).
fn kept_id(request: &Request) -> String {
    request
        .physical_resource_id
        .clone()
        .unwrap_or_else(|| request.logical_resource_id.clone())
}

/// The id of the guard of `cluster`, given on create and kept by every
/// update (a renamed cluster too, see `valid`).
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

/// What an update from the request's old policy to `policy` moves and
/// releases.
fn identity_change(request: &Request, policy: &Policy) -> Option<IdentityChange> {
    let Some(Ok(old_vars)) = request.old_policy_vars() else {
        tracing::info!("the previous policy is unreadable: no identity to clean up");
        return None;
    };
    match Policy::from_vars(old_vars.clone()) {
        // The same stack, the same key: the old identity's records are its.
        Ok(old) => {
            let record_key = policy.record_key.clone();
            IdentityChange::between(&Policy { record_key, ..old }, policy)
        }
        Err(err) => {
            let rename = Rename::from_refused(&old_vars, policy);
            tracing::info!(%err, ?rename, "the previous policy is not valid today");
            rename.map(|rename| IdentityChange {
                rename: Some(rename),
                release: None,
            })
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
        // The IAM condition on the cluster tag, as the template's inline
        // policies write it from the parameters, for its
        // `StackGuardOldIdentityAccess`: any value (`StringLike` `*`) or the
        // pinned one (`StringEquals`).
        (
            "ClusterTagOperator".to_owned(),
            match policy.cluster_tag.value() {
                Some(_) => "StringEquals",
                None => "StringLike",
            }
            .to_owned(),
        ),
        (
            "ClusterTagPattern".to_owned(),
            policy.cluster_tag.value().unwrap_or("*").to_owned(),
        ),
        ("HookName".to_owned(), policy.hook_name.clone()),
        ("Mode".to_owned(), policy.mode.to_string()),
    ]
    .into();
    data.extend(more_data);
    // An update keeps the id it was created with, also when the cluster is
    // renamed: a new id would make CloudFormation delete the old one with
    // the old properties, and that delete would undo the new guard on every
    // group both identities share. The update releases the old identity
    // itself.
    let id = request
        .physical_resource_id
        .clone()
        .unwrap_or_else(|| physical_resource_id(&policy.cluster));
    Response::to(
        request,
        Status::Success,
        id,
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
