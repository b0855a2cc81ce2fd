"""The stack's custom resource (Guard, served by stack-guard): it validates
the very policy the functions get, and the functions wait for it, so that a
bad policy fails the stack before any function runs and a delete cleans up
after the functions are gone."""

from __future__ import annotations

import pytest

from template_iam import CUSTOM, CUSTOM_KEY, CUSTOM_VALUE, DEFAULT, TAG_KEY, allowing, template


def test_the_guard_validates_the_policy_the_functions_get() -> None:
    decoded = template()
    variables = decoded["Globals"]["Function"]["Environment"]["Variables"]
    guard = decoded["Resources"]["Guard"]
    assert guard["Type"] == "Custom::ScalingGuardPolicy"
    assert guard["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["StackGuardFunction", "Arn"]}
    assert guard["Properties"]["Policy"] == variables


@pytest.mark.parametrize(
    "function", ["LaunchGuardFunction", "BudgetGuardFunction", "InstanceAuditFunction"]
)
def test_the_functions_wait_for_the_guard(function: str) -> None:
    depends = template()["Resources"][function]["DependsOn"]
    assert "Guard" in ([depends] if isinstance(depends, str) else depends)


@pytest.mark.parametrize(
    "action",
    [
        "autoscaling:DeleteLifecycleHook",
        "autoscaling:ResumeProcesses",
        "autoscaling:UpdateAutoScalingGroup",
        "autoscaling:DeleteTags",
    ],
)
@pytest.mark.parametrize(
    "deployment, operator, tag",
    [
        # The default key names the cluster by itself: any value.
        (DEFAULT, "StringLike", {f"aws:ResourceTag/{TAG_KEY}": "*"}),
        # A key every cluster carries: only key and value name this one, so
        # another cluster's cleanup never touches this cluster's groups.
        (CUSTOM, "StringEquals", {f"aws:ResourceTag/{CUSTOM_KEY}": CUSTOM_VALUE}),
    ],
    ids=["default-key", "custom-key"],
)
def test_the_cleanup_changes_only_cluster_groups(
    action: str, deployment: dict[str, str], operator: str, tag: dict[str, str]
) -> None:
    (statement,) = allowing("StackGuardRole", action, deployment)
    assert statement.body["Condition"][operator] == tag


def test_the_cleanup_deletes_only_the_guards_suspension_tag() -> None:
    (statement,) = allowing("StackGuardRole", "autoscaling:DeleteTags")
    assert statement.body["Condition"]["ForAllValues:StringEquals"] == {
        "aws:TagKeys": ["scaling-guard:suspended"]
    }
    assert not allowing("StackGuardRole", "autoscaling:CreateOrUpdateTags")
