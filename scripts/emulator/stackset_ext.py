"""Extension 17: service-managed StackSets take their targets as AWS does.

For a service-managed StackSet, AWS takes the accounts of `CreateStackInstances`,
`UpdateStackInstances` and `DeleteStackInstances` from `DeploymentTargets`
(OU ids, optionally narrowed by `Accounts` with an `AccountFilterType`), never
from the top-level `Accounts` (self-managed only), and `ListStackInstances`
names each instance's `OrganizationalUnitId`. moto 5.2.5 reads OUs on create
only (child OUs one level deep, no filter), takes the accounts of update and
delete from `Accounts` alone (so a service-managed update or delete touches
nothing) and names no OU. Here, when a request has OU ids and no top-level
`Accounts`:

* the accounts are those under the OUs (all levels) in the StackSet owner's
  organisation, narrowed by `AccountFilterType` INTERSECTION or DIFFERENCE
  with `DeploymentTargets.Accounts` (UNION adds them, NONE ignores them);
* create, update and delete act on exactly those accounts;
* every instance of a service-managed StackSet lists its account's parent OU.

* a service-managed instance is recorded (account, region, parameters,
  OU, operations) without deploying anything: moto would create the
  template's resources in a hidden stack of the StackSet's own account and
  region (not the target account, where AWS deploys it), and its resource
  parsers fail on the guard's template (an IAM policy under `Fn::If`). What
  a stack instance does in its account is the template's, tested by
  scripts/template_tests and the end-to-end tests, not here.

Self-managed StackSets are moto's, unchanged.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.models import StackInstance, StackInstances
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult
from moto.organizations.models import organizations_backends


def org_of(account: str) -> Any:
    return organizations_backends[account]["aws"]


def descendants(org: Any, roots: list[str]) -> set[str]:
    """The OUs `roots` and every OU below them."""
    found, frontier = set(roots), list(roots)
    while frontier:
        parent = frontier.pop()
        for ou in org.ou:
            if getattr(ou, "parent_id", None) == parent and ou.id not in found:
                found.add(ou.id)
                frontier.append(ou.id)
    return found


def target_accounts(owner: str, targets: dict[str, Any]) -> list[str]:
    """The accounts `targets` (service-managed DeploymentTargets) name."""
    org = org_of(owner)
    ous = descendants(org, list(targets.get("OrganizationalUnitIds", [])))
    under = [a.id for a in org.accounts if a.parent_id in ous and a.id != owner]
    listed = list(targets.get("Accounts", []))
    kind = targets.get("AccountFilterType", "NONE" if not listed else "UNION")
    if kind == "INTERSECTION":
        return [a for a in under if a in listed]
    if kind == "DIFFERENCE":
        return [a for a in under if a not in listed]
    if kind == "UNION":
        return under + [a for a in listed if a not in under]
    return under


def parent_ou(owner: str, account: str) -> str | None:
    return next((a.parent_id for a in org_of(owner).accounts if a.id == account), None)


def request_accounts(response: CloudFormationResponse) -> list[str]:
    """The accounts of an update or delete: `Accounts`, else its DeploymentTargets'."""
    accounts = response._get_param("Accounts", [])
    targets = response._get_params().get("DeploymentTargets") or {}
    if accounts or not targets.get("OrganizationalUnitIds"):
        return accounts
    return target_accounts(response.current_account, targets)


def delete_stack_instances(self: CloudFormationResponse) -> ActionResult:
    stackset = self.cloudformation_backend.delete_stack_instances(
        self._get_param("StackSetName"), request_accounts(self), self._get_param("Regions", [])
    )
    return ActionResult({"OperationId": stackset.operations[-1]["OperationId"]})


def update_stack_instances(self: CloudFormationResponse) -> ActionResult:
    operation = self.cloudformation_backend.update_stack_instances(
        self._get_param("StackSetName"), request_accounts(self), self._get_param("Regions", []),
        self._get_param("ParameterOverrides", []),
    )
    return ActionResult({"OperationId": operation["OperationId"]})


def record_only(self: StackInstance, account_id: str, region_name: str, stackset_id: str, stack_name: str,
                name: str, template: str, parameters: Any, permission_model: str) -> None:
    """A service-managed StackInstance without its hidden stack."""
    self.account_id, self.region_name, self.stackset_id = account_id, region_name, stackset_id
    self.stack_name, self.name, self.template = stack_name, name, template
    self.parameters, self.permission_model = parameters or [], permission_model
    self.stack = None


def install() -> None:
    original_create = StackInstances.create_instances
    original_init = StackInstance.__init__
    original_delete = StackInstance.delete

    def init(self: StackInstance, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("permission_model") == "SERVICE_MANAGED":
            record_only(self, *args, **kwargs)
        else:
            original_init(self, *args, **kwargs)

    def delete(self: StackInstance) -> None:
        if self.stack is not None:
            original_delete(self)
    original_to_dict = StackInstance.to_dict

    def create_instances(self: StackInstances, accounts: list[str], regions: list[str], parameters: Any,
                         deployment_targets: dict[str, Any], permission_model: str) -> list[dict[str, Any]]:
        if permission_model == "SERVICE_MANAGED" and deployment_targets.get("OrganizationalUnitIds"):
            accounts, deployment_targets = target_accounts(self.account_id, deployment_targets), {}
        created = original_create(self, accounts, regions, parameters, deployment_targets, permission_model=permission_model)
        for instance in self.stack_instances:
            if permission_model == "SERVICE_MANAGED" and not hasattr(instance, "organizational_unit_id"):
                instance.organizational_unit_id = parent_ou(self.account_id, instance.account_id)
        return created

    def to_dict(self: StackInstance) -> dict[str, Any]:
        described = original_to_dict(self)
        if getattr(self, "organizational_unit_id", None):
            described["OrganizationalUnitId"] = self.organizational_unit_id
        return described

    StackInstances.create_instances = create_instances  # type: ignore[method-assign]
    StackInstance.__init__ = init  # type: ignore[method-assign]
    StackInstance.delete = delete  # type: ignore[method-assign]
    StackInstance.to_dict = to_dict  # type: ignore[method-assign]
    CloudFormationResponse.delete_stack_instances = delete_stack_instances  # type: ignore[method-assign]
    CloudFormationResponse.update_stack_instances = update_stack_instances  # type: ignore[method-assign]
