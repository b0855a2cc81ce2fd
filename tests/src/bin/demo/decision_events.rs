//! The demo's EventBridge step (issue 24, point 2): a rule on the default
//! bus (`source: ["scaling-guard"]`) with an SQS queue as its target, the
//! documented way to automate on the guard, and one launch decision received
//! through it. Its own launch-guard runs without the demo's budget, so that
//! this step suspends nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use scaling_guard_e2e::decision_rule::{DecisionRule, pattern};
use scaling_guard_e2e::{Function, events, sdk_config};
use serde_json::Value;

use super::{Demo, Result, heading};

const LAUNCH_DECISION: &str = "Scaling Guard Launch Decision v1";

impl Demo {
    /// Creates the rule and its queue, has one compliant launch decided, and
    /// prints the decision event the queue received.
    pub(super) async fn decision_events(
        &mut self,
        policy: &BTreeMap<String, String>,
    ) -> Result<()> {
        heading(
            "EventBridge: every decision is an event; a rule on the default bus delivers it to SQS",
        );
        let rule =
            DecisionRule::create(&sdk_config(&self.emulator).await, "scaling-guard-decisions")
                .await?;
        println!(
            "  rule `scaling-guard-decisions` on the default bus, pattern {}, target: an SQS queue",
            pattern()
        );
        let mut policy = policy.clone();
        policy.remove("GUARD_MAX_INSTANCES");
        let guard = Function::start(
            &Function::binary("launch-guard")?,
            &self.emulator.endpoint(),
            &policy,
        )
        .await?;
        let group = self.cluster.groups.first().cloned().unwrap_or_default();
        let compliant = self.cluster.templates.compliant.clone();
        let action = self.cluster.launch_with(&group, &compliant).await?;
        let decided = guard.invoke(&events::lifecycle_event(&action)?).await?;
        self.row("compliant node", &action, &decided).await?;
        let received = rule.until(LAUNCH_DECISION, Duration::from_secs(5)).await?;
        let event = received
            .iter()
            .find(|event| event["detail"]["instance_id"] == action.instance_id.as_str());
        print_event(event);
        let shown = event.map_or_else(String::new, |e| text(&e["detail-type"]));
        self.expect("decision event through the rule", &shown, LAUNCH_DECISION);
        Ok(())
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn print_event(event: Option<&Value>) {
    let Some(event) = event else {
        println!("  the queue received no decision event for the launch");
        return;
    };
    let detail = &event["detail"];
    println!("  the queue received:");
    println!("      detail-type  {}", text(&event["detail-type"]));
    println!("      source       {}", text(&event["source"]));
    println!("      kind         {}", text(&detail["kind"]));
    println!("      decision     {}", text(&detail["decision"]));
    println!("      instance     {}", text(&detail["instance_id"]));
    println!("      group        {}", text(&detail["group"]));
    println!("      mode         {}", text(&detail["mode"]));
}
