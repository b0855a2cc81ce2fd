"""Several clusters in one account, each with its own stack (issue 20, SPEC
section 12), template side: membership is cluster tag key and value, the hook
name is unique per cluster, each stack's rules hear only its own account and
region, budget-guard believes only its own alarms, and with a launch queue the
enrolled hooks notify that queue with a role the stack makes."""

from __future__ import annotations

import re
from typing import Any

import pytest

import template_iam
from template_iam import CUSTOM, DEFAULT, LAUNCH_QUEUE, STACK, evaluate, parameters, template


def pattern(name: str) -> re.Pattern[str]:
    return re.compile(template()["Parameters"][name]["AllowedPattern"])


def console_groups() -> list[dict[str, Any]]:
    return template()["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]


def globals_() -> dict[str, Any]:
    return template()["Globals"]["Function"]["Environment"]["Variables"]


# ------------------------------------------------------- cluster tag value


def _rule_holds(expression: Any, values: dict[str, str]) -> bool:
    """A Rules expression (Fn::Not, Fn::Equals, Ref of parameters)."""
    ((function, arguments),) = expression.items()
    if function == "Fn::Not":
        (inner,) = arguments
        return not _rule_holds(inner, values)
    if function == "Fn::Equals":
        left, right = (values[a["Ref"]] if isinstance(a, dict) else a for a in arguments)
        return left == right
    raise AssertionError(f"rule function {function} is not evaluated here")


def failed_assertions(deployment: dict[str, str]) -> list[str]:
    """What CloudFormation's Rules refuse for these parameters, before any
    resource is made."""
    values = parameters(deployment)
    failed = []
    for rule in template()["Rules"].values():
        if "RuleCondition" in rule and not _rule_holds(rule["RuleCondition"], values):
            continue
        for assertion in rule["Assertions"]:
            if not _rule_holds(assertion["Assert"], values):
                failed.append(assertion["AssertDescription"])
    return failed


@pytest.mark.parametrize(
    ("key", "value", "accepted"),
    [
        # The default key names the cluster by itself: any value, or one.
        ("", "", True),
        ("", "owned", True),
        # A key every cluster of the account carries needs the value.
        ("eks:cluster-name", "prod", True),
        ("karpenter.sh/discovery", "prod", True),
        ("eks:cluster-name", "", False),
        ("karpenter.sh/discovery", "", False),
        # Rules cannot build kubernetes.io/cluster/<ClusterName>: typed out,
        # the default key needs a value too (leave it empty instead).
        ("kubernetes.io/cluster/prod", "", False),
    ],
)
def test_a_custom_cluster_tag_key_without_a_value_fails_the_deployment(
    key: str, value: str, accepted: bool
) -> None:
    failed = failed_assertions({**DEFAULT, "ClusterTagKey": key, "ClusterTagValue": value})
    assert (failed == []) is accepted, failed


def test_the_refusal_says_why_a_key_alone_is_not_enough() -> None:
    (message,) = failed_assertions({**DEFAULT, "ClusterTagKey": "eks:cluster-name"})
    assert "ClusterTagKey needs ClusterTagValue" in message
    assert "every cluster of the account" in message
    assert "other clusters' groups and instances" in message
    assert "only key and value" in message
    assert "Leave ClusterTagKey empty for the default" in message


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        ("prod", True),
        ("owned", True),
        ("team a/prod-eu_1:blue=+@.", True),
        ("v" * 256, True),
        ("v" * 257, False),
        (" prod", False),
        ("prod ", False),
        ('pr"od', False),
        ("pr\\od", False),
        ("prod*", False),
        ("pr?d", False),
        ("${AWS::AccountId}", False),
    ],
)
def test_the_cluster_tag_value_is_a_tag_value_safe_inside_a_policy_document(
    value: str, accepted: bool
) -> None:
    # Substituted into the IAM JSON documents: a quote, a backslash or a
    # wildcard could change the condition; a space at either end would be
    # trimmed by the functions and not by IAM.
    assert bool(pattern("ClusterTagValue").fullmatch(value)) is accepted


@pytest.mark.parametrize(
    ("key", "accepted"),
    [
        ("", True),
        ("eks:cluster-name", True),
        ("karpenter.sh/discovery", True),
        ("kubernetes.io/cluster/prod", True),
        ("k" * 128, True),
        ("k" * 129, False),
        ("aws:autoscaling:groupName", False),
        (" eks:cluster-name", False),
        ("eks:cluster-name ", False),
        ('eks"', False),
    ],
)
def test_the_cluster_tag_key_has_no_space_at_either_end(key: str, accepted: bool) -> None:
    assert bool(pattern("ClusterTagKey").fullmatch(key)) is accepted


