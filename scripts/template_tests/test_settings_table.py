"""Issue 22, point 3: the template passes the settings of the policy's
settings table (core/src/policy/settings.rs, read through settings_table.py),
each with the table's default, and no `GUARD_*` variable the table lacks.

Where the template passes a setting: launch-guard, budget-guard and
instance-audit read the whole policy from their environment at cold start
(shared/src/startup.rs), which is the template's Globals for every function;
stack-guard reads the same policy from the `Guard` custom resource's `Policy`
property (functions/stack-guard/src/main.rs). So every setting is in both,
and no function overrides one. The exception is a secret (`GUARD_RECORD_KEY`):
it is handed only to the functions that use it, in their own Environment,
never to every function or into the resource's properties, which anyone who
may describe the stack can read (test_record_key.py says which functions)."""

from __future__ import annotations

from typing import Any

import pytest

import settings_table
from template_iam import evaluate, template

CLUSTER = "prod"
# The deployment whose values the defaults are compared in: the template's
# defaults, and the one parameter without a default.
AT_DEFAULTS = {"ClusterName": CLUSTER}

# Where the stack deliberately differs from the policy's own default, and why.
STACK_CHOICES = {
    # The policy alone trusts no surge alarm (no prefix); the stack names a
    # prefix, so that the operator's alarms named so may suspend scale-out.
    "GUARD_SURGE_ALARM_PREFIX": "scaling-guard-surge-",
}


def _items(value: Any) -> list[str]:
    """A comma-separated value as the policy reads it: blank items skipped."""
    return [item.strip() for item in str(value or "").split(",") if item.strip()]


def _parameter(expression: Any) -> str | None:
    """The parameter a value is fed from: `!Ref P`, or the `!Ref P` of an `!If`."""
    if isinstance(expression, dict) and "Ref" in expression:
        return expression["Ref"]
    if isinstance(expression, dict) and "Fn::If" in expression:
        _, then, _ = expression["Fn::If"]
        return _parameter(then)
    return None


def _expected(row: dict[str, Any]) -> list[str] | None:
    """The setting's default as items (`None`: required, any value)."""
    default = row["default"]
    if row["name"] in STACK_CHOICES:
        return _items(STACK_CHOICES[row["name"]])
    if default["kind"] == "required":
        return None
    if default["kind"] == "unset":
        return []
    if default["kind"] == "per_cluster":
        return [default["value"] + CLUSTER]
    return _items(default["value"])


def _default_problems(row: dict[str, Any], expression: Any, decoded: dict[str, Any]) -> list[str]:
    """The value the template passes at its defaults against the table's default."""
    name = row["name"]
    parameter = _parameter(expression)
    declared = decoded["Parameters"].get(parameter or "", {})
    source = f" (parameter `{parameter}`, Default `{declared.get('Default', '')}`)" if declared else ""
    value = evaluate(expression, AT_DEFAULTS, decoded)
    expected = _expected(row)
    if expected is None:
        if not _items(value) or "Default" in declared:
            return [f"`{name}` is required: the template must pass a value without a default{source}"]
        return []
    if _items(value) != expected:
        return [
            f"`{name}` is `{value}` at the template's defaults{source}; "
            f"the settings table's default is `{','.join(expected)}`"
        ]
    return []


