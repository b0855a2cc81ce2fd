//! The SCP / permissions-boundary statements: `Deny ec2:RunInstances` on the
//! resource type each condition key belongs to (Service Authorization
//! Reference, "Actions, resources, and condition keys for Amazon EC2"):
//!
//! - `instance`: `ec2:InstanceType`, `ec2:InstanceProfile`,
//!   `ec2:MetadataHttpTokens`, `ec2:MetadataHttpPutResponseHopLimit`, and the
//!   request's tags (`aws:RequestTag/...`), so these statements bite only
//!   launches that tag the instance as the cluster's ([`Scope::Cluster`]);
//! - `image` (`ec2:ImageID`, `ec2:Owner`), `network-interface`
//!   (`ec2:Subnet`, the subnet's ARN), `security-group`
//!   (`ec2:SecurityGroupID`), `volume` (`ec2:Encrypted`) and `key-pair`
//!   (`ec2:KeyPairName`): the request's tags reach these only when the
//!   launch tags that very resource, so they cannot be tied to the cluster
//!   and bite every launch of the account ([`Scope::Account`]).
//!
//! A statement is evaluated once per resource of the request: a key absent
//! from a resource makes a negated operator (`StringNotEquals`) true, which
//! is why each statement names its resource type instead of `*`.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::check_name::CheckName;
use crate::policy::{ClusterTag, Policy};

/// AWS Organizations' limit on one SCP, in characters.
pub const SCP_MAX_CHARS: usize = 5_120;
/// IAM's limit on one managed policy (a permissions boundary).
pub const BOUNDARY_MAX_CHARS: usize = 6_144;

/// Whom a statement bites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Launches that tag their instance with the cluster tag.
    Cluster,
    /// Every launch of the accounts the document is attached to.
    Account,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Cluster => "cluster",
            Scope::Account => "account",
        }
    }
}

/// One `Deny` statement and the check it stands for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    pub check: CheckName,
    pub scope: Scope,
    /// The IAM statement as written into the document.
    pub json: Value,
}

/// One policy document of statements of one scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    pub scope: Scope,
    pub statements: Vec<Statement>,
}

impl Document {
    /// The IAM policy document.
    pub fn to_json(&self) -> Value {
        document(self.statements.iter().map(|s| s.json.clone()).collect())
    }

    /// The document as written (minified): what AWS measures.
    pub fn text(&self) -> String {
        self.to_json().to_string()
    }
}

/// The statements packed into documents within [`SCP_MAX_CHARS`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scp {
    pub documents: Vec<Document>,
    /// Statements too large for any one document, with their size: left out.
    pub too_large: Vec<(CheckName, usize)>,
    /// Checks whose statement could not be written, and why.
    pub omitted: Vec<(CheckName, String)>,
}

