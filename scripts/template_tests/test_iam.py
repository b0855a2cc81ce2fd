"""The SAM template's IAM, read from template.yaml itself (the emulator does
not enforce IAM). Each permission the Rust code needs is named here with the
reason it is scoped the way it is (AWS Service Authorization Reference:
`ec2:CreateTags` on `instance` supports `aws:ResourceTag/${TagKey}` and
`aws:TagKeys`; the Auto Scaling and EC2 Describe actions support no
resource-level permissions)."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from cfnlint.decode import decode

TEMPLATE = pathlib.Path(__file__).resolve().parents[2] / "template.yaml"
TAG_KEY = "kubernetes.io/cluster/prod"


def _substitute(document: Any) -> Any:
    """A policy document with `Fn::Sub` resolved for a cluster `prod`."""
    if isinstance(document, dict) and "Fn::Sub" in document:
        text, _ = document["Fn::Sub"]
        for name, value in {
            "TagKey": TAG_KEY,
            "AWS::Partition": "aws",
            "AWS::Region": "eu-west-1",
            "AWS::AccountId": "123456789012",
        }.items():
            text = text.replace("${" + name + "}", value)
        return json.loads(text)
    return document


def statements(role: str) -> list[dict[str, Any]]:
    template, matches = decode(str(TEMPLATE))
    assert not matches, matches
    found = []
    for policy in template["Resources"][role]["Properties"]["Policies"]:
        if "PolicyDocument" not in policy:  # an !If around an optional policy
            continue
        found.extend(_substitute(policy["PolicyDocument"])["Statement"])
    return found


def allowing(role: str, action: str) -> list[dict[str, Any]]:
    def actions(statement: dict[str, Any]) -> list[str]:
        named = statement["Action"]
        return [named] if isinstance(named, str) else list(named)

    return [s for s in statements(role) if action in actions(s)]


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
