"""Issue 25, point 1: the organisation's templates.

- The StackSet template (scripts/org/make_stackset.py, generated from
  template.yaml) cannot drift from template.yaml: the same parameters (plus
  CodeBucketPrefix and CodeKeyPrefix), the same functions, the same rules and
  other resources, the same IAM. Each check is shown to catch a drifted copy.
- PermissionsBoundary is on every role of both templates when set, absent
  when empty.
- CentralEventBusArn adds the forwarding rule and its role, and only then.
- org/hub.yaml's bus takes events from the organisation only;
  org/audit-role.yaml grants exactly the reads the CLI's audit and leftovers
  survey make (derived from the Rust code, cli_calls.py), and no write.
- Two clusters' stacks in one account cannot collide on a physical name."""

from __future__ import annotations

import copy
import functools
import json
import pathlib
import sys
from collections.abc import Callable
from typing import Any

import pytest
from cfnlint.decode import decode

import cli_calls
from template_iam import (
    ACCOUNT,
    CENTRAL_BUS,
    CUSTOM_WITH_EVERY_FEATURE,
    DEFAULT,
    REGION,
    STACK,
    evaluate,
    held,
    is_read,
    roles,
    template,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "org"))
import make_stackset  # noqa: E402

Template = dict[str, Any]
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/platform-boundary"
FORWARDING = {**DEFAULT, "CentralEventBusArn": CENTRAL_BUS}
# The deployments the IAM of both templates is compared in: the default, one
# with every feature (each audit action), and one with a boundary.
IAM_DEPLOYMENTS = {
    "default": DEFAULT,
    **{f"every-feature-{d['AuditAction']}": d for d in CUSTOM_WITH_EVERY_FEATURE},
    "boundary-and-forwarding": {**FORWARDING, "PermissionsBoundary": BOUNDARY},
}


@functools.lru_cache(maxsize=1)
def _generated() -> str:
    return json.dumps(make_stackset.stackset_template(make_stackset.load(make_stackset.TEMPLATE)))


def stackset() -> Template:
    """A fresh copy of the generated StackSet template."""
    return json.loads(_generated())


def sam() -> Template:
    return json.loads(json.dumps(template()))


