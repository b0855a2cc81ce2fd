"""The SAM template's IAM, read from template.yaml itself (the emulator does
not enforce IAM). Each permission the Rust code needs is named here with the
reason it is scoped the way it is (AWS Service Authorization Reference:
`ec2:CreateTags` on `instance` supports `aws:ResourceTag/${TagKey}` and
`aws:TagKeys`; the Auto Scaling and EC2 Describe actions support no
resource-level permissions).

Every condition on the cluster tag is checked for two deployments: the
default key kubernetes.io/cluster/prod with no value, where key presence
(StringLike "*") is the boundary because that key names the cluster by
itself, and a key every cluster of the account carries (eks:cluster-name),
where only StringEquals key = value names the cluster (issue 20)."""

from __future__ import annotations

from typing import Any

import pytest

from template_iam import CUSTOM, CUSTOM_KEY, CUSTOM_VALUE, DEFAULT, TAG_KEY, roles, template
from template_iam import allowing as _allowing

DEPLOYMENTS = pytest.mark.parametrize(
    "deployment, pin",
    [
        (DEFAULT, {"StringLike": {f"aws:ResourceTag/{TAG_KEY}": "*"}}),
        (CUSTOM, {"StringEquals": {f"aws:ResourceTag/{CUSTOM_KEY}": CUSTOM_VALUE}}),
    ],
    ids=["default-key", "custom-key"],
)


