//! What the guard-suspended groups will launch when `Launch` resumes (issue
//! 21 §4): their launch templates' current versions, and the specs of the
//! types those name, read once per run for the resume's demand
//! ([`shared::budget::resume_demand`] prices it).

use std::collections::{BTreeMap, BTreeSet};

use shared::budget::measure::Measurement;
use shared::budget::{self, DemandUnknown, Usage};
use shared::facts::{GroupFacts, InstanceTypeSpec, TemplateLaunch, TemplateRef};
use shared::policy::BudgetPolicy;
use shared::ports::{InstanceTypesRead, LaunchTemplateRead, Ports};

use super::BudgetGuard;

/// What the suspended groups launch now, as read for this run.
#[derive(Debug, Default)]
pub(super) struct Launches {
    /// Each template version read, or why it could not be.
    templates: BTreeMap<TemplateRef, Result<TemplateLaunch, String>>,
    /// The measurement's specs, with those of the templates' types.
    specs: BTreeMap<String, InstanceTypeSpec>,
}

impl Launches {
    /// What `group` launches at once when `Launch` resumes, or why that
    /// cannot be priced.
    pub(super) fn demand(
        &self,
        budget: &BudgetPolicy,
        group: &GroupFacts,
        measured: &Measurement,
    ) -> Result<Usage, DemandUnknown> {
        let template = group
            .launch
            .template
            .as_ref()
            .and_then(|t| self.templates.get(t))
            .map(|read| read.as_ref().map_err(String::as_str));
        budget::resume_demand(budget, group, template, &measured.state, &self.specs)
    }
}

/// Whether the group's overrides name what it launches (then its template's
/// type is not what it launches).
fn overrides_name_types(group: &GroupFacts) -> bool {
    group
        .launch
        .overrides
        .iter()
        .any(|o| o.instance_type.is_some() || o.requirements.is_some())
}

/// Whether `Launch` is suspended on the group and it lacks capacity, counted
/// as the demand counts it (in its unit, Terminating instances left out).
fn would_launch(group: &GroupFacts) -> bool {
    group.suspended_processes.iter().any(|p| p == "Launch") && budget::missing_capacity(group) > 0
}

impl<P: Ports> BudgetGuard<'_, P> {
    /// Reads, at once, the template of every suspended group that would
    /// launch by it, then the specs of the types they name that the
    /// measurement lacks. What cannot be read is kept as the reason its
    /// groups stay suspended.
    pub(super) async fn launches(&self, measured: &Measurement) -> Launches {
        let wanted: BTreeSet<&TemplateRef> = measured
            .groups()
            .iter()
            .filter(|g| would_launch(g) && !overrides_name_types(g))
            .filter_map(|g| g.launch.template.as_ref())
            .collect();
        let ec2 = self.ports.instances();
        let reads = futures::future::join_all(wanted.into_iter().map(|template| async move {
            let read = match ec2.launch_template(template).await {
                Ok(Some(launch)) => Ok(launch),
                Ok(None) => Err("EC2 does not know this template version".to_owned()),
                Err(err) => Err(err.to_string()),
            };
            (template.clone(), read)
        }))
        .await;
        let templates: BTreeMap<TemplateRef, Result<TemplateLaunch, String>> =
            reads.into_iter().collect();
        let mut specs = measured.specs.clone();
        let unpriced: Vec<String> = templates
            .values()
            .filter_map(|read| read.as_ref().ok()?.instance_type.clone())
            .filter(|name| !specs.contains_key(name))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !unpriced.is_empty() {
            match ec2.instance_types(&unpriced).await {
                Ok(found) => specs.extend(found),
                Err(err) => {
                    tracing::warn!(%err, types = ?unpriced, "instance types unknown: the groups that launch them stay suspended");
                }
            }
        }
        Launches { templates, specs }
    }
}