def _resolve(value: Any, deployment: dict[str, str], decoded: Template) -> Any:
    """A property value with every intrinsic in it evaluated."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arguments),) = value.items()
        if key == "Fn::If":
            # A branch may be a plain mapping (a condition block), not a string.
            condition, then, otherwise = arguments
            return _resolve(then if _holds(condition, deployment, decoded) else otherwise, deployment, decoded)
        if key == "Ref" or key.startswith("Fn::"):
            return evaluate(value, deployment, decoded)
    if isinstance(value, dict):
        return {k: _resolve(v, deployment, decoded) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, deployment, decoded) for v in value]
    return value


# ------------------------------------------------------------------- drift

FUNCTION_PROPERTIES = [
    "Runtime",
    "Architectures",
    "Handler",
    "MemorySize",
    "Timeout",
    "ReservedConcurrentExecutions",
    "Role",
    "KmsKeyArn",
    "LoggingConfig",
    "Environment",
    "Description",
]


def _sam_function(decoded: Template, name: str) -> dict[str, Any]:
    """A SAM function's properties with the Globals merged in as SAM merges
    them: maps key by key (the environment's variables too), the rest
    replaced."""
    merged = copy.deepcopy(decoded.get("Globals", {}).get("Function", {}))
    for key, value in decoded["Resources"][name]["Properties"].items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            if key == "Environment":
                variables = {**merged[key].get("Variables", {}), **value.get("Variables", {})}
                merged[key] = {"Variables": variables}
            else:
                merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _functions(decoded: Template, kind: str) -> list[str]:
    return sorted(n for n, r in decoded["Resources"].items() if r["Type"] == kind)


def parameter_drift(sam_template: Template, generated: Template) -> list[str]:
    ours, theirs = sam_template["Parameters"], generated["Parameters"]
    problems = [
        f"parameter `{p}` of template.yaml is missing from the StackSet template"
        for p in sorted(set(ours) - set(theirs))
    ]
    for name in sorted(set(theirs) - set(ours) - set(make_stackset.CODE_PARAMETERS)):
        problems.append(f"the StackSet template has parameter `{name}`, which template.yaml lacks")
    problems += [
        f"the StackSet template lacks parameter `{p}`" for p in make_stackset.CODE_PARAMETERS if p not in theirs
    ]
    for name in sorted(set(ours) & set(theirs)):
        if ours[name] != theirs[name]:
            problems.append(
                f"parameter `{name}` differs: {theirs[name]} in the StackSet template, {ours[name]} in template.yaml"
            )
    for section in ["Conditions", "Rules", "Outputs"]:
        if sam_template.get(section) != generated.get(section):
            problems.append(f"the {section} differ")
    return problems


def _event_drift(sam_template: Template, generated: Template, name: str) -> list[str]:
    """Each SAM event of the function is the rule SAM names <Function><Event>."""
    problems = []
    events = sam_template["Resources"][name]["Properties"].get("Events", {})
    for event, spec in events.items():
        rule = generated["Resources"].get(name + event)
        if rule is None or rule["Type"] != "AWS::Events::Rule":
            problems.append(f"event `{name}/{event}` has no rule `{name}{event}` in the StackSet template")
            continue
        written, made = spec["Properties"], rule["Properties"]
        pairs = {"ScheduleExpression": "Schedule", "EventPattern": "Pattern", "State": "State"}
        for property_, field in pairs.items():
            if written.get(field) != made.get(property_):
                problems.append(
                    f"event `{name}/{event}`: {property_} is {made.get(property_)} in the StackSet template, {written.get(field)} in template.yaml"
                )
        [target] = made["Targets"]
        if target["Arn"] != {"Fn::GetAtt": [name, "Arn"]}:
            problems.append(f"event `{name}/{event}`: the rule's target is {target['Arn']}, not the function")
        for field in ["RetryPolicy", "DeadLetterConfig"]:
            if written.get(field) != target.get(field):
                problems.append(
                    f"event `{name}/{event}`: {field} is {target.get(field)} in the StackSet template, {written.get(field)} in template.yaml"
                )
    return problems


def _invoke_config(written: dict[str, Any]) -> dict[str, Any]:
    """SAM's EventInvokeConfig as CloudFormation's: a destination's `Type`
    only tells SAM which permission to add (the role has it already)."""
    config = copy.deepcopy(written)
    for destination in config.get("DestinationConfig", {}).values():
        destination.pop("Type", None)
    return config


def function_drift(sam_template: Template, generated: Template) -> list[str]:
    ours = _functions(sam_template, "AWS::Serverless::Function")
    theirs = _functions(generated, "AWS::Lambda::Function")
    problems = [
        f"function `{f}` of template.yaml is missing from the StackSet template" for f in ours if f not in theirs
    ]
    problems += [
        f"the StackSet template has function `{f}`, which template.yaml lacks" for f in theirs if f not in ours
    ]
    binaries = make_stackset.binaries(sam_template)
    for name in sorted(set(ours) & set(theirs)):
        written, made = _sam_function(sam_template, name), generated["Resources"][name]["Properties"]
        for field in FUNCTION_PROPERTIES:
            if written.get(field) != made.get(field):
                problems.append(
                    f"function `{name}`: {field} is {made.get(field)} in the StackSet template, {written.get(field)} in template.yaml"
                )
        if made.get("Code") != make_stackset.code_location(binaries[name]):
            problems.append(f"function `{name}`: Code is {made.get('Code')}, not the region's code bucket")
        if generated["Resources"][name].get("DependsOn") != sam_template["Resources"][name].get("DependsOn"):
            problems.append(f"function `{name}`: DependsOn differs")
        invoke = generated["Resources"].get(f"{name}EventInvokeConfig", {}).get("Properties", {})
        for field, value in _invoke_config(written.get("EventInvokeConfig", {})).items():
            if invoke.get(field) != value:
                problems.append(
                    f"function `{name}`: EventInvokeConfig {field} is {invoke.get(field)} in the StackSet template, {value} in template.yaml"
                )
        problems += _event_drift(sam_template, generated, name)
    return problems


def resource_drift(sam_template: Template, generated: Template) -> list[str]:
    """Every resource template.yaml writes out (not a SAM one) is the same."""
    problems = []
    for name, resource in sam_template["Resources"].items():
        if resource["Type"].startswith("AWS::Serverless::"):
            continue
        if generated["Resources"].get(name) != resource:
            problems.append(f"resource `{name}` ({resource['Type']}) differs in the StackSet template")
    return problems


def _statements(role: str, deployment: dict[str, str], decoded: Template) -> list[str]:
    return sorted(
        json.dumps([s.policy, s.condition, s.body], sort_keys=True, default=str)
        for s in held(role, deployment, decoded)
    )


def _role_shape(role: str, deployment: dict[str, str], decoded: Template) -> dict[str, Any]:
    properties = decoded["Resources"][role]["Properties"]
    return {
        "trust": _resolve(properties["AssumeRolePolicyDocument"], deployment, decoded),
        "boundary": _resolve(properties.get("PermissionsBoundary"), deployment, decoded),
        "managed": _resolve(properties.get("ManagedPolicyArns"), deployment, decoded),
        "condition": decoded["Resources"][role].get("Condition"),
    }


def iam_drift(sam_template: Template, generated: Template) -> list[str]:
    ours, theirs = roles(sam_template), roles(generated)
    problems = [f"role `{r}` of template.yaml is missing from the StackSet template" for r in ours if r not in theirs]
    problems += [f"the StackSet template has role `{r}`, which template.yaml lacks" for r in theirs if r not in ours]
    for role in sorted(set(ours) & set(theirs)):
        for label, deployment in IAM_DEPLOYMENTS.items():
            if _role_shape(role, deployment, sam_template) != _role_shape(role, deployment, generated):
                problems.append(f"role `{role}` ({label}): its trust, boundary or managed policies differ")
            mine, made = _statements(role, deployment, sam_template), _statements(role, deployment, generated)
            if mine != made:
                only_made = sorted(set(made) - set(mine))
                only_mine = sorted(set(mine) - set(made))
                problems.append(
                    f"role `{role}` ({label}) holds other statements: only in the StackSet template {only_made}, only in template.yaml {only_mine}"
                )
    return problems


def drift(sam_template: Template, generated: Template) -> list[str]:
    return (
        parameter_drift(sam_template, generated)
        + function_drift(sam_template, generated)
        + resource_drift(sam_template, generated)
        # The deployments are of template.yaml's parameters: with one missing
        # (reported above) they cannot be evaluated in the other template.
        + (
            iam_drift(sam_template, generated)
            if set(sam_template["Parameters"]) <= set(generated["Parameters"])
            else []
        )
    )


def test_the_stackset_template_is_template_yaml_transformed() -> None:
    generated = stackset()
    assert "Transform" not in generated
    assert not [r for r in generated["Resources"].values() if r["Type"].startswith("AWS::Serverless::")]
    assert drift(sam(), generated) == []
    # The translator's placeholder region and code never reach the output.
    text = json.dumps(generated)
    assert make_stackset._TRANSLATOR_REGION not in text
    assert "placeholder" not in text


def test_each_function_takes_its_code_from_the_region_s_bucket() -> None:
    generated = stackset()
    codes = {
        name: _resolve(
            generated["Resources"][name]["Properties"]["Code"],
            {**DEFAULT, "CodeBucketPrefix": "acme-guard", "CodeKeyPrefix": "scaling-guard/1.4.0"},
            generated,
        )
        for name in _functions(generated, "AWS::Lambda::Function")
    }
    assert codes == {
        "BudgetGuardFunction": {"S3Bucket": f"acme-guard-{REGION}", "S3Key": "scaling-guard/1.4.0/budget-guard.zip"},
        "InstanceAuditFunction": {
            "S3Bucket": f"acme-guard-{REGION}",
            "S3Key": "scaling-guard/1.4.0/instance-audit.zip",
        },
        "LaunchGuardFunction": {"S3Bucket": f"acme-guard-{REGION}", "S3Key": "scaling-guard/1.4.0/launch-guard.zip"},
        "StackGuardFunction": {"S3Bucket": f"acme-guard-{REGION}", "S3Key": "scaling-guard/1.4.0/stack-guard.zip"},
    }


def test_the_script_writes_the_template(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "stackset.json"
    assert make_stackset.main(["--out", str(out)]) == 0
    assert json.loads(out.read_text()) == stackset()


def test_the_checkov_skips_survive_the_transform() -> None:
    generated = stackset()
    for name in _functions(generated, "AWS::Lambda::Function"):
        written = sam()["Resources"][name]["Metadata"]["checkov"]
        assert generated["Resources"][name]["Metadata"] == {"checkov": written}, name


# Each check catches a drifted copy: one thing changed, and the line it reports.
def _set(path: str, value: Any) -> Callable[[Template], None]:
    def mutate(decoded: Template) -> None:
        *parents, last = path.split("/")
        node = decoded
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value

    return mutate


def _add_action(decoded: Template) -> None:
    policy = decoded["Resources"]["BudgetGuardRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    policy["Statement"][0]["Action"] = [*policy["Statement"][0]["Action"], "ec2:TerminateInstances"]


STACKSET_DRIFTS = [
    ("Parameters/Mode/Default", "enforce", "parameter `Mode` differs"),
    ("Parameters/MaxVcpus", None, "parameter `MaxVcpus` of template.yaml is missing from the StackSet template"),
    ("Parameters/CodeKeyPrefix", None, "the StackSet template lacks parameter `CodeKeyPrefix`"),
    ("Parameters/Extra", {"Type": "String"}, "the StackSet template has parameter `Extra`, which template.yaml lacks"),
    (
        "Resources/StackGuardFunction",
        None,
        "function `StackGuardFunction` of template.yaml is missing from the StackSet template",
    ),
    (
        "Resources/LaunchGuardFunction/Properties/Runtime",
        "provided.al2",
        "function `LaunchGuardFunction`: Runtime is provided.al2",
    ),
    (
        "Resources/LaunchGuardFunction/Properties/Architectures",
        ["x86_64"],
        "function `LaunchGuardFunction`: Architectures is ['x86_64']",
    ),
    ("Resources/LaunchGuardFunction/Properties/MemorySize", 512, "function `LaunchGuardFunction`: MemorySize is 512"),
    ("Resources/InstanceAuditFunction/Properties/Timeout", 30, "function `InstanceAuditFunction`: Timeout is 30"),
    (
        "Resources/BudgetGuardFunction/Properties/ReservedConcurrentExecutions",
        None,
        "function `BudgetGuardFunction`: ReservedConcurrentExecutions is None",
    ),
    (
        "Resources/StackGuardFunction/Properties/Environment/Variables/GUARD_MODE",
        None,
        "function `StackGuardFunction`: Environment is",
    ),
    (
        "Resources/LaunchGuardFunction/Properties/Code/S3Key",
        "launch-guard.zip",
        "function `LaunchGuardFunction`: Code is",
    ),
    (
        "Resources/BudgetGuardFunctionEveryMinute/Properties/ScheduleExpression",
        "rate(5 minutes)",
        "event `BudgetGuardFunction/EveryMinute`: ScheduleExpression is rate(5 minutes)",
    ),
    (
        "Resources/LaunchGuardFunctionLaunchLifecycleAction",
        None,
        "event `LaunchGuardFunction/LaunchLifecycleAction` has no rule",
    ),
    (
        "Resources/LaunchGuardFunctionEventInvokeConfig/Properties/MaximumRetryAttempts",
        0,
        "function `LaunchGuardFunction`: EventInvokeConfig MaximumRetryAttempts is 0",
    ),
    (
        "Resources/InstanceStateChangeRule/Properties/State",
        "DISABLED",
        "resource `InstanceStateChangeRule` (AWS::Events::Rule) differs",
    ),
    (
        "Resources/StackGuardRole/Properties/PermissionsBoundary",
        None,
        "role `StackGuardRole` (boundary-and-forwarding): its trust, boundary or managed policies differ",
    ),
    (
        "Resources/HookNotificationRole",
        None,
        "role `HookNotificationRole` of template.yaml is missing from the StackSet template",
    ),
    ("Conditions/IsEnforce", {"Fn::Equals": ["a", "a"]}, "the Conditions differ"),
]


@pytest.mark.parametrize(("path", "value", "reported"), STACKSET_DRIFTS, ids=[d[0] for d in STACKSET_DRIFTS])
def test_a_drifted_stackset_template_is_reported(path: str, value: Any, reported: str) -> None:
    generated = stackset()
    _set(path, value)(generated)
    found = drift(sam(), generated)
    assert any(line.startswith(reported) for line in found), found


def test_a_statement_only_one_template_holds_is_reported() -> None:
    generated = stackset()
    _add_action(generated)
    found = iam_drift(sam(), generated)
    assert any(
        line.startswith("role `BudgetGuardRole` (default) holds other statements") and "ec2:TerminateInstances" in line
        for line in found
    ), found


def test_a_template_yaml_that_moved_on_is_reported_too() -> None:
    # The generated template is the old one; template.yaml gained a parameter.
    moved = sam()
    moved["Parameters"]["NewSetting"] = {"Type": "String", "Default": ""}
    moved["Globals"]["Function"]["Environment"]["Variables"]["GUARD_MAX_GPUS"] = {"Ref": "NewSetting"}
    found = drift(moved, stackset())
    assert "parameter `NewSetting` of template.yaml is missing from the StackSet template" in found
    assert any(line.startswith("function `LaunchGuardFunction`: Environment is") for line in found), found


# ---------------------------------------------------------------- boundary


def _boundaries(decoded: Template, deployment: dict[str, str]) -> dict[str, Any]:
    """Each role of the deployment -> its evaluated boundary ("missing": none written)."""
    found = {}
    for role in roles(decoded):
        resource = decoded["Resources"][role]
        condition = resource.get("Condition")
        if condition is not None and not _holds(condition, deployment, decoded):
            continue
        written = resource["Properties"].get("PermissionsBoundary", "missing")
        found[role] = written if written == "missing" else evaluate(written, deployment, decoded)
    return found


def _holds(condition: str, deployment: dict[str, str], decoded: Template) -> bool:
    return evaluate({"Fn::If": [condition, "yes", "no"]}, deployment, decoded) == "yes"


EVERY_ROLE = {
    "LaunchGuardRole",
    "InstanceAuditRole",
    "BudgetGuardRole",
    "StackGuardRole",
    "HookNotificationRole",
    "CentralBusForwardRole",
}


@pytest.mark.parametrize("which", ["template.yaml", "stackset"])
def test_the_boundary_is_on_every_role_when_set_and_absent_when_empty(which: str) -> None:
    decoded = sam() if which == "template.yaml" else stackset()
    every = {**CUSTOM_WITH_EVERY_FEATURE[0], "CentralEventBusArn": CENTRAL_BUS}
    bounded = _boundaries(decoded, {**every, "PermissionsBoundary": BOUNDARY})
    assert set(bounded) == EVERY_ROLE == set(roles(decoded))
    assert bounded == dict.fromkeys(EVERY_ROLE, BOUNDARY)
    assert _boundaries(decoded, every) == dict.fromkeys(EVERY_ROLE, None)


def test_a_role_without_the_boundary_is_reported() -> None:
    decoded = sam()
    del decoded["Resources"]["HookNotificationRole"]["Properties"]["PermissionsBoundary"]
    found = _boundaries(
        decoded, {**DEFAULT, "LaunchQueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q", "PermissionsBoundary": BOUNDARY}
    )
    assert found["HookNotificationRole"] == "missing"


# ------------------------------------------------------------ forwarding

FORWARDERS = ["CentralBusForwardRule", "CentralBusForwardRole"]


@pytest.mark.parametrize(
    ("deployment", "forwards"),
    [
        (DEFAULT, False),
        (FORWARDING, True),
        ({**FORWARDING, "DecisionEventBus": "none"}, False),
        ({**FORWARDING, "DecisionEventBus": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/guard"}, True),
    ],
    ids=["unset", "set", "set-but-no-events", "set-with-own-bus"],
)
def test_the_forwarding_rule_and_role_exist_only_when_the_bus_is_set_and_events_are_sent(
    deployment: dict[str, str], forwards: bool
) -> None:
    decoded = sam()
    for name in FORWARDERS:
        assert _holds(decoded["Resources"][name]["Condition"], deployment, decoded) is forwards, name


def test_the_forwarding_rule_sends_this_cluster_s_events_to_the_central_bus() -> None:
    decoded = sam()
    rule = _resolve(decoded["Resources"]["CentralBusForwardRule"]["Properties"], FORWARDING, decoded)
    assert rule["EventBusName"] == "default"
    assert rule["EventPattern"] == {
        "source": ["scaling-guard"],
        "account": [ACCOUNT],
        "region": [REGION],
        "detail": {"cluster": ["prod"]},
    }
    [target] = rule["Targets"]
    assert target["Arn"] == CENTRAL_BUS
    assert target["RoleArn"] == "<CentralBusForwardRole.Arn>"
    assert target["DeadLetterConfig"] == {"Arn": "<DeadLetterQueue.Arn>"}
    own = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/guard"
    assert (
        _resolve(
            decoded["Resources"]["CentralBusForwardRule"]["Properties"]["EventBusName"],
            {**FORWARDING, "DecisionEventBus": own},
            decoded,
        )
        == own
    )


def test_the_forwarding_role_may_put_events_on_the_central_bus_only() -> None:
    decoded = sam()
    [statement] = held("CentralBusForwardRole", FORWARDING, decoded)
    assert statement.effect == "Allow"
    assert statement.actions == ["events:PutEvents"]
    assert [evaluate(r, FORWARDING, decoded) for r in statement.resources] == [CENTRAL_BUS]
    trust = _resolve(
        decoded["Resources"]["CentralBusForwardRole"]["Properties"]["AssumeRolePolicyDocument"], FORWARDING, decoded
    )
    [trusted] = trust["Statement"]
    assert trusted["Principal"] == {"Service": "events.amazonaws.com"}
    assert trusted["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_the_forwarding_rule_s_failures_alarm_and_dead_letter() -> None:
    decoded = sam()
    text = json.dumps(decoded["Resources"]["DeadLetterQueuePolicy"])
    assert '"aws:SourceArn": {"Fn::GetAtt": ["CentralBusForwardRule", "Arn"]}' in text
    for alarm in ["RuleFailedInvocationsAlarm", "RuleDeadLetterFailuresAlarm"]:
        assert '{"Ref": "CentralBusForwardRule"}' in json.dumps(decoded["Resources"][alarm]), alarm


# --------------------------------------------------------------------- hub

HUB = ROOT / "org" / "hub.yaml"
AUDIT_ROLE = ROOT / "org" / "audit-role.yaml"


def _decode(path: pathlib.Path) -> Template:
    decoded, problems = decode(str(path))
    assert not problems, problems
    return json.loads(json.dumps(decoded))


def test_the_hub_bus_takes_events_from_the_organisation_only() -> None:
    hub = _decode(HUB)
    kinds = sorted(r["Type"] for r in hub["Resources"].values())
    assert kinds == ["AWS::Events::EventBus", "AWS::Events::EventBusPolicy"]
    [policy] = [r["Properties"] for r in hub["Resources"].values() if r["Type"] == "AWS::Events::EventBusPolicy"]
    statement = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == {"Fn::GetAtt": ["OrganisationBus", "Arn"]}
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}
    assert policy["EventBusName"] == {"Ref": "OrganisationBus"}
    assert hub["Outputs"]["EventBusArn"]["Value"] == {"Fn::GetAtt": ["OrganisationBus", "Arn"]}
    assert "Default" not in hub["Parameters"]["OrganizationId"]


# -------------------------------------------------------------- audit role


def _granted(role_template: Template) -> list[dict[str, Any]]:
    [role] = [r for r in role_template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def audit_role_problems(role_template: Template, needed: dict[str, set[str]]) -> list[str]:
    """The audit role against the actions the CLI's audit and survey call."""
    problems = []
    granted: set[str] = set()
    for statement in _granted(role_template):
        if statement["Effect"] != "Allow" or "NotAction" in statement or "NotResource" in statement:
            problems.append(f"statement {statement.get('Sid')} is not a plain Allow")
        actions = statement.get("Action", [])
        granted |= {actions} if isinstance(actions, str) else set(actions)
    for action in sorted(set(needed) - granted):
        problems.append(
            f"org/audit-role.yaml lacks {action}, which the CLI calls ({', '.join(sorted(needed[action]))})"
        )
    for action in sorted(granted - set(needed)):
        problems.append(f"org/audit-role.yaml grants {action}, which the CLI's audit and leftovers survey never call")
    for action in sorted(granted):
        if "*" in action or not is_read(action):
            problems.append(f"org/audit-role.yaml grants {action}, which is not a read")
    return problems


def test_the_audit_role_grants_exactly_the_reads_of_the_audit_and_the_survey() -> None:
    needed = cli_calls.member_account_actions()
    # The derivation sees the survey's and the audit's calls.
    assert {"autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances"} <= set(needed)
    assert audit_role_problems(_decode(AUDIT_ROLE), needed) == []


def test_the_derived_calls_hold_no_write() -> None:
    writes = sorted(a for a in cli_calls.member_account_actions() if not is_read(a))
    assert writes == []


@pytest.mark.parametrize(
    ("change", "reported"),
    [
        ("needs-more", "org/audit-role.yaml lacks iam:GetRolePolicy, which the CLI calls (breaker_policy)"),
        (
            "grants-more",
            "org/audit-role.yaml grants ec2:DescribeTags, which the CLI's audit and leftovers survey never call",
        ),
        ("grants-a-write", "org/audit-role.yaml grants ec2:TerminateInstances, which is not a read"),
    ],
)
def test_an_audit_role_that_drifted_from_the_code_is_reported(change: str, reported: str) -> None:
    role_template, needed = _decode(AUDIT_ROLE), copy.deepcopy(cli_calls.member_account_actions())
    statements = _granted(role_template)
    if change == "needs-more":
        needed["iam:GetRolePolicy"] = {"breaker_policy"}
    elif change == "grants-more":
        statements[0]["Action"].append("ec2:DescribeTags")
    else:
        statements[0]["Action"].append("ec2:TerminateInstances")
    assert reported in audit_role_problems(role_template, needed)


@pytest.mark.parametrize(
    ("external_id", "condition"), [("", None), ("s3cret-id", {"StringEquals": {"sts:ExternalId": "s3cret-id"}})]
)
def test_the_audit_role_trusts_the_audit_account_with_an_optional_external_id(external_id: str, condition: Any) -> None:
    role_template = _decode(AUDIT_ROLE)
    role = role_template["Resources"]["AuditRole"]["Properties"]
    deployment = {"AuditAccountId": "999988887777", "ExternalId": external_id}
    [trust] = _resolve(role["AssumeRolePolicyDocument"], deployment, role_template)["Statement"]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::999988887777:root"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust.get("Condition") == condition
    assert role_template["Parameters"]["RoleName"]["Default"] == "scaling-guard-audit"
    assert role["RoleName"] == {"Ref": "RoleName"}


# ------------------------------------------------------------ no collision

# The property that names each resource type's physical resource, when the
# template sets it. Every resource type of the StackSet template is here or
# in UNNAMED, so a new type needs a decision.
NAME_PROPERTIES = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Events::Rule": "Name",
    "AWS::Events::EventBus": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::SecretsManager::Secret": "Name",
}
# Types with no account-wide name: scoped to their parent (an inline policy's
# name to its role, a permission to its function) or named by AWS.
UNNAMED = {
    "AWS::IAM::Policy",
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::EventSourceMapping",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::SNS::Subscription",
    "AWS::KMS::Key",
    "Custom::ScalingGuardPolicy",
}


