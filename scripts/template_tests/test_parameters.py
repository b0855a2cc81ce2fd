"""What CloudFormation itself refuses: parameter values the policy would
reject at init (a budget or image age of 0) and schedule expressions
EventBridge does not accept. The custom resource catches the rest (SPEC §3)."""

from __future__ import annotations

import re

import pytest

import settings_table
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


# The node checks' settings (core/src/policy/settings.rs, parse.rs): empty keeps a check
# off; each pattern accepts what the policy accepts and rejects what it
# rejects. Deliberately stricter than the policy only where no real value
# differs: no empty list items (`a,,b`), no leading zeros or `+` in numbers,
# at most 10 parameter names even when some repeat.
TEN = ",".join(f"/aws/service/eks/optimized-ami/1.31/p{i}/image_id" for i in range(10))


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("KubernetesVersion", "", True),
        ("KubernetesVersion", "1.31", True),
        ("KubernetesVersion", "1.9", True),
        ("KubernetesVersion", "1.100", True),
        ("KubernetesVersion", "2.0", False),
        ("KubernetesVersion", "1.31.2", False),
        ("KubernetesVersion", "1.", False),
        ("KubernetesVersion", "v1.31", False),
        ("KubernetesVersion", "1.1000", False),
        ("RecommendedImageParameters", "", True),
        (
            "RecommendedImageParameters",
            "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/standard/recommended/image_id",
            True,
        ),
        (
            "RecommendedImageParameters",
            "/aws/service/bottlerocket/aws-k8s-1.31/x86_64/latest/image_id, "
            "/aws/service/bottlerocket/aws-k8s-1.31/arm64/latest/image_id",
            True,
        ),
        ("RecommendedImageParameters", TEN, True),
        ("RecommendedImageParameters", TEN + ",/aws/service/x", False),
        ("RecommendedImageParameters", "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64", True),
        ("RecommendedImageParameters", "/prod/ami", False),
        ("RecommendedImageParameters", "aws/service/eks/x", False),
        ("RecommendedImageParameters", "/aws/service/eks/$version", False),
        ("RecommendedImageParameters", "arn:aws:ssm:eu-west-1::parameter/aws/service/eks/x", False),
        ("OutdatedImageGraceDays", "", True),
        ("OutdatedImageGraceDays", "0", True),
        ("OutdatedImageGraceDays", "30", True),
        ("OutdatedImageGraceDays", "3650", True),
        ("OutdatedImageGraceDays", "3651", False),
        ("OutdatedImageGraceDays", "9999", False),
        ("OutdatedImageGraceDays", "-1", False),
        ("OutdatedImageGraceDays", "7.5", False),
        ("MaxImdsHopLimit", "", True),
        ("MaxImdsHopLimit", "1", True),
        ("MaxImdsHopLimit", "2", True),
        ("MaxImdsHopLimit", "64", True),
        ("MaxImdsHopLimit", "0", False),
        ("MaxImdsHopLimit", "65", False),
        ("MaxImdsHopLimit", "100", False),
        ("AllowedVolumeKmsKeys", "", True),
        ("AllowedVolumeKmsKeys", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", True),
        (
            "AllowedVolumeKmsKeys",
            "arn:aws:kms:eu-west-1:123456789012:key/mrk-1, arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/k2",
            True,
        ),
        ("AllowedVolumeKmsKeys", "arn:aws:kms:eu-west-1:123456789012:alias/ebs", False),
        ("AllowedVolumeKmsKeys", "arn:aws:kms::123456789012:key/k", False),
        ("AllowedVolumeKmsKeys", "arn:aws:kms:eu-west-1:1234:key/k", False),
        ("AllowedVolumeKmsKeys", "arn:aws:kms:eu-west-1:123456789012:key/", False),
        ("AllowedVolumeKmsKeys", "1234abcd-12ab-34cd-56ef-1234567890ab", False),
        ("AllowedKeyPairs", "", True),
        ("AllowedKeyPairs", "bastion", True),
        ("AllowedKeyPairs", "ops key 2024, break-glass@prod", True),
        ("AllowedKeyPairs", "k" * 255, True),
        ("AllowedKeyPairs", "k" * 256, False),
        ("AllowedKeyPairs", "clé", False),
        ("AllowedKeyPairs", "tab\tkey", False),
        ("CheckExceptions", "", True),
        ("CheckExceptions", "imds.hop_limit@prod-ebs-csi-*", True),
        ("CheckExceptions", "instance.key_pair@bastion, image.outdated @ gpu-*", True),
        ("CheckExceptions", "volumes.encrypted@legacy-[ab]", True),
        ("CheckExceptions", "budget.vcpus@prod-*", False),
        ("CheckExceptions", "membership.unmanaged@prod-*", False),
        ("CheckExceptions", "membership.unguarded_group@prod-*", False),
        ("CheckExceptions", "imds.hop@prod-*", False),
        ("CheckExceptions", "imds.v2", False),
        ("CheckExceptions", "imds.v2@", False),
        ("CheckExceptions", "@prod-*", False),
    ],
)
def test_the_node_check_settings_accept_what_the_policy_accepts(
    name: str, value: str, accepted: bool
) -> None:
    assert bool(pattern(name).fullmatch(value)) is accepted


