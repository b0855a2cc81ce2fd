"""instance-audit's instance-event queue (issue 20, scenario 3): the EC2 state
changes and Auto Scaling launches of the whole account reach every stack, so
they go to a queue of the stack's own and instance-audit takes them in
batches, one DescribeInstances a batch."""

from __future__ import annotations

import re
from typing import Any

import rust_calls
from template_iam import allowing, template

RULES = ["InstanceStateChangeRule", "LaunchSuccessfulRule"]
QUEUE = {"Fn::GetAtt": ["InstanceEventQueue", "Arn"]}
RULE_ARNS = [{"Fn::GetAtt": [rule, "Arn"]} for rule in RULES]


def resource(name: str) -> dict[str, Any]:
    return template()["Resources"][name]


def instances_per_call() -> int:
    """`INSTANCES_PER_CALL` of the instance-audit crate: ids per DescribeInstances."""
    source = (rust_calls.ROOT / "functions/instance-audit/src/handler/batch.rs").read_text()
    match = re.search(r"pub const INSTANCES_PER_CALL: usize = (\d+);", source)
    assert match, "no INSTANCES_PER_CALL in functions/instance-audit/src/handler/batch.rs"
    return int(match.group(1))


def test_the_instance_rules_deliver_only_to_the_stacks_queue_with_a_dead_letter_queue() -> None:
    for name in RULES:
        (target,) = resource(name)["Properties"]["Targets"]
        assert target["Arn"] == QUEUE, name
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}, name
    events = resource("InstanceAuditFunction")["Properties"]["Events"]
    assert set(events) == {"Sweep"}, "the state changes and launches no longer invoke the function directly"


def test_the_queue_is_encrypted_with_the_stacks_key_and_redrives_to_the_dead_letter_queue() -> None:
    queue = resource("InstanceEventQueue")["Properties"]
    assert queue["KmsMasterKeyId"] == {"Ref": "GuardKey"}
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert 1 < queue["RedrivePolicy"]["maxReceiveCount"] <= 10
    # Lambda refuses a mapping whose queue hides a message for less than the function's timeout.
    timeout = resource("InstanceAuditFunction")["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout


def test_only_the_two_rules_may_send_to_the_queue() -> None:
    statements = {s["Sid"]: s for s in resource("InstanceEventQueuePolicy")["Properties"]["PolicyDocument"]["Statement"]}
    send = statements["InstanceAuditRulesSend"]
    assert send["Effect"] == "Allow"
    assert send["Principal"] == {"Service": "events.amazonaws.com"}
    assert send["Action"] == "sqs:SendMessage"
    assert send["Resource"] == QUEUE
    assert send["Condition"] == {"ArnEquals": {"aws:SourceArn": RULE_ARNS}}
    deny = statements["DenySendByOthers"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Action"] == "sqs:SendMessage"
    assert deny["Condition"] == {"ArnNotEquals": {"aws:SourceArn": RULE_ARNS}}
    allowed = [s for s in statements.values() if s["Effect"] == "Allow"]
    assert allowed == [send], "nothing else is allowed"


def test_batches_are_read_with_one_describe_instances_and_fail_message_by_message() -> None:
    mapping = resource("InstanceEventQueueEventSourceMapping")["Properties"]
    assert mapping["EventSourceArn"] == QUEUE
    assert mapping["FunctionName"] == {"Ref": "InstanceAuditFunction"}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # A burst of 1,000 foreign state changes in batches of at least 10 costs
    # at most 100 reads (the bound); one batch is one read.
    assert 10 <= mapping["BatchSize"] <= instances_per_call()
    # Above 10 messages Lambda requires a batching window; a few seconds
    # keep a pending node's audit ahead of its first pods.
    assert 1 <= mapping["MaximumBatchingWindowInSeconds"] <= 10


def test_the_role_reads_only_its_own_queue() -> None:
    for action in ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]:
        (statement,) = allowing("InstanceAuditRole", action)
        assert statement.resources == [QUEUE], action
