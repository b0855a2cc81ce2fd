"""Extension 15: every scaling-guard event is checked against its published schema.

EventBridge takes any JSON detail (moto 5.2.5 too: `PutEvents` needs a
Source, a DetailType and a Detail that parses). The guard promises more: each
event it sends (source `scaling-guard`) matches the JSON Schema of its
detail-type in `schemas/events/` (JSONSchemaDraft4, the form the schema
registry takes; core/src/events.rs names the detail-types). So that the
promise is tested by every end-to-end test, not only the ones that look at
events, `PutEvents` here:

* validates each entry of source `scaling-guard` as EventBridge delivers it
  (the envelope `version`, `id`, `detail-type`, `source`, `account`, `time`,
  `region`, `resources`, `detail`) against the schema whose
  `x-amazon-events-detail-type` is the entry's DetailType; a detail-type
  without a schema is a problem too;
* records every such entry, valid or not, and then lets moto put it on the
  bus as before (AWS refuses none of them: the check is the tests', not
  EventBridge's).

The control endpoint shows them: `GET /_scaling_guard/events` (every
scaling-guard entry, in order: {detail_type, detail, bus, problems}) and
`GET /_scaling_guard/events/invalid` (those with problems). The harness's
`Emulator` fails the test that sent an invalid one when it stops.
"""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import jsonschema
from moto.events.models import EventsBackend

SOURCE = "scaling-guard"
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "events"

_lock = threading.Lock()
_received: list[dict[str, Any]] = []
_validators: dict[str, jsonschema.Draft4Validator] | None = None


def validators() -> dict[str, jsonschema.Draft4Validator]:
    """The published schemas by detail-type, read once."""
    global _validators
    if _validators is None:
        found = {}
        for path in sorted(SCHEMAS.glob("*.json")):
            schema = json.loads(path.read_text())
            jsonschema.Draft4Validator.check_schema(schema)
            found[schema["x-amazon-events-detail-type"]] = jsonschema.Draft4Validator(
                schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
            )
        _validators = found
    return _validators


def envelope(entry: dict[str, Any], account: str, region: str) -> dict[str, Any]:
    """The entry as a rule's target receives it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry.get("DetailType"),
        "source": entry.get("Source"),
        "account": account,
        "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": entry.get("Resources", []),
        "detail": json.loads(entry.get("Detail") or "null"),
    }


def problems(event: dict[str, Any]) -> list[str]:
    """What is wrong with `event` under the schema of its detail-type."""
    validator = validators().get(event["detail-type"])
    if validator is None:
        return [f"no schema in schemas/events for detail-type `{event['detail-type']}`"]
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(event)'}: {error.message}"
        for error in sorted(validator.iter_errors(event), key=lambda e: list(e.absolute_path))
    ]


def check(entry: dict[str, Any], account: str, region: str) -> dict[str, Any]:
    """Validates and records one entry of source `scaling-guard`."""
    try:
        event = envelope(entry, account, region)
        found = problems(event)
        detail = event["detail"]
    except ValueError as error:  # a detail that is not JSON
        detail, found = entry.get("Detail"), [f"detail is not JSON: {error}"]
    record = {
        "detail_type": entry.get("DetailType"),
        "detail": detail,
        "bus": entry.get("EventBusName") or "default",
        "problems": found,
    }
    with _lock:
        _received.append(record)
    return record


def received(invalid_only: bool = False) -> list[dict[str, Any]]:
    with _lock:
        return [r for r in _received if r["problems"] or not invalid_only]


def install() -> None:
    original = EventsBackend.put_events

    def put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for entry in events:
            if entry.get("Source") == SOURCE:
                check(entry, self.account_id, self.region_name)
        return original(self, events)

    EventsBackend.put_events = put_events  # type: ignore[method-assign]
