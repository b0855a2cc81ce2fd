"""Generate the JSON Schema of one OCSF event class from the published schema.

`scaling-guard audit --format ocsf` prints OCSF Compliance Finding events
(class_uid 2003). Tests validate that output against a JSON Schema made
here from the OCSF project's own definitions, not against field checks
written by hand. The schema is vendored (schemas/ocsf/); this script is how
it was made and how to make it again for another OCSF version:

    git clone --branch 1.6.0 https://github.com/ocsf/ocsf-schema /tmp/ocsf-schema
    python3 -m venv /tmp/ocsf && /tmp/ocsf/bin/pip install ocsf-lib==0.10.4
    /tmp/ocsf/bin/python -m ocsf.compile /tmp/ocsf-schema > /tmp/compiled.json
    python3 scripts/ocsf/make_schema.py /tmp/compiled.json compliance_finding cloud \
        > schemas/ocsf/1.6.0/compliance_finding.schema.json

`ocsf.compile` (ocsf-lib, the OCSF community's Python library) resolves the
repository's `extends`, includes and profiles into one compiled document,
the shape the OCSF schema server exports. This script only translates that
document's class and the objects it reaches into JSON Schema (draft
2020-12), as the OCSF server's JSON Schema export does:

- an attribute's OCSF type becomes its JSON type (`timestamp_t` is a
  `long_t`, an integer; `datetime_t` is a string with the type's regex);
- `required` attributes are required; `recommended` and `optional` are not;
- an `_id` attribute with an `enum` takes only the listed values;
- a class or object accepts no attribute it does not define
  (`additionalProperties: false`): a misspelt field fails, as OCSF's
  validator reports it; an attribute of OCSF's generic `object` type
  (`unmapped`) holds any object;
- an object's `at_least_one` / `just_one` constraints become `anyOf` / `oneOf`;
- profiles: only the attributes of the base class and of the profiles named
  on the command line are kept (the event names them in
  `metadata.profiles`).

Standard library only: the generated file is committed, so the tests need
neither this script nor ocsf-lib.
"""

from __future__ import annotations

import json
import sys
from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# OCSF's `object` object defines no attribute: "a generic object to log
# objects that are not otherwise defined by the schema" (`unmapped`).
GENERIC_OBJECT = "object"

BASE_TYPES = {
    "string_t": {"type": "string"},
    "integer_t": {"type": "integer"},
    "long_t": {"type": "integer"},
    "float_t": {"type": "number"},
    "boolean_t": {"type": "boolean"},
    "json_t": {},
    "object": {"type": "object"},
}


def scalar(types: dict[str, Any], name: str) -> dict[str, Any]:
    """The JSON Schema of an OCSF scalar type, with its derived constraints."""
    schema: dict[str, Any] = {}
    current: str | None = name
    while current is not None and current not in BASE_TYPES:
        spec = types[current]
        if spec.get("regex") and "pattern" not in schema:
            schema["pattern"] = spec["regex"]
        if spec.get("max_len") and "maxLength" not in schema:
            schema["maxLength"] = spec["max_len"]
        if spec.get("range") and "minimum" not in schema:
            schema["minimum"], schema["maximum"] = spec["range"]
        if spec.get("values") and "enum" not in schema:
            schema["enum"] = spec["values"]
        current = spec.get("type")
    if current is None:
        raise ValueError(f"type `{name}` has no base type")
    return {**BASE_TYPES[current], **schema}


def enum_values(attribute: dict[str, Any], base: dict[str, Any]) -> list[Any]:
    keys = attribute["enum"].keys()
    if base.get("type") == "integer":
        return sorted(int(key) for key in keys)
    return sorted(keys)


class Generator:
    def __init__(self, compiled: dict[str, Any], profiles: set[str]):
        self.compiled = compiled
        self.profiles = profiles
        self.defs: dict[str, Any] = {}

    def attribute(self, attribute: dict[str, Any]) -> dict[str, Any]:
        kind = attribute["type"]
        if kind == GENERIC_OBJECT:
            schema: dict[str, Any] = {"type": "object"}
        elif kind in self.compiled["objects"]:
            self.object(kind)
            schema = {"$ref": f"#/$defs/{kind}"}
        else:
            schema = scalar(self.compiled["types"], kind)
            if attribute.get("enum"):
                schema["enum"] = enum_values(attribute, schema)
        if attribute.get("is_array"):
            schema = {"type": "array", "items": schema}
        return schema

    def kept(self, attribute: dict[str, Any]) -> bool:
        return attribute.get("profile") is None or attribute["profile"] in self.profiles

    def properties(self, definition: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            name: attribute
            for name, attribute in sorted(definition["attributes"].items())
            if self.kept(attribute)
        }
        schema: dict[str, Any] = {
            "type": "object",
            "title": definition.get("caption", definition["name"]),
            "properties": {name: self.attribute(a) for name, a in attributes.items()},
            "additionalProperties": False,
        }
        required = [n for n, a in attributes.items() if a.get("requirement") == "required"]
        if required:
            schema["required"] = required
        constraints = definition.get("constraints") or {}
        if constraints.get("at_least_one"):
            schema["anyOf"] = [{"required": [n]} for n in constraints["at_least_one"]]
        if constraints.get("just_one"):
            schema["oneOf"] = [{"required": [n]} for n in constraints["just_one"]]
        return schema

    def object(self, name: str) -> None:
        if name in self.defs:
            return
        self.defs[name] = {}  # placeholder: objects refer to each other
        self.defs[name] = self.properties(self.compiled["objects"][name])

    def event_class(self, name: str) -> dict[str, Any]:
        definition = self.compiled["classes"][name]
        schema = self.properties(definition)
        return {
            "$schema": DRAFT,
            "$id": f"https://schema.ocsf.io/{self.compiled['version']}/classes/{name}",
            "description": (
                f"OCSF {self.compiled['version']} class `{name}` (class_uid "
                f"{definition['uid']}) with the profiles {sorted(self.profiles)}; "
                "generated by scripts/ocsf/make_schema.py from the compiled OCSF schema"
            ),
            **schema,
            "$defs": dict(sorted(self.defs.items())),
        }


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as file:
        compiled = json.load(file)
    generator = Generator(compiled, set(argv[3:]))
    json.dump(generator.event_class(argv[2]), sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