def test_the_cluster_tag_value_fills_its_variable_and_is_in_the_cluster_group() -> None:
    assert template()["Parameters"]["ClusterTagValue"]["Default"] == ""
    assert globals_()["GUARD_CLUSTER_TAG_VALUE"] == {"Ref": "ClusterTagValue"}
    (cluster,) = [g for g in console_groups() if g["Label"]["default"] == "Cluster"]
    names = cluster["Parameters"]
    assert names.index("ClusterTagValue") == names.index("ClusterTagKey") + 1
    assert sum("ClusterTagValue" in g["Parameters"] for g in console_groups()) == 1


# ---------------------------------------------------------------- hook name

HOOK_NAME = {
    "Fn::If": ["HasHookName", {"Ref": "HookName"}, {"Fn::Sub": "scaling-guard-${ClusterName}"}]
}


def _uses_of_hook_name(node: Any, path: str = "") -> list[str]:
    """Paths of every expression that names the hook: the resolved
    expression, or a bare Ref of the parameter."""
    if node == HOOK_NAME:
        return [path]
    if node == {"Ref": "HookName"}:
        return [path + " (bare Ref)"]
    if isinstance(node, dict):
        return [u for k, v in node.items() for u in _uses_of_hook_name(v, f"{path}/{k}")]
    if isinstance(node, list):
        return [u for i, v in enumerate(node) for u in _uses_of_hook_name(v, f"{path}/{i}")]
    return []


def test_the_hook_name_is_resolved_by_one_expression_wherever_it_is_named() -> None:
    decoded = template()
    uses = _uses_of_hook_name({k: decoded[k] for k in ("Globals", "Resources", "Outputs")})
    assert sorted(uses) == [
        "/Globals/Function/Environment/Variables/GUARD_HOOK_NAME",
        "/Outputs/HookName/Value",
        "/Resources/Guard/Properties/Policy/GUARD_HOOK_NAME",
        "/Resources/LaunchGuardFunction/Properties/Events/LaunchLifecycleAction/Properties/Pattern/detail/LifecycleHookName/0",
    ]
    assert decoded["Conditions"]["HasHookName"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "HookName"}, ""]}]
    }


@pytest.mark.parametrize(
    ("deployment", "name"),
    [
        (DEFAULT, "scaling-guard-prod"),
        ({**DEFAULT, "ClusterName": "staging"}, "scaling-guard-staging"),
        ({**DEFAULT, "HookName": "platform/launch-guard"}, "platform/launch-guard"),
    ],
)
def test_the_default_hook_name_is_unique_per_cluster(deployment: dict[str, str], name: str) -> None:
    assert template()["Parameters"]["HookName"]["Default"] == ""
    assert evaluate(HOOK_NAME, deployment) == name
    assert pattern("HookName").fullmatch(deployment.get("HookName", ""))
    # The longest cluster name still makes a hook name Auto Scaling accepts.
    longest = evaluate(HOOK_NAME, {**DEFAULT, "ClusterName": "c" * 100})
    assert len(longest) <= 255 and pattern("HookName").fullmatch(longest)


# ------------------------------------------------------------ event patterns


def _event_patterns() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, resource in template()["Resources"].items():
        if resource["Type"] == "AWS::Events::Rule" and "EventPattern" in resource["Properties"]:
            found.append((name, resource["Properties"]["EventPattern"]))
        if resource["Type"] == "AWS::Serverless::Function":
            for event, spec in resource["Properties"].get("Events", {}).items():
                if spec["Type"] in {"EventBridgeRule", "CloudWatchEvent"}:
                    found.append((f"{name}/{event}", spec["Properties"]["Pattern"]))
    return found


def test_the_template_has_the_three_event_rules() -> None:
    names = {name for name, _ in _event_patterns()}
    assert {
        "LaunchGuardFunction/LaunchLifecycleAction",
        "InstanceStateChangeRule",
        "LaunchSuccessfulRule",
    } <= names


@pytest.mark.parametrize("name, event_pattern", _event_patterns(), ids=[n for n, _ in _event_patterns()])
def test_every_event_pattern_hears_only_this_account_and_region(
    name: str, event_pattern: dict[str, Any]
) -> None:
    # The default bus also carries events other accounts or regions forward
    # to it; Auto Scaling and EC2 events carry both fields.
    assert event_pattern["account"] == [{"Ref": "AWS::AccountId"}], name
    assert event_pattern["region"] == [{"Ref": "AWS::Region"}], name


