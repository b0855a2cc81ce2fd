"""Issue 24, point 3: the chat topic (ChatTopicArn, GUARD_CHAT_TOPIC_ARN).

Every alert is also published to the operator's chat topic as an AWS Chatbot
custom notification (shared/src/aws/sns.rs). The grant is `sns:Publish` on
that topic only, only while the parameter names one, to exactly the
functions whose code publishes alerts (rust_calls.py reads which)."""

from __future__ import annotations

import rust_calls
from template_iam import DEFAULT, ACCOUNT, REGION, functions, held, roles, template

CHAT_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:team-chat"
WITH_CHAT = {**DEFAULT, "ChatTopicArn": CHAT_TOPIC}


def _chat_grants(deployment: dict[str, str]) -> dict[str, list[dict]]:
    """Role -> the statements of that deployment that name the chat topic."""
    found: dict[str, list[dict]] = {}
    for role in roles():
        for statement in held(role, deployment):
            if {"Ref": "ChatTopicArn"} in statement.resources or CHAT_TOPIC in statement.resources:
                found.setdefault(role, []).append(statement.body)
    return found


def _publishing_roles() -> set[str]:
    """The roles of the functions whose code calls sns:Publish."""
    return {
        role
        for _, binary, role in functions()
        if "sns:Publish" in rust_calls.actions_of(rust_calls.ROOT / "functions" / binary)
    }


def test_with_a_chat_topic_exactly_the_alerting_functions_may_publish_to_it() -> None:
    grants = _chat_grants(WITH_CHAT)
    assert set(grants) == _publishing_roles()
    assert set(grants) == {"LaunchGuardRole", "InstanceAuditRole", "BudgetGuardRole", "StackGuardRole"}
    for role, statements in grants.items():
        assert statements == [
            {
                "Sid": "PublishChatNotifications",
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": {"Ref": "ChatTopicArn"},
            }
        ], role


def test_without_a_chat_topic_no_role_may_publish_to_one() -> None:
    assert _chat_grants(DEFAULT) == {}
    resource = template()["Resources"]["ChatTopicPublish"]
    assert resource["Condition"] == "HasChatTopic"


def test_the_parameter_feeds_every_function_and_the_policy_check() -> None:
    decoded = template()
    parameter = decoded["Parameters"]["ChatTopicArn"]
    assert parameter["Default"] == ""
    assert "(GUARD_CHAT_TOPIC_ARN)" in parameter["Description"]
    environment = decoded["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["GUARD_CHAT_TOPIC_ARN"] == {"Ref": "ChatTopicArn"}
    policy = decoded["Resources"]["Guard"]["Properties"]["Policy"]
    assert policy["GUARD_CHAT_TOPIC_ARN"] == {"Ref": "ChatTopicArn"}
