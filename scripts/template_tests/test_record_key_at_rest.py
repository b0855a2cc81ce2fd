"""The record key at rest (issue 21 review): GUARD_RECORD_KEY lives in the
environment of the functions that read or write suspension records. With
Lambda's AWS-managed key, anyone who may call lambda:GetFunctionConfiguration
(ReadOnlyAccess) reads it in plaintext; encrypted with the stack's own key
(GuardKey), the values are returned only to a caller who may also
kms:Decrypt with that key. So every function that holds the key names
GuardKey as its KmsKeyArn, and its execution role may decrypt with it."""

from __future__ import annotations

from typing import Any

from template_iam import DEFAULT, held, template

STACK_KEY = {"Fn::GetAtt": ["GuardKey", "Arn"]}


def holders() -> dict[str, dict[str, Any]]:
    """Every function whose environment holds GUARD_RECORD_KEY."""
    return {
        name: resource
        for name, resource in template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and "GUARD_RECORD_KEY" in resource["Properties"].get("Environment", {}).get("Variables", {})
    }


def test_some_function_holds_the_key() -> None:
    assert holders(), "the test would pass vacuously"


def test_every_function_holding_the_key_encrypts_its_environment_with_the_stack_key() -> None:
    for name, function in holders().items():
        assert function["Properties"].get("KmsKeyArn") == STACK_KEY, name


def test_every_function_holding_the_key_may_decrypt_its_environment() -> None:
    for name, function in holders().items():
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        decrypting = [
            s
            for s in held(role, DEFAULT)
            if s.effect == "Allow" and "kms:Decrypt" in s.actions and STACK_KEY in s.resources
        ]
        assert decrypting, f"{name}: {role} may not kms:Decrypt with GuardKey"


def test_no_checkov_skip_excuses_an_unencrypted_environment() -> None:
    # With KmsKeyArn set CKV_AWS_173 passes; a skip would hide a function
    # that lost it.
    for name, function in holders().items():
        skipped = {s["id"] for s in function.get("Metadata", {}).get("checkov", {}).get("skip", [])}
        assert "CKV_AWS_173" not in skipped, name
