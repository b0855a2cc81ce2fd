"""Issue 21, scenario 9: silence is alarmed. A guard that stops running, or
whose failures go nowhere, must say so: budget-guard's own schedule is
watched (missing invocations breach), every path that can drop an event or an
alert has an alarm on the alert topic, a deployment with nobody subscribed
says so in its outputs, and the error alarms do not flap (M of N)."""

from __future__ import annotations

import re
from typing import Any

from test_alarms import README, alarms, resources
from template_iam import template

ALERT_TOPIC = {"Ref": "AlertTopic"}


def _on_alert_topic(alarm: dict[str, Any]) -> None:
    properties = alarm["Properties"]
    assert properties["AlarmActions"] == [ALERT_TOPIC]
    assert properties["OKActions"] == [ALERT_TOPIC]


def _granted(query: dict[str, Any]) -> dict[str, Any]:
    """A metric query as written, or the one an `!If [Condition, query,
    AWS::NoValue]` adds under its condition (a rule that exists only then)."""
    if "Fn::If" in query:
        return query["Fn::If"][1]
    return query


def _alarms_on_metric(namespace: str, metric: str) -> list[dict[str, Any]]:
    """Alarms on one metric, directly or in a metric-math alarm's queries."""
    found = []
    for alarm in alarms().values():
        properties = alarm["Properties"]
        if properties.get("Namespace") == namespace and properties.get("MetricName") == metric:
            found.append(alarm)
            continue
        for query in map(_granted, properties.get("Metrics", [])):
            stat = query.get("MetricStat", {}).get("Metric", {})
            if stat.get("Namespace") == namespace and stat.get("MetricName") == metric:
                found.append(alarm)
                break
    return found


def _dimension_values(alarm: dict[str, Any], namespace: str, metric: str, name: str) -> list[Any]:
    """The values of dimension `name` the alarm watches `metric` with."""
    properties = alarm["Properties"]
    metrics = [
        {"Namespace": properties.get("Namespace"), "MetricName": properties.get("MetricName"),
         "Dimensions": properties.get("Dimensions", [])}
    ] + [q["MetricStat"]["Metric"] for q in map(_granted, properties.get("Metrics", [])) if "MetricStat" in q]
    return [
        d["Value"]
        for m in metrics
        if m["Namespace"] == namespace and m["MetricName"] == metric
        for d in m.get("Dimensions", [])
        if d["Name"] == name
    ]


def _rate_minutes(expression: str) -> int:
    match = re.fullmatch(r"rate\((\d+) minutes?\)", expression)
    assert match, expression
    return int(match.group(1))


def test_an_alarm_fires_when_budget_guard_stops_running() -> None:
    (schedule,) = [
        event["Properties"]["Schedule"]
        for event in resources()["BudgetGuardFunction"]["Properties"]["Events"].values()
        if event["Type"] == "Schedule"
    ]
    every = _rate_minutes(schedule) * 60
    (alarm,) = _alarms_on_metric("AWS/Lambda", "Invocations")
    properties = alarm["Properties"]
    assert properties["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": "BudgetGuardFunction"}}
    ]
    # Fewer than 1 invocation in 5 minutes: 5 schedule periods without a run.
    assert properties["Statistic"] == "Sum"
    assert properties["ComparisonOperator"] == "LessThanThreshold"
    assert properties["Threshold"] == 1
    assert properties["Period"] * properties["EvaluationPeriods"] == 300
    assert properties["Period"] >= 5 * every
    # No data at all is what a stopped function looks like.
    assert properties["TreatMissingData"] == "breaching"
    assert "Condition" not in alarm
    _on_alert_topic(alarm)


def _functions_with_destinations() -> list[str]:
    return sorted(
        name
        for name, resource in resources().items()
        if resource["Type"] == "AWS::Serverless::Function"
        and "OnFailure" in resource["Properties"].get("EventInvokeConfig", {}).get(
            "DestinationConfig", {}
        )
    )


