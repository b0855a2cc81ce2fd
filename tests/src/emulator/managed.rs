//! EC2 managed instances on the emulator (its extension 13): what EKS Auto
//! Mode's nodes are on AWS, marked by the control endpoint since nothing in
//! the emulator launches them by itself.

use super::Control;
use crate::error::Result;

impl Control {
    /// Makes the instances EC2 managed instances of `principal` (e.g.
    /// `eks.amazonaws.com`): `DescribeInstances` then shows their `Operator`,
    /// and leaves them out unless asked with `IncludeManagedResources=true`
    /// while the account's managed-resource visibility is `hidden`.
    pub fn mark_managed(&self, instance_ids: &[String], principal: &str) -> Result<()> {
        let body = serde_json::json!({ "instance_ids": instance_ids, "principal": principal });
        self.call(
            "POST",
            "/_scaling_guard/managed-instances",
            Some(&body.to_string()),
        )
        .map(drop)
    }
}
