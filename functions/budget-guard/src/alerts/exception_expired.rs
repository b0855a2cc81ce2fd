//! `exception_expired`: an exception of `GUARD_CHECK_EXCEPTIONS` passed its
//! last day, so its check judges its groups again. Sent once per exception
//! (see `handler/expired_exceptions.rs`), never per launch.

use std::time::SystemTime;

use serde_json::json;
use shared::alerts::{Alert, AlertKind, Severity};
use shared::checks::CheckName;
use shared::policy::settings::MAX_EXCEPTION_DAYS;
use shared::policy::{AuditAction, Exception, Policy};

/// `exception_expired` (warning): `exception` ended; `groups` are the
/// cluster groups it matched that the check now judges again.
pub fn exception_expired(
    policy: &Policy,
    now: SystemTime,
    exception: &Exception,
    groups: &[String],
) -> Alert {
    let check = exception.check;
    let until = exception
        .until
        .map(|day| day.to_string())
        .unwrap_or_default();
    let headline = format!(
        "exception {check}@{} expired after {until}",
        exception.group_pattern()
    );
    let mut alert = Alert::new(
        AlertKind::ExceptionExpired,
        Severity::Warning,
        policy,
        now,
        headline,
    );
    if let [group] = groups {
        alert.group = Some(group.clone());
    }
    let reason = exception.reason.as_deref().map_or_else(
        || "no reason was given".to_owned(),
        |r| format!("reason: {r}"),
    );
    let applies = what_applies(policy, check);
    alert.advice = format!(
        "the exception `{exception}` ({reason}) ended after {until} (UTC), so `{check}` applies again to {}: \
         {applies}. If the groups still need it, renew the exception with a later `until=` (at most {} days \
         ahead, `{}`) and redeploy; otherwise fix what the groups launch and remove the exception.",
        groups.join(", "),
        policy.exception_terms.max_days,
        MAX_EXCEPTION_DAYS.name,
    );
    let details = [
        ("exception", json!(exception.to_string())),
        ("check", json!(check)),
        ("group_glob", json!(exception.group_pattern())),
        ("until", json!(until)),
        ("reason", json!(exception.reason)),
        ("groups", json!(groups)),
        ("now_applies", json!(applies)),
    ];
    alert
        .details
        .extend(details.map(|(key, value)| (key.to_owned(), value)));
    alert
}

/// What the check does to the groups now that nothing exempts them.
fn what_applies(policy: &Policy, check: CheckName) -> String {
    if !policy.blocks(check) {
        return "launches and instances that break it are reported, not blocked".to_owned();
    }
    let running = match policy.audit_action {
        AuditAction::Alert => "alerts on",
        AuditAction::Stop => "stops",
        AuditAction::Terminate => "terminates",
        AuditAction::Isolate => "isolates",
    };
    format!(
        "launch-guard abandons launches that break it, and instance-audit {running} running instances that do"
    )
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use shared::fixtures::{ALERT_TOPIC, at, now, test_policy};

    use super::*;

    fn policy(extra: &[(&str, &str)]) -> Policy {
        let base = [
            ("GUARD_CLUSTER", "prod"),
            ("GUARD_ALERT_TOPIC_ARN", ALERT_TOPIC),
            ("GUARD_MODE", "enforce"),
            ("GUARD_AUDIT_ACTION", "stop"),
            (
                "GUARD_CHECK_EXCEPTIONS",
                "imds.hop_limit@prod-ebs-csi-* until=2020-03-31 reason=PLAT-123 ebs csi needs hop 2",
            ),
        ];
        test_policy(&base, extra).unwrap()
    }

    #[test]
    fn the_alert_names_the_exception_its_reason_and_what_applies_now() {
        let policy = policy(&[]);
        let exception = policy.exceptions.iter().next().unwrap();
        let alert = exception_expired(&policy, now(), exception, &["prod-ebs-csi-a".to_owned()]);

        assert_eq!(alert.kind, AlertKind::ExceptionExpired);
        assert_eq!(alert.severity, Severity::Warning);
        assert_eq!(alert.group.as_deref(), Some("prod-ebs-csi-a"));
        assert_eq!(
            alert.subject(),
            "[scaling-guard] prod: exception imds.hop_limit@prod-ebs-csi-* expired after 2020-03-31"
        );
        assert_eq!(
            alert.advice,
            "the exception `imds.hop_limit@prod-ebs-csi-* until=2020-03-31 reason=PLAT-123 ebs csi needs hop 2` \
             (reason: PLAT-123 ebs csi needs hop 2) ended after 2020-03-31 (UTC), so `imds.hop_limit` applies again \
             to prod-ebs-csi-a: launch-guard abandons launches that break it, and instance-audit stops running \
             instances that do. If the groups still need it, renew the exception with a later `until=` (at most \
             180 days ahead, `GUARD_MAX_EXCEPTION_DAYS`) and redeploy; otherwise fix what the groups launch and \
             remove the exception."
        );
        let body: serde_json::Value = serde_json::from_str(&alert.json()).unwrap();
        assert_eq!(*at(&body, "kind"), "exception_expired");
        assert_eq!(*at(&body, "details/check"), "imds.hop_limit");
        assert_eq!(*at(&body, "details/until"), "2020-03-31");
        assert_eq!(*at(&body, "details/reason"), "PLAT-123 ebs csi needs hop 2");
        assert_eq!(*at(&body, "details/groups/0"), "prod-ebs-csi-a");
    }

    #[test]
    fn in_audit_mode_the_check_only_reports_and_a_missing_reason_is_said() {
        let policy = policy(&[
            ("GUARD_MODE", "audit"),
            (
                "GUARD_CHECK_EXCEPTIONS",
                "imds.v2@legacy-* until=2020-01-01",
            ),
        ]);
        let exception = policy.exceptions.iter().next().unwrap();
        let groups = ["legacy-a".to_owned(), "legacy-b".to_owned()];
        let alert = exception_expired(&policy, now(), exception, &groups);

        assert_eq!(alert.group, None);
        assert!(
            alert.advice.contains("(no reason was given)"),
            "{}",
            alert.advice
        );
        assert!(
            alert.advice.contains("applies again to legacy-a, legacy-b: launches and instances that break it are reported, not blocked."),
            "{}",
            alert.advice
        );
        assert_eq!(alert.details["reason"], serde_json::Value::Null);
    }
}
