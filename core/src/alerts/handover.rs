//! The off switch's alert (SPEC §7, audit mode): a guard switched from
//! enforce to audit undid what it had made, once, and says what.

use std::time::SystemTime;

use serde::Serialize;
use serde_json::json;

use super::{Alert, AlertKind, Severity};
use crate::policy::Policy;

/// What a hand-over to audit mode undid on the cluster's groups, and what it
/// left. Only what the guard made: its recorded suspensions and clamps, and
/// the default result of its own hook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HandOver {
    /// Groups whose guard suspension (`Launch`) was lifted.
    pub resumed: Vec<String>,
    /// `group=size`: MaxSize set back to what it was before the guard's clamp.
    pub max_size_restored: Vec<String>,
    /// Groups whose guard hook now continues by default (it abandoned).
    pub hooks_continue: Vec<String>,
    /// What a person should know (a MaxSize someone else changed is kept).
    pub notes: Vec<String>,
    /// What stays as the guard left it, with why (a held record, a failed call).
    pub left: Vec<String>,
}

impl HandOver {
    /// Whether this hand-over changed anything: only then is it alerted.
    pub fn changed_anything(&self) -> bool {
        !(self.resumed.is_empty() && self.hooks_continue.is_empty())
    }

    /// Whether it neither changed nor left anything (a run in enforce mode,
    /// or in audit mode once the hand-over is done).
    pub fn is_empty(&self) -> bool {
        !self.changed_anything() && self.left.is_empty()
    }

    /// Whether nothing the guard made is known to remain.
    pub fn is_complete(&self) -> bool {
        self.left.is_empty()
    }

    /// The lists in a stable order (groups finish in any order).
    pub fn sorted(mut self) -> Self {
        for list in [
            &mut self.resumed,
            &mut self.max_size_restored,
            &mut self.hooks_continue,
            &mut self.notes,
            &mut self.left,
        ] {
            list.sort();
        }
        self
    }
}

/// `audit_handover` (warning, `release`): the guard, now in audit mode,
/// lifted its suspensions and clamps and made its hooks continue by default.
/// `by` says which run did it (`budget-guard's schedule`, `the stack update`).
pub fn audit_handover(policy: &Policy, now: SystemTime, by: &str, done: &HandOver) -> Alert {
    let headline = format!(
        "audit mode: scale-out resumed on {} group(s), {} hook(s) now continue",
        done.resumed.len(),
        done.hooks_continue.len()
    );
    let mut alert = Alert::new(
        AlertKind::AuditHandover,
        Severity::Warning,
        policy,
        now,
        headline,
    );
    alert.decision = "release".to_owned();
    let mut advice = vec![format!(
        "the guard runs in audit mode now, so {by} undid what it had made in enforce mode: Launch is resumed \
         where the guard had suspended it, MaxSize is restored where its clamp was still in place, and its \
         hook `{}` continues by default instead of abandoning. Launches and budgets are still checked and \
         alerted, never blocked. A Launch suspended, or a MaxSize set, by someone else is left as it is.",
        policy.hook_name
    )];
    advice.extend(done.notes.iter().cloned());
    if !done.left.is_empty() {
        advice.push(format!(
            "Not undone yet, retried on the next run: {}",
            done.left.join("; ")
        ));
    }
    alert.advice = advice.join(" ");
    for (key, list) in [
        ("resumed", &done.resumed),
        ("max_size_restored", &done.max_size_restored),
        ("hooks_continue", &done.hooks_continue),
    ] {
        alert.details.insert(key.to_owned(), json!(list));
    }
    // Named only when there is something to say.
    for (key, list) in [("notes", &done.notes), ("left", &done.left)] {
        if !list.is_empty() {
            alert.details.insert(key.to_owned(), json!(list));
        }
    }
    alert
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{at, now, strict_policy};

    fn handover() -> HandOver {
        HandOver {
            resumed: vec!["prod-a".into(), "prod-b".into()],
            max_size_restored: vec!["prod-a=20".into()],
            hooks_continue: vec!["prod-a".into(), "prod-b".into(), "prod-c".into()],
            notes: vec!["MaxSize of prod-b was changed to 9 during the suspension".into()],
            left: Vec::new(),
        }
    }

    #[test]
    fn the_handover_alert_says_what_was_undone() {
        let policy = strict_policy(&[("GUARD_MODE", "audit")]);
        let alert = audit_handover(&policy, now(), "budget-guard's schedule", &handover());
        assert_eq!(alert.kind, AlertKind::AuditHandover);
        assert_eq!(alert.kind.as_str(), "audit_handover");
        assert_eq!(alert.severity, Severity::Warning);
        assert_eq!(alert.decision, "release");
        assert_eq!(
            alert.subject(),
            "[scaling-guard] prod: audit mode: scale-out resumed on 2 group(s), 3 hook(s) now continue"
        );
        assert_eq!(alert.details["resumed"], json!(["prod-a", "prod-b"]));
        assert_eq!(alert.details["max_size_restored"], json!(["prod-a=20"]));
        assert_eq!(
            alert.details["hooks_continue"],
            json!(["prod-a", "prod-b", "prod-c"])
        );
        assert!(!alert.details.contains_key("left"));
        let email = alert.email();
        assert!(email.contains("budget-guard's schedule undid"), "{email}");
        assert!(email.contains("MaxSize of prod-b was changed"), "{email}");
        let body: serde_json::Value = serde_json::from_str(&alert.json()).unwrap();
        assert_eq!(*at(&body, "kind"), "audit_handover");
        assert_eq!(*at(&body, "mode"), "audit");
    }

    #[test]
    fn what_is_left_is_named_and_retried() {
        let policy = strict_policy(&[("GUARD_MODE", "audit")]);
        let done = HandOver {
            left: vec!["the suspension of prod-c may remain: throttled".into()],
            ..handover()
        };
        let alert = audit_handover(&policy, now(), "the stack update", &done);
        assert_eq!(
            alert.details["left"],
            json!(["the suspension of prod-c may remain: throttled"])
        );
        assert!(alert.advice.contains("Not undone yet"), "{}", alert.advice);
        assert!(!done.is_complete());
    }

    #[test]
    fn nothing_changed_is_nothing_to_alert() {
        assert!(!HandOver::default().changed_anything());
        assert!(HandOver::default().is_empty());
        assert!(handover().changed_anything());
        let only_hooks = HandOver {
            hooks_continue: vec!["prod-a".into()],
            ..HandOver::default()
        };
        assert!(only_hooks.changed_anything());
    }
}
