"""Tests of extension 16 (delivery to another account's event bus honours the
bus's policy), with boto3 against a running server.py (the fixtures of
test_emulator.py). Each test makes its own organisation, from a management
account of its own, so that they share the session's emulator.

    .venv/bin/python -m pytest scripts/emulator/test_bus_policy.py -q
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import boto3
import pytest

from .test_emulator import REGION, control, dummy_credentials, endpoint  # noqa: F401
from .test_events import document

LAUNCH = "Scaling Guard Launch Decision v1"
ROOT = Path(__file__).resolve().parents[2]


def new_account() -> str:
    return str(random.randrange(200_000_000_000, 299_999_999_999))


def session(endpoint: str, account: str) -> boto3.Session:
    """Credentials of an AssumeRole into `account`: moto acts in it."""
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION)
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/test", RoleSessionName="test")["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def org_policy(org_id: str, bus_arn: str) -> str:
    """The organisation bus's policy, as org/hub.yaml writes it."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "OrganisationPutsEvents", "Effect": "Allow", "Principal": "*",
            "Action": "events:PutEvents", "Resource": bus_arn,
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}},
        }],
    })


class Hub:
    """An organisation, a member account holding a bus with `policy(org_id,
    arn)` and a rule on it into a queue."""

    def __init__(self, endpoint: str, policy=org_policy):
        self.endpoint = endpoint
        management = session(endpoint, new_account())
        organizations = management.client("organizations", endpoint_url=endpoint)
        self.org_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
        self.members = [
            organizations.create_account(AccountName=f"m{i}", Email=f"m{i}@example.com")["CreateAccountStatus"]["AccountId"]
            for i in range(2)
        ]
        hub = session(endpoint, self.members[0])
        events = hub.client("events", endpoint_url=endpoint)
        self.bus_arn = events.create_event_bus(Name=f"org-{uuid.uuid4().hex[:8]}")["EventBusArn"]
        events.put_permission(EventBusName=self.bus_arn, Policy=policy(self.org_id, self.bus_arn))
        sqs = hub.client("sqs", endpoint_url=endpoint)
        self.queue = sqs.create_queue(QueueName=f"hub-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="all", EventBusName=self.bus_arn, EventPattern=json.dumps({"source": ["scaling-guard"]}))
        events.put_targets(Rule="all", EventBusName=self.bus_arn, Targets=[{"Id": "q", "Arn": queue_arn}])
        self.sqs = sqs

    def forward_from(self, account: str, cluster: str) -> None:
        """In `account`: a rule on the default bus forwarding to the hub bus, then one decision."""
        events = session(self.endpoint, account).client("events", endpoint_url=self.endpoint)
        events.put_rule(Name=f"fwd-{cluster}", EventPattern=json.dumps({"source": ["scaling-guard"]}))
        role = f"arn:aws:iam::{account}:role/forward"
        events.put_targets(Rule=f"fwd-{cluster}", Targets=[{"Id": "hub", "Arn": self.bus_arn, "RoleArn": role}])
        detail = document(cluster, account=account)
        answer = events.put_events(Entries=[{"Source": "scaling-guard", "DetailType": LAUNCH, "Detail": json.dumps(detail)}])
        assert answer["FailedEntryCount"] == 0

    def received(self) -> list[dict]:
        messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


def refused_of(endpoint: str, cluster: str) -> list[dict]:
    status, body = control(endpoint, "GET", "events/refused")
    assert status == 200, body
    return [r for r in body if r["detail"].get("cluster") == cluster]


def test_a_member_of_the_organisation_reaches_the_bus_with_its_own_envelope(endpoint):
    hub = Hub(endpoint)
    cluster = f"prod-{uuid.uuid4().hex[:8]}"
    hub.forward_from(hub.members[1], cluster)
    [event] = hub.received()
    assert event["account"] == hub.members[1]
    assert event["detail"]["cluster"] == cluster
    assert refused_of(endpoint, cluster) == []


def test_an_account_outside_the_organisation_is_refused_and_recorded(endpoint):
    hub = Hub(endpoint)
    outsider, cluster = new_account(), f"prod-{uuid.uuid4().hex[:8]}"
    hub.forward_from(outsider, cluster)
    assert hub.received() == []
    [record] = refused_of(endpoint, cluster)
    assert record["sender"] == outsider and record["bus"] == hub.bus_arn


def test_a_bus_without_a_policy_refuses_every_other_account(endpoint):
    hub = Hub(endpoint, policy=lambda org, arn: json.dumps({"Version": "2012-10-17", "Statement": []}))
    cluster = f"prod-{uuid.uuid4().hex[:8]}"
    hub.forward_from(hub.members[1], cluster)
    assert hub.received() == []
    assert len(refused_of(endpoint, cluster)) == 1


@pytest.mark.parametrize(
    "principal, condition, allowed",
    [
        ("*", {"StringEquals": {"aws:PrincipalOrgID": "o-other"}}, False),
        ("*", {"StringLike": {"aws:PrincipalOrgID": "o-*"}}, False),  # not understood: closed
        ({"AWS": "SENDER"}, None, True),
        ({"AWS": "arn:aws:iam::SENDER:root"}, None, True),
        ({"AWS": "111111111111"}, None, False),
        ("*", {"StringEquals": {"aws:PrincipalAccount": "SENDER"}}, True),
    ],
)
def test_principals_and_conditions(endpoint, principal, condition, allowed):
    def policy(org_id: str, arn: str) -> str:
        statement = {"Sid": "s", "Effect": "Allow", "Principal": principal, "Action": "events:PutEvents", "Resource": arn}
        if condition:
            statement["Condition"] = condition
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]}).replace("SENDER", sender)

    sender = new_account()
    hub = Hub(endpoint, policy=policy)
    cluster = f"prod-{uuid.uuid4().hex[:8]}"
    hub.forward_from(sender, cluster)
    assert len(hub.received()) == (1 if allowed else 0)
    assert len(refused_of(endpoint, cluster)) == (0 if allowed else 1)


def test_the_control_endpoint_makes_an_organisation_its_members_belong_to(endpoint):
    status, org = control(endpoint, "POST", "organizations", {"management": new_account(), "accounts": ["hub", "a"]})
    assert status == 200, org
    hub_account, member = org["accounts"]
    assert org["id"].startswith("o-")
    organizations = session(endpoint, member).client("organizations", endpoint_url=endpoint)
    assert organizations.describe_organization()["Organization"]["Id"] == org["id"]


def test_the_control_endpoint_refuses_a_body_without_management(endpoint):
    status, body = control(endpoint, "POST", "organizations", {"accounts": ["a"]})
    assert status == 400, body


def test_a_stack_puts_its_event_bus_policy_on_the_bus_and_takes_it_off_when_deleted(endpoint):
    hub = session(endpoint, new_account())
    cfn = hub.client("cloudformation", endpoint_url=endpoint)
    body = (ROOT / "org" / "hub.yaml").read_text()
    cfn.create_stack(StackName="hub", TemplateBody=body, Parameters=[{"ParameterKey": "OrganizationId", "ParameterValue": "o-abcdefghij"}])
    events = hub.client("events", endpoint_url=endpoint)
    [statement] = json.loads(events.describe_event_bus(Name="scaling-guard-org")["Policy"])["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    assert statement["Action"] == "events:PutEvents" and statement["Principal"] == "*"
    cfn.delete_stack(StackName="hub")
    buses = [b["Name"] for b in events.list_event_buses()["EventBuses"]]
    assert "scaling-guard-org" not in buses or "Policy" not in events.describe_event_bus(Name="scaling-guard-org")
