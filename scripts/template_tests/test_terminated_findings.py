"""instance-audit hears `terminated` state changes only with SecurityHub=true
(issue 24, point 1): it archives a terminated instance's Security Hub
findings; without Security Hub, terminations of the whole account would
only fill the stack's queue."""

from __future__ import annotations

import pytest

from template_iam import evaluate, template


def states(security_hub: str) -> list[str]:
    """The states the instance state-change rule routes, for a deployment."""
    pattern = template()["Resources"]["InstanceStateChangeRule"]["Properties"]["EventPattern"]
    return evaluate(pattern["detail"]["state"], {"SecurityHub": security_hub})


@pytest.mark.parametrize(
    "security_hub, expected",
    [
        ("true", ["pending", "running", "terminated"]),
        ("false", ["pending", "running"]),
    ],
)
def test_the_state_change_rule_routes_terminated_only_with_security_hub(
    security_hub: str, expected: list[str]
) -> None:
    assert states(security_hub) == expected
