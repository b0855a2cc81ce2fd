//! Security Hub findings end to end (issue 24, point 1): the real
//! `target/debug/launch-guard` and `target/debug/instance-audit` with
//! `GUARD_SECURITY_HUB=true` against the emulator, whose Security Hub
//! enforces what AWS enforces (scripts/emulator, extension 14); the findings
//! are read back with the SDK's `GetFindings`.
//!
//! A launch with a violation is a `FAILED` finding; its termination archives
//! it (`PASSED`, `ARCHIVED`). A sweep's finding is archived by the next sweep
//! once the instance is fixed. An exempted violation is `SUPPRESSED` with the
//! exception's reason.
//!
//! Build the binaries first: `cargo build -p launch-guard -p instance-audit`.

use scaling_guard_e2e::security_hub::{HeldFinding, findings_of};
use scaling_guard_e2e::{CLUSTER, NODE_TYPE, events};
use serde_json::Value;

mod support;

use support::Bed;

const SECURITY_HUB: (&str, &str) = ("GUARD_SECURITY_HUB", "true");

/// (check, compliance, record state, workflow) of each finding.
fn states(findings: &[HeldFinding]) -> Vec<(&str, &str, &str, &str)> {
    findings
        .iter()
        .map(|f| {
            (
                f.generator_id.as_str(),
                f.compliance.as_str(),
                f.record_state.as_str(),
                f.workflow.as_str(),
            )
        })
        .collect()
}

impl Bed {
    async fn held(&self, instance_id: &str) -> Vec<HeldFinding> {
        findings_of(&self.sdk_config().await, instance_id)
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_launch_is_a_failed_finding_that_its_termination_archives() {
    // Given: launch-guard and instance-audit with Security Hub on.
    let bed = Bed::with_guard(|policy| {
        policy.insert(SECURITY_HUB.0.into(), SECURITY_HUB.1.into());
    })
    .await;
    let audit = bed.instance_audit(&bed.policy_with(&[SECURITY_HUB])).await;
    let group = bed.cluster.groups[0].clone();
    let action = bed
        .cluster
        .launch_with(&group, &bed.cluster.templates.imdsv1.clone())
        .await
        .unwrap();

    // When: the launch is decided.
    let summary = support::decide(bed.guard(), &action).await;

    // Then: ABANDON, and one FAILED, ACTIVE finding of imds.v2.
    assert_eq!(summary["decision"], "ABANDON", "{summary}");
    let held = bed.held(&action.instance_id).await;
    assert_eq!(
        states(&held),
        [("scaling-guard/imds.v2", "FAILED", "ACTIVE", "NEW")]
    );
    assert_eq!(
        held[0].id,
        format!(
            "scaling-guard/{}/{}/{CLUSTER}/{}/imds.v2",
            scaling_guard_e2e::ACCOUNT,
            scaling_guard_e2e::REGION,
            action.instance_id
        )
    );

    // When: its state change to `terminated` reaches instance-audit.
    let event = events::state_change(&action.instance_id, "terminated").unwrap();
    let retired: Value = audit.invoke(&event).await.unwrap();

    // Then: the same finding, PASSED and ARCHIVED, its CreatedAt kept.
    assert_eq!(retired["outcome"], "terminated", "{retired}");
    let after = bed.held(&action.instance_id).await;
    assert_eq!(
        states(&after),
        [("scaling-guard/imds.v2", "PASSED", "ARCHIVED", "RESOLVED")]
    );
    assert_eq!(after[0].created_at, held[0].created_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_finding_is_archived_by_the_next_sweep_once_the_instance_is_fixed() {
    // Given: a node launched by hand with a foreign security group.
    let bed = Bed::new().await;
    let audit = bed.instance_audit(&bed.policy_with(&[SECURITY_HUB])).await;
    let node = bed
        .cluster
        .run_node(CLUSTER, NODE_TYPE, None)
        .await
        .unwrap();
    bed.clients
        .ec2
        .modify_instance_attribute()
        .instance_id(&node)
        .groups(&bed.cluster.foreign_security_group_id)
        .send()
        .await
        .unwrap();
    let sweep = events::audit_sweep().unwrap();

    // When: the sweep runs.
    let first: Value = audit.invoke(&sweep).await.unwrap();

    // Then: a FAILED finding for each check it breaks.
    let held = bed.held(&node).await;
    let open = |check| (check, "FAILED", "ACTIVE", "NEW");
    assert_eq!(
        states(&held),
        [
            open("scaling-guard/imds.v2"),
            open("scaling-guard/instance_profile.allowed"),
            open("scaling-guard/membership.unmanaged"),
            open("scaling-guard/security_groups.allowed"),
        ],
        "{first}"
    );

    // When: its security groups are fixed, and the next sweep runs.
    bed.clients
        .ec2
        .modify_instance_attribute()
        .instance_id(&node)
        .set_groups(Some(bed.cluster.node_security_group_ids.clone()))
        .send()
        .await
        .unwrap();
    let second: Value = audit.invoke(&sweep).await.unwrap();

    // Then: the fixed check's finding archived, the others untouched (not
    // imported again).
    let after = bed.held(&node).await;
    let archived = (
        "scaling-guard/security_groups.allowed",
        "PASSED",
        "ARCHIVED",
        "RESOLVED",
    );
    assert_eq!(
        states(&after),
        [
            open("scaling-guard/imds.v2"),
            open("scaling-guard/instance_profile.allowed"),
            open("scaling-guard/membership.unmanaged"),
            archived,
        ],
        "{second}"
    );
    assert_eq!(after[0].updated_at, held[0].updated_at);
    assert_eq!(second["security_hub"]["archived"], 1, "{second}");
    assert_eq!(second["security_hub"]["unchanged"], 3, "{second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exempted_violation_is_a_suppressed_finding_with_the_exceptions_reason() {
    // Given: IMDSv1 exempted for the first group, with a reason.
    let bed = Bed::new().await;
    let group = bed.cluster.groups[0].clone();
    let exception = format!("imds.v2@{group} reason=PLAT-7 vendor agent");
    let guard = bed
        .launch_guard(
            &bed.policy_with(&[SECURITY_HUB, ("GUARD_CHECK_EXCEPTIONS", exception.as_str())]),
        )
        .await;
    let action = bed
        .cluster
        .launch_with(&group, &bed.cluster.templates.imdsv1.clone())
        .await
        .unwrap();

    // When
    let summary = support::decide(&guard, &action).await;

    // Then: let in, and the finding is SUPPRESSED with the reason.
    assert_eq!(summary["decision"], "CONTINUE", "{summary}");
    let held = bed.held(&action.instance_id).await;
    assert_eq!(
        states(&held),
        [("scaling-guard/imds.v2", "FAILED", "ACTIVE", "SUPPRESSED")]
    );
    assert_eq!(held[0].exemption, "PLAT-7 vendor agent");
}
