"""The template's alarms and the numbers they share with the Rust code and the
README, read from the files themselves: the budget alarms (one per budget
metric budget-guard publishes), the self-monitoring alarms (SPEC section 9:
"the stack watches itself") and the hook heartbeat budget-guard enrolls."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest
from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
METRICS_RS = ROOT / "functions/budget-guard/src/handler/metrics.rs"
ENROLL_RS = ROOT / "functions/budget-guard/src/handler/enroll.rs"
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def documentation_text() -> str:
    """The README and the pages of docs/ it links to, where the numbers are
    written down (docs/SPEC.md, the product contract, is not ours to check)."""
    pages = [README] + sorted(p for p in DOCS.glob("*.md") if p.name != "SPEC.md")
    return "\n".join(page.read_text() for page in pages)


# Which parameter turns each budget on (the metric is published either way).
BUDGET_CONDITIONS = {
    "VcpuPercentOfBudget": "HasMaxVcpus",
    "MemoryPercentOfBudget": "HasMaxMemoryMib",
    "InstancesPercentOfBudget": "HasMaxInstances",
}


def resources() -> dict[str, Any]:
    template, matches = decode(str(TEMPLATE))
    assert not matches, matches
    return template["Resources"]


def alarms() -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in resources().items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def alarms_on(namespace: str, metric: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, alarm)
        for name, alarm in alarms().items()
        # Metric-math alarms (Metrics, no Namespace) are test_silence.py's.
        if alarm["Properties"].get("Namespace") == namespace
        and alarm["Properties"].get("MetricName") == metric
    ]


def heartbeat_seconds() -> int:
    (seconds,) = re.findall(
        r"const HOOK_HEARTBEAT_SECONDS: i32 = (\d+);", ENROLL_RS.read_text()
    )
    return int(seconds)


def test_budget_guard_publishes_the_budget_metrics_the_alarms_watch() -> None:
    published = set(re.findall(r'"(\w+PercentOfBudget)"', METRICS_RS.read_text()))
    assert published == set(BUDGET_CONDITIONS)


@pytest.mark.parametrize("metric, condition", sorted(BUDGET_CONDITIONS.items()))
def test_every_budget_has_an_alarm_that_invokes_budget_guard(metric: str, condition: str) -> None:
    ((name, alarm),) = alarms_on("ScalingGuard", metric)
    assert alarm["Condition"] == condition, name
    properties = alarm["Properties"]
    assert properties["AlarmName"] == {"Fn::Sub": "${AWS::StackName}-" + metric}
    assert properties["Dimensions"] == [{"Name": "Cluster", "Value": {"Ref": "ClusterName"}}]
    assert properties["Threshold"] == {"Ref": "SuspendAtPercent"}
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    function = {"Fn::GetAtt": ["BudgetGuardFunction", "Arn"]}
    assert properties["AlarmActions"] == [function]
    assert properties["OKActions"] == [function]
    # Named <stack>-…: BudgetGuardAlarmPermission lets exactly those invoke it.
    assert alarm["DependsOn"] == "BudgetGuardAlarmPermission"


def test_the_enrolled_heartbeat_is_one_number_in_code_template_and_readme() -> None:
    seconds = heartbeat_seconds()
    template = TEMPLATE.read_text()
    # The dashboard's AsyncEventAge (milliseconds) is drawn against it.
    assert f'"enrolled hook heartbeat ({seconds} s)", "value": {seconds * 1000}' in template
    said = {int(s) for s in re.findall(r"heartbeats? \((\d+) s", template)}
    said |= {int(s) for s in re.findall(r"(\d+) s heartbeat", template)}
    assert said == {seconds}, said
    readme = documentation_text()
    examples = {int(s) for s in re.findall(r"--heartbeat-timeout (\d+) \\", readme)}
    assert examples == {seconds}, examples
    assert f"get a {seconds} s heartbeat" in readme


def _notifies_the_alert_topic(alarm: dict[str, Any]) -> None:
    properties = alarm["Properties"]
    assert properties["AlarmActions"] == [{"Ref": "AlertTopic"}]
    assert properties["OKActions"] == [{"Ref": "AlertTopic"}]
    assert properties["TreatMissingData"] == "notBreaching"


def functions() -> list[str]:
    return sorted(
        name
        for name, resource in resources().items()
        if resource["Type"] == "AWS::Serverless::Function"
    )


@pytest.mark.parametrize("function", functions())
def test_every_function_has_an_errors_alarm_on_the_alert_topic(function: str) -> None:
    watching = [
        alarm
        for _, alarm in alarms_on("AWS/Lambda", "Errors")
        if alarm["Properties"]["Dimensions"]
        == [{"Name": "FunctionName", "Value": {"Ref": function}}]
    ]
    (alarm,) = watching
    assert "Condition" not in alarm
    assert alarm["Properties"]["Threshold"] == 1
    _notifies_the_alert_topic(alarm)


def test_launch_guard_throttles_alarm_only_on_a_sustained_backlog() -> None:
    ((_, alarm),) = alarms_on("AWS/Lambda", "Throttles")
    properties = alarm["Properties"]
    assert properties["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": "LaunchGuardFunction"}}
    ]
    # Throttling is how admission is serialized: a short burst is normal.
    assert properties["EvaluationPeriods"] == properties["DatapointsToAlarm"] == 5
    assert properties["Period"] * properties["EvaluationPeriods"] < heartbeat_seconds()
    _notifies_the_alert_topic(alarm)


def test_the_dead_letter_queue_alarms_on_its_first_message() -> None:
    ((_, alarm),) = alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    properties = alarm["Properties"]
    assert properties["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}
    ]
    assert properties["Threshold"] == 1
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert "Condition" not in alarm
    _notifies_the_alert_topic(alarm)


def test_the_launch_queue_age_alarm_exists_only_with_the_queue() -> None:
    ((_, alarm),) = alarms_on("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert alarm["Condition"] == "HasLaunchQueue"
    properties = alarm["Properties"]
    # The queue name is the ARN's sixth field.
    assert properties["Dimensions"] == [
        {
            "Name": "QueueName",
            "Value": {"Fn::Select": [5, {"Fn::Split": [":", {"Ref": "LaunchQueueArn"}]}]},
        }
    ]
    # Seconds: it fires well before a waiting launch reaches the heartbeat.
    assert properties["Threshold"] < heartbeat_seconds()
    _notifies_the_alert_topic(alarm)


def test_cloudwatch_may_use_the_topic_key_only_for_this_account() -> None:
    key = resources()["GuardKey"]["Properties"]["KeyPolicy"]["Statement"]
    (statement,) = [
        s for s in key if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }
