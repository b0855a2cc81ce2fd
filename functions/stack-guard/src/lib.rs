//! stack-guard: a CloudFormation custom resource (`Custom::ScalingGuardPolicy`)
//! for the stack of one cluster's guard.
//!
//! # Properties
//!
//! ```yaml
//! Guard:
//!   Type: Custom::ScalingGuardPolicy
//!   Properties:
//!     ServiceToken: !GetAtt StackGuardFunction.Arn
//!     Policy:                       # the GUARD_* variables the functions read
//!       GUARD_CLUSTER: prod
//!       GUARD_ALERT_TOPIC_ARN: !Ref AlertTopic
//!       GUARD_MAX_VCPUS: "256"
//! ```
//!
//! `Policy` is a map of `GUARD_*` names to strings: the same variables, with
//! the same meaning, as the functions' environment, read by the same code
//! ([`shared::policy::Policy::from_vars`]). Any other key is a problem.
//!
//! # What each request does
//!
//! - **Create, Update**: validate the policy. Valid: `SUCCESS`, physical id
//!   `scaling-guard-<cluster>` (stable while the cluster stays; a new cluster
//!   replaces the resource, and CloudFormation deletes the old one, which
//!   cleans up the old cluster). Invalid: `FAILED`, `Reason` listing every
//!   problem (`invalid policy (2 problems): …; …`), so the stack rolls back.
//!   Data: `Cluster`, `ClusterTagKey`, `ClusterTagValue`, `HookName`, `Mode`.
//! - **Update**, besides: when the guard's identity changes (its hook's
//!   name, its cluster, its cluster tag's key or value), the old identity is
//!   cleaned up in the update itself, with the old identity's permissions
//!   (template.yaml's `StackGuardOldIdentityAccess` names the identity this
//!   resource last accepted, and is updated after it). On the new identity's
//!   groups a hook of the old name moves to the new name (the new hook put
//!   with every setting of the old one, then the old one deleted, so that no
//!   group is ever without the guard's hook); suspensions stay there.
//!   Everywhere else the old identity is released as a delete releases
//!   ([`shared::release`]). An old policy that today's rules refuse (a shared
//!   key such as `eks:cluster-name` without a value, accepted before issue
//!   20) moves its explicitly named hook of the same cluster on the new
//!   identity's groups only, and releases nothing: its identity also held
//!   other clusters' groups. **What cannot be moved or released fails the
//!   update** (`FAILED`, the resource's id kept), so that CloudFormation rolls
//!   it back: `NOT RENAMED (n): …` and `NOT UNDONE (n): …` in `Reason`,
//!   `Data.HooksRenamed`, `NotRenamed`, `OldHooksRemoved`, `OldResumed`,
//!   `OldMaxSizeRestored`, `NotUndone`. Permissions: `PutLifecycleHook` on
//!   the cluster's groups, `DeleteLifecycleHook` on any group,
//!   `iam:PassRole` on a hook's notification role.
//! - **Delete**: the release ([`shared::release`], also the CLI's
//!   `scaling-guard release`): the guard's launch hook is deleted from every
//!   group that carries it, tagged or not (but not where its metadata or the
//!   group's tags name another cluster); every suspension the guard recorded
//!   on the cluster's groups is lifted (resume `Launch`, restore MaxSize where
//!   its clamp is still in place, remove the tag). A `Launch` someone else
//!   suspended stays suspended. Data: `Cluster`, `HooksRemoved`, `Resumed`,
//!   `MaxSizeRestored` (`group=size`), `LeftSuspendedByOthers`, `NotUndone`.
//!   A Delete whose policy is invalid (a stack whose Create failed) succeeds
//!   doing nothing.
//!
//! **A Delete finishes, or fails with the leftovers.** The release runs
//! bounded (8 groups at a time), every call retried on throttling, pass after
//! pass until a pass finds nothing, until [`ANSWER_RESERVE`] before the
//! invocation's deadline. What is left then `FAILS` the delete: the stack
//! shows `DELETE_FAILED` with every leftover in `Reason`
//! (`NOT UNDONE (n), retry the delete: …`) and `Data.NotUndone`, and a
//! retried delete finds what is left.
//!
//! # Response
//!
//! An HTTPS `PUT` of `{Status, Reason, PhysicalResourceId, StackId,
//! RequestId, LogicalResourceId, Data}` to the request's `ResponseURL`, with
//! an empty `Content-Type`, cut to CloudFormation's 4 KiB (the longest text
//! first, with a note; the log keeps all). It goes through the
//! [`ResponseSend`] port: [`HttpResponder`] in production, a capture in tests.
//! An answer that cannot be delivered (after three attempts) fails the
//! invocation, and Lambda retries the asynchronous invocation: every step of
//! a Delete finds what is left and is safe to repeat.

mod event;
mod handler;
mod respond;
mod response;

pub use event::{EventError, Input, POLICY_PROPERTY, Request, RequestType};
pub use handler::{
    ANSWER_RESERVE, HandlerError, IdentityChange, Rename, Renaming, StackGuard,
    physical_resource_id,
};
pub use respond::{HttpResponder, ResponseSend, SendError};
pub use response::{MAX_BODY_BYTES, Response, Status};
pub use shared::ports::Ports;
