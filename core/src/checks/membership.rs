//! `membership.unmanaged` and `membership.unguarded_group` (SPEC §6): how an
//! instance came into the cluster, and whether that way is guarded.
//!
//! Pure: the caller reads the instance and, when it belongs to an Auto
//! Scaling group, that group's lifecycle hooks.
//!
//! A group's hook alone does not make its instances vetted: the hook's
//! `DefaultResult`, launch-guard's fail mode `continue`, or a launch before
//! the hook was added let instances in that no one checked. Only
//! [`VETTED_TAG`], which launch-guard writes on a launch it checked and
//! let in (enforce mode), says that launch-guard decided the instance.

use std::fmt;
use std::time::{Duration, SystemTime};

use super::{CheckName, Violation, join};
use crate::facts::{HookFacts, InstanceFacts};
use crate::lifecycle::LAUNCHING;
use crate::policy::Policy;
use crate::time::parse_rfc3339;

/// The tag Auto Scaling puts on every instance it launches.
pub const GROUP_NAME_TAG: &str = "aws:autoscaling:groupName";

/// launch-guard's record that it checked a launch and let it in, in enforce
/// mode: the time of its `CONTINUE` (RFC 3339), written before it. Not
/// written on a fail-mode `CONTINUE`.
pub const VETTED_TAG: &str = "scaling-guard:vetted";

/// Auto Scaling's default heartbeat timeout of a lifecycle hook.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(3600);

/// Why an instance of a guarded group is, or is not, vetted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vetting {
    /// It carries [`VETTED_TAG`]: launch-guard checked it at launch.
    Vetted,
    /// No record yet, and launched less than the hook's heartbeat timeout
    /// ago: its launch may still wait in `Pending:Wait` for launch-guard.
    /// Its group listing it past its launch settles it
    /// ([`Membership::launch_completed`]): a launch before the hook.
    Undecided,
    /// No record, and the hook's time is over: admitted by the hook's
    /// `DefaultResult`, by the fail mode, or launched before the hook.
    Unvetted,
}

/// How an instance came into the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// Launched by a group that carries the guard's launch hook; whether
    /// launch-guard decided it is `vetting`.
    GuardedGroup { group: String, vetting: Vetting },
    /// Launched by a group without the guard's launch hook.
    UnguardedGroup(String),
    /// Outside any group, launched by an allowed launcher (the tag key that
    /// says so, e.g. `karpenter.sh/nodepool`).
    Launcher(String),
    /// Outside any group and without an allowed launcher's tag.
    Unmanaged,
    /// An EC2 managed instance (`Operator.Managed`): an AWS service runs it
    /// for the account (EKS Auto Mode: `eks.amazonaws.com`) and owns its
    /// lifecycle. Counted and reported, never remediated; `principal` is the
    /// service, when EC2 names it.
    Managed { principal: Option<String> },
}

impl Membership {
    /// Classifies `instance` at `now`. `group_hooks` are the hooks of the
    /// instance's group (see [`auto_scaling_group`]); they are ignored for an
    /// instance outside any group. A managed instance is classified as such
    /// whatever its tags say: its service, not a group or a launcher the
    /// guard could act on, owns it.
    pub fn of(
        policy: &Policy,
        instance: &InstanceFacts,
        group_hooks: &[HookFacts],
        now: SystemTime,
    ) -> Self {
        if let Some(operator) = instance.managed_by() {
            return Membership::Managed {
                principal: operator.principal.clone(),
            };
        }
        if let Some(group) = auto_scaling_group(instance) {
            return if let Some(hook) = guard_hook(policy, group_hooks) {
                Membership::GuardedGroup {
                    group: group.to_owned(),
                    vetting: vetting(instance, hook, now),
                }
            } else {
                Membership::UnguardedGroup(group.to_owned())
            };
        }
        policy
            .allowed_launcher_tags
            .iter()
            .find(|tag| instance.tags.contains_key(*tag))
            .map_or(Membership::Unmanaged, |tag| {
                Membership::Launcher(tag.clone())
            })
    }

