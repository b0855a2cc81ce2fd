"""The key that signs the guard's suspension records (issue 21, scenario 3):
a secret the stack generates, owns and deletes, handed as GUARD_RECORD_KEY
to exactly the functions that read or write records, through a dynamic
reference (no runtime call, no permission on the secret)."""

from __future__ import annotations

from typing import Any

from template_iam import TEMPLATE, template

READERS = {"LaunchGuardFunction", "BudgetGuardFunction", "StackGuardFunction"}


def functions() -> dict[str, Any]:
    return {
        name: resource
        for name, resource in template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_the_key_is_a_generated_secret_owned_and_deleted_by_the_stack() -> None:
    secret = template()["Resources"]["RecordKey"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["DeletionPolicy"] == "Delete"
    assert secret["UpdateReplacePolicy"] == "Delete"
    generated = secret["Properties"]["GenerateSecretString"]
    # At least the 32 characters the policy's parser requires.
    assert generated["PasswordLength"] >= 32
    assert "SecretString" not in secret["Properties"], "never a value in the template"


def test_only_the_functions_that_read_or_write_records_get_the_key() -> None:
    given = {
        name
        for name, function in functions().items()
        if "GUARD_RECORD_KEY" in function["Properties"].get("Environment", {}).get("Variables", {})
    }
    assert given == READERS
    assert "GUARD_RECORD_KEY" not in template()["Globals"]["Function"]["Environment"]["Variables"]


def test_the_key_is_a_dynamic_reference_to_the_stacks_secret() -> None:
    for name in READERS:
        value = functions()[name]["Properties"]["Environment"]["Variables"]["GUARD_RECORD_KEY"]
        assert value == {"Fn::Sub": "{{resolve:secretsmanager:${RecordKey}:SecretString}}"}, name


def test_no_role_may_read_the_secret_at_run_time() -> None:
    # The key is resolved at deploy time: no function calls Secrets Manager.
    text = TEMPLATE.read_text()
    assert "secretsmanager:GetSecretValue" not in text
    assert "secretsmanager:*" not in text
