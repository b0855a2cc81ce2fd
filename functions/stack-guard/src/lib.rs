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
//!   Data: `Cluster`, `ClusterTagKey`, `HookName`, `Mode`.
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
pub use handler::{CLEANUP_BUDGET, Cleanup, HandlerError, StackGuard, physical_resource_id};
pub use respond::{HttpResponder, ResponseSend, SendError};
pub use response::{MAX_BODY_BYTES, Response, Status};
pub use shared::ports::Ports;
