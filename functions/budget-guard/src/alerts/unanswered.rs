//! `hook_unanswered` (critical): launches waited on the guard's hook for more
//! than half its heartbeat, so launch-guard is not answering (issue 21,
//! scenario 9).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use serde_json::json;
use shared::alerts::{Alert, AlertKind, Severity};
use shared::policy::Policy;

/// One launch that waits on the guard's hook, unanswered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    pub instance_id: String,
    pub group: String,
    /// Since the instance's launch (its `LaunchTime`).
    pub waited: Duration,
    /// The heartbeat of the group's guard hook.
    pub heartbeat: Duration,
    /// What the hook does at the heartbeat (`ABANDON`, `CONTINUE`).
    pub default_result: String,
}

/// `hook_unanswered` (critical, `none`): `waiting` waited on hook `hook` for
/// more than half its heartbeat. One alert for every launch a run finds.
pub fn hook_unanswered(
    policy: &Policy,
    now: SystemTime,
    hook: &str,
    waiting: &[Unanswered],
) -> Alert {
    let mut alert = unanswered_alert(policy, now, hook, waiting);
    alert.advice = format!(
        "these launches have waited in Pending:Wait on the guard's `{hook}` launch hook for more than half its \
         heartbeat: launch-guard has not answered them. When the heartbeat ends the hook decides by its DefaultResult \
         ({}): ABANDON terminates a launch, CONTINUE lets it serve unvetted. Check, in this order: launch-guard's \
         Errors and Throttles alarms and its log group; that the EventBridge launch rule is enabled (or, with a launch \
         queue, that its event source mapping is enabled and the hook notifies that queue with the stack's role); \
         that the group is still a member of the cluster (its cluster tag): launch-guard ignores launches of other \
         groups. This alert is sent once per launch (the instance is tagged scaling-guard:unanswered).",
        outcomes(waiting)
    );
    alert
}

/// `hook_unanswered` (critical, `none`) for launches on groups that are not
/// members of the cluster (their cluster tag removed or changed) but still
/// carry the guard's hook `hook`: launch-guard ignores them by design, so
/// the advice is to remove the hook or restore the tag, not to mend
/// launch-guard. Budget-guard may not tag those instances: once per launch
/// and execution environment.
pub fn hook_unanswered_on_non_members(
    policy: &Policy,
    now: SystemTime,
    hook: &str,
    waiting: &[Unanswered],
) -> Alert {
    let mut alert = unanswered_alert(policy, now, hook, waiting);
    let groups: BTreeSet<&str> = waiting.iter().map(|w| w.group.as_str()).collect();
    let groups = groups.into_iter().collect::<Vec<_>>().join(", ");
    alert.advice = format!(
        "these launches have waited in Pending:Wait on the guard's `{hook}` launch hook for more than half its \
         heartbeat, on group(s) {groups}, which carry that hook but are no longer a member of cluster `{cluster}` \
         (they lack the cluster tag `{tag}`, removed or changed): launch-guard ignores launches of groups outside the \
         cluster, so nothing answers them. When the heartbeat ends the hook decides by its DefaultResult ({}): \
         ABANDON terminates a launch, CONTINUE lets it serve unvetted. Either restore the group's cluster tag, if it \
         still belongs to the cluster (launch-guard then answers its next launches), or remove the guard's hook from \
         the group (`aws autoscaling delete-lifecycle-hook --auto-scaling-group-name <group> --lifecycle-hook-name \
         {hook}`; `scaling-guard release --yes` removes it from every group, tagged or not, but undoes the whole \
         guard). A launch waiting now can be let through or stopped at once with `aws autoscaling \
         complete-lifecycle-action --lifecycle-hook-name {hook} --auto-scaling-group-name <group> --instance-id <id> \
         --lifecycle-action-result CONTINUE` (or ABANDON). This alert is sent once per launch by each budget-guard \
         execution environment (it may not tag instances outside the cluster): a replaced environment may send it \
         again for a launch still waiting.",
        outcomes(waiting),
        cluster = policy.cluster,
        tag = policy.cluster_tag,
    );
    alert
        .details
        .insert("cluster_member".to_owned(), json!(false));
    alert
}