    /// The group the instance belongs to, if any.
    pub fn group(&self) -> Option<&str> {
        match self {
            Membership::GuardedGroup { group, .. } | Membership::UnguardedGroup(group) => {
                Some(group)
            }
            Membership::Launcher(_) | Membership::Unmanaged | Membership::Managed { .. } => None,
        }
    }

    /// An AWS service runs this instance for the account (EC2 managed
    /// instance): nothing the guard may change.
    pub fn is_managed(&self) -> bool {
        matches!(self, Membership::Managed { .. })
    }

    /// Launch-guard decided this instance at launch (and recorded it).
    pub fn is_vetted(&self) -> bool {
        matches!(
            self,
            Membership::GuardedGroup {
                vetting: Vetting::Vetted,
                ..
            }
        )
    }

    /// Launch-guard may still be deciding this instance's launch.
    pub fn is_undecided(&self) -> bool {
        matches!(
            self,
            Membership::GuardedGroup {
                vetting: Vetting::Undecided,
                ..
            }
        )
    }

    /// The membership once the instance's launch is known to be complete
    /// (its group reported it successful): an instance launch-guard has not
    /// recorded by then is unvetted.
    #[must_use]
    pub fn launch_completed(self) -> Self {
        match self {
            Membership::GuardedGroup {
                group,
                vetting: Vetting::Undecided,
            } => Membership::GuardedGroup {
                group,
                vetting: Vetting::Unvetted,
            },
            other => other,
        }
    }
}

/// Why an instance of a guarded group is treated as unvetted: for alerts.
pub const UNVETTED_REASON: &str = "its group carries the hook but launch-guard never recorded a decision on it: \
    admitted by the hook's DefaultResult, by the fail mode, or before the hook";

impl fmt::Display for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Membership::GuardedGroup {
                group,
                vetting: Vetting::Vetted,
            } => write!(f, "group `{group}` (guarded, vetted by launch-guard)"),
            Membership::GuardedGroup {
                group,
                vetting: Vetting::Undecided,
            } => write!(
                f,
                "group `{group}` (guarded, launch-guard has not decided it yet)"
            ),
            Membership::GuardedGroup {
                group,
                vetting: Vetting::Unvetted,
            } => write!(
                f,
                "group `{group}` (guarded, not vetted: {UNVETTED_REASON})"
            ),
            Membership::UnguardedGroup(group) => {
                write!(f, "group `{group}` (without the guard's hook)")
            }
            Membership::Launcher(tag) => write!(f, "launcher tag `{tag}`"),
            Membership::Unmanaged => f.write_str("unmanaged"),
            Membership::Managed { principal } => write!(
                f,
                "managed instance of `{}` (EC2 managed instance)",
                principal.as_deref().unwrap_or(UNNAMED_OPERATOR)
            ),
        }
    }
}

/// How a managed instance's service is named when EC2 does not say which.
pub const UNNAMED_OPERATOR: &str = "an AWS service";

/// The Auto Scaling group named by the instance's `aws:autoscaling:groupName` tag.
pub fn auto_scaling_group(instance: &InstanceFacts) -> Option<&str> {
    instance
        .tags
        .get(GROUP_NAME_TAG)
        .map(String::as_str)
        .filter(|group| !group.is_empty())
}

/// Whether the hooks include the guard's: named `GUARD_HOOK_NAME`, on launch.
pub fn has_guard_hook(policy: &Policy, hooks: &[HookFacts]) -> bool {
    guard_hook(policy, hooks).is_some()
}

fn guard_hook<'h>(policy: &Policy, hooks: &'h [HookFacts]) -> Option<&'h HookFacts> {
    hooks
        .iter()
        .find(|hook| hook.name == policy.hook_name && hook.transition == LAUNCHING)
}

