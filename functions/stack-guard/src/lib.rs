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
//! - **Update**, besides: when the hook's name changes, the hook moves, so
//!   that no group keeps a hook nothing answers (the event rule matches the
//!   new name only: a launch would wait out the old hook's heartbeat and take
//!   its `ABANDON`). Every stack that kept the default changes its name on
//!   upgrade, from `scaling-guard-launch` to `scaling-guard-<cluster>`. On
//!   every group of the old identity (the old policy's cluster tag, key and
//!   value) that carries the old launch hook: a hook of the new name is put
//!   with every setting of the old one (transition, heartbeat, default
//!   result, notification target and role, metadata), then the old one is
//!   deleted, so that the group is never without the guard's hook (launches
//!   still waiting on the old hook end then, with its `ABANDON`: nothing
//!   would have answered them). A group that already carries the new hook
//!   only loses the old one; one whose hook of the new name is for another
//!   transition keeps the old one, listed. Groups without the old hook, and
//!   other clusters' groups (their hook of the same old default name is
//!   their guard's), are never touched; suspensions stay (the guard keeps
//!   running). Nothing moves when the cluster changes (the resource is
//!   replaced, and the old one's Delete removes the old hook), nor when the
//!   old properties are unreadable. An old policy that today's rules refuse
//!   (a shared key such as `eks:cluster-name` without a value, accepted
//!   before issue 20) moves its explicitly named hook of the same cluster on
//!   the new identity's groups only: its own identity also held other
//!   clusters' groups. A valid policy answers `SUCCESS` whatever could not be
//!   moved, within [`RENAME_BUDGET`] (every AWS call bounded by the SDK):
//!   `Data.HooksRenamed` (groups), `Data.NotRenamed` (what stays, with why,
//!   also in `Reason` as `NOT RENAMED (n): …`). An update rolled back moves
//!   the hook back the same way. Permissions: `autoscaling:PutLifecycleHook`
//!   and `autoscaling:DeleteLifecycleHook` on the cluster's groups, and
//!   `iam:PassRole` on a hook's notification role.
//! - **Delete**: on every group carrying the cluster tag, delete the guard's
//!   launch hook where the group has it, and lift every suspension the guard
//!   recorded in its `scaling-guard:suspended` tag (resume `Launch`, restore
//!   MaxSize where its clamp is still in place, remove the tag), with the
//!   resume budget-guard uses (`shared::suspension::resume`). A `Launch`
//!   someone else suspended stays suspended; groups of other clusters are
//!   never read. Data: `Cluster`, `HooksRemoved`, `Resumed`,
//!   `MaxSizeRestored` (`group=size`), `LeftSuspendedByOthers`, `NotUndone`
//!   (lists, comma-separated). A Delete whose policy is invalid (a stack
//!   whose Create failed) succeeds doing nothing. No alarm or budget holds
//!   the resume (the guard is going away), but a record without a suspended
//!   `Launch` younger than 15 minutes (a suspension another function may be
//!   applying) is left and listed in `NotUndone`: lifting it could leave a
//!   `Launch` suspended without a record, which nothing would ever resume.
//!   Where a hook could not be deleted the suspension is lifted all the same.
//!
//! **A Delete always answers `SUCCESS`.** Every AWS call is bounded by the
//! SDK (5 s, three attempts) and the whole cleanup by
//! [`handler::CLEANUP_BUDGET`]; what could not be undone is listed in
//! `Reason` (`NOT UNDONE (n): …`) and in `Data.NotUndone`, and logged. A
//! `FAILED` delete would leave the stack in `DELETE_FAILED` and a Delete that
//! never answers holds it for an hour; both block removing the guard for a
//! cleanup that an operator can finish by hand (`aws autoscaling
//! delete-lifecycle-hook`, `resume-processes`, `delete-tags`).
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
    CLEANUP_BUDGET, Cleanup, HandlerError, RENAME_BUDGET, Rename, Renaming, StackGuard,
    physical_resource_id,
};
pub use respond::{HttpResponder, ResponseSend, SendError};
pub use response::{MAX_BODY_BYTES, Response, Status};
pub use shared::ports::Ports;
