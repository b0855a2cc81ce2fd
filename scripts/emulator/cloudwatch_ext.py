"""CloudWatch extensions to moto 5.2.5.

Closes these moto gaps (each patch below says which one):

* `PutCompositeAlarm`: not implemented by moto (although its models keep an
  alarm `rule` and `DescribeAlarms` sorts alarms with a rule into
  `CompositeAlarms`); here it creates the composite alarm, evaluates its
  `AlarmRule` against the alarms it names, and re-evaluates it whenever one
  of them changes state, as AWS does;
* `DescribeAlarms`: moto applies only the first of `ActionPrefix`,
  `AlarmNamePrefix`, `AlarmNames` and `StateValue` (so `AlarmNames` with
  `StateValue=ALARM` answers alarms in any state) and ignores `AlarmTypes`;
  here every filter applies, and without `AlarmTypes` only metric alarms are
  listed, as on AWS.
"""

from __future__ import annotations

import re
from typing import Any

from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.models import Alarm, CloudWatchBackend
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult, EmptyResult

METRIC_ALARM = "MetricAlarm"
COMPOSITE_ALARM = "CompositeAlarm"

# AlarmRule tokens: a state function with its alarm (name or ARN, quoted or
# not), TRUE / FALSE, AND / OR / NOT, parentheses.
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<function>ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*
            (?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^()\s"]+))\s*\)
      | (?P<word>TRUE|FALSE|AND|OR|NOT)\b
      | (?P<paren>[()])
    )""",
    re.VERBOSE,
)


class RuleError(ValueError):
    pass


def _tokens(rule: str) -> list[tuple[str, str, str]]:
    """(kind, value, alarm) tokens of an AlarmRule."""
    out, position, rule = [], 0, rule.rstrip()
    while position < len(rule):
        match = _TOKEN.match(rule, position)
        if match is None:
            raise RuleError(f"cannot parse the alarm rule at `{rule[position:position + 20]}`")
        if match["function"]:
            alarm = match["quoted"] if match["quoted"] is not None else match["bare"]
            out.append(("function", match["function"], alarm.replace('\\"', '"')))
        elif match["word"]:
            out.append(("word", match["word"], ""))
        else:
            out.append(("paren", match["paren"], ""))
        position = match.end()
    return out


def _name(alarm: str, alarms: dict[str, Alarm]) -> str:
    """An alarm named in a rule by name or by ARN, as a name."""
    if alarm in alarms:
        return alarm
    return next((a.name for a in alarms.values() if a.alarm_arn == alarm), alarm)


def references(rule: str, alarms: dict[str, Alarm]) -> set[str]:
    """The names of the alarms a rule refers to."""
    return {_name(alarm, alarms) for kind, _, alarm in _tokens(rule) if kind == "function"}


def evaluate(rule: str, alarms: dict[str, Alarm]) -> bool:
    """The rule's value (NOT binds tighter than AND, AND tighter than OR)."""
    tokens = _tokens(rule)
    position = 0

    def peek() -> tuple[str, str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, str, str]:
        nonlocal position
        token = peek()
        if token is None:
            raise RuleError("the alarm rule ends too early")
        position += 1
        return token

    def either() -> bool:
        value = both()
        while peek() == ("word", "OR", ""):
            take()
            value = both() or value
        return value

    def both() -> bool:
        value = single()
        while peek() == ("word", "AND", ""):
            take()
            value = single() and value
        return value

    def single() -> bool:
        kind, value, alarm = take()
        if (kind, value) == ("word", "NOT"):
            return not single()
        if (kind, value) == ("paren", "("):
            inner = either()
            if take()[:2] != ("paren", ")"):
                raise RuleError("unbalanced parentheses in the alarm rule")
            return inner
        if kind == "word" and value in ("TRUE", "FALSE"):
            return value == "TRUE"
        if kind == "function":
            found = alarms.get(_name(alarm, alarms))
            return found is not None and found.state_value == value
        raise RuleError(f"unexpected `{value}` in the alarm rule")

    result = either()
    if peek() is not None:
        raise RuleError(f"unexpected `{peek()[1]}` in the alarm rule")  # type: ignore[index]
    return result


def _is_composite(alarm: Alarm) -> bool:
    return alarm.rule is not None


def reevaluate(backend: CloudWatchBackend, changed: set[str]) -> None:
    """Re-evaluate the composite alarms that depend (through other composites
    too) on the alarms in `changed`; a composite whose value flips changes
    state (`ALARM` when its rule is true, else `OK`)."""
    pending = set(changed)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        seen.add(name)
        for parent in list(backend.alarms.values()):
            if not _is_composite(parent) or name not in references(parent.rule, backend.alarms):
                continue
            if _settle(backend, parent) and parent.name not in seen:
                pending.add(parent.name)


def _settle(backend: CloudWatchBackend, composite: Alarm) -> bool:
    """Evaluate one composite alarm; True when its state changed."""
    state = "ALARM" if evaluate(composite.rule, backend.alarms) else "OK"
    if state == composite.state_value:
        return False
    composite.update_state(
        f"{composite.rule} evaluated to {'TRUE' if state == 'ALARM' else 'FALSE'}",
        "{}",
        state,
    )
    return True


