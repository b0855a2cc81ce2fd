//! `subnet.allowed` and `subnet.public`.

use super::{CheckName, Violation, join};
use crate::facts::NodeFacts;
use crate::policy::NetworkRules;

pub(super) fn check(rules: &NetworkRules, facts: &NodeFacts) -> Vec<Violation> {
    let instance = &facts.instance;
    let mut violations = Vec::new();
    let subnet_id = instance.subnet_id.as_deref().unwrap_or("none");
    if !rules.allowed_subnet_ids.is_empty() && !rules.allowed_subnet_ids.contains(subnet_id) {
        violations.push(Violation::new(
            CheckName::SubnetAllowed,
            &instance.instance_id,
            format!("subnet in {}", join(&rules.allowed_subnet_ids)),
            subnet_id,
            format!(
                "instance `{}` runs in subnet `{subnet_id}`, which is not allowed",
                instance.instance_id
            ),
        ));
    }
    if rules.require_private_subnet {
        if let Some(ip) = &instance.public_ip {
            violations.push(Violation::new(
                CheckName::SubnetPublic,
                &instance.instance_id,
                "no public ip address",
                format!("public ip `{ip}`"),
                format!(
                    "instance `{}` has the public ip address `{ip}`",
                    instance.instance_id
                ),
            ));
        }
        match &facts.subnet {
            Some(subnet) if subnet.map_public_ip_on_launch => violations.push(Violation::new(
                CheckName::SubnetPublic,
                &subnet.subnet_id,
                "a private subnet (MapPublicIpOnLaunch off)",
                "MapPublicIpOnLaunch on",
                format!(
                    "subnet `{}` gives public ip addresses to what launches in it",
                    subnet.subnet_id
                ),
            )),
            Some(_) => {}
            None => violations.push(Violation::new(
                CheckName::SubnetPublic,
                subnet_id,
                "a subnet that can be described",
                "not found",
                format!("subnet `{subnet_id}` could not be described, so it cannot be shown to be private"),
            )),
        }
    }
    violations
}
