"""Issue 21, scenario 11: IAM says what it enforces.

`autoscaling:UpdateAutoScalingGroup` exists only where a clamp can exist: on
cluster groups that carry the guard's suspension record (every clamp is
recorded there before it is made, and restored before the record goes), and
for launch-guard, which only clamps, only while ClampMaxSize is on in enforce
mode. budget-guard and stack-guard keep it whatever ClampMaxSize says now: a
clamp made under an earlier configuration is restored by them (the resume,
the audit hand-over, removal), and a resume that could not restore it would
never lift `Launch`. What the Deny statements restrict is said as it is:
launch configuration or template, instance types, subnets and MinSize; not
"MaxSize only" (DesiredCapacity, health checks, termination policies and the
rest have no condition key).

Isolation's per-interface grant is bounded to the cluster's nodes as far as
IAM can see them: the interface's VPC and, with ClusterSubnetIds, its subnet
(ec2:Subnet), and the instance it is attached to (ModifyNetworkInterfaceAttribute
lists `instance` as a resource type, with aws:ResourceTag: the cluster tag)."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest

from template_iam import CUSTOM, DEFAULT, REGION, ACCOUNT, allowing, held, template

ROOT = pathlib.Path(__file__).resolve().parents[2]
UPDATE = "autoscaling:UpdateAutoScalingGroup"
MODIFY_INTERFACE = "ec2:ModifyNetworkInterfaceAttribute"


def _suspended_tag() -> str:
    (tag,) = re.findall(
        r'pub const SUSPENDED_TAG: &str = "([^"]+)";',
        (ROOT / "core" / "src" / "suspension.rs").read_text(),
    )
    return tag


def _deployments() -> list[dict[str, str]]:
    return [
        {**base, "Mode": mode, "ClampMaxSize": clamp}
        for base in (DEFAULT, CUSTOM)
        for mode in ("enforce", "audit")
        for clamp in ("true", "false")
    ]


@pytest.mark.parametrize("deployment", _deployments())
def test_update_auto_scaling_group_only_on_groups_carrying_the_guards_record(
    deployment: dict[str, str],
) -> None:
    record = {"Null": {f"aws:ResourceTag/{_suspended_tag()}": "false"}}
    roles = [
        role
        for role in ("LaunchGuardRole", "BudgetGuardRole", "StackGuardRole", "InstanceAuditRole")
        if any(s.effect == "Allow" and UPDATE in s.actions for s in held(role, deployment))
    ]
    expected = ["BudgetGuardRole", "StackGuardRole"]
    if deployment["Mode"] == "enforce" and deployment["ClampMaxSize"] == "true":
        expected = ["LaunchGuardRole", *expected]
    assert roles == expected
    for role in roles:
        grants = [s for s in held(role, deployment) if s.effect == "Allow" and UPDATE in s.actions]
        # StackGuardRole holds two: the current identity's, and the identity
        # Guard last accepted (StackGuardOldIdentityAccess, for an update).
        assert len(grants) == (2 if role == "StackGuardRole" else 1), role
        for grant in grants:
            # Alone in its statement: the record bounds this action only.
            assert grant.actions == [UPDATE], role
            assert grant.body["Condition"]["Null"] == record["Null"], role


def test_no_claim_that_iam_keeps_the_update_to_max_size() -> None:
    claims = re.compile(r"MaxSize only|only MaxSize|MaxSize alone|OnlyMaxSize|only_max_size", re.I)
    here = pathlib.Path(__file__).resolve()
    docs = sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "SPEC.md")
    files = [ROOT / "README.md", *docs, ROOT / "template.yaml"] + [
        p for p in (ROOT / "scripts" / "template_tests").glob("*.py") if p != here
    ]
    found = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in files
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if claims.search(line)
    ]
    assert not found, "\n".join(found)


ISOLATING = {
    **CUSTOM,
    "AuditAction": "isolate",
    "ClusterSubnetIds": "subnet-0aaa0001,subnet-0bbb0002",
}


def _interface_statements(deployment: dict[str, str]) -> dict[str, Any]:
    grants = [s for s in allowing("InstanceAuditRole", MODIFY_INTERFACE, deployment)]
    by_type: dict[str, Any] = {}
    for grant in grants:
        (resource,) = grant.resources
        kind = resource.split(":")[5].split("/")[0]
        assert kind not in by_type, kind
        by_type[kind] = grant
    return by_type


def test_interfaces_are_isolated_only_on_cluster_instances() -> None:
    statements = _interface_statements(ISOLATING)
    assert set(statements) == {"network-interface", "instance", "security-group"}
    instance = statements["instance"]
    assert instance.condition == "IsolatesInstances"
    assert instance.body["Condition"] == {
        "StringEquals": {"aws:ResourceTag/eks:cluster-name": "prod"}
    }


def test_interfaces_are_isolated_only_in_the_cluster_subnets_when_named() -> None:
    interface = _interface_statements(ISOLATING)["network-interface"]
    condition = interface.body["Condition"]
    assert condition["ArnEquals"]["ec2:Vpc"] == (
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-0123456789abcdef0"
    )
    # Any partition, region and account: a subnet shared into the account
    # has its owner's ARN; the id names it.
    assert condition["ArnLike"] == {
        "ec2:Subnet": [
            "arn:*:ec2:*:*:subnet/subnet-0aaa0001",
            "arn:*:ec2:*:*:subnet/subnet-0bbb0002",
        ]
    }
    # Without ClusterSubnetIds the VPC alone bounds the interface.
    without = _interface_statements({**ISOLATING, "ClusterSubnetIds": ""})["network-interface"]
    assert without.body["Condition"]["ArnLike"] == {"ec2:Subnet": ["arn:*:ec2:*:*:subnet/*"]}


def test_cluster_subnets_are_ids_without_spaces() -> None:
    parameter = template()["Parameters"]["ClusterSubnetIds"]
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("")
    assert pattern.fullmatch("subnet-0aaa0001,subnet-0123456789abcdef0")
    # A space would make an ARN that matches no subnet.
    assert not pattern.fullmatch("subnet-0aaa0001, subnet-0bbb0002")
    assert not pattern.fullmatch("subnet-0aaa0001,")
