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
    # The current identity's grant, and the one of the identity Guard last
    # accepted (the same one, once an update succeeded).
    statements = allowing("StackGuardRole", action, deployment)
    # DeleteTags: one statement per tag key the guard owns (the suspension
    # record, the expired exceptions' record), in each policy.
    per_policy = 2 if action == "autoscaling:DeleteTags" else 1
    assert sorted(s.policy for s in statements) == sorted(
        ["undo-guard-on-cluster-groups", "StackGuardOldIdentityAccess"] * per_policy
    )
    for statement in statements:
        assert statement.body["Condition"][operator] == tag


def test_the_guards_hook_is_deleted_on_any_group_of_the_account_and_region_only() -> None:
    (statement,) = allowing("StackGuardRole", "autoscaling:DeleteLifecycleHook")
    assert statement.sid == "DeleteGuardHookOnAnyGroup"
    assert statement.actions == ["autoscaling:DeleteLifecycleHook"]
    assert "Condition" not in statement.body
    (resource,) = statement.resources
    assert resource["Fn::Sub"].startswith(
        "arn:${AWS::Partition}:autoscaling:${AWS::Region}:${AWS::AccountId}:autoScalingGroup:"
    )


def test_the_cleanup_deletes_only_the_guards_own_tags() -> None:
    # The suspension record, and budget-guard's record of expired
    # exceptions' alerts (issue 25, point 4), each in the current identity's
    # policy and in the accepted identity's.
    statements = allowing("StackGuardRole", "autoscaling:DeleteTags")
    keys = sorted(
        tuple(s.body["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]) for s in statements
    )
    assert keys == [("scaling-guard:exception-expired",)] * 2 + [("scaling-guard:suspended",)] * 2
    assert not allowing("StackGuardRole", "autoscaling:CreateOrUpdateTags")


def _references(value: object) -> set[str]:
    """The resources an expression names (Ref, GetAtt, Sub variables)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for inner in value.values():
            found |= _references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _references(inner)
    return found


def _depends_on(decoded: dict, name: str) -> set[str]:
    """Every resource `name` depends on, directly or not."""
    resources = decoded["Resources"]
    seen: set[str] = set()
    todo = [name]
    while todo:
        resource = resources[todo.pop()]
        depends = resource.get("DependsOn", [])
        direct = ({depends} if isinstance(depends, str) else set(depends)) | _references(
            resource.get("Properties", {})
        )
        for other in direct & set(resources) - seen:
            seen.add(other)
            todo.append(other)
    return seen


def test_an_identity_change_is_cleaned_up_with_the_old_identitys_permissions() -> None:
    # CloudFormation updates a resource after what it depends on. Guard's
    # Update (which releases the old identity) runs after StackGuardRole's
    # inline policy already names the new identity, so the old identity's
    # grants must come from a policy that depends on Guard (updated after it),
    # and Guard must not depend on that policy (or it would be updated first).
    decoded = template()
    assert "Guard" in _depends_on(decoded, "StackGuardOldIdentityAccess")
    assert "StackGuardOldIdentityAccess" not in _depends_on(decoded, "Guard")
    # The delete's grants stay until Guard is deleted: Guard depends on them.
    assert {"StackGuardRole", "StackGuardResourceAccess"} <= _depends_on(decoded, "Guard")


def test_the_cleanup_has_most_of_the_functions_time_and_cloudformation_waits_for_every_attempt() -> None:
    resources = template()["Resources"]
    timeout = resources["StackGuardFunction"]["Properties"]["Timeout"]
    retries = resources["StackGuardFunction"]["Properties"]["EventInvokeConfig"]["MaximumRetryAttempts"]
    service_timeout = resources["Guard"]["Properties"]["ServiceTimeout"]
    # ANSWER_RESERVE (45 s) of the function's time is kept to answer.
    assert timeout >= 300
    # Every attempt, with Lambda's retry delays (1 and 2 minutes), ends
    # before CloudFormation stops waiting (at most an hour).
    assert (retries + 1) * timeout + 180 <= service_timeout <= 3600
