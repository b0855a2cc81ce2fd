//! What an ABANDON does on an Auto Scaling group that EKS owns (an EKS
//! managed node group): to EKS and to the Cluster Autoscaler it is a failed
//! launch, with consequences beyond the one instance. launch-guard's alert
//! on such a denial says them, so that whoever reads it knows why the node
//! group turned unhealthy and why the autoscaler stopped picking it.

use std::collections::BTreeMap;

use serde_json::json;

use super::Alert;

/// The tag EKS puts on the Auto Scaling group of a managed node group: the
/// node group's name.
pub const NODEGROUP_TAG: &str = "eks:nodegroup-name";
/// The tag EKS puts beside it: the EKS cluster's name.
pub const CLUSTER_NAME_TAG: &str = "eks:cluster-name";

/// The EKS managed node group that owns an Auto Scaling group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagedNodeGroup<'t> {
    pub nodegroup: &'t str,
    /// The EKS cluster, when the group names it.
    pub cluster: Option<&'t str>,
}

impl<'t> ManagedNodeGroup<'t> {
    /// The node group named by the group's tags, if EKS owns the group.
    pub fn of(group_tags: &'t BTreeMap<String, String>) -> Option<Self> {
        let nodegroup = group_tags
            .get(NODEGROUP_TAG)
            .map(String::as_str)
            .filter(|name| !name.is_empty())?;
        let cluster = group_tags
            .get(CLUSTER_NAME_TAG)
            .map(String::as_str)
            .filter(|name| !name.is_empty());
        Some(Self { nodegroup, cluster })
    }

    /// What an ABANDON does there, and where to fix it: sentences for an
    /// alert's advice. EKS's health issue code and the Cluster Autoscaler's
    /// flags (with their defaults) are named as their documentation names
    /// them, so they can be searched for.
    pub fn abandon_consequences(&self) -> String {
        let nodegroup = self.nodegroup;
        let describe = match self.cluster {
            Some(cluster) => format!(
                "aws eks describe-nodegroup --cluster-name {cluster} --nodegroup-name {nodegroup}"
            ),
            None => format!("aws eks describe-nodegroup --nodegroup-name {nodegroup}"),
        };
        format!(
            "This group belongs to EKS managed node group `{nodegroup}`, where an ABANDON is a failed launch: \
             EKS reports the health issue AsgInstanceLaunchFailures on the node group (`{describe}`, \
             `health.issues`), and a node group update whose new nodes are denied fails. The Cluster \
             Autoscaler, if it scales this group, sees its scale-up fail and backs the node group off \
             (--initial-node-group-backoff-duration, 5 min by default, doubling up to \
             --max-node-group-backoff-duration, 30 min), scaling other node groups meanwhile. Fix the \
             node group's launch template through EKS (a new version, then UpdateNodegroupVersion), not \
             the Auto Scaling group EKS owns."
        )
    }
}

/// Adds what an ABANDON does on an EKS managed node group to an alert on an
/// abandoned launch of the group with `group_tags`; nothing for a group EKS
/// does not own.
pub fn add_abandon_consequences(alert: &mut Alert, group_tags: &BTreeMap<String, String>) {
    let Some(owner) = ManagedNodeGroup::of(group_tags) else {
        return;
    };
    alert.advice.push(' ');
    alert.advice.push_str(&owner.abandon_consequences());
    alert
        .details
        .insert("eks_nodegroup".to_owned(), json!(owner.nodegroup));
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use rstest::rstest;

    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[rstest]
    #[case::managed(&[(NODEGROUP_TAG, "general"), (CLUSTER_NAME_TAG, "prod")], Some(("general", Some("prod"))))]
    #[case::managed_without_cluster_name(&[(NODEGROUP_TAG, "general")], Some(("general", None)))]
    #[case::self_managed(&[(CLUSTER_NAME_TAG, "prod"), ("kubernetes.io/cluster/prod", "owned")], None)]
    #[case::blank_nodegroup(&[(NODEGROUP_TAG, "")], None)]
    fn eks_owns_a_group_that_names_its_node_group(
        #[case] pairs: &[(&str, &str)],
        #[case] expected: Option<(&str, Option<&str>)>,
    ) {
        let tags = tags(pairs);
        let owner = ManagedNodeGroup::of(&tags).map(|owner| (owner.nodegroup, owner.cluster));
        assert_eq!(owner, expected);
    }

    #[test]
    fn the_consequences_name_the_health_issue_the_backoff_and_the_command() {
        let tags = tags(&[(NODEGROUP_TAG, "general"), (CLUSTER_NAME_TAG, "prod")]);
        let text = ManagedNodeGroup::of(&tags).unwrap().abandon_consequences();
        for said in [
            "EKS managed node group `general`",
            "AsgInstanceLaunchFailures",
            "aws eks describe-nodegroup --cluster-name prod --nodegroup-name general",
            "backs the node group off",
            "--max-node-group-backoff-duration",
        ] {
            assert!(text.contains(said), "{said}: {text}");
        }
        assert!(text.is_ascii(), "plain text for the email body: {text}");
    }
}
