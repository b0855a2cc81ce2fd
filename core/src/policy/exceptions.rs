//! `GUARD_CHECK_EXCEPTIONS`: named checks that do not apply to named groups.
//!
//! Exceptions live in the policy (the stack's parameters), never in tags: a
//! group's owner cannot exempt their own group. An exempted violation does
//! not block, alert or count; it is still reported, as `exempted`.

use std::fmt;

use super::Patterns;
use crate::check_name::CheckName;

/// One exception: `check` does not apply to the groups `groups` matches.
#[derive(Debug, Clone)]
pub struct Exception {
    pub check: CheckName,
    /// One glob on the group name (`prod-ebs-csi-*`).
    pub groups: Patterns,
}

impl Exception {
    /// The group glob, as written.
    pub fn group_pattern(&self) -> &str {
        self.groups.texts().first().map_or("", String::as_str)
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.check, self.group_pattern())
    }
}

/// Every exception of the policy, in the order given.
#[derive(Debug, Clone, Default)]
pub struct Exceptions(Vec<Exception>);

/// Checks that cannot be exempted per group: the budgets are cluster-wide
/// (an exempted group would spend the others' budget), and the membership
/// checks judge instances that came in outside the guarded groups.
pub const NOT_EXEMPTIBLE: [CheckName; 5] = [
    CheckName::BudgetVcpus,
    CheckName::BudgetMemory,
    CheckName::BudgetInstances,
    CheckName::MembershipUnmanaged,
    CheckName::MembershipUnguardedGroup,
];

impl Exceptions {
    /// Parses `check@group-glob` items; the error lists every bad item.
    pub fn parse(items: &[String]) -> Result<Self, Vec<String>> {
        let mut exceptions = Vec::new();
        let mut problems = Vec::new();
        for item in items {
            match parse_one(item) {
                Ok(exception) => exceptions.push(exception),
                Err(problem) => problems.push(problem),
            }
        }
        if problems.is_empty() {
            Ok(Self(exceptions))
        } else {
            Err(problems)
        }
    }

    /// Whether `check` is exempted for the group named `group`.
    pub fn exempts(&self, check: CheckName, group: Option<&str>) -> bool {
        let Some(group) = group else {
            return false;
        };
        self.0
            .iter()
            .any(|e| e.check == check && e.groups.first_match(group).is_some())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Exception> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn parse_one(item: &str) -> Result<Exception, String> {
    let Some((check, group)) = item.split_once('@') else {
        return Err(format!(
            "`{item}` is not `<check>@<group glob>` (e.g. `imds.hop_limit@prod-ebs-csi-*`)"
        ));
    };
    let check = check
        .trim()
        .parse::<CheckName>()
        .map_err(|err| format!("`{item}`: {err}"))?;
    if NOT_EXEMPTIBLE.contains(&check) {
        return Err(format!(
            "`{item}`: `{check}` applies to the whole cluster and cannot be exempted per group"
        ));
    }
    let group = group.trim();
    if group.is_empty() {
        return Err(format!("`{item}` names no group glob after `@`"));
    }
    let groups = Patterns::new(vec![group.to_owned()])
        .map_err(|problems| format!("`{item}`: {}", problems.join("; ")))?;
    Ok(Exception { check, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(items: &[&str]) -> Result<Exceptions, Vec<String>> {
        Exceptions::parse(&items.iter().map(|i| (*i).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn a_check_is_exempted_only_for_the_groups_its_glob_matches() {
        let exceptions =
            parse(&["imds.hop_limit@prod-ebs-csi-*", "instance.key_pair@bastion"]).unwrap();
        assert!(exceptions.exempts(CheckName::ImdsHopLimit, Some("prod-ebs-csi-a")));
        assert!(!exceptions.exempts(CheckName::ImdsHopLimit, Some("prod-general")));
        assert!(!exceptions.exempts(CheckName::ImdsV2, Some("prod-ebs-csi-a")));
        assert!(exceptions.exempts(CheckName::InstanceKeyPair, Some("bastion")));
        assert!(!exceptions.exempts(CheckName::InstanceKeyPair, Some("bastion-2")));
        assert!(!exceptions.exempts(CheckName::ImdsHopLimit, None));
        let listed: Vec<String> = exceptions.iter().map(ToString::to_string).collect();
        assert_eq!(
            listed,
            ["imds.hop_limit@prod-ebs-csi-*", "instance.key_pair@bastion"]
        );
    }

    #[test]
    fn every_bad_item_is_named() {
        let problems = parse(&[
            "imds.hop@prod-*",
            "imds.v2",
            "budget.vcpus@prod-*",
            "imds.v2@",
            "imds.v2@prod-[",
        ])
        .unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert_eq!(problems[0], "`imds.hop@prod-*`: unknown check `imds.hop`");
        assert!(problems[1].contains("is not `<check>@<group glob>`"));
        assert!(problems[2].contains("cannot be exempted per group"));
        assert!(problems[3].contains("names no group glob"));
        assert!(problems[4].contains("does not compile"));
    }
}