def test_a_failed_delivery_to_the_dead_letter_queue_alarms() -> None:
    functions = _functions_with_destinations()
    assert len(functions) >= 4
    watching = _alarms_on_metric("AWS/Lambda", "DestinationDeliveryFailures")
    assert watching
    covered = [
        value
        for alarm in watching
        for value in _dimension_values(alarm, "AWS/Lambda", "DestinationDeliveryFailures", "FunctionName")
    ]
    assert sorted(v["Ref"] for v in covered) == functions
    for alarm in watching:
        _on_alert_topic(alarm)
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"


def _rules() -> list[str]:
    """Every EventBridge rule of the stack: the explicit ones and those SAM
    makes from the functions' Schedule and EventBridgeRule events (logical id
    <Function><Event>)."""
    found = [n for n, r in resources().items() if r["Type"] == "AWS::Events::Rule"]
    for name, resource in resources().items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event, spec in resource["Properties"].get("Events", {}).items():
            if spec["Type"] in {"Schedule", "EventBridgeRule"}:
                found.append(name + event)
    return sorted(found)


def test_every_rule_that_fails_to_invoke_or_to_dead_letter_alarms() -> None:
    rules = _rules()
    assert len(rules) >= 5
    for metric in ["FailedInvocations", "InvocationsFailedToBeSentToDlq"]:
        watching = _alarms_on_metric("AWS/Events", metric)
        assert watching, metric
        covered = sorted(
            value["Ref"]
            for alarm in watching
            for value in _dimension_values(alarm, "AWS/Events", metric, "RuleName")
        )
        assert covered == rules, metric
        for alarm in watching:
            _on_alert_topic(alarm)
            assert alarm["Properties"]["TreatMissingData"] == "notBreaching"


def test_alerts_the_topic_fails_to_deliver_alarm() -> None:
    (alarm,) = _alarms_on_metric("AWS/SNS", "NumberOfNotificationsFailed")
    properties = alarm["Properties"]
    assert properties["Dimensions"] == [
        {"Name": "TopicName", "Value": {"Fn::GetAtt": ["AlertTopic", "TopicName"]}}
    ]
    assert properties["Threshold"] == 1
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # It can only notify the same topic: a subscriber that cannot be reached
    # does not hear it, the others (and the console) do. docs/operations.md says so.
    _on_alert_topic(alarm)


def test_a_deployment_without_a_subscriber_says_so_in_its_outputs() -> None:
    decoded = template()
    assert decoded["Conditions"]["NoAlertEmail"] == {
        "Fn::Equals": [{"Ref": "AlertEmail"}, ""]
    }
    outputs = decoded["Outputs"]
    unheard = [o for o in outputs.values() if o.get("Condition") == "NoAlertEmail"]
    (output,) = unheard
    text = output["Description"] + str(output["Value"])
    assert "AlertTopic" in str(output["Value"]) or "alert topic" in text
    assert "subscri" in text


def test_error_alarms_need_several_failing_minutes_so_they_do_not_flap() -> None:
    errors = _alarms_on_metric("AWS/Lambda", "Errors")
    assert len(errors) >= 4
    for alarm in errors:
        properties = alarm["Properties"]
        assert 1 < properties["DatapointsToAlarm"] < properties["EvaluationPeriods"], properties


def test_budget_guard_records_an_unanswered_launch_only_on_cluster_instances() -> None:
    # The once-only record of hook_unanswered: one tag key, on cluster
    # instances, and no other tag write on instances.
    from template_iam import CUSTOM, CUSTOM_KEY, CUSTOM_VALUE, allowing

    (statement,) = allowing("BudgetGuardRole", "ec2:CreateTags", CUSTOM)
    assert statement.resources == ["arn:aws:ec2:eu-west-1:123456789012:instance/*"]
    assert statement.body["Condition"] == {
        "StringEquals": {f"aws:ResourceTag/{CUSTOM_KEY}": CUSTOM_VALUE},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["scaling-guard:unanswered"]},
    }
    rust = (README.parent / "functions/budget-guard/src/handler/unanswered.rs").read_text()
    assert 'pub const UNANSWERED_TAG: &str = "scaling-guard:unanswered";' in rust