def put_composite_alarm(self: CloudWatchResponse) -> Any:
    """Gap: PutCompositeAlarm is not implemented by moto. The alarms the rule
    names must exist (AWS's ValidationError otherwise); the new alarm's state
    is its rule's value; alarms above it are re-evaluated."""
    backend = self.cloudwatch_backend
    name = self._get_param("AlarmName")
    rule = self._get_param("AlarmRule")
    if not name or not rule:
        raise ValidationError("AlarmName and AlarmRule are required")
    try:
        missing = sorted(
            alarm for alarm in references(rule, backend.alarms) if alarm not in backend.alarms
        )
        evaluate(rule, backend.alarms)
    except RuleError as error:
        raise ValidationError(f"Invalid AlarmRule: {error}") from None
    if missing:
        raise ValidationError(
            f"Could not save the composite alarm as alarms {missing} in the alarm rule do not exist"
        )
    alarm = backend.put_metric_alarm(
        name=name,
        namespace=None,  # type: ignore[arg-type]
        metric_name=None,  # type: ignore[arg-type]
        comparison_operator=None,  # type: ignore[arg-type]
        evaluation_periods=None,  # type: ignore[arg-type]
        period=None,  # type: ignore[arg-type]
        threshold=None,  # type: ignore[arg-type]
        statistic=None,  # type: ignore[arg-type]
        description=self._get_param("AlarmDescription"),
        dimensions=[],
        alarm_actions=self._get_param("AlarmActions", []) or [],
        ok_actions=self._get_param("OKActions", []) or [],
        insufficient_data_actions=self._get_param("InsufficientDataActions", []) or [],
        actions_enabled=self._get_bool_param("ActionsEnabled"),
        rule=rule,
        tags=self._get_param("Tags", []) or [],
    )
    _settle(backend, alarm)
    reevaluate(backend, {name})
    return EmptyResult()


def describe_alarms(self: CloudWatchResponse) -> ActionResult:
    """Gap: moto applies one filter only and ignores `AlarmTypes`. Replaces
    `CloudWatchResponse.describe_alarms`: `AlarmNames`, `AlarmNamePrefix`,
    `ActionPrefix` and `StateValue` all apply; `AlarmTypes` picks the lists
    (default: metric alarms only, as on AWS). `ChildrenOfAlarmName`,
    `ParentsOfAlarmName` and pagination are not supported (all alarms come
    in one page)."""
    alarms = list(self.cloudwatch_backend.alarms.values())
    names = self._get_param("AlarmNames", []) or []
    name_prefix = self._get_param("AlarmNamePrefix")
    action_prefix = self._get_param("ActionPrefix")
    state_value = self._get_param("StateValue")
    types = self._get_param("AlarmTypes", []) or [METRIC_ALARM]
    if names:
        alarms = [a for a in alarms if a.name in names]
    if name_prefix:
        alarms = [a for a in alarms if a.name.startswith(name_prefix)]
    if action_prefix:
        alarms = [a for a in alarms if any(x.startswith(action_prefix) for x in a.alarm_actions)]
    if state_value:
        alarms = [a for a in alarms if a.state_value == state_value]
    metric = [a for a in alarms if not _is_composite(a)] if METRIC_ALARM in types else []
    composite = [a for a in alarms if _is_composite(a)] if COMPOSITE_ALARM in types else []
    return ActionResult({"MetricAlarms": metric, "CompositeAlarms": composite})


def _patch_state_changes() -> None:
    """Gap: nothing re-evaluates a composite alarm when an alarm of its rule
    changes. Wraps `CloudWatchBackend.set_alarm_state` and `.put_metric_alarm`
    (moto re-creates a re-put alarm in `OK`). SetAlarmState on a composite
    itself holds until one of its alarms changes state, as on AWS."""
    original_set = CloudWatchBackend.set_alarm_state
    original_put = CloudWatchBackend.put_metric_alarm

    def set_alarm_state(self: CloudWatchBackend, alarm_name: str, *args: Any, **kwargs: Any) -> None:
        before = self.alarms[alarm_name].state_value if alarm_name in self.alarms else None
        original_set(self, alarm_name, *args, **kwargs)
        if self.alarms[alarm_name].state_value != before:
            reevaluate(self, {alarm_name})

    def put_metric_alarm(self: CloudWatchBackend, *args: Any, **kwargs: Any) -> Alarm:
        alarm = original_put(self, *args, **kwargs)
        if alarm.rule is None:
            reevaluate(self, {alarm.name})
        return alarm

    CloudWatchBackend.set_alarm_state = set_alarm_state  # type: ignore[method-assign]
    CloudWatchBackend.put_metric_alarm = put_metric_alarm  # type: ignore[method-assign]


def install() -> None:
    CloudWatchResponse.put_composite_alarm = put_composite_alarm  # type: ignore[attr-defined]
    CloudWatchResponse.describe_alarms = describe_alarms  # type: ignore[method-assign]
    _patch_state_changes()
