"""Audit mode is the off switch (issue 21, scenario 6): its roles keep only
the grants the hand-over needs.

A guard switched from enforce to audit lifts what it made: budget-guard (on
its next run) and stack-guard (at once, in the update) resume `Launch`
(ResumeProcesses), restore a clamped MaxSize (UpdateAutoScalingGroup, while
the suspension record is on the group), delete the record (DeleteTags of
that key) and put the guard's hook again with DefaultResult CONTINUE
(PutLifecycleHook, and iam:PassRole of HookNotificationRole when the hooks
notify the launch queue, since the hook keeps its RoleARN). stack-guard
alerts what it undid (sns:Publish on the alert topic).

In audit mode nothing new is suspended or clamped, so no role holds
SuspendProcesses, and no role writes the suspension record
(CreateOrUpdateTags); in enforce mode launch-guard and budget-guard do. The
one tag budget-guard writes in either mode is its record of an expired
exception already alerted (`scaling-guard:exception-expired`, issue 24),
only with CheckExceptions set: it changes no launch, only keeps the alert
from repeating every minute."""

from __future__ import annotations

import pytest

from template_iam import DEFAULT, LAUNCH_QUEUE, Statement, held, statements

AUDIT = {**DEFAULT, "Mode": "audit"}
ENFORCE = {**DEFAULT, "Mode": "enforce"}
CLUSTER_GROUPS = "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/*"


def _actions(role: str, deployment: dict[str, str]) -> set[str]:
    return {a for s in held(role, deployment) if s.effect == "Allow" for a in s.actions}


def _granting(role: str, action: str, deployment: dict[str, str]) -> list[Statement]:
    return [s for s in held(role, deployment) if s.effect == "Allow" and action in s.actions]


@pytest.mark.parametrize("clamp", ["true", "false"])
@pytest.mark.parametrize("enroll", ["true", "false"])
def test_in_audit_mode_budget_guard_may_hand_over_and_may_not_suspend(clamp: str, enroll: str) -> None:
    deployment = {**AUDIT, "ClampMaxSize": clamp, "EnrollGroups": enroll}
    actions = _actions("BudgetGuardRole", deployment)
    for needed in [
        "autoscaling:ResumeProcesses",
        "autoscaling:UpdateAutoScalingGroup",
        "autoscaling:DeleteTags",
        "autoscaling:PutLifecycleHook",
    ]:
        assert needed in actions, needed
    assert "autoscaling:SuspendProcesses" not in actions
    assert "autoscaling:CreateOrUpdateTags" not in actions


def test_in_audit_mode_budget_guard_writes_only_the_expired_exception_record() -> None:
    deployment = {**AUDIT, "CheckExceptions": "imds.hop_limit@prod-ebs-csi-* until=2027-03-31"}
    granting = _granting("BudgetGuardRole", "autoscaling:CreateOrUpdateTags", deployment)
    assert granting, "budget-guard records an expired exception's alert in audit mode too"
    for statement in granting:
        assert statement.resources == [CLUSTER_GROUPS]
        assert statement.body["Condition"]["ForAllValues:StringEquals"] == {
            "aws:TagKeys": ["scaling-guard:exception-expired"]
        }
        assert statement.body["Condition"]["StringLike"] == {"aws:ResourceTag/kubernetes.io/cluster/prod": "*"}


def test_in_audit_mode_launch_guard_never_suspends_nor_writes_the_record() -> None:
    actions = _actions("LaunchGuardRole", {**AUDIT, "ClampMaxSize": "true"})
    assert "autoscaling:CompleteLifecycleAction" in actions
    for mutation in [
        "autoscaling:SuspendProcesses",
        "autoscaling:CreateOrUpdateTags",
        "autoscaling:UpdateAutoScalingGroup",
    ]:
        assert mutation not in actions, mutation


@pytest.mark.parametrize("role", ["LaunchGuardRole", "BudgetGuardRole"])
def test_in_enforce_mode_the_suspending_roles_still_suspend_and_record(role: str) -> None:
    actions = _actions(role, ENFORCE)
    assert "autoscaling:SuspendProcesses" in actions
    assert "autoscaling:CreateOrUpdateTags" in actions
    (record,) = _granting(role, "autoscaling:CreateOrUpdateTags", ENFORCE)
    assert record.body["Condition"]["ForAllValues:StringEquals"] == {
        "aws:TagKeys": ["scaling-guard:suspended"]
    }


def test_the_hand_over_puts_hooks_only_on_cluster_groups() -> None:
    (put,) = _granting("BudgetGuardRole", "autoscaling:PutLifecycleHook", {**AUDIT, "EnrollGroups": "false"})
    assert put.resources == [CLUSTER_GROUPS]
    assert put.body["Condition"] == {"StringLike": {"aws:ResourceTag/kubernetes.io/cluster/prod": "*"}}


def test_an_enforcing_guard_that_does_not_enroll_puts_no_hook() -> None:
    assert not _granting("BudgetGuardRole", "autoscaling:PutLifecycleHook", {**ENFORCE, "EnrollGroups": "false"})


def test_hooks_that_notify_the_launch_queue_keep_their_role_in_audit_mode() -> None:
    deployment = {**AUDIT, "EnrollGroups": "false", "LaunchQueueArn": LAUNCH_QUEUE}
    (passing,) = _granting("BudgetGuardRole", "iam:PassRole", deployment)
    assert passing.resources == [{"Fn::GetAtt": ["HookNotificationRole", "Arn"]}]
    assert passing.body["Condition"] == {"StringEquals": {"iam:PassedToService": "autoscaling.amazonaws.com"}}
    enforcing = {**ENFORCE, "EnrollGroups": "false", "LaunchQueueArn": LAUNCH_QUEUE}
    assert not _granting("BudgetGuardRole", "iam:PassRole", enforcing)


def test_stack_guard_may_alert_its_hand_over_to_the_alert_topic_only() -> None:
    (publish,) = _granting("StackGuardRole", "sns:Publish", AUDIT)
    assert publish.resources == [{"Ref": "AlertTopic"}]
    topic_policy = statements_of_topic()
    allowed = next(s for s in topic_policy if s["Sid"] == "FunctionsPublishAlerts")
    assert {"Fn::GetAtt": ["StackGuardRole", "Arn"]} in allowed["Principal"]["AWS"]
    denied = next(s for s in topic_policy if s["Sid"] == "DenyPublishByOthers")
    assert {"Fn::GetAtt": ["StackGuardRole", "Arn"]} in denied["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]


def statements_of_topic() -> list[dict]:
    from template_iam import template

    return template()["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]


def test_stack_guard_keeps_every_hand_over_grant_in_every_mode() -> None:
    for deployment in [AUDIT, ENFORCE]:
        actions = _actions("StackGuardRole", deployment)
        for needed in [
            "autoscaling:ResumeProcesses",
            "autoscaling:UpdateAutoScalingGroup",
            "autoscaling:DeleteTags",
            "autoscaling:PutLifecycleHook",
        ]:
            assert needed in actions, (deployment["Mode"], needed)
    # Every grant of stack-guard is there whatever the mode: an update that
    # switches to audit runs with the role as the template renders it.
    # (HasLauncherRoles, the launch breaker's delete, does not depend on the mode;
    # nor does SendsDecisionEvents, the hand-over alert's event on the bus;
    # nor HasChatTopic, the hand-over alert's chat message.)
    assert {s.condition for s in statements("StackGuardRole") if s.condition} <= {
        "HasLaunchQueue",
        "HasLauncherRoles",
        "SendsDecisionEvents",
        "HasChatTopic",
    }
