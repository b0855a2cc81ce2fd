//! How an invocation's time is shared out, counted back from its deadline
//! (`Lambda-Runtime-Deadline-Ms`; the template gives launch-guard 30 s).
//! Each step stops a fixed reserve before the deadline, so that the steps
//! after it still fit; each reserve is the next smaller one plus the share
//! of the steps in between:
//!
//! ```text
//!   deadline − 18 s   MESSAGE_MINIMUM = FACTS + 4 s
//!                       a queue's next message is decided only with this left;
//!                       4 s to gather its facts, at least
//!   deadline − 14 s   FACTS = COMPLETION + 8 s
//!                       fact gathering stops; the 8 s are for the decision's
//!                       record (one CreateTags, 5 s at most) and the suspension
//!                       of a denied launch's own group (its tag, SuspendProcesses)
//!   deadline −  6 s   COMPLETION = 5 s + 1 s
//!                       the record and the own group's suspension stop; the
//!                       completion (5 s at most) and a margin are left
//!   deadline −  2 s   OTHER_GROUPS = CLOSING + 1.5 s
//!                       the other groups' suspension (after the completion) stops
//!   deadline − 0.5 s  CLOSING
//!                       the alerts stop; the rest is for answering the runtime
//! ```
//!
//! The SDK bounds every AWS call to 5 s (`shared::aws`), which is what the
//! shares rest on. The completion itself is never cut: it is the one step the
//! guard owes Auto Scaling. When it takes its full 5 s, it ends 1 s before the
//! deadline: the other groups' suspension then finds its time gone and is
//! reported as failed (the suspension alert says so), and the alerts still
//! run until 0.5 s before the deadline.

use std::time::Duration;

/// The alerts, after the completion, stop here: what is left must not
/// outlive the invocation.
pub(super) const CLOSING: Duration = Duration::from_millis(500);

/// The suspension of the cluster's other groups, after a budget denial's
/// completion, stops here: the alerts keep at least 1.5 s.
pub(super) const OTHER_GROUPS: Duration = CLOSING.saturating_add(Duration::from_millis(1500));

/// What the completion keeps for itself: the SDK bounds
/// `CompleteLifecycleAction` to 5 s, plus a margin. The decision's record
/// and the suspension of a denied launch's own group (both before the
/// completion) stop here.
pub(super) const COMPLETION: Duration =
    Duration::from_secs(5).saturating_add(Duration::from_secs(1));

/// Where fact gathering stops: the decision's record (one `CreateTags`,
/// 5 s at most) and the suspension of a denied launch's own group fit in the
/// 8 s before the completion's reserve.
pub(super) const FACTS: Duration = COMPLETION.saturating_add(Duration::from_secs(8));

/// A queue's message is decided only with this much time left: the facts
/// reserve and a few seconds to gather its facts. A later message goes back
/// to the queue undecided; a direct notification is always decided.
pub(super) const MESSAGE_MINIMUM: Duration = FACTS.saturating_add(Duration::from_secs(4));

// The nesting and the numbers above (the diagram, README's "Under faults"),
// checked when the crate compiles.
const _: () = {
    assert!(CLOSING.as_millis() == 500);
    assert!(OTHER_GROUPS.as_millis() == 2_000);
    assert!(COMPLETION.as_millis() == 6_000);
    assert!(FACTS.as_millis() == 14_000);
    assert!(MESSAGE_MINIMUM.as_millis() == 18_000);
};
