//! `membership.unmanaged` and `membership.unguarded_group` (SPEC §6): how an
//! instance came into the cluster, and whether that way is guarded.
//!
//! Pure: the caller reads the instance and, when it belongs to an Auto
//! Scaling group, that group's lifecycle hooks.

use std::fmt;

use super::{CheckName, Violation, join};
use crate::facts::{HookFacts, InstanceFacts};
use crate::lifecycle::LAUNCHING;
use crate::policy::Policy;

/// The tag Auto Scaling puts on every instance it launches.
pub const GROUP_NAME_TAG: &str = "aws:autoscaling:groupName";

/// How an instance came into the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// Launched by a group that carries the guard's launch hook: launch-guard
    /// vetted it before it entered service.
    GuardedGroup(String),
    /// Launched by a group without the guard's launch hook.
    UnguardedGroup(String),
    /// Outside any group, launched by an allowed launcher (the tag key that
    /// says so, e.g. `karpenter.sh/nodepool`).
    Launcher(String),
    /// Outside any group and without an allowed launcher's tag.
    Unmanaged,
}

impl Membership {
    /// Classifies `instance`. `group_hooks` are the hooks of the instance's
    /// group (see [`auto_scaling_group`]); they are ignored for an instance
    /// outside any group.
    pub fn of(policy: &Policy, instance: &InstanceFacts, group_hooks: &[HookFacts]) -> Self {
        if let Some(group) = auto_scaling_group(instance) {
            return if has_guard_hook(policy, group_hooks) {
                Membership::GuardedGroup(group.to_owned())
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
            Membership::GuardedGroup(group) | Membership::UnguardedGroup(group) => Some(group),
            Membership::Launcher(_) | Membership::Unmanaged => None,
        }
    }

    /// Launch-guard decided this instance at launch.
    pub fn is_vetted(&self) -> bool {
        matches!(self, Membership::GuardedGroup(_))
    }
}

impl fmt::Display for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Membership::GuardedGroup(group) => write!(f, "group `{group}` (guarded)"),
            Membership::UnguardedGroup(group) => {
                write!(f, "group `{group}` (without the guard's hook)")
            }
            Membership::Launcher(tag) => write!(f, "launcher tag `{tag}`"),
            Membership::Unmanaged => f.write_str("unmanaged"),
        }
    }
}

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
    hooks
        .iter()
        .any(|hook| hook.name == policy.hook_name && hook.transition == LAUNCHING)
}

/// The membership violation of an instance, if any.
pub fn check(
    policy: &Policy,
    instance: &InstanceFacts,
    membership: &Membership,
) -> Option<Violation> {
    let id = &instance.instance_id;
    match membership {
        Membership::GuardedGroup(_) | Membership::Launcher(_) => None,
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
    use crate::checks::fixtures::{compliant_node, strict_policy};

    fn hook(name: &str, transition: &str) -> HookFacts {
        HookFacts {
            name: name.into(),
            transition: transition.into(),
            ..HookFacts::default()
        }
    }

    fn instance(tags: &[(&str, &str)]) -> InstanceFacts {
        let mut instance = compliant_node().instance;
        instance.tags = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        instance
            .tags
            .insert("kubernetes.io/cluster/prod".into(), "owned".into());
        instance
    }

    const GUARD: &str = "scaling-guard-launch";
    const TERMINATING: &str = "autoscaling:EC2_INSTANCE_TERMINATING";

    #[rstest]
    #[case::guarded_group(&[(GROUP_NAME_TAG, "prod-general")], &[(GUARD, LAUNCHING)], Membership::GuardedGroup("prod-general".into()))]
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
        let membership = Membership::of(&strict_policy(&[]), &instance(tags), &hooks);
        assert_eq!(membership, expected);
    }

    #[test]
    fn a_launcher_tag_counts_only_when_the_policy_allows_it() {
        let policy = strict_policy(&[("GUARD_ALLOWED_LAUNCHER_TAGS", "")]);
        let node = instance(&[("karpenter.sh/nodepool", "default")]);
        assert_eq!(Membership::of(&policy, &node, &[]), Membership::Unmanaged);
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
            "instance `i-0123456789abcdef0` was launched by group `prod-legacy`, which lacks the guard's launch hook `scaling-guard-launch`, so nothing vetted it"
        );
    }

    #[rstest]
    #[case::guarded(Membership::GuardedGroup("g".into()))]
    #[case::launcher(Membership::Launcher("karpenter.sh/nodepool".into()))]
    fn guarded_and_launched_instances_have_no_membership_violation(#[case] membership: Membership) {
        assert_eq!(
            check(&strict_policy(&[]), &instance(&[]), &membership),
            None
        );
    }
}
