//! EC2 Allowed AMIs: the image criteria of `EnableAllowedImagesSettings` /
//! `ReplaceImageCriteriaInAllowedImagesSettings` (`ImageCriterionRequest`:
//! `ImageProviders`, `ImageNames`, `MarketplaceProductCodes`,
//! `CreationDateCondition.MaximumDaysSinceCreated`,
//! `DeprecationTimeCondition.MaximumDaysSinceDeprecated`). An image is
//! allowed when it meets every field of any one criterion; images the
//! account owns are always allowed. The setting is per account and Region:
//! it bites every launch there, not only the cluster's.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::check_name::CheckName;
use crate::policy::Policy;

/// At most this many criteria, providers per criterion, names per criterion.
pub const MAX_CRITERIA: usize = 10;
pub const MAX_PROVIDERS: usize = 200;
pub const MAX_NAMES: usize = 50;
/// An image name pattern is 1 to 128 characters.
pub const MAX_NAME_CHARS: usize = 128;

/// One `ImageCriterion`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Criterion {
    /// `amazon`, `aws-marketplace`, account ids, or `none` (own images only).
    pub providers: Vec<String>,
    pub names: Vec<String>,
    pub max_days_since_created: Option<u32>,
    pub max_days_since_deprecated: Option<u32>,
}

impl Criterion {
    /// The API's `ImageCriterionRequest`, as `--image-criteria` takes it.
    pub fn to_api_json(&self) -> Value {
        let mut fields = Map::new();
        if !self.providers.is_empty() {
            fields.insert("ImageProviders".into(), json!(self.providers));
        }
        if !self.names.is_empty() {
            fields.insert("ImageNames".into(), json!(self.names));
        }
        if let Some(days) = self.max_days_since_created {
            fields.insert(
                "CreationDateCondition".into(),
                json!({"MaximumDaysSinceCreated": days}),
            );
        }
        if let Some(days) = self.max_days_since_deprecated {
            fields.insert(
                "DeprecationTimeCondition".into(),
                json!({"MaximumDaysSinceDeprecated": days}),
            );
        }
        Value::Object(fields)
    }
}

/// The Allowed AMIs setting the policy compiles to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AllowedImages {
    /// Empty: nothing to set.
    pub criteria: Vec<Criterion>,
    /// `enabled` when every image check it carries blocks, else `audit-mode`.
    pub enforced: bool,
    /// Image checks left out or carried only in part, and why.
    pub omitted: Vec<(CheckName, String)>,
}

impl AllowedImages {
    /// `ImageCriteria` for the API.
    pub fn to_api_json(&self) -> Value {
        json!({
            "State": if self.enforced { "enabled" } else { "audit-mode" },
            "ImageCriteria": self.criteria.iter().map(Criterion::to_api_json).collect::<Vec<_>>(),
        })
    }
}

/// The criteria of the image checks `included` admits.
pub fn compile(policy: &Policy, included: impl Fn(CheckName) -> bool) -> AllowedImages {
    let rules = &policy.image;
    let allowed = included(CheckName::ImageAllowed);
    let age = rules.max_age_days.filter(|_| included(CheckName::ImageAge));
    let deprecated = (rules.deny_deprecated && included(CheckName::ImageDeprecated)).then_some(0);
    let carried: Vec<CheckName> = [
        (CheckName::ImageAllowed, allowed),
        (CheckName::ImageAge, age.is_some()),
        (CheckName::ImageDeprecated, deprecated.is_some()),
    ]
    .into_iter()
    .filter_map(|(check, on)| on.then_some(check))
    .collect();
    let mut out = AllowedImages {
        enforced: carried.iter().all(|check| policy.blocks(*check)),
        ..AllowedImages::default()
    };
    if carried.is_empty() {
        return out;
    }
    if allowed && !rules.allowed_ids.is_empty() {
        let reason = "Allowed AMIs has no criterion for image ids: it would refuse the images `GUARD_ALLOWED_AMI_IDS` lists; list their owners instead";
        out.omitted = carried
            .iter()
            .map(|check| (*check, reason.to_owned()))
            .collect();
        return out;
    }
    let base = Criterion {
        providers: if allowed {
            providers(&rules.allowed_owners)
        } else {
            Vec::new()
        },
        max_days_since_created: age,
        max_days_since_deprecated: deprecated,
        ..Criterion::default()
    };
    if base.providers.len() > MAX_PROVIDERS {
        let reason = format!("more than {MAX_PROVIDERS} image owners");
        out.omitted = carried
            .iter()
            .map(|check| (*check, reason.clone()))
            .collect();
        return out;
    }
    let names = if allowed {
        names(policy, &mut out.omitted)
    } else {
        Vec::new()
    };
    criteria(base, names, &carried, &mut out);
    out
}

/// One criterion per [`MAX_NAMES`] names (all alike but for the names),
/// at most [`MAX_CRITERIA`].
fn criteria(base: Criterion, names: Vec<String>, carried: &[CheckName], out: &mut AllowedImages) {
    if names.is_empty() {
        out.criteria.push(base);
        return;
    }
    let chunks: Vec<&[String]> = names.chunks(MAX_NAMES).collect();
    if chunks.len() > MAX_CRITERIA {
        let reason = format!(
            "{} image name patterns need {} criteria; Allowed AMIs takes {MAX_CRITERIA} of {MAX_NAMES} names",
            names.len(),
            chunks.len()
        );
        out.omitted = carried
            .iter()
            .map(|check| (*check, reason.clone()))
            .collect();
        return;
    }
    out.criteria = chunks
        .into_iter()
        .map(|chunk| Criterion {
            names: chunk.to_vec(),
            ..base.clone()
        })
        .collect();
}

/// The owners as providers: `self` is implied (own images are always
/// allowed), or `none` when it is the only owner.
fn providers(owners: &std::collections::BTreeSet<String>) -> Vec<String> {
    if owners.len() == 1 && owners.contains("self") {
        return vec!["none".to_owned()];
    }
    owners.iter().filter(|o| *o != "self").cloned().collect()
}

/// The name patterns Allowed AMIs can take; when one cannot, none are
/// carried (fewer names would refuse images the guard allows).
fn names(policy: &Policy, omitted: &mut Vec<(CheckName, String)>) -> Vec<String> {
    let patterns = policy.image.allowed_name_patterns.texts();
    match patterns.iter().find(|p| !is_image_name_pattern(p)) {
        None => patterns.to_vec(),
        Some(pattern) => {
            omitted.push((
                CheckName::ImageAllowed,
                format!("name pattern `{pattern}` is not an Allowed AMIs name (1-128 of letters, digits, spaces and ( ) . / - ' @ _ with * and ?): names are not carried"),
            ));
            Vec::new()
        }
    }
}

/// `ImageNames`' alphabet, without `[` `]` (a glob class in the policy).
fn is_image_name_pattern(pattern: &str) -> bool {
    let length = pattern.chars().count();
    (1..=MAX_NAME_CHARS).contains(&length)
        && pattern.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    '(' | ')' | '.' | '/' | '-' | '\'' | '@' | '_' | '*' | '?' | ' '
                )
        })
}
