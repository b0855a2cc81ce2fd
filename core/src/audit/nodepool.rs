//! The loop breaker for launchers outside any group (SPEC §6, issue 23).
//!
//! Karpenter replaces a node the guard terminates with one from the same
//! NodePool and EC2NodeClass, so a non-compliant EC2NodeClass turns the
//! remediation into a terminate loop. Past
//! `GUARD_MAX_REMEDIATIONS_PER_POOL` remediations of one pool in
//! the last hour, that pool's remediations are held (the node stays and is
//! reported) and one critical alert names the pool and what to fix.
//!
//! The count is read from the same records as the cluster's hourly cap
//! ([`REMEDIATED_TAG`](super::REMEDIATED_TAG) on instances in any state):
//! the remediated instances still carry their launcher tag, so every
//! execution environment counts the same.

use std::time::SystemTime;

use super::RemediationWindow;
use crate::checks::CheckName;
use crate::checks::membership::Membership;
use crate::facts::InstanceFacts;
use crate::policy::Policy;

/// The tag Karpenter puts on every instance it launches: its NodePool.
pub const KARPENTER_NODEPOOL_TAG: &str = "karpenter.sh/nodepool";

/// When a pool's loop was alerted (RFC 3339), written on an instance whose
/// remediation the pool's limit held back: at most one alert per pool and
/// window. Not the cluster cap's [`REMEDIATION_HELD_TAG`](super::REMEDIATION_HELD_TAG),
/// so that one pool's loop does not silence the cluster cap's alert.
pub const POOL_HELD_TAG: &str = "scaling-guard:pool-held";

/// The instances one allowed launcher started from one configuration: the
/// launcher's tag and its value (`karpenter.sh/nodepool` = `default`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LauncherPool {
    pub tag: String,
    pub name: String,
}

impl LauncherPool {
    /// The pool of an instance an allowed launcher started; `None` for a
    /// group's instance or an unmanaged one.
    pub fn of(membership: &Membership, instance: &InstanceFacts) -> Option<Self> {
        let Membership::Launcher(tag) = membership else {
            return None;
        };
        let name = instance.tags.get(tag)?;
        Some(Self {
            tag: tag.clone(),
            name: name.clone(),
        })
    }

    /// Karpenter's NodePool (its advice names the EC2NodeClass).
    pub fn is_karpenter(&self) -> bool {
        self.tag == KARPENTER_NODEPOOL_TAG
    }

    /// `NodePool default`, or `launcher pool team=batch` for another
    /// launcher's tag: for headlines.
    pub fn label(&self) -> String {
        if self.is_karpenter() {
            format!("NodePool {}", self.name)
        } else {
            format!("launcher pool {}={}", self.tag, self.name)
        }
    }

    /// The pool's remediations within the window, against
    /// `GUARD_MAX_REMEDIATIONS_PER_POOL`; `None` when that is 0
    /// (no limit per pool).
    pub fn window(
        &self,
        policy: &Policy,
        instances: &[InstanceFacts],
        now: SystemTime,
    ) -> Option<RemediationWindow> {
        let cap = usize::try_from(policy.max_remediations_per_pool).ok()?;
        if cap == 0 {
            return None;
        }
        let members = instances
            .iter()
            .filter(|i| policy.cluster_tag.matches(&i.tags) && self.contains(i));
        Some(RemediationWindow::tally(members, POOL_HELD_TAG, cap, now))
    }

    fn contains(&self, instance: &InstanceFacts) -> bool {
        instance.tags.get(&self.tag) == Some(&self.name)
    }
}

