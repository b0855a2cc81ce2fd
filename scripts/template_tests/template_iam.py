"""The IAM of template.yaml as plain statements, for the template tests.

Policy documents written as JSON strings (`!Sub` with the cluster tag key in a
condition key) are resolved for a cluster `prod`; an optional policy inside
`!If [Condition, policy, AWS::NoValue]` is read as granted, with the name of
its condition kept, so that a test sees everything a role can ever hold and
under which condition."""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass
from typing import Any

from cfnlint.decode import decode

TEMPLATE = pathlib.Path(__file__).resolve().parents[2] / "template.yaml"
TAG_KEY = "kubernetes.io/cluster/prod"
SUBSTITUTIONS = {
    "TagKey": TAG_KEY,
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "ClusterVpcId": "vpc-0123456789abcdef0",
    "QuarantineSecurityGroupId": "sg-0123456789abcdef0",
}


@dataclass(frozen=True)
class Statement:
    role: str
    policy: str
    # The template condition the policy exists under (None: always).
    condition: str | None
    body: dict[str, Any]

    @property
    def effect(self) -> str:
        return self.body["Effect"]

    @property
    def actions(self) -> list[str]:
        named = self.body["Action"]
        return [named] if isinstance(named, str) else list(named)

    @property
    def resources(self) -> list[Any]:
        named = self.body["Resource"]
        return list(named) if isinstance(named, list) else [named]


def template() -> dict[str, Any]:
    decoded, matches = decode(str(TEMPLATE))
    assert not matches, matches
    return decoded


def _substitute(document: Any) -> Any:
    if isinstance(document, dict) and "Fn::Sub" in document:
        text, _ = document["Fn::Sub"]
        for name, value in SUBSTITUTIONS.items():
            text = text.replace("${" + name + "}", value)
        assert "${" not in text, text
        return json.loads(text)
    return document


def _unwrap(policy: Any) -> tuple[str | None, dict[str, Any] | None]:
    if isinstance(policy, dict) and "Fn::If" in policy:
        condition, granted, otherwise = policy["Fn::If"]
        assert otherwise == {"Ref": "AWS::NoValue"}, policy
        return condition, granted
    return None, policy


def statements(role: str) -> list[Statement]:
    """Every statement of the role: inline policies and AWS::IAM::Policy resources."""
    resources = template()["Resources"]
    found = []
    for policy in resources[role]["Properties"].get("Policies", []):
        condition, policy = _unwrap(policy)
        for body in _substitute(policy["PolicyDocument"])["Statement"]:
            found.append(Statement(role, policy["PolicyName"], condition, body))
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        if {"Ref": role} not in resource["Properties"]["Roles"]:
            continue
        for body in _substitute(resource["Properties"]["PolicyDocument"])["Statement"]:
            found.append(Statement(role, name, resource.get("Condition"), body))
    return found


def allowing(role: str, action: str) -> list[Statement]:
    return [s for s in statements(role) if s.effect == "Allow" and action in s.actions]


def denying(role: str, action: str) -> list[Statement]:
    return [s for s in statements(role) if s.effect == "Deny" and action in s.actions]


def functions() -> list[tuple[str, str, str]]:
    """(function resource, binary crate, role resource) of every function."""
    found = []
    for name, resource in template()["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
        found.append((name, binary, role))
    return sorted(found)
