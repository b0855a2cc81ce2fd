"""The IAM of template.yaml as plain statements, for the template tests.

A deployment is a set of parameter values (the template's defaults for the
rest). Policy documents written as JSON strings (`!Sub` with the cluster tag
in a condition key) are resolved for a deployment: their substitution
variables (`TagKey`, `TagOperator`, `TagValue`, ...) are evaluated with the
deployment's parameters and the template's own conditions. An optional policy
inside `!If [Condition, policy, AWS::NoValue]` is read as granted, with the
name of its condition kept, so that a test sees everything a role can ever
hold and under which condition; `held` keeps what one deployment holds.

`boundary_violations` is the least-privilege checker of SPEC section 12 and
issue 20: every mutating statement pins the cluster tag key and value, or is
listed in NOT_PINNABLE with the reason IAM cannot, or acts on this stack's own
resources; nothing acts on another account's resources."""

from __future__ import annotations

import copy
import functools
import json
import pathlib
import re
from dataclasses import dataclass
from typing import Any

from cfnlint.decode import decode

TEMPLATE = pathlib.Path(__file__).resolve().parents[2] / "template.yaml"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
STACK = "prod-guard"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::StackName": STACK,
    "AWS::NoValue": None,
}
TAG_KEY = "kubernetes.io/cluster/prod"

# The deployment most tests read: cluster prod, the default cluster tag, the
# template's defaults, and isolate's resources named (their ARNs appear in the
# isolate policy whenever it is read).
DEFAULT: dict[str, str] = {
    "ClusterName": "prod",
    "ClusterVpcId": "vpc-0123456789abcdef0",
    "QuarantineSecurityGroupId": "sg-0123456789abcdef0",
}
LAUNCH_QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:prod-launches"
LAUNCH_QUEUE_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# The organisation's bus in the hub account (org/hub.yaml), for CentralEventBusArn.
CENTRAL_BUS = f"arn:aws:events:{REGION}:111122223333:event-bus/scaling-guard-org"
# A cluster marked by a key every cluster of the account carries
# (eks:cluster-name on EKS managed node groups): only key and value name it.
CUSTOM_KEY = "eks:cluster-name"
CUSTOM_VALUE = "prod"
CUSTOM: dict[str, str] = {
    **DEFAULT,
    "ClusterTagKey": CUSTOM_KEY,
    "ClusterTagValue": CUSTOM_VALUE,
    "Mode": "enforce",
}
# CUSTOM with every feature that adds a mutating statement on: the clamp,
# enrollment through the launch queue (and its key), image.outdated, budgets,
# check exceptions (their expiry record), and each audit action in turn (one
# deployment holds one).
CUSTOM_WITH_EVERY_FEATURE: list[dict[str, str]] = [
    {
        **CUSTOM,
        "ClampMaxSize": "true",
        "EnrollGroups": "true",
        "LaunchQueueArn": LAUNCH_QUEUE,
        "LaunchQueueKeyArn": LAUNCH_QUEUE_KEY,
        "KubernetesVersion": "1.31",
        "MaxVcpus": "64",
        "MaxMemoryMib": "262144",
        "MaxInstances": "20",
        "AuditAction": action,
        "LauncherRoleArns": f"arn:aws:iam::{ACCOUNT}:role/karpenter-controller",
        "CheckExceptions": "imds.hop_limit@prod-ebs-csi-* until=2027-03-31 reason=PLAT-123",
        "SecurityHub": "true",
        "ChatTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:team-chat",
        "CentralEventBusArn": CENTRAL_BUS,
    }
    for action in ["stop", "terminate", "isolate"]
]


@dataclass(frozen=True)
class Statement:
    role: str
    policy: str
    # The template condition the policy exists under (None: always).
    condition: str | None
    body: dict[str, Any]

    @property
    def effect(self) -> str:
        return self.body["Effect"]

    @property
    def sid(self) -> str | None:
        return self.body.get("Sid")

    @property
    def actions(self) -> list[str]:
        named = self.body.get("Action", [])
        return [named] if isinstance(named, str) else list(named)

    @property
    def resources(self) -> list[Any]:
        named = self.body.get("Resource", [])
        return list(named) if isinstance(named, list) else [named]


@functools.lru_cache(maxsize=1)
def _decoded() -> dict[str, Any]:
    decoded, matches = decode(str(TEMPLATE))
    assert not matches, matches
    return decoded


