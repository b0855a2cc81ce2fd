"""The SAM template's IAM, read from template.yaml itself (the emulator does
not enforce IAM). Each permission the Rust code needs is named here with the
reason it is scoped the way it is (AWS Service Authorization Reference:
`ec2:CreateTags` on `instance` supports `aws:ResourceTag/${TagKey}` and
`aws:TagKeys`; the Auto Scaling and EC2 Describe actions support no
resource-level permissions)."""

from __future__ import annotations

from typing import Any

import pytest

from template_iam import TAG_KEY
from template_iam import allowing as _allowing


def allowing(role: str, action: str) -> list[dict[str, Any]]:
    """The Allow statements of the role naming the action."""
    return [s.body for s in _allowing(role, action)]


def test_launch_guard_records_decisions_only_on_cluster_instances_and_only_its_tags() -> None:
    (statement,) = allowing("LaunchGuardRole", "ec2:CreateTags")
    assert statement["Resource"].endswith(":instance/*")
    condition = statement["Condition"]
    assert condition["StringLike"] == {f"aws:ResourceTag/{TAG_KEY}": "*"}
    # ForAllValues: every key of the request must be one of the guard's own
    # (the admission, the vetting, a failed completion), never e.g. the
    # cluster tag itself.
    assert condition["ForAllValues:StringEquals"] == {
        "aws:TagKeys": [
            "scaling-guard:admitted",
            "scaling-guard:vetted",
            "scaling-guard:completion-failed",
        ]
    }


@pytest.mark.parametrize(
    "role, action",
    [
        # Which groups carry the guard's hook (undecided launches are not counted).
        ("LaunchGuardRole", "autoscaling:DescribeLifecycleHooks"),
        # The clamp reads the group again after suspending Launch.
        ("LaunchGuardRole", "autoscaling:DescribeAutoScalingGroups"),
        ("BudgetGuardRole", "autoscaling:DescribeAutoScalingGroups"),
        ("BudgetGuardRole", "cloudwatch:DescribeAlarms"),
    ],
)
def test_every_read_the_functions_make_is_allowed(role: str, action: str) -> None:
    assert allowing(role, action), f"{role} lacks {action}"


@pytest.mark.parametrize(
    "role, action",
    [
        ("LaunchGuardRole", "autoscaling:SuspendProcesses"),
        ("LaunchGuardRole", "autoscaling:UpdateAutoScalingGroup"),
        ("BudgetGuardRole", "autoscaling:ResumeProcesses"),
        ("BudgetGuardRole", "autoscaling:DeleteTags"),
        ("BudgetGuardRole", "autoscaling:PutLifecycleHook"),
    ],
)
def test_every_change_to_a_group_is_bound_to_the_cluster_tag(role: str, action: str) -> None:
    (statement,) = allowing(role, action)
    assert statement["Condition"]["StringLike"] == {f"aws:ResourceTag/{TAG_KEY}": "*"}


def test_launch_guard_cannot_lift_a_suspension() -> None:
    assert not allowing("LaunchGuardRole", "autoscaling:ResumeProcesses")
    assert not allowing("LaunchGuardRole", "autoscaling:DeleteTags")


def test_instance_audit_tags_only_cluster_instances_and_only_its_own_records() -> None:
    # Every remediation is recorded on the instance before the change
    # (scaling-guard:remediated, the durable count behind
    # GUARD_MAX_REMEDIATIONS_PER_HOUR), a remediation the cap held back too
    # (scaling-guard:remediation-held); isolate writes its three tags.
    # ForAllValues: no other key, e.g. not the cluster tag itself.
    (statement,) = allowing("InstanceAuditRole", "ec2:CreateTags")
    assert statement["Resource"].endswith(":instance/*")
    condition = statement["Condition"]
    assert condition["StringLike"] == {f"aws:ResourceTag/{TAG_KEY}": "*"}
    assert condition["ForAllValues:StringEquals"] == {
        "aws:TagKeys": [
            "scaling-guard:quarantined",
            "scaling-guard:quarantine-reason",
            "scaling-guard:previous-security-groups",
            "scaling-guard:remediated",
            "scaling-guard:remediation-held",
        ]
    }


def test_instance_audit_reads_the_remediation_records_of_every_state() -> None:
    # DescribeInstances supports no resource-level permissions: "*".
    (statement,) = allowing("InstanceAuditRole", "ec2:DescribeInstances")
    assert statement["Resource"] == "*"


@pytest.mark.parametrize(
    "action", ["ec2:StopInstances", "ec2:TerminateInstances", "ec2:ModifyInstanceAttribute"]
)
def test_every_instance_audit_change_is_bound_to_the_cluster_tag(action: str) -> None:
    bound = [
        s
        for s in allowing("InstanceAuditRole", action)
        if s["Resource"].endswith(":instance/*")
    ]
    (statement,) = bound
    assert statement["Condition"]["StringLike"] == {f"aws:ResourceTag/{TAG_KEY}": "*"}