# ---------------------------------------------------------------- alarm trust

BUDGETS = {
    "MaxVcpus": ("VcpuBudgetAlarm", "VcpuPercentOfBudget"),
    "MaxMemoryMib": ("MemoryBudgetAlarm", "MemoryPercentOfBudget"),
    "MaxInstances": ("InstancesBudgetAlarm", "InstancesPercentOfBudget"),
}


def _mentions_a_resource(node: Any) -> bool:
    if isinstance(node, dict):
        if "Fn::GetAtt" in node or ("Ref" in node and node["Ref"] in template()["Resources"]):
            return True
        return any(_mentions_a_resource(v) for v in node.values())
    if isinstance(node, list):
        return any(_mentions_a_resource(v) for v in node)
    return False


@pytest.mark.parametrize(
    "budgets",
    [(), ("MaxVcpus",), ("MaxMemoryMib", "MaxInstances"), tuple(BUDGETS)],
    ids=["none", "vcpus", "memory-instances", "all"],
)
def test_budget_guard_knows_the_names_of_exactly_the_budget_alarms_the_stack_makes(
    budgets: tuple[str, ...],
) -> None:
    deployment = {**DEFAULT, **{b: "64" for b in budgets}}
    expression = globals_()["GUARD_BUDGET_ALARM_NAMES"]
    # Names written as strings: a Ref or GetAtt of an alarm would be a cycle
    # (the alarms' actions name budget-guard).
    assert not _mentions_a_resource(expression)
    # Empty items (budgets that are off) are skipped by the policy parser.
    named = {n for n in evaluate(expression, deployment).split(",") if n}
    resources = template()["Resources"]
    made = {
        evaluate(resources[alarm]["Properties"]["AlarmName"], deployment)
        for budget, (alarm, _) in BUDGETS.items()
        if budget in budgets
    }
    assert named == made
    assert all(n.startswith(f"{STACK}-") for n in named)
    for budget, (alarm, metric) in BUDGETS.items():
        assert resources[alarm]["Properties"]["MetricName"] == metric


def test_budget_guard_knows_the_surge_alarm_prefix() -> None:
    assert globals_()["GUARD_SURGE_ALARM_PREFIX"] == {"Ref": "SurgeAlarmPrefix"}


# ------------------------------------------------- hook notification target


@pytest.mark.parametrize(
    ("deployment", "target", "role"),
    [
        (DEFAULT, "", ""),
        ({**CUSTOM, "LaunchQueueArn": LAUNCH_QUEUE}, LAUNCH_QUEUE, "<HookNotificationRole.Arn>"),
    ],
    ids=["eventbridge", "launch-queue"],
)
def test_enrolled_hooks_notify_the_launch_queue_with_the_stacks_role(
    deployment: dict[str, str], target: str, role: str
) -> None:
    variables = globals_()
    assert evaluate(variables["GUARD_HOOK_NOTIFICATION_TARGET_ARN"], deployment) == target
    assert evaluate(variables["GUARD_HOOK_NOTIFICATION_ROLE_ARN"], deployment) == role
    # The role exists exactly when the queue is set.
    assert template()["Resources"]["HookNotificationRole"]["Condition"] == "HasLaunchQueue"
    assert variables["GUARD_HOOK_NOTIFICATION_ROLE_ARN"]["Fn::If"][0] == "HasLaunchQueue"


def test_the_rendered_launch_rule_of_each_cluster_differs_by_its_hook_alone():
    """`rule_pattern.py` (used by the end-to-end tests to route events as
    the template would) renders each stack's launch rule."""
    import rule_pattern

    prod = rule_pattern.pattern("LaunchGuardFunction", "LaunchLifecycleAction", {"ClusterName": "prod"})
    staging = rule_pattern.pattern("LaunchGuardFunction", "LaunchLifecycleAction", {"ClusterName": "staging"})
    assert prod["detail"] == {"LifecycleHookName": ["scaling-guard-prod"]}
    assert staging["detail"] == {"LifecycleHookName": ["scaling-guard-staging"]}
    assert {k: v for k, v in prod.items() if k != "detail"} == {k: v for k, v in staging.items() if k != "detail"}
    assert prod["account"] == [template_iam.ACCOUNT] and prod["region"] == [template_iam.REGION]