/// Where a Karpenter user fixes what a check found: mostly a field of the
/// pool's EC2NodeClass (Karpenter v1), the instance type in the NodePool;
/// `None` for what neither sets.
pub fn karpenter_fix(check: CheckName) -> Option<&'static str> {
    use CheckName as C;
    Some(match check {
        C::ImageAllowed | C::ImageAge | C::ImageDeprecated | C::ImageOutdated => {
            "EC2NodeClass `spec.amiSelectorTerms`: select an allowed, current image (by id, or an alias pinned to a release)"
        }
        C::SubnetAllowed | C::SubnetPublic => {
            "EC2NodeClass `spec.subnetSelectorTerms`: select only the cluster's allowed private subnets"
        }
        C::SecurityGroupsAllowed => {
            "EC2NodeClass `spec.securityGroupSelectorTerms`: select only the allowed security groups"
        }
        C::ImdsV2 => "EC2NodeClass `spec.metadataOptions.httpTokens`: `required`",
        C::ImdsHopLimit => {
            "EC2NodeClass `spec.metadataOptions.httpPutResponseHopLimit`: at most the policy's limit"
        }
        C::InstanceProfileAllowed => {
            "EC2NodeClass `spec.role` (or `spec.instanceProfile`): an allowed node role or instance profile"
        }
        C::VolumesEncrypted => {
            "EC2NodeClass `spec.blockDeviceMappings[].ebs.encrypted`: `true` (and `kmsKeyID` if the policy names keys)"
        }
        C::InstanceTypeAllowed => {
            "NodePool `spec.template.spec.requirements`: limit `node.kubernetes.io/instance-type` to allowed types"
        }
        C::InstanceKeyPair
        | C::BudgetVcpus
        | C::BudgetMemory
        | C::BudgetInstances
        | C::MembershipUnmanaged
        | C::MembershipUnguardedGroup => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pretty_assertions::assert_eq;

    use super::*;
    use crate::audit::REMEDIATED_TAG;
    use crate::fixtures::{CLUSTER_TAG, compliant_instance, now, strict_policy};
    use crate::time::format_rfc3339;

    fn ago(seconds: u64) -> String {
        format_rfc3339(now() - Duration::from_secs(seconds))
    }

    fn node(id: &str, pool: &str, tags: &[(&str, &str)]) -> InstanceFacts {
        let mut instance = InstanceFacts {
            instance_id: id.into(),
            ..compliant_instance()
        };
        instance.tags.insert(CLUSTER_TAG.into(), "owned".into());
        instance
            .tags
            .insert(KARPENTER_NODEPOOL_TAG.into(), pool.into());
        for (key, value) in tags {
            instance.tags.insert((*key).into(), (*value).into());
        }
        instance
    }

    fn pool(name: &str) -> LauncherPool {
        LauncherPool {
            tag: KARPENTER_NODEPOOL_TAG.into(),
            name: name.into(),
        }
    }

    #[test]
    fn a_pool_counts_only_its_own_remediations_of_the_last_hour() {
        let policy = strict_policy(&[("GUARD_MAX_REMEDIATIONS_PER_POOL", "2")]);
        let recent = ago(60);
        let old = ago(2 * 3600);
        let instances = vec![
            node("i-1", "default", &[(REMEDIATED_TAG, &recent)]),
            node("i-2", "default", &[(REMEDIATED_TAG, &recent)]),
            node("i-3", "default", &[(REMEDIATED_TAG, &old)]),
            node("i-4", "gpu", &[(REMEDIATED_TAG, &recent)]),
        ];
        let window = pool("default").window(&policy, &instances, now()).unwrap();
        assert_eq!((window.remediated, window.cap), (2, 2));
        assert!(window.is_full());
        let gpu = pool("gpu").window(&policy, &instances, now()).unwrap();
        assert!(!gpu.is_full());
    }

    #[test]
    fn a_pool_alert_is_read_from_its_own_hold_tag_not_the_cluster_caps() {
        let policy = strict_policy(&[]);
        let alerted = ago(60);
        let instances = vec![
            node(
                "i-1",
                "default",
                &[(super::super::REMEDIATION_HELD_TAG, &alerted)],
            ),
            node("i-2", "gpu", &[(POOL_HELD_TAG, &alerted)]),
        ];
        let default = pool("default").window(&policy, &instances, now()).unwrap();
        assert_eq!(default.alerted, None);
        let gpu = pool("gpu").window(&policy, &instances, now()).unwrap();
        assert!(gpu.alerted.is_some());
    }

    #[test]
    fn zero_turns_the_pool_limit_off() {
        let policy = strict_policy(&[("GUARD_MAX_REMEDIATIONS_PER_POOL", "0")]);
        assert_eq!(pool("default").window(&policy, &[], now()), None);
    }

    #[test]
    fn only_a_launchers_instance_has_a_pool() {
        let instance = node("i-1", "default", &[]);
        let launcher = Membership::Launcher(KARPENTER_NODEPOOL_TAG.into());
        assert_eq!(
            LauncherPool::of(&launcher, &instance),
            Some(pool("default"))
        );
        assert_eq!(LauncherPool::of(&Membership::Unmanaged, &instance), None);
    }

    #[test]
    fn every_launch_setting_check_names_where_karpenter_sets_it() {
        assert!(
            karpenter_fix(CheckName::ImdsV2)
                .unwrap()
                .contains("httpTokens")
        );
        assert!(
            karpenter_fix(CheckName::ImageOutdated)
                .unwrap()
                .contains("amiSelectorTerms")
        );
        assert!(
            karpenter_fix(CheckName::SubnetPublic)
                .unwrap()
                .contains("subnetSelectorTerms")
        );
        assert!(
            karpenter_fix(CheckName::InstanceProfileAllowed)
                .unwrap()
                .contains("spec.role")
        );
        assert_eq!(karpenter_fix(CheckName::MembershipUnmanaged), None);
    }
}
