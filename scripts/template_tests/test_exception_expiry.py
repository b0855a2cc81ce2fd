"""Issue 24, point 5: exceptions that expire. The two settings that bound
an exception (MaxExceptionDays, RequireExceptionReason) reach every
function and the stack's policy check with the policy's defaults, and
budget-guard's once-only record of the exception_expired alert is one
guard-owned tag on cluster groups, granted only while there are
exceptions."""

from __future__ import annotations

import pathlib
import re

from template_iam import CUSTOM, CUSTOM_KEY, CUSTOM_VALUE, DEFAULT, TAG_KEY, held, template

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECORD_SID = "RecordExpiredExceptionOnClusterGroups"
RECORD_TAG = "scaling-guard:exception-expired"
EXCEPTIONS = "imds.hop_limit@prod-ebs-csi-* until=2027-03-31 reason=PLAT-123 ebs csi needs hop 2"


def test_the_two_parameters_have_the_policys_defaults_and_name_their_variables() -> None:
    parameters = template()["Parameters"]
    days = parameters["MaxExceptionDays"]
    assert (days["Type"], days["Default"], days["MinValue"], days["MaxValue"]) == ("Number", 180, 1, 3650)
    assert "(GUARD_MAX_EXCEPTION_DAYS)" in days["Description"]
    reason = parameters["RequireExceptionReason"]
    assert (reason["Type"], reason["Default"], reason["AllowedValues"]) == ("String", "false", ["true", "false"])
    assert "(GUARD_REQUIRE_EXCEPTION_REASON)" in reason["Description"]


def test_every_function_and_the_stacks_policy_check_receive_them() -> None:
    decoded = template()
    environment = decoded["Globals"]["Function"]["Environment"]["Variables"]
    policy = decoded["Resources"]["Guard"]["Properties"]["Policy"]
    for variables in (environment, policy):
        assert variables["GUARD_MAX_EXCEPTION_DAYS"] == {"Ref": "MaxExceptionDays"}
        assert variables["GUARD_REQUIRE_EXCEPTION_REASON"] == {"Ref": "RequireExceptionReason"}


def test_an_exception_with_until_and_reason_passes_the_parameters_pattern() -> None:
    pattern = template()["Parameters"]["CheckExceptions"]["AllowedPattern"]
    assert re.fullmatch(pattern, EXCEPTIONS)
    assert re.fullmatch(pattern, f"{EXCEPTIONS},imds.v2@legacy until=2026-12-31")
    assert not re.fullmatch(pattern, "budget.vcpus@prod-* until=2027-03-31")


def test_budget_guard_records_the_alert_only_on_cluster_groups_and_only_its_tag() -> None:
    (statement,) = [s for s in held("BudgetGuardRole", {**CUSTOM, "CheckExceptions": EXCEPTIONS}) if s.sid == RECORD_SID]
    assert statement.condition == "HasCheckExceptions"
    assert statement.effect == "Allow"
    assert statement.actions == ["autoscaling:CreateOrUpdateTags"]
    assert statement.resources == ["arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/*"]
    assert statement.body["Condition"] == {
        "StringEquals": {f"aws:ResourceTag/{CUSTOM_KEY}": CUSTOM_VALUE},
        "ForAllValues:StringEquals": {"aws:TagKeys": [RECORD_TAG]},
    }
    # The constant is the domain's (a release removes the record too).
    rust = (ROOT / "core/src/policy/exceptions.rs").read_text()
    assert f'pub const EXCEPTION_EXPIRED_TAG: &str = "{RECORD_TAG}";' in rust


def test_the_record_is_granted_in_either_mode_only_while_there_are_exceptions() -> None:
    def records(deployment: dict[str, str]) -> bool:
        return any(s.sid == RECORD_SID for s in held("BudgetGuardRole", deployment))

    assert not records(DEFAULT)
    assert records({**DEFAULT, "CheckExceptions": EXCEPTIONS})
    assert records({**DEFAULT, "CheckExceptions": EXCEPTIONS, "Mode": "enforce"})
    assert not records({**CUSTOM, "CheckExceptions": ""})
    # The default key alone: any value of the cluster's own key.
    (statement,) = [s for s in held("BudgetGuardRole", {**DEFAULT, "CheckExceptions": EXCEPTIONS}) if s.sid == RECORD_SID]
    assert statement.body["Condition"]["StringLike"] == {f"aws:ResourceTag/{TAG_KEY}": "*"}
