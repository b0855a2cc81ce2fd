//! The AWS Organizations EC2 declarative policy (`ec2_attributes`, values
//! set with `@@assign`): `allowed_images_settings` (the Allowed AMIs
//! criteria, held by the organization so that an account cannot lift them)
//! and `instance_metadata_defaults` (what a launch that sets no metadata
//! options gets: a default, not an enforcement — the SCP enforces).

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::allowed_images::{AllowedImages, Criterion};
use crate::check_name::CheckName;
use crate::policy::Policy;

/// AWS Organizations' limit on one declarative policy, in characters.
pub const DECLARATIVE_MAX_CHARS: usize = 10_000;

/// The declarative policy documents (one, or one per attribute when one
/// would be too large) and what they leave out.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Declarative {
    pub documents: Vec<Value>,
    /// The checks the documents carry.
    pub carried: Vec<CheckName>,
    pub omitted: Vec<(CheckName, String)>,
}

/// The attributes `policy` sets: the Allowed AMIs criteria, and the
/// metadata defaults of the IMDS checks `included` admits.
pub fn compile(
    policy: &Policy,
    images: &AllowedImages,
    included: impl Fn(CheckName) -> bool,
) -> Declarative {
    let mut out = Declarative::default();
    let mut attributes: Vec<(&str, Value, Vec<CheckName>)> = Vec::new();
    if !images.criteria.is_empty() {
        match allowed_images_settings(images) {
            Ok(value) => attributes.push(("allowed_images_settings", value, image_checks(images))),
            Err(reason) => out.omitted.extend(
                image_checks(images)
                    .into_iter()
                    .map(|check| (check, reason.to_owned())),
            ),
        }
    }
    if let Some((value, checks)) = metadata_defaults(policy, &included) {
        attributes.push(("instance_metadata_defaults", value, checks));
    }
    split(attributes, &mut out);
    out
}

/// One document, or one per attribute when together they are too large.
fn split(attributes: Vec<(&str, Value, Vec<CheckName>)>, out: &mut Declarative) {
    if attributes.is_empty() {
        return;
    }
    let whole = document(
        attributes
            .iter()
            .map(|(name, value, _)| (*name, value.clone())),
    );
    if whole.to_string().len() <= DECLARATIVE_MAX_CHARS {
        out.documents.push(whole);
        out.carried = attributes
            .into_iter()
            .flat_map(|(_, _, checks)| checks)
            .collect();
        return;
    }
    for (name, value, checks) in attributes {
        let alone = document([(name, value)]);
        let size = alone.to_string().len();
        if size <= DECLARATIVE_MAX_CHARS {
            out.documents.push(alone);
            out.carried.extend(checks);
        } else {
            let reason = format!(
                "`{name}` alone is {size} characters, over the {DECLARATIVE_MAX_CHARS} of a declarative policy"
            );
            out.omitted
                .extend(checks.into_iter().map(|check| (check, reason.clone())));
        }
    }
}

fn document<'a>(attributes: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    let attributes: Map<String, Value> = attributes
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    json!({ "ec2_attributes": attributes })
}

fn assign(value: Value) -> Value {
    json!({ "@@assign": value })
}

/// The image checks the criteria carry.
pub(super) fn image_checks(images: &AllowedImages) -> Vec<CheckName> {
    let Some(first) = images.criteria.first() else {
        return Vec::new();
    };
    let mut checks = Vec::new();
    if !first.providers.is_empty() || !first.names.is_empty() {
        checks.push(CheckName::ImageAllowed);
    }
    if first.max_days_since_created.is_some() {
        checks.push(CheckName::ImageAge);
    }
    if first.max_days_since_deprecated.is_some() {
        checks.push(CheckName::ImageDeprecated);
    }
    checks
}

/// `criteria_1` … `criteria_10`, providers in the policy's spelling
/// (`aws_marketplace`, with an underscore).
fn allowed_images_settings(images: &AllowedImages) -> Result<Value, &'static str> {
    let mut criteria = Map::new();
    for (index, criterion) in images.criteria.iter().enumerate() {
        criteria.insert(
            format!("criteria_{}", index + 1),
            criterion_value(criterion)?,
        );
    }
    let state = if images.enforced {
        "enabled"
    } else {
        "audit_mode"
    };
    Ok(json!({ "state": assign(json!(state)), "image_criteria": criteria }))
}

fn criterion_value(criterion: &Criterion) -> Result<Value, &'static str> {
    let mut fields = Map::new();
    if !criterion.providers.is_empty() {
        if criterion.providers.iter().any(|p| p == "none") {
            return Err(
                "the declarative policy names no provider for \"the account's own images only\" (`GUARD_ALLOWED_AMI_OWNERS=self`); use the account's Allowed AMIs setting",
            );
        }
        let providers: Vec<String> = criterion
            .providers
            .iter()
            .map(|p| p.replace('-', "_"))
            .collect();
        fields.insert("allowed_image_providers".into(), assign(json!(providers)));
    }
    if !criterion.names.is_empty() {
        fields.insert("image_names".into(), assign(json!(criterion.names)));
    }
    if let Some(days) = criterion.max_days_since_created {
        fields.insert(
            "creation_date_condition".into(),
            json!({ "maximum_days_since_created": assign(json!(days)) }),
        );
    }
    if let Some(days) = criterion.max_days_since_deprecated {
        fields.insert(
            "deprecation_time_condition".into(),
            json!({ "maximum_days_since_deprecated": assign(json!(days)) }),
        );
    }
    Ok(Value::Object(fields))
}

/// `http_tokens` and `http_put_response_hop_limit` (a string, as AWS's
/// examples write it) for the IMDS checks that are on.
fn metadata_defaults(
    policy: &Policy,
    included: &impl Fn(CheckName) -> bool,
) -> Option<(Value, Vec<CheckName>)> {
    let mut fields = Map::new();
    let mut checks = Vec::new();
    if policy.require_imdsv2 && included(CheckName::ImdsV2) {
        fields.insert("http_tokens".into(), assign(json!("required")));
        checks.push(CheckName::ImdsV2);
    }
    if let Some(max) = policy
        .max_imds_hop_limit
        .filter(|_| included(CheckName::ImdsHopLimit))
    {
        fields.insert(
            "http_put_response_hop_limit".into(),
            assign(json!(max.to_string())),
        );
        checks.push(CheckName::ImdsHopLimit);
    }
    (!fields.is_empty()).then_some((Value::Object(fields), checks))
}
