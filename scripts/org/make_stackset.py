#!/usr/bin/env python3
"""Generates the organisation's StackSet template from template.yaml.

Service-managed StackSets refuse templates with a transform, so the SAM
application cannot be rolled out as it is. This script makes the plain
CloudFormation template every member account gets, and is the only way it is
made (never kept by hand; scripts/template_tests/test_org_templates.py holds
it equal to template.yaml):

1. template.yaml is read with cfn-lint's decoder (the short-form intrinsics
   `!Ref`, `!Sub`, ... become `Ref`, `Fn::Sub`, ...).
2. The SAM transform runs locally with `samtranslator` (the library behind
   `sam build` and CloudFormation's own transform). Nothing calls AWS: the
   functions use their own roles, so no managed policy is ever looked up (the
   loader knows none), and the region the translator insists on is a
   placeholder that never reaches the output (SAM writes `${AWS::Region}`).
3. Every function's code comes from S3 in the stack's own region: bucket
   `${CodeBucketPrefix}-${AWS::Region}`, key `${CodeKeyPrefix}/<binary>.zip`
   (`<binary>`: the function's cargo binary, e.g. launch-guard), the two new
   parameters. A new release is a new CodeKeyPrefix: CloudFormation updates
   a function only when its Code changes.

Usage: make_stackset.py [--template template.yaml] --out FILE (JSON)."""

from __future__ import annotations

import argparse
import copy
import json
import pathlib
import sys
from typing import Any

import boto3
from cfnlint.decode import decode
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

# The translator needs a region to exist; it only uses it for what it
# resolves itself (nothing of this template), never writes it out.
_TRANSLATOR_REGION = "us-east-1"
# Stands in for `CodeUri: .` (a local path SAM cannot translate) until
# step 3 replaces every function's Code.
_PLACEHOLDER_CODE = "s3://scaling-guard-placeholder/code.zip"
# SAM build hints: meaningless without SAM.
_BUILD_METADATA = ("BuildMethod", "BuildProperties")

CODE_PARAMETERS: dict[str, dict[str, Any]] = {
    "CodeBucketPrefix": {
        "Type": "String",
        "Description": (
            "Prefix of the S3 buckets holding the functions' code, one bucket per region: "
            "<CodeBucketPrefix>-<region> (scripts/org-deploy publishes the zips there)."
        ),
        # A bucket name is at most 63 characters; the longest region name adds 15.
        "AllowedPattern": "^[a-z0-9][a-z0-9.-]{1,46}$",
        "ConstraintDescription": "2-47 lower-case letters, digits, . or -, starting with a letter or digit.",
    },
    "CodeKeyPrefix": {
        "Type": "String",
        "Description": (
            "Key prefix of the functions' zips in those buckets, <CodeKeyPrefix>/<function>.zip, "
            "e.g. scaling-guard/1.4.0; a new prefix per release updates the functions."
        ),
        "AllowedPattern": "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$",
        "ConstraintDescription": "path segments of letters, digits, . _ or -, separated by /, no leading or trailing /.",
    },
}


def load(path: pathlib.Path) -> dict[str, Any]:
    """The SAM template as plain JSON-like data (long-form intrinsics)."""
    decoded, problems = decode(str(path))
    if problems:
        raise SystemExit(f"{path}: cannot read the template: {problems}")
    return json.loads(json.dumps(decoded))


def binaries(sam: dict[str, Any]) -> dict[str, str]:
    """Function logical id -> its cargo binary (the zip's name)."""
    return {
        name: resource["Metadata"]["BuildProperties"]["Binary"]
        for name, resource in sam["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def sam_transform(sam: dict[str, Any]) -> dict[str, Any]:
    """What CloudFormation's AWS::Serverless-2016-10-31 transform makes of it."""
    sam = copy.deepcopy(sam)
    for name in binaries(sam):
        sam["Resources"][name]["Properties"]["CodeUri"] = _PLACEHOLDER_CODE
    parameter_values: dict[str, Any] = {}
    to_py27_compatible_template(sam, parameter_values)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=_TRANSLATOR_REGION))
    translated = translator.translate(
        sam,
        parameter_values=parameter_values,
        # Keeps each function's Metadata (its checkov skips and their reasons).
        passthrough_metadata=True,
        get_managed_policy_map=lambda: {},
    )
    return undo_mark_unicode_str_in_template(translated)


def code_location(binary: str) -> dict[str, Any]:
    return {
        "S3Bucket": {"Fn::Sub": "${CodeBucketPrefix}-${AWS::Region}"},
        "S3Key": {"Fn::Sub": "${CodeKeyPrefix}/" + binary + ".zip"},
    }


def point_code_at_s3(stackset: dict[str, Any], functions: dict[str, str]) -> None:
    """Every function's Code from the region's bucket; the two parameters added."""
    for name, binary in functions.items():
        function = stackset["Resources"][name]
        if function["Type"] != "AWS::Lambda::Function":
            raise SystemExit(f"{name}: the transform made a {function['Type']}, not a function")
        function["Properties"]["Code"] = code_location(binary)
    stackset["Parameters"].update(copy.deepcopy(CODE_PARAMETERS))
    groups = stackset["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    groups.append({"Label": {"default": "Code (StackSet)"}, "Parameters": list(CODE_PARAMETERS)})


def drop_build_metadata(stackset: dict[str, Any]) -> None:
    """SAM's build hints, which the transform copies onto each function and
    the rules and permissions made from its events (the checkov skips stay)."""
    for resource in stackset["Resources"].values():
        metadata = resource.get("Metadata", {})
        for key in _BUILD_METADATA:
            metadata.pop(key, None)
        if "Metadata" in resource and not metadata:
            del resource["Metadata"]


def stackset_template(sam: dict[str, Any]) -> dict[str, Any]:
    """The StackSet template of a SAM template (decoded)."""
    stackset = sam_transform(sam)
    point_code_at_s3(stackset, binaries(sam))
    drop_build_metadata(stackset)
    if "Transform" in stackset:
        raise SystemExit("the transformed template still names a Transform")
    stackset["Description"] = "(StackSet, generated by scripts/org/make_stackset.py) " + stackset["Description"]
    return stackset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=pathlib.Path, default=TEMPLATE, help="the SAM template (template.yaml)")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="where to write the StackSet template (JSON)")
    args = parser.parse_args(argv)
    stackset = stackset_template(load(args.template))
    args.out.write_text(json.dumps(stackset, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
