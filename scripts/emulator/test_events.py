"""Tests of extension 15 (every scaling-guard event is checked against its
published schema), with boto3 against a running server.py (the fixtures of
test_emulator.py).

    .venv/bin/python -m pytest scripts/emulator/test_events.py -q
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .test_emulator import ACCOUNT, REGION, client, control, dummy_credentials, endpoint  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = "Scaling Guard Launch Decision v1"


def document(cluster: str, **change) -> dict:
    """A launch decision's detail as core/src/alerts.rs writes it."""
    base = {
        "version": 1, "kind": "launch_allowed", "cluster": cluster, "severity": "info",
        "decision": "CONTINUE", "instance_id": "i-0abc", "group": "prod-general", "violations": [],
        "mode": "enforce", "time": "2026-09-21T14:13:20Z", "account": ACCOUNT, "region": REGION,
        "headline": "launch of i-0abc let in", "advice": "",
    }
    base.update(change)
    return base


def put(events_client, detail: object, detail_type: str = LAUNCH, source: str = "scaling-guard") -> dict:
    return events_client.put_events(
        Entries=[{"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}]
    )


def received_of(endpoint: str, cluster: str, invalid: bool = False) -> list[dict]:
    status, body = control(endpoint, "GET", "events/invalid" if invalid else "events")
    assert status == 200, body
    return [r for r in body if isinstance(r["detail"], dict) and r["detail"].get("cluster") == cluster]


@pytest.fixture(scope="module")
def events(endpoint):
    return client(endpoint, "events")


@pytest.fixture
def cluster():
    return f"prod-{uuid.uuid4().hex[:8]}"


def test_a_valid_event_is_recorded_without_problems_and_delivered_to_a_rule(endpoint, events, cluster):
    sqs = client(endpoint, "sqs")
    queue = sqs.create_queue(QueueName=f"decisions-{cluster}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"guard-{cluster}", EventPattern=json.dumps({"source": ["scaling-guard"], "detail": {"cluster": [cluster]}}))
    events.put_targets(Rule=f"guard-{cluster}", Targets=[{"Id": "queue", "Arn": arn}])

    answer = put(events, document(cluster))

    assert answer["FailedEntryCount"] == 0
    assert [(r["detail_type"], r["problems"], r["bus"]) for r in received_of(endpoint, cluster)] == [(LAUNCH, [], "default")]
    assert received_of(endpoint, cluster, invalid=True) == []
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    delivered = json.loads(messages[0]["Body"])
    assert (delivered["detail-type"], delivered["detail"]["cluster"]) == (LAUNCH, cluster)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"kind": "scale_out_suspended"}, "detail/kind"),
        ({"decision": "MAYBE"}, "detail/decision"),
        ({"surprise": True}, "Additional properties are not allowed"),
        ({"violations": [{"check": "imds.v2"}]}, "detail/violations/0"),
    ],
)
def test_an_invalid_event_is_recorded_with_its_problems_and_still_accepted(endpoint, events, cluster, change, problem):
    answer = put(events, document(cluster, **change))

    assert answer["FailedEntryCount"] == 0, "EventBridge refuses no detail: the check is the tests'"
    [record] = received_of(endpoint, cluster, invalid=True)
    assert any(problem in p for p in record["problems"]), record["problems"]


def test_a_missing_field_is_a_problem(endpoint, events, cluster):
    detail = document(cluster)
    del detail["mode"]
    put(events, detail)
    [record] = received_of(endpoint, cluster, invalid=True)
    assert record["problems"] == ["detail: 'mode' is a required property"]


def test_a_detail_type_without_a_schema_is_a_problem(endpoint, events, cluster):
    put(events, document(cluster), detail_type="Scaling Guard Launch Decision v9")
    [record] = received_of(endpoint, cluster, invalid=True)
    assert record["problems"] == ["no schema in schemas/events for detail-type `Scaling Guard Launch Decision v9`"]


def test_events_of_other_sources_are_not_checked(endpoint, events, cluster):
    put(events, {"cluster": cluster, "anything": True}, source="acme.orders")
    assert received_of(endpoint, cluster) == []


def test_the_published_schemas_are_what_make_py_writes():
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts/event_schemas/make.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
