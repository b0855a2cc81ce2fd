"""A parameter that feeds a policy setting names that setting in its
Description, `(GUARD_NAME)` or `(GUARD_NAME, …)`, so an operator reading the
console form finds the reference row in docs/policy.md. It caught a
Description whose variable name had been overwritten by a regex."""

from __future__ import annotations

import copy
import re
from typing import Any

from template_iam import template

NAMED = re.compile(r"\((GUARD_[A-Z0-9_]+)[,)]")


def _fed_by(expression: Any) -> str | None:
    """The parameter a value comes from: `!Ref P`, or the first `!Ref` of an `!If`."""
    if isinstance(expression, dict) and "Ref" in expression:
        return expression["Ref"]
    if isinstance(expression, dict) and "Fn::If" in expression:
        _, then, otherwise = expression["Fn::If"]
        return _fed_by(then) or _fed_by(otherwise)
    return None


def misnamed(decoded: dict[str, Any]) -> list[str]:
    variables = decoded["Globals"]["Function"]["Environment"]["Variables"]
    parameters = decoded["Parameters"]
    problems = []
    for name, expression in sorted(variables.items()):
        parameter = _fed_by(expression)
        if not name.startswith("GUARD_") or parameter not in parameters:
            continue
        description = parameters[parameter].get("Description", "")
        if name not in NAMED.findall(description):
            problems.append(f"parameter `{parameter}` feeds `{name}` but its Description does not name it")
    return problems


def test_every_policy_parameter_names_its_setting() -> None:
    assert misnamed(template()) == []


def test_a_description_that_lost_its_setting_name_is_reported() -> None:
    decoded = copy.deepcopy(template())
    decoded["Parameters"]["CheckExceptions"]["Description"] = "exempted checks (GUARD_CHECK_(image)EPTIONS)."
    assert misnamed(decoded) == [
        "parameter `CheckExceptions` feeds `GUARD_CHECK_EXCEPTIONS` but its Description does not name it"
    ]
