"""Extension 14: Security Hub enforces what AWS enforces on findings.

moto 5.2.5 takes any batch of any size and any finding with a resource, merges
a re-imported finding into the old one (so a new `CreatedAt` overwrites the
first), and answers `GetFindings` with every finding, whatever its filters.
AWS does not:

* `BatchImportFindings` takes at most 100 findings a call; more is an
  `InvalidInputException` for the whole call (nothing is imported);
* each finding needs SchemaVersion, Id, ProductArn, GeneratorId, AwsAccountId,
  Types, CreatedAt, UpdatedAt, Severity, Title, Description and a non-empty
  Resources (the required top-level ASFF attributes), and at most 240 KB of
  JSON: otherwise it is a `FailedFindings` entry (`InvalidInput`);
* a finding is accepted only from the account it describes (`AwsAccountId`)
  on the account's own default product of the region
  (`arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`): otherwise a
  `FailedFindings` entry (`AccessDeniedException`);
* a finding with the Id of one already stored replaces it, keeping the first
  `CreatedAt`;
* `GetFindings` applies its `Filters`: string filters (`EQUALS`, `PREFIX`,
  `NOT_EQUALS`, `PREFIX_NOT_EQUALS`, `CONTAINS`, `NOT_CONTAINS`) on Id,
  GeneratorId, AwsAccountId, Region, RecordState, ProductArn, Title,
  ComplianceStatus, WorkflowStatus, SeverityLabel, ResourceId and
  ResourceType (any of the finding's resources), and map filters on
  ProductFields. Filters of one field (one key of ProductFields) combine
  with OR, negated ones with AND; different fields combine with AND. Pages
  of `MaxResults` (at most 100) with a `NextToken`, as moto already does.

Security Hub is REST-JSON (`POST /findings/import`, `POST /findings`): the
fault injection (faults.py) names these calls by its `REST_OPERATIONS`, and
throttles them as Security Hub does (429 `LimitExceededException`).
"""

from __future__ import annotations

import json
from typing import Any, Callable

from moto.securityhub.exceptions import InvalidInputException
from moto.securityhub.models import Finding, SecurityHubBackend
from moto.utilities.paginator import paginate

MAX_BATCH = 100
MAX_FINDING_BYTES = 240 * 1024
REQUIRED = (
    "SchemaVersion",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "Types",
    "CreatedAt",
    "UpdatedAt",
    "Severity",
    "Title",
    "Description",
    "Resources",
)

_STRING_FIELDS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "Id": lambda f: [f.get("Id", "")],
    "GeneratorId": lambda f: [f.get("GeneratorId", "")],
    "AwsAccountId": lambda f: [f.get("AwsAccountId", "")],
    "Region": lambda f: [f.get("Region", "")],
    "RecordState": lambda f: [f.get("RecordState", "ACTIVE")],
    "ProductArn": lambda f: [f.get("ProductArn", "")],
    "Title": lambda f: [f.get("Title", "")],
    "ComplianceStatus": lambda f: [f.get("Compliance", {}).get("Status", "")],
    "WorkflowStatus": lambda f: [f.get("Workflow", {}).get("Status", "NEW")],
    "SeverityLabel": lambda f: [f.get("Severity", {}).get("Label", "")],
    "ResourceId": lambda f: [r.get("Id", "") for r in f.get("Resources", [])],
    "ResourceType": lambda f: [r.get("Type", "") for r in f.get("Resources", [])],
}
_NEGATED = {"NOT_EQUALS", "PREFIX_NOT_EQUALS", "NOT_CONTAINS"}


def default_product(region: str, account: str) -> str:
    return f"arn:aws:securityhub:{region}:{account}:product/{account}/default"


