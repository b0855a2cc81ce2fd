"""Tests of extension 14 (Security Hub enforces what AWS enforces), with boto3
against a running server.py (the fixtures of test_emulator.py).

    .venv/bin/python -m pytest scripts/emulator/test_securityhub.py -q
"""

from __future__ import annotations

import copy
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from .test_emulator import ACCOUNT, REGION, control, dummy_credentials, endpoint  # noqa: F401

PRODUCT = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"


def finding(**change) -> dict:
    """A whole finding of the guard's shape, unique per call."""
    run = uuid.uuid4().hex[:8]
    base = {
        "SchemaVersion": "2018-10-08",
        "Id": f"scaling-guard/{ACCOUNT}/{REGION}/prod-{run}/i-0abc/imds.v2",
        "ProductArn": PRODUCT,
        "GeneratorId": "scaling-guard/imds.v2",
        "AwsAccountId": ACCOUNT,
        "Types": ["Software and Configuration Checks/AWS Security Best Practices"],
        "CreatedAt": "2026-09-21T14:13:20Z",
        "UpdatedAt": "2026-09-21T14:13:20Z",
        "Severity": {"Label": "HIGH"},
        "Title": "imds.v2 on i-0abc",
        "Description": "instance metadata v2 is not required",
        "Resources": [{"Type": "AwsEc2Instance", "Id": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0abc"}],
        "ProductFields": {"scaling-guard/cluster": f"prod-{run}", "scaling-guard/instance": "i-0abc"},
        "RecordState": "ACTIVE",
        "Region": REGION,
    }
    base.update(change)
    return base


@pytest.fixture
def securityhub(endpoint):
    """No retries, no client-side validation: a refused or throttled call
    shows as the error the emulator answers."""
    return boto3.client(
        "securityhub",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=False),
    )


def test_more_than_100_findings_in_one_call_are_refused_whole(securityhub):
    batch = [finding() for _ in range(101)]
    with pytest.raises(ClientError) as refused:
        securityhub.batch_import_findings(Findings=batch)
    assert refused.value.response["Error"]["Code"] == "InvalidInputException"
    ids = [f["Id"] for f in batch]
    found = securityhub.get_findings(Filters={"Id": [{"Value": ids[0], "Comparison": "EQUALS"}]})
    assert found["Findings"] == []


def test_a_finding_of_another_account_or_product_is_a_failed_finding(securityhub):
    other = finding(AwsAccountId="210987654321")
    foreign_product = finding(ProductArn="arn:aws:securityhub:us-east-1::product/acme/scanner")
    good = finding()
    answer = securityhub.batch_import_findings(Findings=[other, foreign_product, good])
    assert (answer["FailedCount"], answer["SuccessCount"]) == (2, 1)
    failed = {f["Id"]: f["ErrorCode"] for f in answer["FailedFindings"]}
    assert failed == {other["Id"]: "AccessDeniedException", foreign_product["Id"]: "AccessDeniedException"}


@pytest.mark.parametrize("missing", ["SchemaVersion", "GeneratorId", "Types", "Title", "Description", "Severity"])
def test_a_finding_without_a_required_field_is_a_failed_finding(securityhub, missing):
    incomplete = finding()
    del incomplete[missing]
    answer = securityhub.batch_import_findings(Findings=[incomplete])
    assert answer["FailedCount"] == 1
    assert answer["FailedFindings"][0]["ErrorCode"] == "InvalidInput"
    assert missing in answer["FailedFindings"][0]["ErrorMessage"]


def test_a_finding_over_240_kb_is_a_failed_finding(securityhub):
    big = finding(ProductFields={f"k{i}": "x" * 2000 for i in range(50)}, Description="y" * 1024)
    big["Resources"][0]["Details"] = {"Other": {f"d{i}": "z" * 1000 for i in range(200)}}
    answer = securityhub.batch_import_findings(Findings=[big])
    assert answer["FailedCount"] == 1
    assert "bytes" in answer["FailedFindings"][0]["ErrorMessage"]


def test_an_import_with_the_same_id_replaces_the_finding_and_keeps_created_at(securityhub):
    first = finding()
    securityhub.batch_import_findings(Findings=[first])
    later = copy.deepcopy(first)
    later.update(CreatedAt="2026-09-22T00:00:00Z", UpdatedAt="2026-09-22T00:00:00Z", RecordState="ARCHIVED")
    later["Compliance"] = {"Status": "PASSED"}
    del later["ProductFields"]["scaling-guard/instance"]
    securityhub.batch_import_findings(Findings=[later])
    found = securityhub.get_findings(Filters={"Id": [{"Value": first["Id"], "Comparison": "EQUALS"}]})["Findings"]
    assert len(found) == 1
    assert found[0]["CreatedAt"] == "2026-09-21T14:13:20Z"
    assert found[0]["UpdatedAt"] == "2026-09-22T00:00:00Z"
    assert found[0]["RecordState"] == "ARCHIVED"
    assert "scaling-guard/instance" not in found[0]["ProductFields"]  # replaced, not merged


def test_get_findings_filters_on_product_fields_record_state_generator_and_resource(securityhub):
    a = finding()
    cluster = a["ProductFields"]["scaling-guard/cluster"]
    b = finding(ProductFields={"scaling-guard/cluster": cluster, "scaling-guard/instance": "i-0def"})
    b["Id"] = a["Id"].replace("i-0abc", "i-0def")
    b["Resources"] = [{"Type": "AwsEc2Instance", "Id": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0def"}]
    archived = finding(ProductFields={"scaling-guard/cluster": cluster}, RecordState="ARCHIVED")
    archived["Id"] = a["Id"].replace("imds.v2", "imds.hop_limit")
    other_cluster = finding()
    securityhub.batch_import_findings(Findings=[a, b, archived, other_cluster])

    def ids(filters):
        return sorted(f["Id"] for f in securityhub.get_findings(Filters=filters)["Findings"])

    active = {
        "ProductFields": [{"Key": "scaling-guard/cluster", "Value": cluster, "Comparison": "EQUALS"}],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
        "GeneratorId": [{"Value": "scaling-guard/", "Comparison": "PREFIX"}],
    }
    assert ids(active) == sorted([a["Id"], b["Id"]])
    one = dict(active, ProductFields=active["ProductFields"] + [
        {"Key": "scaling-guard/instance", "Value": "i-0def", "Comparison": "EQUALS"}
    ])
    assert ids(one) == [b["Id"]]
    by_resource = {"ResourceId": [{"Value": b["Resources"][0]["Id"], "Comparison": "EQUALS"}]}
    assert ids(by_resource) == [b["Id"]]
    either = {"Id": [{"Value": a["Id"], "Comparison": "EQUALS"}, {"Value": b["Id"], "Comparison": "EQUALS"}]}
    assert ids(either) == sorted([a["Id"], b["Id"]])


def test_get_findings_pages_filtered_findings(securityhub):
    batch = [finding() for _ in range(5)]
    cluster = "paged-" + uuid.uuid4().hex[:8]
    for f in batch:
        f["ProductFields"]["scaling-guard/cluster"] = cluster
    securityhub.batch_import_findings(Findings=batch)
    filters = {"ProductFields": [{"Key": "scaling-guard/cluster", "Value": cluster, "Comparison": "EQUALS"}]}
    pages = securityhub.get_paginator("get_findings").paginate(
        Filters=filters, PaginationConfig={"PageSize": 2}
    )
    sizes = [len(page["Findings"]) for page in pages]
    assert sizes == [2, 2, 1]


def test_faults_throttle_security_hub_with_its_own_error(endpoint, securityhub):
    status, _ = control(endpoint, "POST", "faults", {
        "rules": [{"operation": "BatchImportFindings", "kind": "throttle", "count": 1}]
    })
    assert status == 200
    control(endpoint, "DELETE", "requests")
    try:
        with pytest.raises(ClientError) as throttled:
            securityhub.batch_import_findings(Findings=[finding()])
        assert throttled.value.response["Error"]["Code"] == "LimitExceededException"
        assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert securityhub.batch_import_findings(Findings=[finding()])["SuccessCount"] == 1
        _, journal = control(endpoint, "GET", "requests?operation=BatchImportFindings")
        assert [entry["fault"] for entry in journal] == ["throttle", None]
    finally:
        control(endpoint, "DELETE", "faults")