/// Whether launch-guard recorded its decision on the instance of a group
/// with the guard's `hook`, or may still be deciding it. A record whose
/// value is not a time is no record of launch-guard's. An instance without
/// a launch time cannot be shown to be waiting: unvetted.
fn vetting(instance: &InstanceFacts, hook: &HookFacts, now: SystemTime) -> Vetting {
    if instance
        .tags
        .get(VETTED_TAG)
        .and_then(|value| parse_rfc3339(value))
        .is_some()
    {
        return Vetting::Vetted;
    }
    let heartbeat = hook
        .heartbeat_timeout
        .and_then(|seconds| u64::try_from(seconds).ok())
        .map_or(DEFAULT_HEARTBEAT, Duration::from_secs);
    let waiting = instance
        .launch_time
        .and_then(|launched| launched.checked_add(heartbeat))
        .is_some_and(|deadline| now < deadline);
    if waiting {
        Vetting::Undecided
    } else {
        Vetting::Unvetted
    }
}

/// The membership violation of an instance, if any.
pub fn check(
    policy: &Policy,
    instance: &InstanceFacts,
    membership: &Membership,
) -> Option<Violation> {
    let id = &instance.instance_id;
    match membership {
        // A hooked group is guarded, vetted or not: its unvetted instances
        // are checked like any other, not reported as an unguarded group. A
        // managed instance came in through its service, not by hand.
        Membership::GuardedGroup { .. } | Membership::Launcher(_) | Membership::Managed { .. } => {
            None
        }
        Membership::UnguardedGroup(group) => Some(Violation::new(
            CheckName::MembershipUnguardedGroup,
            group,
            format!("lifecycle hook `{}` on launch", policy.hook_name),
            "no such hook",
            format!(
                "instance `{id}` was launched by group `{group}`, which lacks the guard's launch hook `{}`, so nothing vetted it",
                policy.hook_name
            ),
        )),
        Membership::Unmanaged => {
            let launchers = if policy.allowed_launcher_tags.is_empty() {
                "no launcher is allowed".to_owned()
            } else {
                format!("a launcher tag ({})", join(&policy.allowed_launcher_tags))
            };
            Some(Violation::new(
                CheckName::MembershipUnmanaged,
                id,
                format!("an Auto Scaling group (tag `{GROUP_NAME_TAG}`) or {launchers}"),
                "no group and no launcher tag",
                format!(
                    "instance `{id}` joined cluster `{}` outside any Auto Scaling group and was not launched by an allowed launcher",
                    policy.cluster
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use rstest::rstest;

    use super::*;
    use crate::facts::Operator;
    use crate::fixtures::{CLUSTER_TAG, compliant_node, now, strict_policy};

    fn hook(name: &str, transition: &str) -> HookFacts {
        HookFacts {
            name: name.into(),
            transition: transition.into(),
            ..HookFacts::default()
        }
    }

    /// A cluster instance launched a week ago, with `tags`.
    fn instance(tags: &[(&str, &str)]) -> InstanceFacts {
        let mut instance = compliant_node().instance;
        instance.launch_time = Some(now() - Duration::from_secs(7 * 86_400));
        instance.tags = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        instance.tags.insert(CLUSTER_TAG.into(), "owned".into());
        instance
    }

    const GUARD: &str = "scaling-guard-prod";
    const TERMINATING: &str = "autoscaling:EC2_INSTANCE_TERMINATING";

    #[rstest]
    #[case::guarded_group_vetted(&[(GROUP_NAME_TAG, "prod-general"), (VETTED_TAG, "2026-09-14T14:13:20Z")], &[(GUARD, LAUNCHING)], guarded("prod-general", Vetting::Vetted))]
    #[case::guarded_group_never_recorded(&[(GROUP_NAME_TAG, "prod-general")], &[(GUARD, LAUNCHING)], guarded("prod-general", Vetting::Unvetted))]
    #[case::guarded_group_record_not_a_time(&[(GROUP_NAME_TAG, "prod-general"), (VETTED_TAG, "yes")], &[(GUARD, LAUNCHING)], guarded("prod-general", Vetting::Unvetted))]
    #[case::vetted_tag_without_the_hook(&[(GROUP_NAME_TAG, "prod-general"), (VETTED_TAG, "2026-09-14T14:13:20Z")], &[], Membership::UnguardedGroup("prod-general".into()))]
    #[case::group_without_hooks(&[(GROUP_NAME_TAG, "prod-general")], &[], Membership::UnguardedGroup("prod-general".into()))]
    #[case::group_with_another_hook(&[(GROUP_NAME_TAG, "prod-general")], &[("someone-elses-hook", LAUNCHING)], Membership::UnguardedGroup("prod-general".into()))]
    #[case::guard_hook_on_termination_only(&[(GROUP_NAME_TAG, "prod-general")], &[(GUARD, TERMINATING)], Membership::UnguardedGroup("prod-general".into()))]
    #[case::karpenter_node(&[("karpenter.sh/nodepool", "default")], &[], Membership::Launcher("karpenter.sh/nodepool".into()))]
    #[case::launched_by_hand(&[("Name", "debug-box")], &[], Membership::Unmanaged)]
    #[case::empty_group_tag(&[(GROUP_NAME_TAG, "")], &[(GUARD, LAUNCHING)], Membership::Unmanaged)]
    fn membership_is_read_from_tags_and_hooks(
        #[case] tags: &[(&str, &str)],
        #[case] hooks: &[(&str, &str)],
        #[case] expected: Membership,
    ) {
        let hooks: Vec<HookFacts> = hooks.iter().map(|(n, t)| hook(n, t)).collect();
        let membership = Membership::of(&strict_policy(&[]), &instance(tags), &hooks, now());
        assert_eq!(membership, expected);
    }

    fn guarded(group: &str, vetting: Vetting) -> Membership {
        Membership::GuardedGroup {
            group: group.into(),
            vetting,
        }
    }

    #[rstest]
    #[case::a_minute_old(60, None, Vetting::Undecided)]
    #[case::past_the_default_heartbeat(3601, None, Vetting::Unvetted)]
    #[case::within_a_longer_heartbeat(3601, Some(7200), Vetting::Undecided)]
    #[case::past_a_shorter_heartbeat(301, Some(300), Vetting::Unvetted)]
    fn an_unrecorded_launch_is_undecided_while_the_hook_may_still_hold_it(
        #[case] age_seconds: u64,
        #[case] heartbeat: Option<i32>,
        #[case] expected: Vetting,
    ) {
        let mut node = instance(&[(GROUP_NAME_TAG, "prod-general")]);
        node.launch_time = Some(now() - Duration::from_secs(age_seconds));
        let hooks = [HookFacts {
            heartbeat_timeout: heartbeat,
            ..hook(GUARD, LAUNCHING)
        }];
        let membership = Membership::of(&strict_policy(&[]), &node, &hooks, now());
        assert_eq!(membership, guarded("prod-general", expected));
        // Once the group reports the launch complete, no record means no one vetted it.
        assert_eq!(
            membership.launch_completed(),
            guarded("prod-general", Vetting::Unvetted)
        );
    }

    #[test]
    fn only_a_recorded_instance_is_vetted() {
        assert!(guarded("g", Vetting::Vetted).is_vetted());
        assert!(!guarded("g", Vetting::Unvetted).is_vetted());
        assert!(!guarded("g", Vetting::Undecided).is_vetted());
        assert!(guarded("g", Vetting::Undecided).is_undecided());
        assert_eq!(
            guarded("g", Vetting::Unvetted).to_string(),
            "group `g` (guarded, not vetted: its group carries the hook but launch-guard never recorded a decision \
             on it: admitted by the hook's DefaultResult, by the fail mode, or before the hook)"
        );
    }

    #[test]
    fn a_launcher_tag_counts_only_when_the_policy_allows_it() {
        let policy = strict_policy(&[("GUARD_ALLOWED_LAUNCHER_TAGS", "")]);
        let node = instance(&[("karpenter.sh/nodepool", "default")]);
        assert_eq!(
            Membership::of(&policy, &node, &[], now()),
            Membership::Unmanaged
        );
        let violation = check(&policy, &node, &Membership::Unmanaged).unwrap();
        assert_eq!(
            violation.expected,
            "an Auto Scaling group (tag `aws:autoscaling:groupName`) or no launcher is allowed"
        );
    }

    #[test]
    fn an_unmanaged_instance_violates_membership_unmanaged() {
        let policy = strict_policy(&[]);
        let node = instance(&[]);
        assert_eq!(
            check(&policy, &node, &Membership::Unmanaged),
            Some(Violation::new(
                CheckName::MembershipUnmanaged,
                "i-0123456789abcdef0",
                "an Auto Scaling group (tag `aws:autoscaling:groupName`) or a launcher tag (karpenter.sh/nodepool)",
                "no group and no launcher tag",
                "instance `i-0123456789abcdef0` joined cluster `prod` outside any Auto Scaling group and was not launched by an allowed launcher",
            ))
        );
    }

    #[test]
    fn an_unguarded_group_is_the_resource_at_fault() {
        let policy = strict_policy(&[]);
        let membership = Membership::UnguardedGroup("prod-legacy".into());
        let violation = check(&policy, &instance(&[]), &membership).unwrap();
        assert_eq!(violation.check, CheckName::MembershipUnguardedGroup);
        assert_eq!(violation.resource, "prod-legacy");
        assert_eq!(
            violation.message,
            "instance `i-0123456789abcdef0` was launched by group `prod-legacy`, which lacks the guard's launch hook `scaling-guard-prod`, so nothing vetted it"
        );
    }

    /// An EKS Auto Mode node: a managed instance of `eks.amazonaws.com`.
    fn auto_mode(tags: &[(&str, &str)]) -> InstanceFacts {
        let mut node = instance(tags);
        node.operator = Some(Operator {
            managed: true,
            principal: Some("eks.amazonaws.com".into()),
        });
        node
    }

    fn managed_by(principal: &str) -> Membership {
        Membership::Managed {
            principal: Some(principal.into()),
        }
    }

    #[rstest]
    #[case::no_group_no_launcher(&[])]
    #[case::karpenter_tags(&[("karpenter.sh/nodepool", "general-purpose")])]
    #[case::group_tag(&[(GROUP_NAME_TAG, "prod-general")])]
    fn a_managed_instance_is_its_services_whatever_its_tags_say(#[case] tags: &[(&str, &str)]) {
        let hooks = [hook(GUARD, LAUNCHING)];
        let node = auto_mode(tags);
        let membership = Membership::of(&strict_policy(&[]), &node, &hooks, now());
        assert_eq!(membership, managed_by("eks.amazonaws.com"));
        assert!(membership.is_managed());
        assert_eq!(membership.group(), None);
        assert!(!membership.is_vetted() && !membership.is_undecided());
        assert_eq!(
            membership.to_string(),
            "managed instance of `eks.amazonaws.com` (EC2 managed instance)"
        );
        assert_eq!(
            check(&strict_policy(&[]), &node, &membership),
            None,
            "never `membership.unmanaged`"
        );
    }

    #[test]
    fn an_operator_that_does_not_manage_leaves_the_instance_to_its_tags() {
        let mut node = instance(&[]);
        node.operator = Some(Operator {
            managed: false,
            principal: None,
        });
        assert_eq!(
            Membership::of(&strict_policy(&[]), &node, &[], now()),
            Membership::Unmanaged
        );
        let unnamed = Membership::Managed { principal: None };
        assert_eq!(
            unnamed.to_string(),
            "managed instance of `an AWS service` (EC2 managed instance)"
        );
    }

    #[rstest]
    #[case::guarded_vetted(guarded("g", Vetting::Vetted))]
    #[case::guarded_unvetted(guarded("g", Vetting::Unvetted))]
    #[case::launcher(Membership::Launcher("karpenter.sh/nodepool".into()))]
    fn guarded_and_launched_instances_have_no_membership_violation(#[case] membership: Membership) {
        assert_eq!(
            check(&strict_policy(&[]), &instance(&[]), &membership),
            None
        );
    }
}