@pytest.mark.parametrize(
    ("name", "default"),
    [
        ("KubernetesVersion", ""),
        ("RecommendedImageParameters", ""),
        ("OutdatedImageGraceDays", "30"),
        ("MaxImdsHopLimit", ""),
        ("RequireEncryptedVolumes", "false"),
        ("AllowedVolumeKmsKeys", ""),
        ("DenyKeyPairs", "false"),
        ("AllowedKeyPairs", ""),
        ("CheckExceptions", ""),
    ],
)
def test_the_new_checks_are_off_by_default(name: str, default: str) -> None:
    parameter = template()["Parameters"][name]
    assert parameter["Default"] == default
    if "AllowedPattern" in parameter:
        assert pattern(name).fullmatch(default)
    else:
        assert parameter["AllowedValues"] == ["true", "false"]


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("KubernetesVersion", "GUARD_KUBERNETES_VERSION"),
        ("RecommendedImageParameters", "GUARD_RECOMMENDED_IMAGE_PARAMETERS"),
        ("OutdatedImageGraceDays", "GUARD_OUTDATED_IMAGE_GRACE_DAYS"),
        ("MaxImdsHopLimit", "GUARD_MAX_IMDS_HOP_LIMIT"),
        ("RequireEncryptedVolumes", "GUARD_REQUIRE_ENCRYPTED_VOLUMES"),
        ("AllowedVolumeKmsKeys", "GUARD_ALLOWED_VOLUME_KMS_KEYS"),
        ("DenyKeyPairs", "GUARD_DENY_KEY_PAIRS"),
        ("AllowedKeyPairs", "GUARD_ALLOWED_KEY_PAIRS"),
        ("CheckExceptions", "GUARD_CHECK_EXCEPTIONS"),
    ],
)
def test_each_new_parameter_fills_its_variable_and_is_in_the_console_groups(
    name: str, variable: str
) -> None:
    decoded = template()
    variables = decoded["Globals"]["Function"]["Environment"]["Variables"]
    assert variables[variable] == {"Ref": name}
    groups = decoded["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert sum(name in group["Parameters"] for group in groups) == 1


def test_every_setting_the_policy_reads_is_passed_to_the_functions() -> None:
    # SETTINGS in core/src/policy/settings.rs: every GUARD_* the policy reads.
    settings = {row["name"] for row in settings_table.table()}
    assert len(settings) > 30
    variables = template()["Globals"]["Function"]["Environment"]["Variables"]
    # GUARD_RECORD_KEY is a secret: only the functions that read or write
    # suspension records get it (test_record_key.py).
    assert set(variables) == settings - {"GUARD_RECORD_KEY"}
