//! The demo's Security Hub step (issue 24, point 1): the demo's policy with
//! `GUARD_SECURITY_HUB=true` (and no budget, so that this step suspends
//! nothing), one ASFF finding created by a denied launch and archived by the
//! instance's termination, read back with `GetFindings`.

use std::collections::BTreeMap;

use scaling_guard_e2e::security_hub::{HeldFinding, findings_of};
use scaling_guard_e2e::{Function, events};

use super::{Demo, Result, heading};

impl Demo {
    /// A launch with IMDSv1 on is denied: its `imds.v2` finding is `FAILED`
    /// and `ACTIVE`; its termination archives it (`PASSED`, `ARCHIVED`).
    pub(super) async fn security_hub(&mut self, policy: &BTreeMap<String, String>) -> Result<()> {
        heading(
            "Security Hub: one ASFF finding per instance and check, archived when the instance is gone",
        );
        let mut policy = policy.clone();
        policy.insert("GUARD_SECURITY_HUB".into(), "true".into());
        policy.remove("GUARD_MAX_INSTANCES");
        let endpoint = self.emulator.endpoint();
        let guard = Function::start(&Function::binary("launch-guard")?, &endpoint, &policy).await?;
        let audit =
            Function::start(&Function::binary("instance-audit")?, &endpoint, &policy).await?;
        let group = self.cluster.groups.first().cloned().unwrap_or_default();
        let imdsv1 = self.cluster.templates.imdsv1.clone();
        let action = self.cluster.launch_with(&group, &imdsv1).await?;
        let decided = guard.invoke(&events::lifecycle_event(&action)?).await?;
        self.row("IMDSv1 node", &action, &decided).await?;
        let created = self.imds_finding(&action.instance_id, "created").await?;
        self.expect("finding created", &created, "FAILED ACTIVE");
        let event = events::state_change(&action.instance_id, "terminated")?;
        audit.invoke(&event).await?;
        println!("  instance-audit: `{}` terminated", action.instance_id);
        let archived = self.imds_finding(&action.instance_id, "archived").await?;
        self.expect("finding archived", &archived, "PASSED ARCHIVED");
        self.settle(&group).await
    }

    /// Prints the instance's `imds.v2` finding and returns its compliance
    /// and record state (`none` when Security Hub holds none).
    async fn imds_finding(&self, instance_id: &str, what: &str) -> Result<String> {
        let config = scaling_guard_e2e::sdk_config(&self.emulator).await;
        let held = findings_of(&config, instance_id).await?;
        let finding = held
            .iter()
            .find(|f| f.generator_id == "scaling-guard/imds.v2");
        print_finding(what, finding);
        Ok(finding.map_or_else(
            || "none".to_owned(),
            |f| format!("{} {}", f.compliance, f.record_state),
        ))
    }
}

fn print_finding(what: &str, finding: Option<&HeldFinding>) {
    match finding {
        Some(f) => {
            println!("  finding {what}:");
            println!("      Id           {}", f.id);
            println!("      Compliance   {}", f.compliance);
            println!("      RecordState  {}", f.record_state);
            println!("      Workflow     {}", f.workflow);
        }
        None => println!("  finding {what}: none in Security Hub"),
    }
}
