//! A launcher double (issue 23, scenario 4): a fake Karpenter that honours
//! its role's inline policies, because moto stores IAM policies but never
//! evaluates them.
//!
//! Before each launch the double reads its role's inline policies from the
//! emulator's IAM (`ListRolePolicies`, `GetRolePolicy`) and evaluates them
//! for the request it is about to make: an explicit `Deny` whose `Action`
//! names the call and whose every condition holds refuses it with
//! `UnauthorizedOperation`, as EC2 would. Otherwise it launches as Karpenter
//! does ([`Cluster::karpenter_fleet`]: `CreateFleet`, with the cluster tag).
//!
//! The evaluator knows the operators the guard's breaker uses (`StringEquals`,
//! `Null`) and `StringLike` with `*`; any other operator is an error, so that
//! a breaker the double cannot judge fails the test instead of passing it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cluster::{CLUSTER, Cluster, NODEPOOL_TAG};
use crate::error::{Error, Result};

/// The region of the double's requests (`aws:RequestedRegion`).
const REGION: &str = crate::clients::REGION;

/// The tags Karpenter's `CreateFleet` request carries
/// ([`Cluster::karpenter_fleet`]): `aws:RequestTag/<key>` of the request.
pub fn karpenter_request_tags(pool: &str) -> BTreeMap<String, String> {
    [
        (
            format!("kubernetes.io/cluster/{CLUSTER}"),
            "owned".to_owned(),
        ),
        ("eks:eks-cluster-name".to_owned(), CLUSTER.to_owned()),
        (NODEPOOL_TAG.to_owned(), pool.to_owned()),
    ]
    .into_iter()
    .collect()
}

/// How a launch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// Launched: the instance ids.
    Launched(Vec<String>),
    /// Refused as EC2 refuses it: `UnauthorizedOperation`, by the policy named.
    Refused { code: String, policy: String },
}

/// A fake Karpenter controller running with `role_arn`.
#[derive(Debug, Clone)]
pub struct LauncherDouble {
    iam: aws_sdk_iam::Client,
    role_name: String,
    pub role_arn: String,
}

impl LauncherDouble {
    /// Creates the controller's role in the emulator's IAM.
    pub async fn create(config: &aws_config::SdkConfig, role_name: &str) -> Result<Self> {
        let iam = aws_sdk_iam::Client::new(config);
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
        let created = iam
            .create_role()
            .role_name(role_name)
            .assume_role_policy_document(trust)
            .send()
            .await
            .map_err(Error::aws("CreateRole"))?;
        let role_arn = created
            .role()
            .map(|role| role.arn().to_owned())
            .ok_or_else(|| Error::Emulator("CreateRole returned no role".into()))?;
        Ok(Self {
            iam,
            role_name: role_name.to_owned(),
            role_arn,
        })
    }

    /// The role's inline policies: name → document.
    pub async fn inline_policies(&self) -> Result<BTreeMap<String, Value>> {
        let listed = self
            .iam
            .list_role_policies()
            .role_name(&self.role_name)
            .send()
            .await
            .map_err(Error::aws("ListRolePolicies"))?;
        let mut policies = BTreeMap::new();
        for name in listed.policy_names() {
            let got = self
                .iam
                .get_role_policy()
                .role_name(&self.role_name)
                .policy_name(name)
                .send()
                .await
                .map_err(Error::aws("GetRolePolicy"))?;
            policies.insert(name.clone(), document(got.policy_document())?);
        }
        Ok(policies)
    }

    /// Launches `count` nodes of NodePool `pool` from `template`, unless an
    /// inline policy of the role denies `ec2:CreateFleet` for that request.
    pub async fn launch(
        &self,
        cluster: &Cluster,
        pool: &str,
        template: &str,
        count: usize,
    ) -> Result<Launch> {
        let tags = karpenter_request_tags(pool);
        for (name, policy) in self.inline_policies().await? {
            if denies(&policy, "ec2:CreateFleet", &tags)? {
                return Ok(Launch::Refused {
                    code: "UnauthorizedOperation".into(),
                    policy: name,
                });
            }
        }
        let ids = cluster.karpenter_fleet(pool, template, count).await?;
        Ok(Launch::Launched(ids))
    }
}

