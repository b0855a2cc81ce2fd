"""Extension 16: delivery to another account's event bus honours the bus's policy.

moto 5.2.5 forwards an event to a rule's event-bus target in any account
(`Rule.send_to_targets` calls `put_events` on the target's backend) without
looking at the target bus's resource policy, and the forwarded event is
re-stamped as the target account's own (new `id`, `account`, `time`). On AWS
a cross-account delivery is refused unless the receiving bus's policy allows
the sender (EventBridge counts it as a failed invocation of the sender's rule;
nothing reaches the receiving bus), and the event arrives unchanged: the
`account` of its envelope is still the sender's. A central bus for a whole
organisation rests on exactly that (`org/hub.yaml`: principal `*`,
`events:PutEvents`, condition `aws:PrincipalOrgID`), so here:

* an event forwarded by a rule of account S to a bus of account T != S is
  delivered only when the bus policy has an `Allow` statement (and no `Deny`
  statement) whose `Action` covers `events:PutEvents`, whose `Principal` is
  `*`, `{"AWS": "*"}`, S or `arn:aws:iam::S:root`, whose `Resource` matches
  the bus ARN, and whose `Condition` holds. Conditions understood:
  `StringEquals` on `aws:PrincipalOrgID` (S's organisation in moto's
  Organizations: S created the organisation or was created in it with
  `CreateAccount`) and on `aws:PrincipalAccount`; any other condition does
  not hold (closed by default, so a policy the emulator cannot read refuses);
* a delivered event keeps the sender's envelope (`id`, `account`, `region`,
  `time`, `detail`) and goes to the rules of the receiving bus; it is not
  checked against the schemas again (extension 15 checked it when sent);
* a rule's target receives the envelope's `account` too (moto's default
  input template leaves it out; AWS delivers it), so that a hub's queue can
  tell the accounts apart;
* a refused one is recorded: `GET /_scaling_guard/events/refused` lists
  {sender, bus, detail_type, detail} in order.

`POST /_scaling_guard/organizations` {management, accounts: [name, ...]}
makes the organisation those conditions read without an Organizations
client: `CreateOrganization` by `management`, then one `CreateAccount` per
name; it answers {id, accounts: [id, ...]} (moto picks the account ids).

CloudFormation's `AWS::Events::EventBusPolicy` (which moto does not know, so
a stack with one, like `org/hub.yaml`, left its bus open to nobody) puts its
`Statement` (with `StatementId` as its Sid) on the bus, and deleting the
resource removes it.

Same-account bus-to-bus delivery is moto's, unchanged. The role a
cross-account target needs on AWS (`RoleArn`) is not checked.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import threading
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.events.models import EventsBackend, Rule, events_backends
from moto.events.utils import EventTemplateParser
from moto.organizations.exceptions import AWSOrganizationsNotInUseException
from moto.organizations.models import organizations_backends

ACTIONS = {"events:PutEvents", "events:*", "*"}

_forwarding = threading.local()
_lock = threading.Lock()
_refused: list[dict[str, Any]] = []


def organization_of(account: str) -> str | None:
    """The id of the organisation `account` belongs to in moto, if any."""
    try:
        return organizations_backends[account]["aws"].describe_organization()["Organization"]["Id"]
    except AWSOrganizationsNotInUseException:
        return None


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def principal_matches(principal: Any, account: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    names = as_list(principal.get("AWS", []))
    return any(name in ("*", account, f"arn:aws:iam::{account}:root") for name in names)


def condition_holds(condition: dict[str, Any], account: str) -> bool:
    """Every operator and key of `condition` holds for a sender in `account`."""
    known = {"aws:PrincipalOrgID": lambda: organization_of(account), "aws:PrincipalAccount": lambda: account}
    for operator, keys in condition.items():
        if operator != "StringEquals":
            return False
        for key, expected in keys.items():
            if key not in known or known[key]() not in as_list(expected):
                return False
    return True


def applies(statement: dict[str, Any], account: str, bus_arn: str) -> bool:
    return (
        any(action in ACTIONS for action in as_list(statement.get("Action", [])))
        and principal_matches(statement.get("Principal"), account)
        and any(fnmatch.fnmatchcase(bus_arn, r) for r in as_list(statement.get("Resource", bus_arn)))
        and condition_holds(statement.get("Condition", {}), account)
    )


def allows(policy: str | None, account: str, bus_arn: str) -> bool:
    """Whether a bus with `policy` takes events that `account` forwards."""
    statements = json.loads(policy)["Statement"] if policy else []
    matching = [s.get("Effect") for s in statements if applies(s, account, bus_arn)]
    return "Allow" in matching and "Deny" not in matching


def create_organization(management: str, names: list[str]) -> dict[str, Any]:
    """An organisation of `management` with one new account per name."""
    backend = organizations_backends[management]["aws"]
    org_id = backend.create_organization(region="us-east-1", FeatureSet="ALL")["Organization"]["Id"]
    created = [backend.create_account(AccountName=n, Email=f"{n}@example.com") for n in names]
    return {"id": org_id, "accounts": [c["CreateAccountStatus"]["AccountId"] for c in created]}


def refused(clear: bool = False) -> list[dict[str, Any]]:
    with _lock:
        found = list(_refused)
        if clear:
            _refused.clear()
    return found


def deliver(backend: EventsBackend, entry: dict[str, Any], sender: str, event: dict[str, Any]) -> dict[str, str]:
    """Delivers a forwarded `event` to the bus `entry` names, if its policy allows."""
    bus = backend.describe_event_bus(backend._normalize_event_bus_arn(entry.get("EventBusName")))
    if not allows(bus.policy, sender, bus.arn):
        with _lock:
            _refused.append(
                {"sender": sender, "bus": bus.arn, "detail_type": event.get("detail-type"), "detail": event.get("detail")}
            )
        return {"ErrorCode": "AccessDeniedException", "ErrorMessage": "not authorized by the bus policy"}
    for rule in list(bus.rules.values()):
        rule.send_to_targets(copy.deepcopy(event))
    return {"EventId": event.get("id", "")}


def bus_name(reference: Any) -> str:
    """A bus's name from `EventBusName` (moto resolves `!Ref` of a bus to the bus)."""
    return getattr(reference, "name", reference) or "default"


