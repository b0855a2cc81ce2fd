//! `image.allowed`, `image.age`, `image.deprecated`.

use std::time::{Duration, SystemTime};

use super::{CheckName, Violation, join};
use crate::facts::{ImageFacts, NodeFacts};
use crate::policy::ImageRules;
use crate::time::format_rfc3339;

const SECONDS_PER_DAY: u64 = 86_400;

pub(super) fn check(rules: &ImageRules, facts: &NodeFacts, now: SystemTime) -> Vec<Violation> {
    let image_id = facts.instance.image_id.as_str();
    let enabled = [
        (CheckName::ImageAllowed, rules.allow_list_is_on()),
        (CheckName::ImageAge, rules.max_age_days.is_some()),
        (CheckName::ImageDeprecated, rules.deny_deprecated),
        (CheckName::ImageOutdated, rules.outdated.is_some()),
    ];
    let Some(image) = &facts.image else {
        // An image AWS cannot describe (deregistered, not shared) cannot be
        // shown to pass any image rule.
        return enabled
            .into_iter()
            .filter(|(_, on)| *on)
            .map(|(check, _)| {
                Violation::new(
                    check,
                    image_id,
                    "an image that can be described",
                    "not found",
                    format!(
                        "image `{image_id}` could not be described (deregistered or not shared)"
                    ),
                )
            })
            .collect();
    };
    let mut violations = Vec::new();
    if rules.allow_list_is_on()
        && !is_allowed(rules, image, facts.instance.owner_account.as_deref())
    {
        violations.push(not_allowed(rules, image));
    }
    if let Some(days) = rules.max_age_days {
        violations.extend(too_old(image, days, now));
    }
    if rules.deny_deprecated {
        violations.extend(deprecated(image, now));
    }
    violations
}

/// Listed by id, or from an allowed owner with an allowed name (each of the
/// two only where set).
fn is_allowed(rules: &ImageRules, image: &ImageFacts, instance_owner: Option<&str>) -> bool {
    if rules.allowed_ids.contains(&image.image_id) {
        return true;
    }
    if rules.allowed_owners.is_empty() && rules.allowed_name_patterns.is_empty() {
        return false;
    }
    let owner_ok = rules.allowed_owners.is_empty()
        || rules
            .allowed_owners
            .iter()
            .any(|owner| owner_matches(owner, image, instance_owner));
    let name_ok = rules.allowed_name_patterns.is_empty()
        || image
            .name
            .as_deref()
            .and_then(|name| rules.allowed_name_patterns.first_match(name))
            .is_some();
    owner_ok && name_ok
}

fn owner_matches(owner: &str, image: &ImageFacts, instance_owner: Option<&str>) -> bool {
    match owner {
        "self" => image.owner_id.is_some() && image.owner_id.as_deref() == instance_owner,
        alias @ ("amazon" | "aws-marketplace") => image.owner_alias.as_deref() == Some(alias),
        account => image.owner_id.as_deref() == Some(account),
    }
}

fn not_allowed(rules: &ImageRules, image: &ImageFacts) -> Violation {
    let mut expected = Vec::new();
    if !rules.allowed_ids.is_empty() {
        expected.push(format!("id in {}", join(&rules.allowed_ids)));
    }
    if !rules.allowed_owners.is_empty() {
        expected.push(format!("owner in {}", join(&rules.allowed_owners)));
    }
    if !rules.allowed_name_patterns.is_empty() {
        expected.push(format!(
            "name matching {}",
            rules.allowed_name_patterns.texts().join(", ")
        ));
    }
    let name = image.name.as_deref().unwrap_or("unnamed");
    let owner = image
        .owner_alias
        .as_deref()
        .or(image.owner_id.as_deref())
        .unwrap_or("unknown");
    Violation::new(
        CheckName::ImageAllowed,
        &image.image_id,
        expected.join("; "),
        format!("name `{name}`, owner `{owner}`"),
        format!(
            "image `{}` (`{name}`, owner `{owner}`) is not an approved image",
            image.image_id
        ),
    )
}

fn too_old(image: &ImageFacts, days: u32, now: SystemTime) -> Option<Violation> {
    let max_age = Duration::from_secs(u64::from(days).saturating_mul(SECONDS_PER_DAY));
    let Some(created) = image.creation_date else {
        return Some(Violation::new(
            CheckName::ImageAge,
            &image.image_id,
            format!("at most {days} days old"),
            "unknown creation date",
            format!(
                "image `{}` has no creation date, so its age is unknown",
                image.image_id
            ),
        ));
    };
    let age = now.duration_since(created).unwrap_or_default();
    (age > max_age).then(|| {
        let age_days = age.as_secs() / SECONDS_PER_DAY;
        Violation::new(
            CheckName::ImageAge,
            &image.image_id,
            format!("at most {days} days old"),
            format!("{age_days} days old (created {})", format_rfc3339(created)),
            format!(
                "image `{}` is {age_days} days old, older than the {days} days allowed",
                image.image_id
            ),
        )
    })
}

fn deprecated(image: &ImageFacts, now: SystemTime) -> Option<Violation> {
    let since = image.deprecation_time.filter(|time| *time <= now)?;
    Some(Violation::new(
        CheckName::ImageDeprecated,
        &image.image_id,
        "an image that is not deprecated",
        format!("deprecated since {}", format_rfc3339(since)),
        format!(
            "image `{}` is deprecated since {}",
            image.image_id,
            format_rfc3339(since)
        ),
    ))
}
