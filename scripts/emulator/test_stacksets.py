"""Tests of extension 17 (service-managed StackSets take their targets as
AWS does), with boto3 against a running server.py (the fixtures of
test_emulator.py), each from a management account of its own.

    .venv/bin/python -m pytest scripts/emulator/test_stacksets.py -q
"""

from __future__ import annotations

import json

import pytest

from .test_bus_policy import new_account, session
from .test_emulator import dummy_credentials, endpoint  # noqa: F401

TEMPLATE = json.dumps({"Parameters": {"ClusterName": {"Type": "String"}},
                       "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


@pytest.fixture
def org(endpoint):
    """An organisation with OU `workloads` (three accounts) and, below it, `gpu` (one)."""
    management = session(endpoint, new_account())
    organizations = management.client("organizations", endpoint_url=endpoint)
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    workloads = organizations.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    gpu = organizations.create_organizational_unit(ParentId=workloads, Name="gpu")["OrganizationalUnit"]["Id"]
    accounts = {}
    for name, parent in (("a", workloads), ("b", workloads), ("c", workloads), ("g", gpu)):
        account = organizations.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]["AccountId"]
        organizations.move_account(AccountId=account, SourceParentId=root, DestinationParentId=parent)
        accounts[name] = account
    cfn = management.client("cloudformation", endpoint_url=endpoint)
    cfn.create_stack_set(StackSetName="s", TemplateBody=TEMPLATE, PermissionModel="SERVICE_MANAGED",
                         Parameters=[{"ParameterKey": "ClusterName", "ParameterValue": "prod"}])
    return {"cfn": cfn, "root": root, "workloads": workloads, "gpu": gpu, "accounts": accounts}


def listed(cfn) -> dict[str, str]:
    """Account -> OU of the StackSet's instances."""
    return {i["Account"]: i.get("OrganizationalUnitId") for i in cfn.list_stack_instances(StackSetName="s")["Summaries"]}


def test_an_ou_targets_its_accounts_at_every_level_and_names_their_ou(org):
    org["cfn"].create_stack_instances(StackSetName="s", DeploymentTargets={"OrganizationalUnitIds": [org["root"]]}, Regions=["eu-west-1"])
    a = org["accounts"]
    assert listed(org["cfn"]) == {a["a"]: org["workloads"], a["b"]: org["workloads"], a["c"]: org["workloads"], a["g"]: org["gpu"]}


def test_an_intersection_narrows_the_ou_to_the_accounts_given(org):
    a = org["accounts"]
    org["cfn"].create_stack_instances(
        StackSetName="s", Regions=["eu-west-1"],
        DeploymentTargets={"OrganizationalUnitIds": [org["workloads"]], "Accounts": [a["b"]], "AccountFilterType": "INTERSECTION"},
    )
    assert list(listed(org["cfn"])) == [a["b"]]


def test_a_delete_by_ou_removes_those_instances_and_then_the_stackset_can_go(org):
    cfn, a = org["cfn"], org["accounts"]
    cfn.create_stack_instances(StackSetName="s", DeploymentTargets={"OrganizationalUnitIds": [org["root"]]}, Regions=["eu-west-1"])
    cfn.delete_stack_instances(StackSetName="s", DeploymentTargets={"OrganizationalUnitIds": [org["gpu"]]}, Regions=["eu-west-1"], RetainStacks=False)
    assert sorted(listed(cfn)) == sorted([a["a"], a["b"], a["c"]])
    cfn.delete_stack_instances(StackSetName="s", DeploymentTargets={"OrganizationalUnitIds": [org["workloads"]]}, Regions=["eu-west-1"], RetainStacks=False)
    assert listed(cfn) == {}
    cfn.delete_stack_set(StackSetName="s")


def test_an_update_by_ou_changes_the_instances_overrides(org):
    cfn, a = org["cfn"], org["accounts"]
    cfn.create_stack_instances(StackSetName="s", DeploymentTargets={"OrganizationalUnitIds": [org["gpu"]]}, Regions=["eu-west-1"])
    cfn.update_stack_instances(StackSetName="s", DeploymentTargets={"OrganizationalUnitIds": [org["gpu"]]}, Regions=["eu-west-1"],
                               ParameterOverrides=[{"ParameterKey": "ClusterName", "ParameterValue": "gpu"}])
    instance = cfn.describe_stack_instance(StackSetName="s", StackInstanceAccount=a["g"], StackInstanceRegion="eu-west-1")["StackInstance"]
    assert instance["ParameterOverrides"] == [{"ParameterKey": "ClusterName", "ParameterValue": "gpu"}]
