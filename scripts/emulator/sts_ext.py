"""AssumeRole that checks the role, for the accounts that ask for it.

moto lets any `AssumeRole` succeed, whether the role exists or not (the
end-to-end harness relies on it to act in any account: tests/src/accounts.rs).
AWS refuses with `AccessDenied` a role that does not exist, or whose trust
policy requires an `sts:ExternalId` the caller did not give. That refusal is
what `scaling-guard org audit` must report per account, so it is opt-in per
target account through the control endpoint:

    POST /_scaling_guard/sts/checked-accounts
         body {"accounts": ["111111111111", ...]}
         -> 200 {"accounts": [...]}   (replaces the set; [] turns it off)

In a checked account, `AssumeRole` answers `AccessDenied` (with status 400:
moto serializes an error its STS model lacks so; AWS says 403) unless the
role exists in that account (IAM `CreateRole` acting as the account: an
`AssumeRole` into it before it is checked, or moto's default account's own
credentials), and, when its trust policy names an `sts:ExternalId`, the
request gives that id. Accounts not in the set keep moto's behaviour.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from moto.core.exceptions import ServiceException
from moto.iam.models import iam_backends
from moto.sts.models import STSBackend
from moto.utilities.utils import get_partition

_lock = threading.Lock()
_checked: set[str] = set()


class AccessDenied(ServiceException):
    code = "AccessDenied"


def set_checked(body: Any) -> dict[str, Any]:
    """Replaces the checked accounts; raises ValueError for a bad body."""
    accounts = body.get("accounts") if isinstance(body, dict) else None
    if not isinstance(accounts, list) or not all(isinstance(a, str) and len(a) == 12 for a in accounts):
        raise ValueError("the body needs `accounts`, a list of 12-digit account ids")
    with _lock:
        _checked.clear()
        _checked.update(accounts)
        return {"accounts": sorted(_checked)}


def _role_account(role_arn: str) -> str:
    parts = role_arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def _required_external_ids(document: Any) -> set[str]:
    """Every `sts:ExternalId` value a trust policy's conditions name."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return set()
    found: set[str] = set()
    if isinstance(document, dict):
        for key, value in document.items():
            if key.lower() == "sts:externalid":
                found.update([value] if isinstance(value, str) else value)
            else:
                found.update(_required_external_ids(value))
    elif isinstance(document, list):
        for item in document:
            found.update(_required_external_ids(item))
    return found


def _check(region_name: str, role_arn: str, external_id: str | None) -> None:
    account = _role_account(role_arn)
    with _lock:
        checked = account in _checked
    if not checked:
        return
    denied = AccessDenied(f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
    iam = iam_backends[account][get_partition(region_name)]
    role = next((r for r in iam.get_roles() if r.arn == role_arn), None)
    if role is None:
        raise denied
    required = _required_external_ids(role.assume_role_policy_document)
    if required and external_id not in required:
        raise denied


def install() -> None:
    original = STSBackend.assume_role
    if getattr(original, "_checks_roles", False):
        return

    def assume_role(self: STSBackend, region_name: str, role_session_name: str, role_arn: str,
                    policy: str, duration: int, external_id: str) -> Any:
        _check(region_name, role_arn, external_id)
        return original(self, region_name, role_session_name, role_arn, policy, duration, external_id)

    assume_role._checks_roles = True  # type: ignore[attr-defined]
    STSBackend.assume_role = assume_role  # type: ignore[method-assign]
