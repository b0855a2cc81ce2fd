//! The tag that marks the guarded cluster's groups and instances: a key and,
//! unless the key itself names the cluster, a value (SPEC §3, §12).

use std::collections::BTreeMap;
use std::fmt;

/// What makes a group or an instance a member of the guarded cluster.
///
/// `kubernetes.io/cluster/<cluster>` names one cluster by its key, so any
/// value (`owned`, `shared`) means member. Any other key (`eks:cluster-name`,
/// `karpenter.sh/discovery`) is shared by every cluster of the account and
/// names one only with its value: the policy requires one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterTag {
    pub key: String,
    /// `None`: any value of `key` means member.
    pub value: Option<String>,
}

impl ClusterTag {
    /// The key that names `cluster` by itself: `GUARD_CLUSTER_TAG_KEY`'s
    /// default in the settings table.
    pub fn default_key(cluster: &str) -> String {
        super::settings::CLUSTER_TAG_KEY
            .default
            .text(cluster)
            .unwrap_or_default()
    }

    /// Any value of `key` means member (the default key).
    pub fn any_value(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: None,
        }
    }

    /// Only `key` = `value` means member.
    pub fn pinned(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: Some(value.into()),
        }
    }

    /// Whether a resource with these tags is a member.
    pub fn matches(&self, tags: &BTreeMap<String, String>) -> bool {
        match (tags.get(&self.key), &self.value) {
            (Some(found), Some(value)) => found == value,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The value a member must carry, `None` for any.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

/// `key=value`, or `key` alone when any value means member.
impl fmt::Display for ClusterTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "{}={value}", self.key),
            None => f.write_str(&self.key),
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[rstest]
    #[case::default_key_owned(ClusterTag::any_value("kubernetes.io/cluster/prod"), &[("kubernetes.io/cluster/prod", "owned")], true)]
    #[case::default_key_shared(ClusterTag::any_value("kubernetes.io/cluster/prod"), &[("kubernetes.io/cluster/prod", "shared")], true)]
    #[case::default_key_of_another_cluster(ClusterTag::any_value("kubernetes.io/cluster/prod"), &[("kubernetes.io/cluster/staging", "owned")], false)]
    #[case::pinned_value(ClusterTag::pinned("eks:cluster-name", "prod"), &[("eks:cluster-name", "prod")], true)]
    #[case::shared_key_of_another_cluster(ClusterTag::pinned("eks:cluster-name", "prod"), &[("eks:cluster-name", "staging")], false)]
    #[case::value_is_case_sensitive(ClusterTag::pinned("eks:cluster-name", "prod"), &[("eks:cluster-name", "Prod")], false)]
    #[case::value_under_another_key(ClusterTag::pinned("eks:cluster-name", "prod"), &[("karpenter.sh/discovery", "prod")], false)]
    #[case::no_tags(ClusterTag::pinned("eks:cluster-name", "prod"), &[], false)]
    fn membership_is_key_and_value(
        #[case] tag: ClusterTag,
        #[case] on_resource: &[(&str, &str)],
        #[case] member: bool,
    ) {
        assert_eq!(tag.matches(&tags(on_resource)), member);
    }

    #[test]
    fn a_tag_shows_its_value_only_when_pinned() {
        assert_eq!(
            ClusterTag::pinned("eks:cluster-name", "prod").to_string(),
            "eks:cluster-name=prod"
        );
        assert_eq!(
            ClusterTag::any_value(ClusterTag::default_key("prod")).to_string(),
            "kubernetes.io/cluster/prod"
        );
    }
}
