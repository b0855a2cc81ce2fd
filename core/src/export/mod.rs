//! `scaling-guard export`: the policy compiled into preventive controls
//! (SPEC §12) — SCP / permissions-boundary statements, EC2 Allowed AMIs
//! criteria and an AWS Organizations EC2 declarative policy — and, for
//! every check the policy turns on, which layers carry it and what no
//! launch-time control can express.
//!
//! One rule throughout: an exported control never refuses a launch the
//! guard would admit. Where a control can say only part of a check it says
//! less (and the export says so), never more. Pure: no AWS call.

pub mod allowed_images;
pub mod declarative;
pub mod layers;
pub mod scp;

use serde::Serialize;

use crate::check_name::CheckName;
use crate::policy::Policy;

pub use allowed_images::AllowedImages;
pub use declarative::Declarative;
pub use layers::{AtLaunch, Enforcement, Layer, enforcement, layers_text};
pub use scp::{Scope, Scp};

/// How much of a check the exported controls carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Extent {
    /// As the guard decides.
    Full,
    /// Never stricter than the guard, but some violations get through.
    Partial,
    /// Not at all: the guard alone enforces it.
    None,
}

/// One check the policy turns on, as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckExport {
    pub check: CheckName,
    /// Every layer that can enforce it ([`layers::TABLE`]).
    pub layers: Vec<Layer>,
    /// The preventive layers this export gave it.
    pub exported_to: Vec<Layer>,
    pub extent: Extent,
    /// Why it is carried in part or not at all.
    pub reasons: Vec<String>,
}

/// Everything `export` writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Export {
    pub cluster: String,
    pub scp: Scp,
    pub allowed_images: AllowedImages,
    pub declarative: Declarative,
    pub checks: Vec<CheckExport>,
    /// What an operator must know to attach the documents (splits, scope).
    pub notes: Vec<String>,
}

impl Export {
    /// The checks the controls carry in part or not at all.
    pub fn not_fully_exported(&self) -> impl Iterator<Item = &CheckExport> {
        self.checks.iter().filter(|c| c.extent != Extent::Full)
    }
}

/// Compiles `policy`.
pub fn compile(policy: &Policy) -> Export {
    let on = policy.enabled_checks();
    let preventable = |check: CheckName| {
        on.contains(&check)
            && exemption(policy, check).is_none()
            && !matches!(enforcement(check).at_launch, AtLaunch::Never(_))
    };
    let scp = scp::compile(policy, |check| preventable(check) && policy.blocks(check));
    let allowed_images = allowed_images::compile(policy, preventable);
    let declarative = declarative::compile(policy, &allowed_images, preventable);
    let checks = on
        .iter()
        .map(|check| check_export(policy, *check, &scp, &allowed_images, &declarative))
        .collect();
    let notes = notes(&scp, &allowed_images, &declarative);
    Export {
        cluster: policy.cluster.clone(),
        scp,
        allowed_images,
        declarative,
        checks,
        notes,
    }
}

/// Why an exempted check cannot be exported: the exemption is per group.
fn exemption(policy: &Policy, check: CheckName) -> Option<String> {
    let groups: Vec<&str> = policy
        .exceptions
        .iter()
        .filter(|e| e.check == check)
        .map(|e| e.group_pattern())
        .collect();
    (!groups.is_empty()).then(|| {
        format!(
            "exempted for groups `{}` (`GUARD_CHECK_EXCEPTIONS`): a launch's authorization does not know its Auto Scaling group, so a control would refuse what the guard exempts",
            groups.join(", ")
        )
    })
}

