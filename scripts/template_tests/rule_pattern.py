"""Prints the EventBridge pattern of one function event of `template.yaml`,
rendered for a deployment, as JSON: what a stack with those parameters
routes to its function. The end-to-end tests put these patterns on the
emulator's EventBridge, so that they route events exactly as the template
would (tests/tests/many_clusters.rs).

    python scripts/template_tests/rule_pattern.py FUNCTION EVENT [PARAMETER=VALUE ...]
    python scripts/template_tests/rule_pattern.py LaunchGuardFunction LaunchLifecycleAction ClusterName=prod

Account and region are the tests' (template_iam.PSEUDO).
"""

from __future__ import annotations

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import template_iam  # noqa: E402


def pattern(function: str, event: str, deployment: dict[str, str]) -> object:
    """The rendered `Pattern` of `function`'s event `event`."""
    resource = template_iam.template()["Resources"][function]
    spec = resource["Properties"]["Events"][event]["Properties"]["Pattern"]
    return _rendered(spec, deployment)


def _rendered(value: object, deployment: dict[str, str]) -> object:
    """Every intrinsic function in `value` evaluated; the rest as written."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Ref", "Condition") or any(
            key.startswith("Fn::") for key in value
        ):
            return template_iam.evaluate(value, deployment)
        return {key: _rendered(inner, deployment) for key, inner in value.items()}
    if isinstance(value, list):
        return [_rendered(inner, deployment) for inner in value]
    return value


def main(arguments: list[str]) -> int:
    if len(arguments) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    function, event, *pairs = arguments
    deployment = dict(pair.split("=", 1) for pair in pairs)
    print(json.dumps(pattern(function, event, deployment), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
