"""What CloudFormation itself refuses: parameter values the policy would
reject at init (a budget or image age of 0) and schedule expressions
EventBridge does not accept. The custom resource catches the rest (SPEC §3)."""

from __future__ import annotations

import re

import pytest

from template_iam import template


def pattern(name: str) -> re.Pattern[str]:
    return re.compile(template()["Parameters"][name]["AllowedPattern"])


@pytest.mark.parametrize("name", ["MaxVcpus", "MaxMemoryMib", "MaxInstances", "MaxAmiAgeDays"])
@pytest.mark.parametrize(("value", "accepted"), [("", True), ("1", True), ("64", True), ("0", False), ("007", False), ("-1", False)])
def test_a_budget_or_age_is_empty_or_positive(name: str, value: str, accepted: bool) -> None:
    assert bool(pattern(name).fullmatch(value)) is accepted


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("rate(1 hour)", True),
        ("rate(30 minutes)", True),
        ("rate(2 days)", True),
        ("cron(0 * * * ? *)", True),
        ("rate(1 hours)", False),
        ("rate(5 minute)", False),
        ("rate(0 minutes)", False),
        ("cron(0 * * * ?)", False),
        ("every hour", False),
    ],
)
def test_the_audit_schedule_is_an_expression_eventbridge_accepts(value: str, accepted: bool) -> None:
    assert bool(pattern("AuditSchedule").fullmatch(value)) is accepted