def template() -> dict[str, Any]:
    """A fresh copy of the decoded template (tests may change it in memory)."""
    return copy.deepcopy(_decoded())


# ------------------------------------------------------------------ evaluation


def parameters(deployment: dict[str, str], decoded: dict[str, Any] | None = None) -> dict[str, str]:
    """Every parameter's value: the deployment's, else the template's default."""
    decoded = decoded or _decoded()
    values = {}
    for name, parameter in decoded["Parameters"].items():
        if name in deployment:
            values[name] = deployment[name]
        elif "Default" in parameter:
            values[name] = str(parameter["Default"])
    unknown = set(deployment) - set(decoded["Parameters"])
    assert not unknown, f"not parameters of the template: {unknown}"
    return values


def conditions(deployment: dict[str, str], decoded: dict[str, Any] | None = None) -> dict[str, bool]:
    """Every template condition, evaluated for the deployment."""
    decoded = decoded or _decoded()
    values = parameters(deployment, decoded)
    raw = decoded.get("Conditions", {})
    found: dict[str, bool] = {}

    def holds(expression: Any) -> bool:
        ((function, arguments),) = expression.items()
        if function == "Condition":
            return condition(arguments)
        if function == "Fn::Equals":
            left, right = (_value(a, values, found) for a in arguments)
            return left == right
        if function == "Fn::Not":
            (inner,) = arguments
            return not holds(inner)
        if function == "Fn::And":
            return all(holds(a) for a in arguments)
        if function == "Fn::Or":
            return any(holds(a) for a in arguments)
        raise AssertionError(f"condition function {function} is not evaluated here")

    def condition(name: str) -> bool:
        if name not in found:
            found[name] = holds(raw[name])
        return found[name]

    for name in raw:
        condition(name)
    return found


def _value(expression: Any, values: dict[str, str], held: dict[str, bool]) -> Any:
    """A string-valued intrinsic expression, evaluated (None: AWS::NoValue)."""
    if isinstance(expression, (str, int, float, bool)):
        return str(expression).lower() if isinstance(expression, bool) else str(expression)
    if isinstance(expression, list):
        return [_value(e, values, held) for e in expression]
    ((function, arguments),) = expression.items()
    if function == "Ref":
        if arguments in PSEUDO:
            return PSEUDO[arguments]
        if arguments in values:
            return values[arguments]
        # A resource of the stack: a stand-in that names it.
        return f"<{arguments}>"
    if function == "Fn::GetAtt":
        resource, attribute = arguments
        if resource == "Guard" and attribute in _GUARD_DATA:
            # The custom resource's Data (stack-guard's `valid`): the identity
            # it accepted, the deployment's once its Create or Update succeeded.
            return _GUARD_DATA[attribute](values)
        return f"<{resource}.{attribute}>"
    if function == "Fn::If":
        name, then, otherwise = arguments
        return _value(then if held[name] else otherwise, values, held)
    if function == "Fn::Sub":
        text, variables = (arguments, {}) if isinstance(arguments, str) else arguments
        return _substitute_text(text, {k: _value(v, values, held) for k, v in variables.items()}, values)
    if function == "Fn::Join":
        delimiter, items = arguments
        # The items: a list, or an intrinsic that makes one (Fn::Split).
        parts = _value(items, values, held) if isinstance(items, dict) else [_value(i, values, held) for i in items]
        return delimiter.join(p for p in parts if p is not None)
    if function == "Fn::Split":
        delimiter, text = arguments
        return _value(text, values, held).split(delimiter)
    raise AssertionError(f"intrinsic {function} is not evaluated here")


def _guard_key(values: dict[str, str]) -> str:
    return values.get("ClusterTagKey") or f"kubernetes.io/cluster/{values['ClusterName']}"


_GUARD_DATA = {
    "ClusterTagKey": _guard_key,
    "ClusterTagOperator": lambda v: "StringEquals" if v.get("ClusterTagValue") else "StringLike",
    "ClusterTagPattern": lambda v: v.get("ClusterTagValue") or "*",
}


