"""EC2 managed instances and the account's managed-resource visibility (moto
5.2.5 has neither).

On AWS, an instance another AWS service launches and runs for the account
(EKS Auto Mode nodes, ECS Managed Instances) is a *managed instance*:
`DescribeInstances` shows its `Operator` (`Managed: true`, `Principal`, the
service, e.g. `eks.amazonaws.com`; `HiddenByDefault`). With the account's
managed-resource visibility `hidden` (`ModifyManagedResourceVisibility`
`DefaultVisibility=hidden`), `DescribeInstances` leaves managed instances
out unless the request sends `IncludeManagedResources=true`; they still run
and are still billed.

Here:

* `GetManagedResourceVisibility` / `ModifyManagedResourceVisibility` keep the
  setting per account and region (moto's EC2 backend), `visible` until
  changed (the setting is AWS's to default; `visible` keeps moto's answers
  as they were for every test that does not change it);
* nothing launches a managed instance on its own: the control endpoint
  (`POST /_scaling_guard/managed-instances`) marks existing instances managed
  by a principal, as if that service had launched them;
* `DescribeInstances` (the replacement in `fast_instances.py` calls
  `visible_reservations`) leaves managed instances out while the visibility
  is `hidden` and `IncludeManagedResources` is not `true`, by instance id and
  by filter alike; shown, a managed instance carries its `Operator`, whose
  `HiddenByDefault` follows the setting. Unmanaged instances show no
  `Operator` (moto's answer as before; AWS shows `Managed: false`).

Not modelled: other Describe calls' `IncludeManagedResources` (volumes,
network interfaces), and AWS's refusal to let the account stop or terminate
a managed instance itself.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models import EC2Backend, ec2_backends
from moto.ec2.models.instances import Instance
from moto.ec2.responses import EC2Response

HIDDEN, VISIBLE = "hidden", "visible"
VISIBILITIES = (HIDDEN, VISIBLE)
VISIBILITY_ATTRIBUTE = "scaling_guard_managed_visibility"


class NotFound(Exception):
    """An instance id no EC2 backend knows."""


def visibility(backend: EC2Backend) -> str:
    return getattr(backend, VISIBILITY_ATTRIBUTE, VISIBLE)


def _settings(backend: EC2Backend) -> dict[str, Any]:
    return {"Visibility": {"DefaultVisibility": visibility(backend)}}


def get_managed_resource_visibility(self: EC2Response) -> ActionResult:
    """Gap: GetManagedResourceVisibility is not implemented by moto."""
    self.error_on_dryrun()
    return ActionResult(_settings(self.ec2_backend))


def modify_managed_resource_visibility(self: EC2Response) -> ActionResult:
    """Gap: ModifyManagedResourceVisibility is not implemented by moto. An
    unknown value answers `InvalidParameterValue`, as EC2's enum checks do."""
    from moto.ec2.exceptions import InvalidParameterValueError

    wanted = self._get_param("DefaultVisibility")
    if wanted not in VISIBILITIES:
        raise InvalidParameterValueError(str(wanted))
    self.error_on_dryrun()
    setattr(self.ec2_backend, VISIBILITY_ATTRIBUTE, wanted)
    return ActionResult(_settings(self.ec2_backend))


def is_managed(instance: Any) -> bool:
    operator = getattr(instance, "operator", None)
    return bool(operator and operator.get("Managed"))


def visible_reservations(backend: EC2Backend, reservations: list[Any], include_managed: Any) -> list[Any]:
    """The reservations as `DescribeInstances` shows them: without managed
    instances while the visibility is hidden and the request does not include
    them (a reservation left empty is left out); each managed instance's
    `HiddenByDefault` set from the setting."""
    hidden = visibility(backend) == HIDDEN
    for reservation in reservations:
        for instance in reservation.instances:
            if is_managed(instance):
                instance.operator["HiddenByDefault"] = hidden
    if not hidden or str(include_managed).lower() == "true":
        return reservations
    shown = []
    for reservation in reservations:
        kept = [i for i in reservation.instances if not is_managed(i)]
        if len(kept) == len(reservation.instances):
            shown.append(reservation)
        elif kept:
            view = copy.copy(reservation)
            view.instances = kept
            shown.append(view)
    return shown


def mark_managed(instance_ids: list[str], principal: str) -> list[dict[str, Any]]:
    """Marks each instance managed by `principal`, in whichever account and
    region holds it. Raises `NotFound` (and marks nothing) for an unknown id."""
    found = []
    for instance_id in instance_ids:
        for account, per_region in list(ec2_backends.items()):
            for region, backend in list(per_region.items()):
                instance = _instance(backend, instance_id)
                if instance is not None:
                    found.append((account, region, instance))
                    break
            else:
                continue
            break
        else:
            raise NotFound(instance_id)
    marked = []
    for account, region, instance in found:
        instance.operator = {"Managed": True, "Principal": principal, "HiddenByDefault": False}
        marked.append({"instance_id": instance.id, "account": account, "region": region, "principal": principal})
    return marked


def _instance(backend: EC2Backend, instance_id: str) -> Any:
    for reservation in backend.reservations.values():
        for instance in reservation.instances:
            if instance.id == instance_id:
                return instance
    return None


def install() -> None:
    Instance.operator = None  # type: ignore[attr-defined]
    EC2Response.get_managed_resource_visibility = get_managed_resource_visibility  # type: ignore[attr-defined]
    EC2Response.modify_managed_resource_visibility = modify_managed_resource_visibility  # type: ignore[attr-defined]