def _function_environments(decoded: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"].get("Environment", {}).get("Variables", {})
        for name, resource in decoded["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def mismatches(decoded: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """Every difference between the template and the settings table."""
    problems = []
    every_function = decoded["Globals"]["Function"]["Environment"]["Variables"]
    policy = decoded["Resources"]["Guard"]["Properties"]["Policy"]
    own = _function_environments(decoded)
    places = {"Globals": every_function, "Guard.Policy": policy} | {f"{f}.Environment": env for f, env in own.items()}
    names = {row["name"] for row in rows}
    for place, variables in places.items():
        for variable in sorted(set(variables) - names):
            if variable.startswith("GUARD_"):
                problems.append(f"{place} passes `{variable}`, which the settings table lacks")
    for row in rows:
        name = row["name"]
        if row["kind"] == "secret":
            problems += [f"the secret `{name}` is in {place}" for place in ("Globals", "Guard.Policy") if name in places[place]]
            if not any(name in env for env in own.values()):
                problems.append(f"no function gets the secret `{name}`")
            continue
        problems += [f"`{name}` is not in {place}" for place in ("Globals", "Guard.Policy") if name not in places[place]]
        problems += [f"{function} overrides `{name}`" for function, env in own.items() if name in env]
        if name in every_function:
            problems += _default_problems(row, every_function[name], decoded)
    return problems


def test_the_template_passes_every_setting_of_the_table_with_its_default() -> None:
    rows = settings_table.table()
    assert len(rows) > 40
    assert mismatches(template(), rows) == []


# The check fails when either side changes alone: a mutated copy of the
# template or of the table, and the line it reports.
def _set_default(decoded: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    decoded["Parameters"]["OutdatedImageGraceDays"]["Default"] = "31"


def _drop_variable(decoded: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    del decoded["Globals"]["Function"]["Environment"]["Variables"]["GUARD_MAX_VCPUS"]


def _add_variable(decoded: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    decoded["Globals"]["Function"]["Environment"]["Variables"]["GUARD_MAX_GPUS"] = ""


def _add_setting(decoded: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    rows.append({"name": "GUARD_MAX_GPUS", "kind": "number", "default": {"kind": "unset"}})


def _change_table_default(decoded: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    (mode,) = [row for row in rows if row["name"] == "GUARD_MODE"]
    mode["default"] = {"kind": "value", "value": "enforce"}


def _resolve_hook_name_otherwise(decoded: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    variables = decoded["Globals"]["Function"]["Environment"]["Variables"]
    variables["GUARD_HOOK_NAME"]["Fn::If"][2] = {"Fn::Sub": "guard-${ClusterName}"}


def _override_in_a_function(decoded: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    env = decoded["Resources"]["InstanceAuditFunction"]["Properties"].setdefault("Environment", {"Variables": {}})
    env["Variables"]["GUARD_MODE"] = "enforce"


def _secret_to_every_function(decoded: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    decoded["Globals"]["Function"]["Environment"]["Variables"]["GUARD_RECORD_KEY"] = "k" * 32


def _required_with_a_default(decoded: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    decoded["Parameters"]["ClusterName"]["Default"] = "prod"


@pytest.mark.parametrize(
    ("mutate", "reported"),
    [
        (
            _set_default,
            "`GUARD_OUTDATED_IMAGE_GRACE_DAYS` is `31` at the template's defaults (parameter "
            "`OutdatedImageGraceDays`, Default `31`); the settings table's default is `30`",
        ),
        (_drop_variable, "`GUARD_MAX_VCPUS` is not in Globals"),
        (_add_variable, "Globals passes `GUARD_MAX_GPUS`, which the settings table lacks"),
        (_add_setting, "`GUARD_MAX_GPUS` is not in Guard.Policy"),
        (
            _change_table_default,
            "`GUARD_MODE` is `audit` at the template's defaults (parameter `Mode`, Default `audit`); "
            "the settings table's default is `enforce`",
        ),
        (
            _resolve_hook_name_otherwise,
            "`GUARD_HOOK_NAME` is `guard-prod` at the template's defaults (parameter `HookName`, "
            "Default ``); the settings table's default is `scaling-guard-prod`",
        ),
        (_override_in_a_function, "InstanceAuditFunction overrides `GUARD_MODE`"),
        (_secret_to_every_function, "the secret `GUARD_RECORD_KEY` is in Globals"),
        (
            _required_with_a_default,
            "`GUARD_CLUSTER` is required: the template must pass a value without a default "
            "(parameter `ClusterName`, Default `prod`)",
        ),
    ],
)
def test_a_template_or_table_that_drifted_apart_is_reported(mutate: Any, reported: str) -> None:
    decoded, rows = template(), settings_table.table()
    mutate(decoded, rows)
    assert reported in mismatches(decoded, rows)