def _substitute_text(text: str, variables: dict[str, Any], values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        for pool in (variables, values, PSEUDO):
            if name in pool:
                return str(pool[name])
        # A resource's attribute (${AlertTopic.TopicName}) or a resource.
        return f"<{name}>"

    return re.sub(r"\$\{([^}!]+)\}", replace, text)


def evaluate(expression: Any, deployment: dict[str, str], decoded: dict[str, Any] | None = None) -> Any:
    """An intrinsic expression of the template, evaluated for the deployment."""
    decoded = decoded or _decoded()
    return _value(expression, parameters(deployment, decoded), conditions(deployment, decoded))


# ------------------------------------------------------------------ statements


def _document(document: Any, values: dict[str, str], held: dict[str, bool]) -> dict[str, Any]:
    """A policy document: JSON strings (`!Sub`) resolved, YAML ones as written."""
    if isinstance(document, dict) and "Fn::Sub" in document:
        text = _value(document, values, held)
        assert "${" not in text, text
        return json.loads(text)
    return document


def _unwrap(policy: Any) -> tuple[str | None, dict[str, Any] | None]:
    if isinstance(policy, dict) and "Fn::If" in policy:
        condition, granted, otherwise = policy["Fn::If"]
        assert otherwise == {"Ref": "AWS::NoValue"}, policy
        return condition, granted
    return None, policy


def statements(
    role: str,
    deployment: dict[str, str] | None = None,
    decoded: dict[str, Any] | None = None,
) -> list[Statement]:
    """Every statement the role can hold: inline policies and AWS::IAM::Policy
    resources, JSON documents resolved for the deployment (DEFAULT)."""
    decoded = decoded or _decoded()
    deployment = DEFAULT if deployment is None else deployment
    values = parameters(deployment, decoded)
    held = conditions(deployment, decoded)
    resources = decoded["Resources"]
    found = []
    for policy in resources[role]["Properties"].get("Policies", []):
        condition, policy = _unwrap(policy)
        for body in _document(policy["PolicyDocument"], values, held)["Statement"]:
            inner, body = _unwrap(body)
            found.append(Statement(role, policy["PolicyName"], inner or condition, body))
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        if {"Ref": role} not in resource["Properties"]["Roles"]:
            continue
        document = _document(resource["Properties"]["PolicyDocument"], values, held)
        for body in document["Statement"]:
            # A statement of its own condition (`!If [Cond, {...}, !Ref
            # AWS::NoValue]`) holds under that condition.
            inner, body = _unwrap(body)
            found.append(Statement(role, name, inner or resource.get("Condition"), body))
    return found


def held(role: str, deployment: dict[str, str], decoded: dict[str, Any] | None = None) -> list[Statement]:
    """The statements one deployment gives the role (none if the role itself
    does not exist in it)."""
    decoded = decoded or _decoded()
    truth = conditions(deployment, decoded)
    role_condition = decoded["Resources"][role].get("Condition")
    if role_condition is not None and not truth[role_condition]:
        return []
    return [
        s
        for s in statements(role, deployment, decoded)
        if s.condition is None or truth[s.condition]
    ]


def allowing(role: str, action: str, deployment: dict[str, str] | None = None) -> list[Statement]:
    return [s for s in statements(role, deployment) if s.effect == "Allow" and action in s.actions]


def denying(role: str, action: str, deployment: dict[str, str] | None = None) -> list[Statement]:
    return [s for s in statements(role, deployment) if s.effect == "Deny" and action in s.actions]


def roles(decoded: dict[str, Any] | None = None) -> list[str]:
    """Every IAM role of the stack, the functions' and the others."""
    decoded = decoded or _decoded()
    return sorted(n for n, r in decoded["Resources"].items() if r["Type"] == "AWS::IAM::Role")


def functions() -> list[tuple[str, str, str]]:
    """(function resource, binary crate, role resource) of every function."""
    found = []
    for name, resource in _decoded()["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
        found.append((name, binary, role))
    return sorted(found)


# ------------------------------------------------------- the cluster boundary

READ_PREFIXES = ("Describe", "Get", "List")


def is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(READ_PREFIXES)


# Actions that write tags: they may write only the guard's own keys.
TAG_WRITES = {"ec2:CreateTags", "autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags"}
GUARD_TAG_PREFIX = "scaling-guard:"


@dataclass(frozen=True)
class NotPinnable:
    """A mutating statement IAM cannot bound by the cluster tag, the reason,
    and what bounds it instead (its exact resources and conditions)."""

    reason: str
    resources: list[Any]
    condition: dict[str, Any] | None


_QUEUE_REASON = (
    "the operator's launch queue is no cluster resource (SQS queues support "
    "aws:ResourceTag, but the queue carries no cluster tag): bound to that one queue"
)
_KEY_REASON = (
    "the operator's key of the launch queue is no cluster resource: bound to that "
    "one key, used only through SQS (kms:ViaService)"
)
_METRICS_REASON = (
    "cloudwatch:PutMetricData supports no resource type (Service Authorization "
    "Reference): Resource \"*\", bound to the guard's namespace (cloudwatch:namespace)"
)

_FINDINGS_REASON = (
    "Security Hub's product is no cluster resource (a product ARN carries no tag): "
    "bound to the account's own default product in this region and to findings of "
    "this account (securityhub:TargetAccount, the finding's AwsAccountId)"
)
_FINDINGS_PRODUCT = {
    "Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}"
    ":product/${AWS::AccountId}/default"
}
_FINDINGS_ACCOUNT = {"StringEquals": {"securityhub:TargetAccount": {"Ref": "AWS::AccountId"}}}

_EVENTS_REASON = (
    "an event bus is no cluster resource (it carries no cluster tag): bound to the one bus "
    "DecisionEventBus names (this account's default bus by default), to the guard's source "
    "and to its detail-types (events:source, events:detail-type)"
)
_EVENTS_BUS = {
    "Fn::If": [
        "OnDefaultEventBus",
        {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"},
        {"Ref": "DecisionEventBus"},
    ]
}
# The detail-types of core/src/events.rs, in the template's order
# (test_decision_events.py holds them equal to schemas/events).
DECISION_DETAIL_TYPES = [
    "Scaling Guard Launch Decision v1",
    "Scaling Guard Instance Remediation v1",
    "Scaling Guard Scale-out Suspended v1",
    "Scaling Guard Scale-out Resumed v1",
    "Scaling Guard Group Enrolled v1",
    "Scaling Guard Instance Finding v1",
    "Scaling Guard Alert v1",
]
_EVENTS_CONDITION = {
    "Null": {"events:source": "false", "events:detail-type": "false"},
    "ForAllValues:StringEquals": {
        "events:source": ["scaling-guard"],
        "events:detail-type": DECISION_DETAIL_TYPES,
    },
}
_EVENTS = NotPinnable(_EVENTS_REASON, [_EVENTS_BUS], _EVENTS_CONDITION)

# (role, Sid) -> why IAM cannot pin the cluster tag, and what bounds it.
NOT_PINNABLE: dict[tuple[str, str], NotPinnable] = {
    ("LaunchGuardRole", "PutDecisionEvents"): _EVENTS,
    ("InstanceAuditRole", "PutDecisionEvents"): _EVENTS,
    ("BudgetGuardRole", "PutDecisionEvents"): _EVENTS,
    ("StackGuardRole", "PutDecisionEvents"): _EVENTS,
    ("LaunchGuardRole", "ImportFindings"): NotPinnable(
        _FINDINGS_REASON, [_FINDINGS_PRODUCT], _FINDINGS_ACCOUNT
    ),
    ("InstanceAuditRole", "ImportFindings"): NotPinnable(
        _FINDINGS_REASON, [_FINDINGS_PRODUCT], _FINDINGS_ACCOUNT
    ),
    **{
        (role, "PublishChatNotifications"): NotPinnable(
            "an SNS topic carries no cluster tag, and sns:Publish has no condition key of its own: "
            "bound to the one topic ChatTopicArn names, and held only while it names one "
            "(test_chat_topic.py)",
            [{"Ref": "ChatTopicArn"}],
            None,
        )
        for role in ["LaunchGuardRole", "InstanceAuditRole", "BudgetGuardRole", "StackGuardRole"]
    },
    ("LaunchGuardRole", "ReadLaunchQueue"): NotPinnable(
        _QUEUE_REASON, [{"Ref": "LaunchQueueArn"}], None
    ),
    ("LaunchGuardRole", "DecryptLaunchQueue"): NotPinnable(
        _KEY_REASON,
        [{"Ref": "LaunchQueueKeyArn"}],
        {"StringEquals": {"kms:ViaService": {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"}}},
    ),
    ("HookNotificationRole", "SendLifecycleNotificationsToLaunchQueue"): NotPinnable(
        _QUEUE_REASON, [{"Ref": "LaunchQueueArn"}], None
    ),
    ("HookNotificationRole", "EncryptLifecycleNotificationsForLaunchQueue"): NotPinnable(
        _KEY_REASON,
        [{"Ref": "LaunchQueueKeyArn"}],
        {"StringEquals": {"kms:ViaService": {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"}}},
    ),
    ("BudgetGuardRole", "PassHookNotificationRoleToAutoScaling"): NotPinnable(
        "iam:PassRole acts on the role passed, not on a group: bound to "
        "HookNotificationRole alone and to Auto Scaling (iam:PassedToService); "
        "PutLifecycleHook itself pins the group",
        [{"Fn::GetAtt": ["HookNotificationRole", "Arn"]}],
        {"StringEquals": {"iam:PassedToService": "autoscaling.amazonaws.com"}},
    ),
    ("StackGuardRole", "PassHookNotificationRoleToAutoScaling"): NotPinnable(
        "iam:PassRole acts on the role passed, not on a group: bound to "
        "HookNotificationRole alone and to Auto Scaling (iam:PassedToService); "
        "PutLifecycleHook itself pins the group",
        [{"Fn::GetAtt": ["HookNotificationRole", "Arn"]}],
        {"StringEquals": {"iam:PassedToService": "autoscaling.amazonaws.com"}},
    ),
    ("InstanceAuditRole", "IsolateInterfacesInClusterVpc"): NotPinnable(
        "network interfaces carry no cluster tag (Auto Scaling tags the instance, "
        "not its interfaces; the VPC CNI tags only the interfaces it creates), so "
        "aws:ResourceTag cannot name the cluster's: bound to the cluster's VPC "
        "(ec2:Vpc), its node subnets when ClusterSubnetIds names them (ec2:Subnet), "
        "the security-group attribute, and, where EC2 authorizes the attached "
        "instance, to cluster instances (IsolateInterfacesOfClusterInstances); "
        "without ClusterSubnetIds two clusters in one VPC are not told apart here",
        [f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/*"],
        {
            "ArnEquals": {"ec2:Vpc": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-0123456789abcdef0"},
            "ArnLike": {"ec2:Subnet": ["arn:*:ec2:*:*:subnet/*"]},
            "StringEqualsIgnoreCaseIfExists": {"ec2:Attribute": ["groupSet", "groups"]},
        },
    ),
    ("InstanceAuditRole", "UseOnlyTheQuarantineGroup"): NotPinnable(
        "the security-group resource of ModifyInstanceAttribute and "
        "ModifyNetworkInterfaceAttribute is the group put on, not a cluster "
        "resource: bound to the quarantine group alone (the instance or "
        "interface is bound by the statements above)",
        [f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-0123456789abcdef0"],
        None,
    ),
    ("StackGuardRole", "DeleteGuardHookOnAnyGroup"): NotPinnable(
        "the guard's hook is found by name on every group, tagged or not (a group "
        "whose cluster tag was removed still carries it), and IAM has no condition "
        "key for a hook's name: bound to this account's and region's groups; the "
        "code deletes only the guard's hook name, never where the hook's metadata "
        "or the group's tags name another cluster (shared::release)",
        [
            {
                "Fn::Sub": "arn:${AWS::Partition}:autoscaling:${AWS::Region}:${AWS::AccountId}"
                ":autoScalingGroup:*:autoScalingGroupName/*"
            }
        ],
        None,
    ),
    **{
        (role, sid): NotPinnable(
            "an IAM role carries no cluster tag, and IAM has no condition key for an "
            "inline policy's name (PutRolePolicy and DeleteRolePolicy take "
            "iam:PermissionsBoundary only): bound to the launcher roles the operator "
            "named (LauncherRoleArns); the code writes only the launch breaker "
            "scaling-guard-<cluster>-<region>-launch-breaker",
            [{"Fn::Split": [",", {"Ref": "LauncherRoleArns"}]}],
            None,
        )
        for role, sid in [
            ("BudgetGuardRole", "PutLaunchBreakerOnLauncherRoles"),
            ("BudgetGuardRole", "DeleteLaunchBreakerFromLauncherRoles"),
            ("StackGuardRole", "DeleteLaunchBreakerFromLauncherRoles"),
        ]
    },
    ("CentralBusForwardRole", "ForwardDecisionEventsToCentralBus"): NotPinnable(
        "an event bus is no cluster resource, and the events EventBridge forwards are already "
        "this cluster's (the rule's pattern names it): bound to the one bus CentralEventBusArn "
        "names, and held only while it names one (test_org_templates.py)",
        [{"Ref": "CentralEventBusArn"}],
        None,
    ),
    ("InstanceAuditRole", "PublishSweepMetrics"): NotPinnable(
        _METRICS_REASON, ["*"], {"StringEquals": {"cloudwatch:namespace": "ScalingGuard"}}
    ),
    ("BudgetGuardRole", "PublishUsageMetrics"): NotPinnable(
        _METRICS_REASON, ["*"], {"StringEquals": {"cloudwatch:namespace": "ScalingGuard"}}
    ),
}


def expected_pin(deployment: dict[str, str]) -> tuple[str, str, str]:
    """(operator, condition key, value) every statement on cluster groups and
    instances must carry. Only the default key kubernetes.io/cluster/<cluster>
    with no value may be key presence (StringLike "*"): that key names the
    cluster by itself, whatever its value (owned, shared). Any other key is
    carried by every cluster of the account (eks:cluster-name,
    karpenter.sh/discovery) and names one only with its value."""
    values = parameters(deployment)
    key = values["ClusterTagKey"] or f"kubernetes.io/cluster/{values['ClusterName']}"
    value = values["ClusterTagValue"]
    if not values["ClusterTagKey"] and not value:
        return "StringLike", f"aws:ResourceTag/{key}", "*"
    return "StringEquals", f"aws:ResourceTag/{key}", value


def _stack_resource(resource: Any, decoded: dict[str, Any]) -> bool:
    """A Ref or GetAtt of a resource of this stack (not of a parameter)."""
    if isinstance(resource, dict) and "Ref" in resource:
        return resource["Ref"] in decoded["Resources"]
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0] in decoded["Resources"]
    return False


def _arn_account(resource: Any) -> str | None:
    if isinstance(resource, str) and resource.startswith("arn:"):
        parts = resource.split(":")
        return parts[4] if len(parts) > 5 else None
    return None


def _tag_conditions(condition: dict[str, Any]) -> list[tuple[str, str, Any]]:
    return [
        (operator, key, value)
        for operator, block in condition.items()
        for key, value in block.items()
        if re.match(r"^(aws|autoscaling|ec2):ResourceTag/", key)
    ]


def boundary_violations(deployment: dict[str, str], decoded: dict[str, Any] | None = None) -> list[str]:
    """Every way the deployment's IAM could let a guard act beyond its cluster."""
    decoded = decoded or _decoded()
    operator, key, value = expected_pin(deployment)
    found: list[str] = []
    for role in roles(decoded):
        for statement in held(role, deployment, decoded):
            name = f"{role}/{statement.sid or statement.policy}"
            body = statement.body
            if statement.effect != "Allow":
                continue
            if "NotAction" in body or "NotResource" in body:
                found.append(f"{name}: NotAction/NotResource grants what it does not name")
                continue
            for resource in statement.resources:
                account = _arn_account(resource)
                if account not in (None, "", ACCOUNT):
                    found.append(f"{name}: acts on another account's resource {resource}")
            mutating = [a for a in statement.actions if not is_read(a)]
            if not mutating:
                continue
            condition = body.get("Condition", {})
            listed = NOT_PINNABLE.get((role, statement.sid or ""))
            if listed is not None:
                if statement.resources != listed.resources:
                    found.append(f"{name}: resources {statement.resources} are not {listed.resources}")
                if (condition or None) != listed.condition:
                    found.append(f"{name}: condition {condition} is not {listed.condition}")
                continue
            if statement.resources and all(_stack_resource(r, decoded) for r in statement.resources):
                # The stack's own log group, topic, queue or key: no cluster resource.
                continue
            if (operator, key, value) not in _tag_conditions(condition):
                found.append(
                    f"{name}: {', '.join(mutating)} must carry {operator} {key} = {value!r}, "
                    f"has {condition or 'no condition'}"
                )
            for op, tag_key, _ in _tag_conditions(condition):
                if op.endswith("IfExists") or op.startswith("ForAnyValue"):
                    found.append(f"{name}: {op} on {tag_key} lets a resource without the tag pass")
            if set(mutating) & TAG_WRITES:
                keys = condition.get("ForAllValues:StringEquals", {}).get("aws:TagKeys")
                keys = [keys] if isinstance(keys, str) else keys
                if not keys or not all(k.startswith(GUARD_TAG_PREFIX) for k in keys):
                    found.append(
                        f"{name}: tag writes must be limited (ForAllValues:StringEquals "
                        f"aws:TagKeys) to the guard's own {GUARD_TAG_PREFIX}* keys, has {keys}"
                    )
    return found