def _refusal(backend: SecurityHubBackend, finding: dict[str, Any]) -> tuple[str, str] | None:
    missing = [key for key in REQUIRED if finding.get(key) in (None, "", [], {})]
    if missing:
        return "InvalidInput", f"Finding is missing required fields: {', '.join(missing)}"
    size = len(json.dumps(finding, separators=(",", ":")).encode())
    if size > MAX_FINDING_BYTES:
        return "InvalidInput", f"Finding is {size} bytes; the limit is {MAX_FINDING_BYTES}"
    if finding["AwsAccountId"] != backend.account_id:
        return "AccessDeniedException", (
            f"Finding's AwsAccountId {finding['AwsAccountId']} is not the caller's account"
        )
    if finding["ProductArn"] != default_product(backend.region_name, backend.account_id):
        return "AccessDeniedException", f"Not authorized to import to product {finding['ProductArn']}"
    return None


def batch_import_findings(
    self: SecurityHubBackend, findings: list[dict[str, Any]]
) -> tuple[int, int, list[dict[str, Any]]]:
    if len(findings) > MAX_BATCH:
        raise InvalidInputException(
            op="BatchImportFindings",
            msg=f"Findings: {len(findings)} findings; at most {MAX_BATCH} per call",
        )
    failed: list[dict[str, Any]] = []
    for data in findings:
        refusal = _refusal(self, data)
        if refusal is not None:
            code, message = refusal
            failed.append({"Id": data.get("Id", ""), "ErrorCode": code, "ErrorMessage": message})
            continue
        old = next((f for f in self.findings if f.id == data["Id"]), None)
        if old is None:
            self.findings.append(Finding(data["Id"], dict(data)))
        else:
            old.data = {**data, "CreatedAt": old.data.get("CreatedAt", data["CreatedAt"])}
    return len(failed), len(findings) - len(failed), failed


def _string_matches(value: str, want: str, comparison: str) -> bool:
    base = comparison.replace("NOT_", "", 1) if comparison in _NEGATED else comparison
    hit = {
        "EQUALS": value == want,
        "PREFIX": value.startswith(want),
        "CONTAINS": want in value,
    }.get(base, False)
    return not hit if comparison in _NEGATED else hit


def _field_matches(values: list[str], filters: list[dict[str, Any]]) -> bool:
    """One field's filters: positive ones OR'd, negated ones AND'd."""
    positive = [f for f in filters if f.get("Comparison") not in _NEGATED]
    negated = [f for f in filters if f.get("Comparison") in _NEGATED]
    if positive and not any(
        _string_matches(v, f.get("Value", ""), f.get("Comparison", "EQUALS")) for f in positive for v in values
    ):
        return False
    return all(
        all(_string_matches(v, f.get("Value", ""), f["Comparison"]) for v in values) for f in negated
    )


def matches(finding: dict[str, Any], filters: dict[str, Any] | None) -> bool:
    """Whether `finding` passes `GetFindings`' `Filters`."""
    for field, field_filters in (filters or {}).items():
        if field == "ProductFields":
            fields = finding.get("ProductFields", {})
            by_key: dict[str, list[dict[str, Any]]] = {}
            for f in field_filters:
                by_key.setdefault(f.get("Key", ""), []).append(f)
            if not all(_field_matches([fields.get(key, "")], fs) for key, fs in by_key.items()):
                return False
        elif field in _STRING_FIELDS:
            if not _field_matches(_STRING_FIELDS[field](finding), field_filters):
                return False
        else:
            raise InvalidInputException(op="GetFindings", msg=f"the emulator does not filter on {field}")
    return True


@paginate(pagination_model=SecurityHubBackend.PAGINATION_MODEL)
def get_findings(
    self: SecurityHubBackend,
    filters: dict[str, Any] | None = None,
    sort_criteria: list[dict[str, str]] | None = None,
    max_results: int | None = None,
) -> list[dict[str, Any]]:
    if max_results is not None and not 1 <= int(max_results) <= 100:
        raise InvalidInputException(op="GetFindings", msg="MaxResults must be a number between 1 and 100")
    return [f.as_dict() for f in self.findings if matches(f.as_dict(), filters)]


def install() -> None:
    SecurityHubBackend.batch_import_findings = batch_import_findings  # type: ignore[method-assign]
    SecurityHubBackend.get_findings = get_findings  # type: ignore[method-assign]