class EventBusPolicy(CloudFormationModel):
    """`AWS::Events::EventBusPolicy`: one statement on a bus."""

    def __init__(self, account_id: str, region_name: str, bus: str, sid: str):
        self.account_id, self.region_name, self.bus, self.sid = account_id, region_name, bus, sid

    @property
    def physical_resource_id(self) -> str:
        return self.sid

    @staticmethod
    def cloudformation_name_type() -> str:
        return "StatementId"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Events::EventBusPolicy"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "EventBusPolicy":
        properties = cloudformation_json["Properties"]
        bus = bus_name(properties.get("EventBusName"))
        sid = properties.get("StatementId") or resource_name
        statement = {**properties["Statement"], "Sid": sid}
        events_backends[account_id][region_name].put_permission(
            bus, None, None, None, None, json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        )
        return cls(account_id, region_name, bus, sid)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> "EventBusPolicy":
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        properties = cloudformation_json["Properties"]
        bus, sid = bus_name(properties.get("EventBusName")), properties.get("StatementId") or resource_name
        cls(account_id, region_name, bus, sid).delete(account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        bus = events_backends[account_id][region_name].event_buses.get(self.bus)
        if bus is not None:  # the stack may have deleted the bus first
            bus.remove_statement(self.sid)


def install() -> None:
    original_send = Rule.send_to_targets
    original_put = EventsBackend.put_events

    def send_to_targets(self: Rule, original_event: dict[str, Any], transform_input: bool = True) -> None:
        outer = getattr(_forwarding, "sender", None)
        _forwarding.sender = (self.account_id, original_event)
        try:
            original_send(self, original_event, transform_input)
        finally:
            _forwarding.sender = outer

    def put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        forwarded = getattr(_forwarding, "sender", None)
        if forwarded is None or forwarded[0] == self.account_id:
            return original_put(self, events)
        account, event = forwarded
        _forwarding.sender = None  # the receiving bus's own rules deliver as usual
        try:
            return [deliver(self, entry, account, event) for entry in events]
        finally:
            _forwarding.sender = forwarded

    template = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
    if '"account"' not in template:
        with_account = template.replace('"version": "0",', '"version": "0", "account": "<account>",', 1)
        EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = with_account
    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]
    EventsBackend.put_events = put_events  # type: ignore[method-assign]
