"""Security Hub (issue 24, point 1): the `SecurityHub` parameter, and the IAM
grants of the functions that import and read the guard's findings.

What IAM allows, from the Service Authorization Reference (securityhub):
`BatchImportFindings` requires the resource type `product`
(`arn:${Partition}:securityhub:${Region}:${Account}:product/${Company}/${ProductId}`)
and supports the condition key `securityhub:TargetAccount` (the finding's
`AwsAccountId`); `GetFindings` acts on the `hub`
(`arn:${Partition}:securityhub:${Region}:${Account}:hub/default`) and
supports only `aws:ResourceTag`. So the import is bound to the account's own
default product in this region and to findings of this account, and the read
to this account's hub in this region. Neither resource carries a cluster tag:
findings of the guard are one product (template_iam.NOT_PINNABLE)."""

from __future__ import annotations

from template_iam import ACCOUNT, DEFAULT, REGION, evaluate, held, template

ON = {**DEFAULT, "SecurityHub": "true"}
OFF = {**DEFAULT, "SecurityHub": "false"}
PRODUCT = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
HUB = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:hub/default"
TARGET_ACCOUNT = {"StringEquals": {"securityhub:TargetAccount": ACCOUNT}}


def _rendered(condition: dict | None, deployment: dict[str, str]) -> dict | None:
    """A statement's condition with its values evaluated for the deployment."""
    if condition is None:
        return None
    return {
        operator: {key: evaluate(value, deployment) for key, value in block.items()}
        for operator, block in condition.items()
    }


def _securityhub(role: str, deployment: dict[str, str]) -> dict[str, tuple[list, dict | None]]:
    """The role's Security Hub grants in the deployment: action -> (resources,
    condition), evaluated."""
    found = {}
    for statement in held(role, deployment):
        for action in statement.actions:
            if action.startswith("securityhub:"):
                assert statement.effect == "Allow", statement
                found[action] = (
                    evaluate(statement.resources, deployment),
                    _rendered(statement.body.get("Condition"), deployment),
                )
    return found


def test_security_hub_is_a_parameter_off_by_default_that_names_its_setting() -> None:
    parameter = template()["Parameters"]["SecurityHub"]
    assert parameter["Default"] == "false"
    assert parameter["AllowedValues"] == ["true", "false"]
    assert "(GUARD_SECURITY_HUB)" in parameter["Description"]
    assert template()["Conditions"]["SendsFindings"] == {"Fn::Equals": [{"Ref": "SecurityHub"}, "true"]}


def test_launch_guard_imports_to_its_own_product_and_account_only() -> None:
    assert _securityhub("LaunchGuardRole", ON) == {
        "securityhub:BatchImportFindings": ([PRODUCT], TARGET_ACCOUNT),
    }


def test_instance_audit_imports_and_reads_its_own_accounts_findings() -> None:
    assert _securityhub("InstanceAuditRole", ON) == {
        "securityhub:BatchImportFindings": ([PRODUCT], TARGET_ACCOUNT),
        "securityhub:GetFindings": ([HUB], None),
    }


def test_budget_guard_and_stack_guard_get_no_security_hub_grant() -> None:
    for role in ["BudgetGuardRole", "StackGuardRole"]:
        assert _securityhub(role, ON) == {}, role


def test_with_security_hub_off_no_role_holds_a_security_hub_grant() -> None:
    for role in ["LaunchGuardRole", "InstanceAuditRole", "BudgetGuardRole", "StackGuardRole"]:
        assert _securityhub(role, OFF) == {}, role