fn check_export(
    policy: &Policy,
    check: CheckName,
    scp: &Scp,
    images: &AllowedImages,
    declarative: &Declarative,
) -> CheckExport {
    let row = enforcement(check);
    let mut exported_to = Vec::new();
    if scp
        .documents
        .iter()
        .flat_map(|d| &d.statements)
        .any(|s| s.check == check)
    {
        exported_to.push(Layer::Scp);
    }
    if declarative::image_checks(images).contains(&check) {
        exported_to.push(Layer::AllowedAmis);
    }
    if declarative.carried.contains(&check) {
        exported_to.push(Layer::DeclarativePolicy);
    }
    let reasons = reasons(policy, check, row, scp, images, declarative, &exported_to);
    let extent = match (exported_to.is_empty(), reasons.is_empty()) {
        (true, _) => Extent::None,
        (false, true) => Extent::Full,
        (false, false) => Extent::Partial,
    };
    CheckExport {
        check,
        layers: row.layers.to_vec(),
        exported_to,
        extent,
        reasons,
    }
}

/// Every reason a check is carried in part or not at all.
fn reasons(
    policy: &Policy,
    check: CheckName,
    row: Enforcement,
    scp: &Scp,
    images: &AllowedImages,
    declarative: &Declarative,
    exported_to: &[Layer],
) -> Vec<String> {
    let mut reasons = Vec::new();
    match row.at_launch {
        AtLaunch::Never(why) => reasons.push(why.to_owned()),
        AtLaunch::Partial(why) if !exported_to.is_empty() => reasons.push(why.to_owned()),
        _ => {}
    }
    reasons.extend(exemption(policy, check));
    let in_scp_table = row.layers.contains(&Layer::Scp);
    if in_scp_table && !policy.blocks(check) && exemption(policy, check).is_none() {
        reasons.push("reports only (audit mode or `GUARD_AUDIT_ONLY_CHECKS`), and an SCP has no audit mode: no statement".to_owned());
    }
    for (too_large, size) in &scp.too_large {
        if *too_large == check {
            reasons.push(format!(
                "its statement is {size} characters, over the {} of one SCP: no statement",
                scp::SCP_MAX_CHARS
            ));
        }
    }
    let omitted = scp
        .omitted
        .iter()
        .chain(&images.omitted)
        .chain(&declarative.omitted);
    reasons.extend(
        omitted
            .filter(|(c, _)| *c == check)
            .map(|(_, why)| why.clone()),
    );
    let names_carried = exported_to.contains(&Layer::AllowedAmis);
    if check == CheckName::ImageAllowed
        && !policy.image.allowed_name_patterns.is_empty()
        && !names_carried
    {
        reasons.push("the SCP has no key for an image's name, and Allowed AMIs is not exported: name patterns are left to the guard".to_owned());
    }
    reasons.dedup();
    reasons
}

/// What to know before attaching the documents.
fn notes(scp: &Scp, images: &AllowedImages, declarative: &Declarative) -> Vec<String> {
    let mut notes = Vec::new();
    for scope in [Scope::Cluster, Scope::Account] {
        let count = scp.documents.iter().filter(|d| d.scope == scope).count();
        if count > 1 {
            notes.push(format!(
                "the {} statements are split into {count} SCPs of at most {} characters each: attach all of them (a target takes at most 5 SCPs)",
                scope.as_str(),
                scp::SCP_MAX_CHARS
            ));
        }
    }
    if !scp.documents.is_empty() {
        notes.push("an SCP does not restrict service-linked roles: launches by Auto Scaling (and EKS managed node groups) are not denied by it, and stay with Allowed AMIs, the declarative policy and launch-guard; launches by principals (Karpenter's controller through CreateFleet, CI, people) are, and the same statements serve as their roles' permissions boundary".to_owned());
    }
    if scp.documents.iter().any(|d| d.scope == Scope::Account) {
        notes.push("the account SCPs bite every launch of the accounts they are attached to (the cluster tag does not reach images, subnets, security groups, volumes or key pairs): attach them only where the cluster runs alone".to_owned());
    }
    if !images.criteria.is_empty() {
        notes.push("Allowed AMIs is set per account and Region and applies to every launch there; images the account owns are always allowed".to_owned());
    }
    if declarative.documents.len() > 1 {
        notes.push(format!(
            "the declarative policy is split into {} documents of at most {} characters each: attach all of them",
            declarative.documents.len(),
            declarative::DECLARATIVE_MAX_CHARS
        ));
    }
    notes
}

#[cfg(test)]
mod tests;