def fixed_names(decoded: Template) -> list[str]:
    """Resources whose physical name is neither generated nor holds the stack
    or the cluster name, in a deployment of cluster `blue`."""
    deployment = {
        **DEFAULT,
        "ClusterName": "blue",
        "CentralEventBusArn": CENTRAL_BUS,
        "LaunchQueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q",
    }
    problems = []
    for name, resource in sorted(decoded["Resources"].items()):
        kind = resource["Type"]
        if kind in UNNAMED:
            continue
        if kind not in NAME_PROPERTIES:
            problems.append(f"`{name}`: {kind} is in neither NAME_PROPERTIES nor UNNAMED")
            continue
        written = resource["Properties"].get(NAME_PROPERTIES[kind])
        if written is None:
            continue
        value = str(_resolve(written, deployment, decoded))
        if STACK not in value and "blue" not in value:
            problems.append(f"`{name}`: {NAME_PROPERTIES[kind]} `{value}` names neither the stack nor the cluster")
    return problems


def test_no_physical_name_of_the_stackset_template_is_fixed() -> None:
    assert fixed_names(stackset()) == []


def test_a_fixed_name_is_reported() -> None:
    generated = stackset()
    generated["Resources"]["DeadLetterQueue"]["Properties"]["QueueName"] = "scaling-guard-dlq"
    generated["Resources"]["Extra"] = {"Type": "AWS::StepFunctions::StateMachine", "Properties": {}}
    assert fixed_names(generated) == [
        "`DeadLetterQueue`: QueueName `scaling-guard-dlq` names neither the stack nor the cluster",
        "`Extra`: AWS::StepFunctions::StateMachine is in neither NAME_PROPERTIES nor UNNAMED",
    ]