/// A policy document as IAM returns it: JSON, URL-encoded by AWS (moto
/// returns it as stored).
fn document(text: &str) -> Result<Value> {
    serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&percent_decoded(text)))
        .map_err(|err| Error::Emulator(format!("policy document is no JSON: {err}")))
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (byte, hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `policy` explicitly denies `action` for a request in [`REGION`]
/// tagging `tags`.
pub fn denies(policy: &Value, action: &str, tags: &BTreeMap<String, String>) -> Result<bool> {
    for statement in list(&policy["Statement"]) {
        if statement["Effect"] != "Deny" || !names(&statement["Action"], action) {
            continue;
        }
        if conditions_hold(&statement["Condition"], tags)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    }
}

/// Whether an `Action` element names `action` (exactly, or `service:*`, or `*`).
fn names(actions: &Value, action: &str) -> bool {
    list(actions)
        .iter()
        .filter_map(|a| a.as_str())
        .any(|named| {
            named == "*"
                || named.eq_ignore_ascii_case(action)
                || named
                    .strip_suffix('*')
                    .is_some_and(|prefix| action.starts_with(prefix))
        })
}

/// The request's value of a condition key: its tags and region.
fn context_value<'a>(key: &str, tags: &'a BTreeMap<String, String>) -> Option<&'a str> {
    match key.strip_prefix("aws:RequestTag/") {
        Some(tag) => tags.get(tag).map(String::as_str),
        None if key == "aws:RequestedRegion" => Some(REGION),
        None => None,
    }
}

/// Whether every condition of a statement holds (no condition: it holds).
fn conditions_hold(condition: &Value, tags: &BTreeMap<String, String>) -> Result<bool> {
    let Some(operators) = condition.as_object() else {
        return Ok(condition.is_null());
    };
    for (operator, keys) in operators {
        let Some(keys) = keys.as_object() else {
            return Err(Error::Emulator(format!(
                "condition `{operator}` has no keys"
            )));
        };
        for (key, wanted) in keys {
            let actual = context_value(key, tags);
            let wanted: Vec<&str> = list(wanted).iter().filter_map(|w| w.as_str()).collect();
            let holds = match operator.as_str() {
                "StringEquals" => actual.is_some_and(|a| wanted.contains(&a)),
                "StringLike" => actual.is_some_and(|a| wanted.iter().any(|w| like(w, a))),
                "Null" => wanted.contains(&if actual.is_none() { "true" } else { "false" }),
                other => {
                    return Err(Error::Emulator(format!(
                        "the launcher double cannot evaluate `{other}`"
                    )));
                }
            };
            if !holds {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// `StringLike` with `*` wildcards.
fn like(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|&i| tail.is_char_boundary(i))
                .any(|i| like(rest, &tail[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn breaker(condition: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Deny",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": "*",
            "Condition": condition,
        }]})
    }

    #[test]
    fn a_deny_on_the_cluster_tag_refuses_cluster_launches_only() {
        let key = format!("aws:RequestTag/kubernetes.io/cluster/{CLUSTER}");
        let policy = breaker(
            json!({"Null": {&key: "false"}, "StringEquals": {"aws:RequestedRegion": REGION}}),
        );
        let ours = karpenter_request_tags("default");
        let theirs: BTreeMap<String, String> = [(
            "kubernetes.io/cluster/staging".to_owned(),
            "owned".to_owned(),
        )]
        .into();
        assert!(denies(&policy, "ec2:CreateFleet", &ours).unwrap());
        assert!(!denies(&policy, "ec2:CreateFleet", &theirs).unwrap());
        assert!(!denies(&policy, "ec2:TerminateInstances", &ours).unwrap());
    }

    #[test]
    fn another_region_or_value_is_not_denied() {
        let policy = breaker(json!({"StringEquals": {
            "aws:RequestTag/eks:eks-cluster-name": "other", "aws:RequestedRegion": REGION}}));
        assert!(!denies(&policy, "ec2:CreateFleet", &karpenter_request_tags("a")).unwrap());
        let elsewhere = breaker(json!({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}));
        assert!(!denies(&elsewhere, "ec2:CreateFleet", &karpenter_request_tags("a")).unwrap());
    }

    #[test]
    fn an_operator_the_double_cannot_judge_is_an_error() {
        let policy = breaker(json!({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}}));
        assert!(denies(&policy, "ec2:CreateFleet", &karpenter_request_tags("a")).is_err());
    }

    #[test]
    fn an_url_encoded_document_is_read() {
        let text = "%7B%22Statement%22%3A%5B%5D%7D";
        assert_eq!(document(text).unwrap(), json!({"Statement": []}));
    }
}
