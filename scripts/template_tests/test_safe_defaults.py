"""Issue 21, scenario 10: safe defaults. A first deployment only decides and
alerts (Mode audit, as SPEC section 3 says and the functions' own parser
defaults to); no lifecycle event is retried after its hook's heartbeat has
decided it; the functions' logs, the record of what the guard terminated and
abandoned, stay when the stack goes."""

from __future__ import annotations

import settings_table
from test_alarms import README, heartbeat_seconds, resources
from template_iam import template


def test_mode_defaults_to_audit_in_the_template_and_in_the_policy_parser() -> None:
    assert template()["Parameters"]["Mode"]["Default"] == "audit"
    # The parser's default is the settings table's (core/src/policy/settings.rs).
    default = settings_table.row("GUARD_MODE")["default"]
    assert default == {"kind": "value", "value": "audit"}


def test_the_quick_start_reads_the_audit_alerts_before_it_enforces() -> None:
    readme = README.read_text()
    deploy = readme[readme.index("## Deploy") : readme.index("## Parameters")]
    audit = deploy.index("audit")
    enforce = deploy.index("Mode=enforce")
    assert audit < enforce
    # The first deployment needs no Mode: the default is audit.
    assert "launch_violation_reported" in deploy[:enforce]


def _lifecycle_event_ages() -> dict[str, int]:
    """Every MaximumEventAgeInSeconds on the path of a lifecycle action:
    launch-guard's asynchronous invocations and its EventBridge rule."""
    function = resources()["LaunchGuardFunction"]["Properties"]
    ages = {"EventInvokeConfig": function["EventInvokeConfig"]["MaximumEventAgeInSeconds"]}
    for name, event in function["Events"].items():
        policy = event["Properties"].get("RetryPolicy")
        if policy is not None:
            ages[name] = policy["MaximumEventAgeInSeconds"]
    return ages


def test_no_lifecycle_event_is_retried_after_the_heartbeat() -> None:
    ages = _lifecycle_event_ages()
    assert set(ages) == {"EventInvokeConfig", "LaunchLifecycleAction"}
    # After the heartbeat the hook took its DefaultResult: the token is dead,
    # a late decision could only fail (and be counted as an error).
    for where, age in ages.items():
        assert 60 <= age <= heartbeat_seconds(), where


def test_the_functions_log_groups_and_their_key_are_retained_on_removal() -> None:
    groups = {n: r for n, r in resources().items() if r["Type"] == "AWS::Logs::LogGroup"}
    assert len(groups) >= 4
    for name, group in groups.items():
        assert group["DeletionPolicy"] == "Retain", name
        assert group["UpdateReplacePolicy"] == "Retain", name
        # A retained log encrypted with a deleted key could not be read.
        key = group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]
        assert resources()[key]["DeletionPolicy"] == "Retain", key
        assert resources()[key]["UpdateReplacePolicy"] == "Retain", key
    # Every function logs to one of them.
    for name, resource in resources().items():
        if resource["Type"] == "AWS::Serverless::Function":
            assert resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] in groups, name