/// The headline, instance and group, and the details both kinds share.
fn unanswered_alert(policy: &Policy, now: SystemTime, hook: &str, waiting: &[Unanswered]) -> Alert {
    let longest = waiting.iter().map(|w| w.waited).max().unwrap_or_default();
    let headline = match waiting {
        [one] => format!(
            "launch of {} unanswered for {} s on hook {hook}",
            one.instance_id,
            one.waited.as_secs()
        ),
        many => format!(
            "{} launches unanswered for up to {} s on hook {hook}",
            many.len(),
            longest.as_secs()
        ),
    };
    let mut alert = Alert::new(
        AlertKind::HookUnanswered,
        Severity::Critical,
        policy,
        now,
        headline,
    );
    if let [one] = waiting {
        alert.instance_id = Some(one.instance_id.clone());
        alert.group = Some(one.group.clone());
    }
    alert.details.insert("hook".to_owned(), json!(hook));
    alert.details.insert(
        "unanswered".to_owned(),
        json!(
            waiting
                .iter()
                .map(|w| json!({
                    "instance_id": w.instance_id,
                    "group": w.group,
                    "waited_seconds": w.waited.as_secs(),
                    "heartbeat_seconds": w.heartbeat.as_secs(),
                    "default_result": w.default_result,
                }))
                .collect::<Vec<_>>()
        ),
    );
    alert
}

/// What each launch's hook decides, and when.
fn outcomes(waiting: &[Unanswered]) -> String {
    waiting
        .iter()
        .map(|w| {
            format!(
                "{} (group {}) takes {} at {} s",
                w.instance_id,
                w.group,
                w.default_result,
                w.heartbeat.as_secs()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use shared::fixtures::at;

    use super::*;
    use crate::fixtures::{now, policy};

    fn waiting(id: &str, group: &str, seconds: u64) -> Unanswered {
        Unanswered {
            instance_id: id.into(),
            group: group.into(),
            waited: Duration::from_secs(seconds),
            heartbeat: Duration::from_secs(600),
            default_result: "ABANDON".into(),
        }
    }

    #[test]
    fn one_unanswered_launch_names_its_instance_group_hook_and_wait() {
        let alert = hook_unanswered(
            &policy(&[]),
            now(),
            "scaling-guard-prod",
            &[waiting("i-0abc", "prod-a", 340)],
        );
        assert_eq!(alert.kind.as_str(), "hook_unanswered");
        assert_eq!(alert.severity, Severity::Critical);
        assert_eq!(
            alert.subject(),
            "[scaling-guard] prod: launch of i-0abc unanswered for 340 s on hook scaling-guard-prod"
        );
        assert_eq!(alert.instance_id.as_deref(), Some("i-0abc"));
        assert_eq!(alert.group.as_deref(), Some("prod-a"));
        let email = alert.email();
        assert!(
            email.contains("i-0abc (group prod-a) takes ABANDON at 600 s"),
            "{email}"
        );
        assert!(
            email.contains("EventBridge launch rule is enabled"),
            "{email}"
        );
        let body: serde_json::Value = serde_json::from_str(&alert.json()).unwrap();
        assert_eq!(*at(&body, "kind"), "hook_unanswered");
        assert_eq!(*at(&body, "details/unanswered/0/waited_seconds"), 340);
        assert_eq!(*at(&body, "details/hook"), "scaling-guard-prod");
    }

    #[test]
    fn a_launch_on_a_non_member_group_says_to_remove_the_hook_or_restore_the_tag() {
        let alert = hook_unanswered_on_non_members(
            &policy(&[]),
            now(),
            "scaling-guard-prod",
            &[waiting("i-0abc", "old-a", 340)],
        );
        assert_eq!(alert.kind.as_str(), "hook_unanswered");
        assert_eq!(alert.severity, Severity::Critical);
        assert_eq!(
            alert.subject(),
            "[scaling-guard] prod: launch of i-0abc unanswered for 340 s on hook scaling-guard-prod"
        );
        assert_eq!(alert.group.as_deref(), Some("old-a"));
        let email = alert.email();
        for words in [
            "on group(s) old-a, which carry that hook but are no longer a member of cluster `prod`",
            "i-0abc (group old-a) takes ABANDON at 600 s",
            "restore the group's cluster tag",
            "delete-lifecycle-hook --auto-scaling-group-name <group> --lifecycle-hook-name scaling-guard-prod",
            "scaling-guard release --yes",
            "a replaced environment may send it again",
        ] {
            assert!(email.contains(words), "{words}: {email}");
        }
        assert!(
            !email.contains("is tagged scaling-guard:unanswered"),
            "{email}"
        );
        let body: serde_json::Value = serde_json::from_str(&alert.json()).unwrap();
        assert_eq!(*at(&body, "details/cluster_member"), false);
        assert_eq!(*at(&body, "details/unanswered/0/group"), "old-a");
    }

    #[test]
    fn several_unanswered_launches_share_one_alert_with_the_longest_wait() {
        let alert = hook_unanswered(
            &policy(&[]),
            now(),
            "scaling-guard-prod",
            &[waiting("i-1", "prod-a", 320), waiting("i-2", "prod-b", 410)],
        );
        assert_eq!(
            alert.headline,
            "2 launches unanswered for up to 410 s on hook scaling-guard-prod"
        );
        assert_eq!(alert.instance_id, None);
        assert_eq!(alert.group, None);
        assert_eq!(alert.details["unanswered"].as_array().unwrap().len(), 2);
    }
}
