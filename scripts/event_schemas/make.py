#!/usr/bin/env python3
"""Writes schemas/events/<name>.json: the JSON Schema of each decision event
the guard sends (core/src/events.rs), in the form the EventBridge schema
registry's CreateSchema takes with `Type: JSONSchemaDraft4` (a draft-04
document of the whole event, with `x-amazon-events-source` and
`x-amazon-events-detail-type`).

    .venv/bin/python scripts/event_schemas/make.py          # rewrite the files
    .venv/bin/python scripts/event_schemas/make.py --check  # exit 1 if stale

Every detail is the versioned alert document (core/src/alerts.rs, `Alert`);
each detail-type narrows `kind` (and, for launches, `decision`). The detail
allows no field the document lacks, so a new field is a schema change made
here, on purpose.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "schemas" / "events"
SOURCE = "scaling-guard"

# (schema name, detail-type, kinds; None: every kind no other type names, decisions or None)
TYPES: list[tuple[str, str, list[str] | None, list[str] | None]] = [
    ("launch-decision-v1", "Scaling Guard Launch Decision v1",
     ["launch_denied", "launch_violation_reported", "launch_allowed"], ["CONTINUE", "ABANDON"]),
    ("instance-remediation-v1", "Scaling Guard Instance Remediation v1", ["instance_remediated"], None),
    ("scale-out-suspended-v1", "Scaling Guard Scale-out Suspended v1", ["scale_out_suspended"], None),
    ("scale-out-resumed-v1", "Scaling Guard Scale-out Resumed v1", ["scale_out_resumed"], None),
    ("group-enrolled-v1", "Scaling Guard Group Enrolled v1", ["group_enrolled"], None),
    ("instance-finding-v1", "Scaling Guard Instance Finding v1", ["instance_non_compliant"], None),
    ("alert-v1", "Scaling Guard Alert v1", None, None),
]

NAMED_KINDS = sorted(kind for _, _, kinds, _ in TYPES for kind in (kinds or []))

NULLABLE_TEXT = {"type": ["string", "null"]}

FINDING = {
    "type": "object",
    "description": "One violation of one check, and whether it blocks under the policy.",
    "required": ["check", "resource", "expected", "actual", "message", "blocking"],
    "additionalProperties": False,
    "properties": {
        "check": {"type": "string", "pattern": "^[a-z_]+\\.[a-z0-9_]+$"},
        "resource": {"type": "string"},
        "expected": {"type": "string"},
        "actual": {"type": "string"},
        "message": {"type": "string"},
        "blocking": {"type": "boolean"},
    },
}


def detail(kinds: list[str] | None, decisions: list[str] | None) -> dict:
    kind = {"type": "string", "enum": kinds} if kinds else {
        "type": "string", "pattern": "^[a-z_]+$", "not": {"enum": NAMED_KINDS}}
    decision = {"type": "string", "enum": decisions} if decisions else {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "description": "The versioned alert document (version 1) the SNS alert's default body carries too.",
        "required": ["version", "kind", "cluster", "severity", "decision", "instance_id", "group",
                     "violations", "mode", "time", "account", "region", "headline", "advice"],
        "additionalProperties": False,
        "properties": {
            "version": {"type": "integer", "enum": [1]},
            "kind": kind,
            "cluster": {"type": "string", "minLength": 1},
            "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
            "decision": decision,
            "instance_id": NULLABLE_TEXT,
            "group": NULLABLE_TEXT,
            "violations": {"type": "array", "items": {"$ref": "#/definitions/Finding"}},
            "mode": {"type": "string", "enum": ["audit", "enforce"]},
            "time": {"type": "string", "format": "date-time"},
            "account": NULLABLE_TEXT,
            "region": NULLABLE_TEXT,
            "headline": {"type": "string"},
            "advice": {"type": "string"},
            "details": {"type": "object"},
        },
    }


def schema(name: str, detail_type: str, kinds: list[str] | None, decisions: list[str] | None) -> dict:
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": name,
        "description": f"{detail_type}: an event scaling-guard puts on its bus (GUARD_EVENT_BUS).",
        "x-amazon-events-source": SOURCE,
        "x-amazon-events-detail-type": detail_type,
        "type": "object",
        "required": ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"],
        "properties": {
            "version": {"type": "string"},
            "id": {"type": "string"},
            "detail-type": {"type": "string", "enum": [detail_type]},
            "source": {"type": "string", "enum": [SOURCE]},
            "account": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "region": {"type": "string"},
            "resources": {"type": "array", "items": {"type": "string"}},
            "detail": {"$ref": "#/definitions/Detail"},
        },
        "definitions": {"Detail": detail(kinds, decisions), "Finding": FINDING},
    }


def rendered() -> dict[str, str]:
    return {f"{name}.json": json.dumps(schema(name, dt, kinds, decisions), indent=2) + "\n"
            for name, dt, kinds, decisions in TYPES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file differs")
    args = parser.parse_args(argv)
    files = rendered()
    if args.check:
        stale = [name for name, text in files.items()
                 if not (OUT / name).exists() or (OUT / name).read_text() != text]
        for name in stale:
            print(f"stale: schemas/events/{name}", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
