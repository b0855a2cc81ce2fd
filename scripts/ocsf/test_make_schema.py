"""Tests of make_schema.py (on a small compiled OCSF document) and of the
schema it made from OCSF 1.6.0 (schemas/ocsf/), with the `jsonschema`
package: the vendored file is a valid draft 2020-12 schema and judges a
Compliance Finding as the Rust tests' validator does."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import jsonschema
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import make_schema  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "schemas" / "ocsf" / "1.6.0" / "compliance_finding.schema.json"


def attribute(kind, requirement="optional", **more):
    return {"type": kind, "requirement": requirement, "is_array": False, "enum": None,
            "profile": None, **more}


COMPILED = {
    "version": "9.9.9",
    "types": {
        "string_t": {"type": None},
        "integer_t": {"type": None},
        "long_t": {"type": None},
        "timestamp_t": {"type": "long_t"},
        "email_t": {"type": "string_t", "regex": "^[^@]+@[^@]+$"},
    },
    "objects": {
        "object": {"name": "object", "attributes": {}},
        "user": {
            "name": "user",
            "caption": "User",
            "attributes": {
                "name": attribute("string_t"),
                "uid": attribute("string_t"),
                "email_addr": attribute("email_t"),
            },
            "constraints": {"at_least_one": ["name", "uid"]},
        },
    },
    "classes": {
        "thing_found": {
            "name": "thing_found",
            "caption": "Thing Found",
            "uid": 9001,
            "attributes": {
                "class_uid": attribute("integer_t", "required", enum={"9001": {}}),
                "time": attribute("timestamp_t", "required"),
                "users": attribute("user", "recommended", is_array=True),
                "unmapped": attribute("object"),
                "cloud_only": attribute("string_t", "required", profile="cloud"),
                "host_only": attribute("string_t", "required", profile="host"),
            },
        }
    },
}


def generated(*profiles):
    return make_schema.Generator(COMPILED, set(profiles)).event_class("thing_found")


def test_required_enumerated_and_derived_types_become_json_schema():
    schema = generated()
    properties = schema["properties"]
    assert schema["required"] == ["class_uid", "time"]
    assert properties["class_uid"] == {"type": "integer", "enum": [9001]}
    assert properties["time"] == {"type": "integer"}
    assert properties["users"] == {"type": "array", "items": {"$ref": "#/$defs/user"}}
    assert schema["$defs"]["user"]["properties"]["email_addr"] == {
        "type": "string",
        "pattern": "^[^@]+@[^@]+$",
    }
    assert schema["$defs"]["user"]["anyOf"] == [{"required": ["name"]}, {"required": ["uid"]}]
    assert schema["additionalProperties"] is False


def test_the_generic_object_type_holds_any_object():
    schema = generated()
    assert schema["properties"]["unmapped"] == {"type": "object"}
    assert "object" not in schema["$defs"]
    jsonschema.Draft202012Validator(schema).validate(
        {"class_uid": 9001, "time": 1, "unmapped": {"anything": "at all"}}
    )


def test_only_the_named_profiles_attributes_are_kept():
    assert "cloud_only" not in generated()["properties"]
    with_cloud = generated("cloud")
    assert "cloud_only" in with_cloud["properties"]
    assert "host_only" not in with_cloud["properties"]
    assert with_cloud["required"] == ["class_uid", "cloud_only", "time"]


@pytest.fixture(scope="module")
def vendored():
    return json.loads(VENDORED.read_text())


def minimal_finding():
    return {
        "activity_id": 1,
        "category_uid": 2,
        "class_uid": 2003,
        "type_uid": 200301,
        "severity_id": 3,
        "time": 1790000000000,
        "metadata": {"version": "1.6.0", "product": {"name": "scaling-guard"}},
        "finding_info": {"uid": "scaling-guard/123456789012/eu-west-1/prod/i-1/imds.v2"},
        "compliance": {"control": "imds.v2", "status_id": 3},
        "cloud": {"provider": "AWS"},
    }


def test_the_vendored_schema_is_ocsf_1_6_compliance_finding_with_the_cloud_profile(vendored):
    jsonschema.Draft202012Validator.check_schema(vendored)
    assert vendored["$id"] == "https://schema.ocsf.io/1.6.0/classes/compliance_finding"
    assert vendored["properties"]["class_uid"]["enum"] == [2003]
    assert "cloud" in vendored["required"]


def test_the_vendored_schema_accepts_a_minimal_finding_and_rejects_a_misspelt_one(vendored):
    validator = jsonschema.Draft202012Validator(vendored)
    validator.validate(minimal_finding())
    misspelt = copy.deepcopy(minimal_finding())
    misspelt["clas_uid"] = misspelt.pop("class_uid")
    assert list(validator.iter_errors(misspelt))
    wrong_status = copy.deepcopy(minimal_finding())
    wrong_status["compliance"]["status_id"] = 4
    assert list(validator.iter_errors(wrong_status))