def allowing(role: str, action: str, deployment: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The Allow statements of the role naming the action."""
    return [s.body for s in _allowing(role, action, deployment)]


def _carries(condition: dict[str, Any], pin: dict[str, Any]) -> None:
    ((operator, tag),) = pin.items()
    assert condition[operator] == tag, condition
    # Nothing else on the cluster tag: no second, looser operator. (Another
    # tag, e.g. the suspension record, only narrows: conditions AND.)
    ((key, _),) = tag.items()
    on_tag = [op for op, block in condition.items() if key in block]
    assert on_tag == [operator], condition


@DEPLOYMENTS
def test_launch_guard_records_decisions_only_on_cluster_instances_and_only_its_tags(
    deployment: dict[str, str], pin: dict[str, Any]
) -> None:
    (statement,) = allowing("LaunchGuardRole", "ec2:CreateTags", deployment)
    assert statement["Resource"].endswith(":instance/*")
    condition = statement["Condition"]
    _carries(condition, pin)
    # ForAllValues: every key of the request must be one of the guard's own
    # (the admission, the vetting, a failed completion), never e.g. the
    # cluster tag itself.
    assert condition["ForAllValues:StringEquals"] == {
        "aws:TagKeys": [
            "scaling-guard:admitted",
            "scaling-guard:vetted",
            "scaling-guard:completion-failed",
        ]
    }


@pytest.mark.parametrize(
    "role, action",
    [
        # Which groups carry the guard's hook (undecided launches are not counted).
        ("LaunchGuardRole", "autoscaling:DescribeLifecycleHooks"),
        # The clamp reads the group again after suspending Launch.
        ("LaunchGuardRole", "autoscaling:DescribeAutoScalingGroups"),
        ("BudgetGuardRole", "autoscaling:DescribeAutoScalingGroups"),
        ("BudgetGuardRole", "cloudwatch:DescribeAlarms"),
    ],
)
def test_every_read_the_functions_make_is_allowed(role: str, action: str) -> None:
    assert allowing(role, action), f"{role} lacks {action}"


@DEPLOYMENTS
@pytest.mark.parametrize(
    "role, action",
    [
        ("LaunchGuardRole", "autoscaling:CompleteLifecycleAction"),
        ("LaunchGuardRole", "autoscaling:SuspendProcesses"),
        ("LaunchGuardRole", "autoscaling:CreateOrUpdateTags"),
        ("LaunchGuardRole", "autoscaling:UpdateAutoScalingGroup"),
        ("BudgetGuardRole", "autoscaling:SuspendProcesses"),
        ("BudgetGuardRole", "autoscaling:ResumeProcesses"),
        ("BudgetGuardRole", "autoscaling:UpdateAutoScalingGroup"),
        ("BudgetGuardRole", "autoscaling:CreateOrUpdateTags"),
        ("BudgetGuardRole", "autoscaling:DeleteTags"),
        ("BudgetGuardRole", "autoscaling:PutLifecycleHook"),
    ],
)
def test_every_change_to_a_group_is_bound_to_the_cluster_tag(
    role: str, action: str, deployment: dict[str, str], pin: dict[str, Any]
) -> None:
    granting = [s for s in allowing(role, action, deployment) if s["Resource"] != "*"]
    # budget-guard's CreateOrUpdateTags is two statements: the suspension
    # record and the expired exceptions' record; each is bound.
    assert granting
    for statement in granting:
        assert ":autoScalingGroup:" in statement["Resource"]
        _carries(statement["Condition"], pin)


def test_launch_guard_cannot_lift_a_suspension() -> None:
    assert not allowing("LaunchGuardRole", "autoscaling:ResumeProcesses")
    assert not allowing("LaunchGuardRole", "autoscaling:DeleteTags")


@DEPLOYMENTS
def test_instance_audit_tags_only_cluster_instances_and_only_its_own_records(
    deployment: dict[str, str], pin: dict[str, Any]
) -> None:
    # Every remediation is recorded on the instance before the change
    # (scaling-guard:remediated, the durable count behind
    # GUARD_MAX_REMEDIATIONS_PER_HOUR), a remediation the cap held back too
    # (scaling-guard:remediation-held); isolate writes its three tags.
    # ForAllValues: no other key, e.g. not the cluster tag itself.
    (statement,) = allowing("InstanceAuditRole", "ec2:CreateTags", deployment)
    assert statement["Resource"].endswith(":instance/*")
    condition = statement["Condition"]
    _carries(condition, pin)
    assert condition["ForAllValues:StringEquals"] == {
        "aws:TagKeys": [
            "scaling-guard:quarantined",
            "scaling-guard:quarantine-reason",
            "scaling-guard:previous-security-groups",
            "scaling-guard:remediated",
            "scaling-guard:remediation-held",
        ]
    }


def test_instance_audit_reads_the_remediation_records_of_every_state() -> None:
    # DescribeInstances supports no resource-level permissions: "*".
    (statement,) = allowing("InstanceAuditRole", "ec2:DescribeInstances")
    assert statement["Resource"] == "*"


@DEPLOYMENTS
@pytest.mark.parametrize(
    "action", ["ec2:StopInstances", "ec2:TerminateInstances", "ec2:ModifyInstanceAttribute"]
)
def test_every_instance_audit_change_is_bound_to_the_cluster_tag(
    action: str, deployment: dict[str, str], pin: dict[str, Any]
) -> None:
    bound = [
        s
        for s in allowing("InstanceAuditRole", action, deployment)
        if s["Resource"].endswith(":instance/*")
    ]
    (statement,) = bound
    _carries(statement["Condition"], pin)


def test_every_cluster_tag_condition_is_written_the_same_way() -> None:
    # TagKey, TagOperator and TagValue are the same three expressions in every
    # policy document that names the cluster tag, so that no document can
    # pin a different key or keep key presence for a shared key.
    expected = {
        "TagKey": {
            "Fn::If": [
                "HasClusterTagKey",
                {"Ref": "ClusterTagKey"},
                {"Fn::Sub": "kubernetes.io/cluster/${ClusterName}"},
            ]
        },
        "TagOperator": {"Fn::If": ["AnyClusterTagValue", "StringLike", "StringEquals"]},
        "TagValue": {"Fn::If": ["AnyClusterTagValue", "*", {"Ref": "ClusterTagValue"}]},
    }
    resources = template()["Resources"]
    documents = 0
    for role in roles():
        for policy in resources[role]["Properties"].get("Policies", []):
            if "Fn::If" in policy:
                policy = policy["Fn::If"][1]
            document = policy["PolicyDocument"]
            if "Fn::Sub" not in document or "${TagKey}" not in document["Fn::Sub"][0]:
                continue
            documents += 1
            text, variables = document["Fn::Sub"]
            assert {k: variables[k] for k in expected} == expected, policy["PolicyName"]
            # Every condition on the tag uses all three; none is written out.
            assert text.count("aws:ResourceTag/${TagKey}") == text.count(
                '"${TagOperator}": {"aws:ResourceTag/${TagKey}": "${TagValue}"}'
            ), policy["PolicyName"]
    assert documents >= 8
    conditions = template()["Conditions"]
    assert conditions["AnyClusterTagValue"] == {
        "Fn::And": [
            {"Fn::Not": [{"Condition": "HasClusterTagKey"}]},
            {"Fn::Not": [{"Condition": "HasClusterTagValue"}]},
        ]
    }


# ------------------------------------------------------------- alarm trust
# Issue 20, scenario 4: budget-guard confirms a surge alarm in ALARM with
# DescribeAlarms before it suspends. DescribeAlarms requires the alarm
# resource type, arn:${Partition}:cloudwatch:${Region}:${Account}:alarm:
# ${AlarmName} (Service Authorization Reference); the CloudWatch API
# Reference adds that composite alarms are returned only to a permission
# scoped to "*", and a surge alarm may be composite (SPEC section 7).


def test_budget_guard_reads_alarm_states_narrowly_unless_surge_alarms_may_be_composite() -> None:
    (statement,) = allowing("BudgetGuardRole", "cloudwatch:DescribeAlarms")
    assert statement["Action"] == "cloudwatch:DescribeAlarms"
    assert statement["Resource"] == {
        "Fn::If": [
            "HasSurgeAlarmPrefix",
            "*",
            {
                "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}"
                ":alarm:${AWS::StackName}-*"
            },
        ]
    }
    assert "Condition" not in statement
    # No other role reads alarms.
    assert [r for r in roles() if allowing(r, "cloudwatch:DescribeAlarms")] == ["BudgetGuardRole"]


# ------------------------------------------------- hook notification target
# Issue 20, scenario 5: with LaunchQueueArn the enrolled hooks notify the
# queue, with a role the stack makes.


def _resource(name: str) -> dict[str, Any]:
    return template()["Resources"][name]


def test_auto_scaling_alone_assumes_the_hook_notification_role() -> None:
    role = _resource("HookNotificationRole")
    assert role["Condition"] == "HasLaunchQueue"
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": "autoscaling.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    assert "ManagedPolicyArns" not in role["Properties"]


def test_the_hook_notification_role_sends_to_the_launch_queue_only() -> None:
    granted = [s for s in _allowing("HookNotificationRole", "sqs:SendMessage")]
    (statement,) = granted
    assert statement.condition is None
    assert sorted(statement.actions) == ["sqs:GetQueueUrl", "sqs:SendMessage"]
    assert statement.resources == [{"Ref": "LaunchQueueArn"}]
    (key,) = [s for s in _allowing("HookNotificationRole", "kms:GenerateDataKey")]
    assert key.condition == "HasLaunchQueueKey"
    assert sorted(key.actions) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert key.resources == [{"Ref": "LaunchQueueKeyArn"}]
    assert key.body["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"}}
    }
    every = {a for s in _allowing("HookNotificationRole", "sqs:SendMessage") + [key] for a in s.actions}
    assert every == {"sqs:SendMessage", "sqs:GetQueueUrl", "kms:GenerateDataKey", "kms:Decrypt"}


def test_only_the_hook_putting_roles_pass_the_hook_notification_role_and_only_to_auto_scaling() -> None:
    # budget-guard enrolls hooks (and, in audit mode, puts its hook again
    # with CONTINUE), stack-guard moves a renamed one (with its target and
    # role): both pass HookNotificationRole, nothing else, only to Auto
    # Scaling. launch-guard puts no hook.
    for role, condition in [("BudgetGuardRole", "PutsGuardHooksToLaunchQueue"), ("StackGuardRole", "HasLaunchQueue")]:
        (statement,) = _allowing(role, "iam:PassRole")
        assert statement.condition == condition
        assert statement.actions == ["iam:PassRole"]
        assert statement.resources == [{"Fn::GetAtt": ["HookNotificationRole", "Arn"]}]
        assert statement.body["Condition"] == {
            "StringEquals": {"iam:PassedToService": "autoscaling.amazonaws.com"}
        }
    assert [r for r in roles() if _allowing(r, "iam:PassRole")] == ["BudgetGuardRole", "StackGuardRole"]
    assert _allowing("StackGuardRole", "autoscaling:PutLifecycleHook")
    assert not _allowing("LaunchGuardRole", "autoscaling:PutLifecycleHook")
    conditions = template()["Conditions"]
    assert conditions["PutsGuardHooksToLaunchQueue"] == {
        "Fn::And": [{"Condition": "PutsGuardHooks"}, {"Condition": "HasLaunchQueue"}]
    }
    assert conditions["PutsGuardHooks"] == {
        "Fn::Or": [{"Condition": "EnrollsGroups"}, {"Condition": "IsAudit"}]
    }