fn document(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

const INSTANCE: &str = "arn:aws:ec2:*:*:instance/*";
const IMAGE: &str = "arn:aws:ec2:*::image/*";
const INTERFACE: &str = "arn:aws:ec2:*:*:network-interface/*";
const SECURITY_GROUP: &str = "arn:aws:ec2:*:*:security-group/*";
const VOLUME: &str = "arn:aws:ec2:*:*:volume/*";
const KEY_PAIR: &str = "arn:aws:ec2:*:*:key-pair/*";

/// Every statement `policy` compiles to, for the checks `exported` admits.
pub fn compile(policy: &Policy, exported: impl Fn(CheckName) -> bool) -> Scp {
    let mut scp = Scp::default();
    let mut statements = Vec::new();
    let builders: [(CheckName, Builder); 9] = [
        (CheckName::InstanceTypeAllowed, instance_types),
        (CheckName::ImdsV2, imds_v2),
        (CheckName::ImdsHopLimit, hop_limit),
        (CheckName::InstanceProfileAllowed, instance_profile),
        (CheckName::ImageAllowed, images),
        (CheckName::SubnetAllowed, subnets),
        (CheckName::SecurityGroupsAllowed, security_groups),
        (CheckName::VolumesEncrypted, volumes),
        (CheckName::InstanceKeyPair, key_pairs),
    ];
    for (check, build) in builders {
        if !exported(check) {
            continue;
        }
        match build(policy) {
            Ok(built) => statements.extend(built),
            Err(reason) => scp.omitted.push((check, reason)),
        }
    }
    pack(&mut scp, statements, SCP_MAX_CHARS);
    scp
}

/// The statements of one check, or why it has none.
type Builder = fn(&Policy) -> Result<Vec<Statement>, String>;

/// Puts the statements of each scope into documents within `limit`: each
/// into the first document it fits (an account takes at most five SCPs, so
/// documents are not wasted), keeping the statements' order within each.
fn pack(scp: &mut Scp, statements: Vec<Statement>, limit: usize) {
    for scope in [Scope::Cluster, Scope::Account] {
        let mut documents: Vec<Document> = Vec::new();
        for statement in statements.iter().filter(|s| s.scope == scope) {
            let alone = document(vec![statement.json.clone()]).to_string().len();
            if alone > limit {
                scp.too_large.push((statement.check, alone));
                continue;
            }
            let fits = documents.iter_mut().find(|d| {
                let mut trial: Vec<Value> = d.statements.iter().map(|s| s.json.clone()).collect();
                trial.push(statement.json.clone());
                document(trial).to_string().len() <= limit
            });
            match fits {
                Some(document) => document.statements.push(statement.clone()),
                None => documents.push(Document {
                    scope,
                    statements: vec![statement.clone()],
                }),
            }
        }
        scp.documents.extend(documents);
    }
}

/// `ScalingGuardInstanceTypeAllowed`: alphanumeric, as IAM requires of a Sid.
fn sid(check: CheckName, suffix: &str) -> String {
    let words: String = check
        .as_str()
        .split(['.', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    format!("ScalingGuard{words}{suffix}")
}

/// A `Deny ec2:RunInstances` statement on `resource` under `condition`.
fn deny(check: CheckName, suffix: &str, resource: &str, condition: Value) -> Value {
    let mut statement = json!({
        "Sid": sid(check, suffix),
        "Effect": "Deny",
        "Action": "ec2:RunInstances",
        "Resource": resource,
    });
    if condition.as_object().is_some_and(|c| !c.is_empty())
        && let Some(object) = statement.as_object_mut()
    {
        object.insert("Condition".to_owned(), condition);
    }
    statement
}

/// A statement on the instance, only for launches that tag it as the cluster's.
fn on_instance(policy: &Policy, check: CheckName, suffix: &str, condition: Value) -> Statement {
    let mut condition = condition;
    let (operator, key, value) = cluster_condition(&policy.cluster_tag);
    if let Some(operators) = condition.as_object_mut() {
        let entry = operators
            .entry(operator.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(keys) = entry.as_object_mut() {
            keys.insert(key, Value::String(value));
        }
    }
    Statement {
        check,
        scope: Scope::Cluster,
        json: deny(check, suffix, INSTANCE, condition),
    }
}

/// The request carries the cluster tag: with its value, or any value for
/// the key that names the cluster by itself.
fn cluster_condition(tag: &ClusterTag) -> (&'static str, String, String) {
    let key = format!("aws:RequestTag/{}", tag.key);
    match tag.value() {
        Some(value) => ("StringEquals", key, value.to_owned()),
        None => ("Null", key, "false".to_owned()),
    }
}

fn on_account(check: CheckName, resource: &str, condition: Value) -> Statement {
    Statement {
        check,
        scope: Scope::Account,
        json: deny(check, "", resource, condition),
    }
}

/// An IAM `StringLike` pattern with the glob's meaning: `*` and `?` alone
/// (globset's classes, alternatives and escapes have no IAM equivalent, and
/// `$` would start a policy variable).
pub fn iam_pattern(glob: &str) -> Option<&str> {
    (!glob.contains(['[', ']', '{', '}', '\\', '$'])).then_some(glob)
}

fn instance_types(policy: &Policy) -> Result<Vec<Statement>, String> {
    let rules = &policy.instance_types;
    let check = CheckName::InstanceTypeAllowed;
    let mut statements = Vec::new();
    if !rules.allowed.is_empty() {
        let allowed: Option<Vec<&str>> = rules
            .allowed
            .texts()
            .iter()
            .map(|t| iam_pattern(t))
            .collect();
        let Some(allowed) = allowed else {
            return Err("an allowed instance-type pattern uses glob syntax IAM lacks (only `*` and `?` translate)".to_owned());
        };
        let condition = json!({"StringNotLike": {"ec2:InstanceType": allowed}});
        statements.push(on_instance(policy, check, "", condition));
    }
    let denied: Vec<&str> = rules
        .denied
        .texts()
        .iter()
        .filter_map(|t| iam_pattern(t))
        .collect();
    if !denied.is_empty() {
        let condition = json!({"StringLike": {"ec2:InstanceType": denied}});
        statements.push(on_instance(policy, check, "Denied", condition));
    }
    Ok(statements)
}

fn imds_v2(policy: &Policy) -> Result<Vec<Statement>, String> {
    let condition = json!({"StringNotEquals": {"ec2:MetadataHttpTokens": "required"}});
    Ok(vec![on_instance(policy, CheckName::ImdsV2, "", condition)])
}

fn hop_limit(policy: &Policy) -> Result<Vec<Statement>, String> {
    let Some(max) = policy.max_imds_hop_limit else {
        return Ok(Vec::new());
    };
    let condition =
        json!({"NumericGreaterThan": {"ec2:MetadataHttpPutResponseHopLimit": max.to_string()}});
    Ok(vec![on_instance(
        policy,
        CheckName::ImdsHopLimit,
        "",
        condition,
    )])
}

fn instance_profile(policy: &Policy) -> Result<Vec<Statement>, String> {
    let profiles: Vec<&String> = policy.allowed_instance_profiles.iter().collect();
    let condition = json!({"ArnNotLike": {"ec2:InstanceProfile": profiles}});
    Ok(vec![on_instance(
        policy,
        CheckName::InstanceProfileAllowed,
        "",
        condition,
    )])
}

/// Images by id or owner: denied when neither lists them. Name patterns
/// have no condition key; they are left to Allowed AMIs.
fn images(policy: &Policy) -> Result<Vec<Statement>, String> {
    let rules = &policy.image;
    if rules.allowed_ids.is_empty() && rules.allowed_owners.is_empty() {
        return Err("only name patterns are set, and no condition key names an image's name (Allowed AMIs carries them)".to_owned());
    }
    let mut keys = Map::new();
    if !rules.allowed_ids.is_empty() {
        keys.insert("ec2:ImageID".to_owned(), json!(rules.allowed_ids));
    }
    if !rules.allowed_owners.is_empty() {
        let owners: Vec<&str> = rules
            .allowed_owners
            .iter()
            .map(|o| owner_value(o))
            .collect();
        keys.insert("ec2:Owner".to_owned(), json!(owners));
    }
    let condition = json!({"StringNotEquals": keys});
    Ok(vec![on_account(CheckName::ImageAllowed, IMAGE, condition)])
}

/// `ec2:Owner` names Amazon's and Marketplace images by alias and others
/// by account; `self` is the launching account.
fn owner_value(owner: &str) -> &str {
    match owner {
        "self" => "${aws:PrincipalAccount}",
        other => other,
    }
}

fn subnets(policy: &Policy) -> Result<Vec<Statement>, String> {
    let arns: Vec<String> = policy
        .network
        .allowed_subnet_ids
        .iter()
        .map(|id| format!("arn:aws:ec2:*:*:subnet/{id}"))
        .collect();
    let condition = json!({"ArnNotLike": {"ec2:Subnet": arns}});
    Ok(vec![on_account(
        CheckName::SubnetAllowed,
        INTERFACE,
        condition,
    )])
}

fn security_groups(policy: &Policy) -> Result<Vec<Statement>, String> {
    let ids = &policy.network.allowed_security_group_ids;
    let condition = json!({"StringNotEquals": {"ec2:SecurityGroupID": ids}});
    Ok(vec![on_account(
        CheckName::SecurityGroupsAllowed,
        SECURITY_GROUP,
        condition,
    )])
}

fn volumes(_policy: &Policy) -> Result<Vec<Statement>, String> {
    let condition = json!({"Bool": {"ec2:Encrypted": "false"}});
    Ok(vec![on_account(
        CheckName::VolumesEncrypted,
        VOLUME,
        condition,
    )])
}

/// Any key pair, or any but the allowed ones: a launch without `KeyName`
/// names no key-pair resource, so it is never denied here.
fn key_pairs(policy: &Policy) -> Result<Vec<Statement>, String> {
    let allowed = &policy.key_pairs.allowed;
    let condition = match allowed.is_empty() {
        true => json!({}),
        false => json!({"StringNotEquals": {"ec2:KeyPairName": allowed}}),
    };
    Ok(vec![on_account(
        CheckName::InstanceKeyPair,
        KEY_PAIR,
        condition,
    )])
}
