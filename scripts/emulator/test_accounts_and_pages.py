"""Tests of the emulator's AssumeRole checks (sts_ext.py) and of the fault
rules `scaling-guard org audit` is tested with (faults.py): latency that
grows with the page asked for, and rules scoped to one account or region.

    .venv/bin/python -m pytest scripts/emulator/test_accounts_and_pages.py -q
"""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from .test_emulator import ACCOUNT, REGION, client, control, dummy_credentials, endpoint  # noqa: F401

CHECKED = "111122223333"
OTHER = "444455556666"


def assume(endpoint: str, account: str, role: str = "audit", **extra) -> dict:
    sts = client(endpoint, "sts")
    return sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="tests", **extra)["Credentials"]


def acting_as(endpoint: str, credentials: dict, service: str, region: str = REGION):
    return boto3.client(
        service, endpoint_url=endpoint, region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


@pytest.fixture
def checked(endpoint):
    def check(*accounts: str) -> None:
        status, body = control(endpoint, "POST", "sts/checked-accounts", {"accounts": list(accounts)})
        assert status == 200, body

    yield check
    check()


@pytest.fixture
def faults(endpoint):
    def set_rules(rules: list[dict]) -> dict:
        status, body = control(endpoint, "POST", "faults", {"rules": rules})
        assert status == 200, body
        return body

    yield set_rules
    assert control(endpoint, "DELETE", "faults")[0] == 200


def test_any_assume_role_succeeds_in_an_account_that_is_not_checked(endpoint, checked):
    checked(CHECKED)
    credentials = assume(endpoint, OTHER, role="never-created")
    identity = acting_as(endpoint, credentials, "sts").get_caller_identity()
    assert identity["Account"] == OTHER


def test_a_checked_account_denies_a_role_it_does_not_have_until_it_is_created(endpoint, checked):
    # The role is created acting as the account, before it is checked.
    before = assume(endpoint, CHECKED, role="bootstrap")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]}
    acting_as(endpoint, before, "iam").create_role(RoleName="audit-ok", AssumeRolePolicyDocument=json.dumps(trust))
    checked(CHECKED)
    with pytest.raises(ClientError) as denied:
        assume(endpoint, CHECKED, role="audit-missing")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    credentials = assume(endpoint, CHECKED, role="audit-ok")
    assert acting_as(endpoint, credentials, "sts").get_caller_identity()["Account"] == CHECKED


def test_a_checked_account_requires_the_external_id_its_trust_policy_names(endpoint, checked):
    before = assume(endpoint, CHECKED, role="bootstrap")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "fleet-7"}},
    }]}
    acting_as(endpoint, before, "iam").create_role(RoleName="audit-ext", AssumeRolePolicyDocument=json.dumps(trust))
    checked(CHECKED)
    for extra in ({}, {"ExternalId": "wrong"}):
        with pytest.raises(ClientError) as denied:
            assume(endpoint, CHECKED, role="audit-ext", **extra)
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assume(endpoint, CHECKED, role="audit-ext", ExternalId="fleet-7")


def test_a_bad_checked_accounts_body_is_refused(endpoint):
    assert control(endpoint, "POST", "sts/checked-accounts", {"accounts": ["12"]})[0] == 400
    assert control(endpoint, "POST", "sts/checked-accounts", [])[0] == 400


def timed(call) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def test_latency_per_result_grows_with_the_page_asked_for(endpoint, faults):
    ec2 = acting_as(endpoint, assume(endpoint, OTHER), "ec2")
    state = faults([{"operation": "DescribeInstances", "kind": "latency", "latency_per_result_ms": 2, "share": 1}])
    assert state["rules"][0]["latency_per_result_ms"] == 2
    large = timed(lambda: ec2.describe_instances(MaxResults=500))
    small = timed(lambda: ec2.describe_instances(MaxResults=5))
    unpaged = timed(lambda: ec2.describe_instances(InstanceIds=[]))
    assert large >= 1.0, large
    assert small < 0.5 and unpaged < 0.5, (small, unpaged)


def test_rules_scoped_to_an_account_or_a_region_spare_the_others(endpoint, faults):
    slow, spared = assume(endpoint, CHECKED), assume(endpoint, OTHER)
    faults([
        {"operation": "DescribeInstances", "kind": "error", "count": 100, "account": CHECKED},
        {"operation": "DescribeInstances", "kind": "throttle", "count": 100, "region": "eu-west-1"},
    ])
    with pytest.raises(ClientError) as failed:
        acting_as(endpoint, slow, "ec2").describe_instances()
    assert failed.value.response["Error"]["Code"] == "InternalError"
    acting_as(endpoint, spared, "ec2").describe_instances()
    with pytest.raises(ClientError) as throttled:
        acting_as(endpoint, spared, "ec2", region="eu-west-1").describe_instances()
    assert throttled.value.response["Error"]["Code"] == "RequestLimitExceeded"
    state = control(endpoint, "GET", "faults")[1]
    assert [(r.get("account"), r.get("region"), r["injected"]) for r in state["rules"]] == [
        (CHECKED, None, 1), (None, "eu-west-1", 1),
    ]


def test_scoped_rules_must_name_an_account_or_region(endpoint):
    bad = {"rules": [{"operation": "*", "kind": "error", "count": 1, "account": ""}]}
    assert control(endpoint, "POST", "faults", bad)[0] == 400
