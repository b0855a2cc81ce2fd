"""Tests of scripts/org/deploy.py (scripts/org-deploy) against the emulator
(scripts/emulator/server.py, the fixtures of its test_emulator.py), acting as
an organisation's management account of its own.

    .venv/bin/python -m pytest scripts/org -q

The emulator records service-managed stack instances (their parameters, OUs
and operations); it does not deploy the template into the member accounts.
"""

from __future__ import annotations

import json
import pathlib
import random
import subprocess
import sys

import boto3
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from emulator.test_emulator import REGION, dummy_credentials, endpoint  # noqa: E402, F401

import deploy  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
REGIONS = ["eu-west-1", "us-east-2"]


def assume(endpoint: str, account: str) -> dict[str, str]:
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION)
    found = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/deployer", RoleSessionName="org-deploy")["Credentials"]
    return {"AWS_ACCESS_KEY_ID": found["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": found["SecretAccessKey"],
            "AWS_SESSION_TOKEN": found["SessionToken"]}


@pytest.fixture
def org(endpoint, monkeypatch):
    """A management account of its own (the deployer's credentials), its
    organisation, an OU with two member accounts in it."""
    management = str(random.randrange(400_000_000_000, 499_999_999_999))
    for key, value in {**assume(endpoint, management), "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    boto3.setup_default_session()  # boto3 keeps the first credentials it finds
    organizations = boto3.client("organizations")
    org_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = organizations.list_roots()["Roots"][0]["Id"]
    ou = organizations.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    members = []
    for name in ("alpha", "beta"):
        account = organizations.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]["AccountId"]
        organizations.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
        members.append(account)
    return {"id": org_id, "ou": ou, "members": members, "management": management}


@pytest.fixture(scope="session")
def stackset_template(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("stackset") / "stackset.json"
    subprocess.run([sys.executable, str(ROOT / "scripts/org/make_stackset.py"), "--out", str(out)], check=True)
    return out


def policy_file(tmp_path: pathlib.Path, name: str, text: str) -> pathlib.Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def cluster_args(cluster: str, policy: pathlib.Path, template: pathlib.Path, ou: str) -> list[str]:
    return ["cluster", "--cluster", cluster, "--tag-key", "eks:cluster-name", "--tag-value", cluster,
            "--policy", str(policy), "--bucket-prefix", "guard-code", "--key-prefix", "v1",
            "--ou", ou, "--regions", ",".join(REGIONS), "--stackset-template", str(template)]


def stacksets(cfn) -> list[str]:
    summaries = cfn.list_stack_sets(Status="ACTIVE")["Summaries"]
    return sorted(s["StackSetName"] for s in summaries if s["Status"] == "ACTIVE")  # moto lists deleted ones too


def overrides(instance: dict) -> dict[str, str]:
    return {p["ParameterKey"]: p["ParameterValue"] for p in instance["ParameterOverrides"]}


def test_help_names_every_command():
    out = subprocess.run([str(ROOT / "scripts/org-deploy"), "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("publish", "hub", "audit-role", "cluster", "remove", "status"):
        assert command in out


def test_publish_uploads_every_zip_to_a_bucket_per_region(org, tmp_path):
    for function in deploy.FUNCTIONS:
        (tmp_path / f"{function}.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    args = ["publish", "--artifacts", str(tmp_path), "--bucket-prefix", "guard-code", "--key-prefix", "v1", "--regions", ",".join(REGIONS)]
    assert deploy.main(args) == 0
    for region in REGIONS:
        listed = boto3.client("s3", region_name=region).list_objects_v2(Bucket=f"guard-code-{region}")
        assert sorted(o["Key"] for o in listed["Contents"]) == sorted(f"v1/{f}.zip" for f in deploy.FUNCTIONS)


def test_publish_without_a_zip_is_an_error_and_uploads_nothing(org, tmp_path, capsys):
    (tmp_path / "launch-guard.zip").write_bytes(b"zip")
    args = ["publish", "--artifacts", str(tmp_path), "--bucket-prefix", "half", "--key-prefix", "v1", "--regions", REGIONS[0]]
    assert deploy.main(args) == 2
    assert "budget-guard.zip" in capsys.readouterr().err
    assert "half-eu-west-1" not in [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]


def test_hub_deploys_the_organisation_bus_limited_to_the_organisation(org, capsys):
    assert deploy.main(["hub", "--organization-id", org["id"]]) == 0
    assert "event-bus/scaling-guard-org" in capsys.readouterr().out
    bus = boto3.client("events").describe_event_bus(Name="scaling-guard-org")
    statement = json.loads(bus["Policy"])["Statement"][0]
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": org["id"]}}


def test_two_clusters_in_one_account_are_two_stacksets_with_their_own_overrides(org, tmp_path, stackset_template):
    cfn = boto3.client("cloudformation")
    for cluster, types in (("prod", "m6i.*"), ("staging", "t3.*")):
        policy = policy_file(tmp_path, f"{cluster}.env", f"# {cluster}\nMode=enforce\nAllowedInstanceTypes={types}\n")
        assert deploy.main(cluster_args(cluster, policy, stackset_template, org["ou"])) == 0
    assert stacksets(cfn) == ["scaling-guard-prod", "scaling-guard-staging"]
    for cluster, types in (("prod", "m6i.*"), ("staging", "t3.*")):
        found = cfn.list_stack_instances(StackSetName=f"scaling-guard-{cluster}")["Summaries"]
        assert sorted((i["Account"], i["Region"]) for i in found) == sorted(
            (a, r) for a in org["members"] for r in REGIONS
        ), "one instance per account and region"
        for summary in found:
            instance = cfn.describe_stack_instance(
                StackSetName=f"scaling-guard-{cluster}", StackInstanceAccount=summary["Account"], StackInstanceRegion=summary["Region"]
            )["StackInstance"]
            assert {k: overrides(instance)[k] for k in ("ClusterName", "ClusterTagValue", "AllowedInstanceTypes")} == {
                "ClusterName": cluster, "ClusterTagValue": cluster, "AllowedInstanceTypes": types,
            }
            assert summary["OrganizationalUnitId"] == org["ou"]
        described = cfn.describe_stack_set(StackSetName=f"scaling-guard-{cluster}")["StackSet"]
        assert described["PermissionModel"] == "SERVICE_MANAGED"


def test_a_second_run_updates_the_stackset_in_place(org, tmp_path, stackset_template):
    policy = policy_file(tmp_path, "prod.env", "AllowedInstanceTypes=m6i.*\n")
    assert deploy.main(cluster_args("prod", policy, stackset_template, org["ou"])) == 0
    policy.write_text("AllowedInstanceTypes=m7i.*\n")
    assert deploy.main(cluster_args("prod", policy, stackset_template, org["ou"])) == 0
    cfn = boto3.client("cloudformation")
    assert stacksets(cfn) == ["scaling-guard-prod"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in cfn.describe_stack_set(StackSetName="scaling-guard-prod")["StackSet"]["Parameters"]}
    assert parameters["AllowedInstanceTypes"] == "m7i.*"
    found = cfn.list_stack_instances(StackSetName="scaling-guard-prod")["Summaries"]
    assert len(found) == 4
    for summary in found:
        instance = cfn.describe_stack_instance(
            StackSetName="scaling-guard-prod", StackInstanceAccount=summary["Account"], StackInstanceRegion=summary["Region"]
        )["StackInstance"]
        assert overrides(instance)["AllowedInstanceTypes"] == "m7i.*", "the overrides win over the StackSet's values"


def test_remove_leaves_no_instance_and_no_stackset(org, tmp_path, stackset_template):
    policy = policy_file(tmp_path, "prod.env", "Mode=enforce\n")
    for cluster in ("prod", "staging"):
        assert deploy.main(cluster_args(cluster, policy, stackset_template, org["ou"])) == 0
    assert deploy.main(["remove", "--cluster", "prod"]) == 0
    cfn = boto3.client("cloudformation")
    assert stacksets(cfn) == ["scaling-guard-staging"], "the other cluster's StackSet stays"
    assert len(cfn.list_stack_instances(StackSetName="scaling-guard-staging")["Summaries"]) == 4


@pytest.mark.parametrize(
    "text, message",
    [
        ("Mode=enforce\nNoSuchParameter=1\n", "NoSuchParameter is not a parameter of the template"),
        ("Mode enforce\n", "not KEY=VALUE"),
        ("ClusterName=other\n", "ClusterName come from the options"),
        ("Mode=enforce\nMode=audit\n", "Mode is set twice"),
    ],
)
def test_a_bad_policy_file_is_a_clear_error_and_changes_nothing(org, tmp_path, stackset_template, capsys, text, message):
    policy = policy_file(tmp_path, "bad.env", text)
    assert deploy.main(cluster_args("prod", policy, stackset_template, org["ou"])) == 2
    assert message in capsys.readouterr().err
    assert stacksets(boto3.client("cloudformation")) == []


def test_without_an_ou_nothing_is_deployed(org, tmp_path, stackset_template, capsys):
    policy = policy_file(tmp_path, "prod.env", "Mode=enforce\n")
    args = [a for a in cluster_args("prod", policy, stackset_template, org["ou"]) if a not in ("--ou", org["ou"])]
    assert deploy.main(args + ["--accounts", org["members"][0]]) == 2
    assert "give --ou" in capsys.readouterr().err
    assert stacksets(boto3.client("cloudformation")) == []


def test_the_audit_role_goes_to_every_member_account(org):
    args = ["audit-role", "--audit-account", org["management"], "--ou", org["ou"], "--regions", REGIONS[0]]
    assert deploy.main(args) == 0
    cfn = boto3.client("cloudformation")
    found = cfn.list_stack_instances(StackSetName="scaling-guard-audit-role")["Summaries"]
    assert sorted(i["Account"] for i in found) == sorted(org["members"])


def test_status_lists_the_stacksets_and_their_instances(org, tmp_path, stackset_template, capsys):
    policy = policy_file(tmp_path, "prod.env", "Mode=enforce\n")
    assert deploy.main(cluster_args("prod", policy, stackset_template, org["ou"])) == 0
    capsys.readouterr()
    assert deploy.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "scaling-guard-prod" in out
    for account in org["members"]:
        assert f"{account} eu-west-1" in out


def test_publish_uploads_the_zip_of_every_function_of_the_template():
    import make_stackset

    binaries = make_stackset.binaries(make_stackset.load(ROOT / "template.yaml"))
    assert sorted(deploy.FUNCTIONS) == sorted(binaries.values())
