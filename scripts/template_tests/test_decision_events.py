"""Issue 24, point 2: decision events. Every function that alerts may put the
guard's events (source `scaling-guard`, its detail-types) on the one bus
DecisionEventBus names, and on no other; with `none`, no function may put any.
The detail-types the grant allows are the ones the schemas in schemas/events
describe (core/src/events.rs holds those equal to the code's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from template_iam import DECISION_DETAIL_TYPES, DEFAULT, evaluate, held, template

ROOT = Path(__file__).resolve().parents[2]
SENDERS = ["LaunchGuardRole", "InstanceAuditRole", "BudgetGuardRole", "StackGuardRole"]
HUB = "arn:aws:events:eu-west-1:111122223333:event-bus/guard-hub"


def _deployment(bus: str | None) -> dict[str, str]:
    deployment = dict(DEFAULT)
    if bus is not None:
        deployment["DecisionEventBus"] = bus
    return deployment


def _puts(role: str, deployment: dict[str, str]) -> list:
    return [s for s in held(role, deployment) if s.effect == "Allow" and "events:PutEvents" in s.actions]


def test_the_grant_allows_exactly_the_detail_types_of_the_published_schemas():
    schemas = {
        json.loads(path.read_text())["x-amazon-events-detail-type"]
        for path in (ROOT / "schemas" / "events").glob("*.json")
    }
    assert set(DECISION_DETAIL_TYPES) == schemas
    assert len(DECISION_DETAIL_TYPES) == len(schemas)


@pytest.mark.parametrize("role", SENDERS)
@pytest.mark.parametrize(
    ("bus", "resource"),
    [
        (None, "arn:aws:events:eu-west-1:123456789012:event-bus/default"),
        ("default", "arn:aws:events:eu-west-1:123456789012:event-bus/default"),
        (HUB, HUB),
    ],
)
def test_each_sender_may_put_only_the_guards_events_on_the_named_bus(role, bus, resource):
    deployment = _deployment(bus)
    [statement] = _puts(role, deployment)
    assert statement.actions == ["events:PutEvents"]
    assert [evaluate(r, deployment) for r in statement.resources] == [resource]
    condition = statement.body["Condition"]
    assert condition["ForAllValues:StringEquals"]["events:source"] == ["scaling-guard"]
    assert condition["ForAllValues:StringEquals"]["events:detail-type"] == DECISION_DETAIL_TYPES
    # ForAllValues holds on an empty set: the keys must be present.
    assert condition["Null"] == {"events:source": "false", "events:detail-type": "false"}


@pytest.mark.parametrize("role", SENDERS)
def test_with_the_bus_none_no_function_may_put_events(role):
    assert _puts(role, _deployment("none")) == []


def test_no_other_role_may_put_events():
    decoded = template()
    others = [
        name for name, resource in decoded["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role" and name not in SENDERS
    ]
    assert others, "the stack has other roles"
    for role in others:
        assert _puts(role, DEFAULT) == [], role


def test_the_functions_read_the_bus_from_the_parameter():
    decoded = template()
    variables = decoded["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["GUARD_EVENT_BUS"] == {"Ref": "DecisionEventBus"}
    assert decoded["Parameters"]["DecisionEventBus"]["Default"] == "default"
