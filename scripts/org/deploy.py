#!/usr/bin/env python3
"""Rolls scaling-guard out across an AWS Organization (scripts/org-deploy).

    org-deploy publish --artifacts DIR --bucket-prefix P --key-prefix K --regions R,R
    org-deploy hub --organization-id O [--stack-name scaling-guard-org-hub]
    org-deploy audit-role --audit-account A --ou OU [--accounts ID,ID] --regions R [--external-id X]
    org-deploy cluster --cluster NAME --tag-key K [--tag-value V] --policy FILE
        --bucket-prefix P --key-prefix K --ou OU [--accounts ID,ID] --regions R,R
        [--central-bus-arn ARN] [--permissions-boundary ARN] [--stackset-template FILE]
    org-deploy remove --cluster NAME
    org-deploy status

Run it with the organisation's management (or delegated StackSets admin)
credentials, in the region the StackSets live in. One StackSet per cluster,
`scaling-guard-<cluster>`, service-managed (AWS Organizations makes the roles
in each account), auto-deployment on: an account that joins a target OU gets
the cluster's stack, one that leaves loses it. Its parameters are the
cluster's (`--policy`, KEY=VALUE of template.yaml's Parameters), given both
to the StackSet and to its instances as overrides. Service-managed StackSets
target OUs (`--ou`, the root r-... for the whole organisation); `--accounts`
narrows them (AccountFilterType INTERSECTION), as AWS requires.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import boto3
from botocore.exceptions import ClientError

ROOT = pathlib.Path(__file__).resolve().parents[2]
HUB_TEMPLATE = ROOT / "org" / "hub.yaml"
AUDIT_ROLE_TEMPLATE = ROOT / "org" / "audit-role.yaml"
MAKE_STACKSET = ROOT / "scripts" / "org" / "make_stackset.py"
# The functions' zips, as `scripts/sam-build` or `cargo lambda build
# --release --arm64 --output-format zip` make them (template.yaml's binaries).
FUNCTIONS = ("launch-guard", "budget-guard", "instance-audit", "stack-guard")
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
AUDIT_STACKSET = "scaling-guard-audit-role"
STACKSET_PREFIX = "scaling-guard-"
DONE = {"SUCCEEDED"}
FAILED = {"FAILED", "STOPPED"}


class DeployError(Exception):
    """A mistake of the operator's: said plainly, nothing changed."""


# ---------------------------------------------------------------- parameters


def read_policy(path: pathlib.Path, known: set[str]) -> dict[str, str]:
    """KEY=VALUE lines (blank lines and # comments aside) naming `known` parameters."""
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise DeployError(f"cannot read the policy file {path}: {error.strerror}") from None
    policy: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, equals, value = text.partition("=")
        key = key.strip()
        if not equals or not key:
            raise DeployError(f"{path}:{number}: not KEY=VALUE: {text!r}")
        if key not in known:
            raise DeployError(f"{path}:{number}: {key} is not a parameter of the template")
        if key in policy:
            raise DeployError(f"{path}:{number}: {key} is set twice")
        policy[key] = value.strip()
    return policy


def cluster_parameters(args: argparse.Namespace, template: dict[str, Any]) -> dict[str, str]:
    """The cluster's parameter values: its policy file and the options."""
    known = set(template.get("Parameters", {}))
    fixed = {
        "ClusterName": args.cluster,
        "ClusterTagKey": args.tag_key,
        "ClusterTagValue": args.tag_value,
        "CodeBucketPrefix": args.bucket_prefix,
        "CodeKeyPrefix": args.key_prefix,
        "CentralEventBusArn": args.central_bus_arn,
        "PermissionsBoundary": args.permissions_boundary,
    }
    policy = read_policy(args.policy, known)
    clash = sorted(set(policy) & set(fixed))
    if clash:
        raise DeployError(f"{args.policy}: {', '.join(clash)} come from the options, not the policy file")
    missing = sorted(key for key in fixed if key not in known)
    if missing:
        raise DeployError(f"the StackSet template has no parameter {', '.join(missing)}")
    return {**policy, **fixed}


def as_cfn(parameters: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())]


# ------------------------------------------------------------------ targets


def deployment_targets(args: argparse.Namespace) -> dict[str, Any]:
    """Service-managed targets: OUs, narrowed to `--accounts` when given."""
    if not args.ou:
        raise DeployError("service-managed StackSets deploy to OUs: give --ou (the root r-... for all)")
    targets: dict[str, Any] = {"OrganizationalUnitIds": args.ou}
    if args.accounts:
        targets.update(Accounts=args.accounts, AccountFilterType="INTERSECTION")
    return targets


def preferences(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "FailureToleranceCount": args.failure_tolerance,
        "MaxConcurrentCount": args.max_concurrency,
        "RegionConcurrencyType": args.region_concurrency,
    }


def comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


# --------------------------------------------------------------- operations


def wait_for(cfn: Any, stackset: str, operation_id: str, timeout: float = 3600) -> None:
    """Waits for a StackSet operation; a failed one is an error naming it."""
    deadline = time.monotonic() + timeout
    while True:
        operation = cfn.describe_stack_set_operation(StackSetName=stackset, OperationId=operation_id)["StackSetOperation"]
        status = operation["Status"]
        if status in DONE:
            return
        if status in FAILED:
            reason = operation.get("StatusReason", "see ListStackSetOperationResults")
            raise DeployError(f"{stackset}: operation {operation_id} {status}: {reason}")
        if time.monotonic() > deadline:
            raise DeployError(f"{stackset}: operation {operation_id} still {status} after {timeout:.0f} s")
        time.sleep(5)


def find_stackset(cfn: Any, name: str) -> dict[str, Any] | None:
    try:
        stackset = cfn.describe_stack_set(StackSetName=name)["StackSet"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "StackSetNotFoundException":
            return None
        raise
    return None if stackset.get("Status") == "DELETED" else stackset


def instances(cfn: Any, name: str) -> list[dict[str, Any]]:
    pages = cfn.get_paginator("list_stack_instances").paginate(StackSetName=name)
    return [summary for page in pages for summary in page["Summaries"]]


def roll_out(cfn: Any, name: str, body: str, parameters: dict[str, str], args: argparse.Namespace) -> None:
    """Creates or updates StackSet `name`, then its instances, waiting for each step.

    An update runs three operations: the StackSet (template and values) on
    the existing instances, the instances of new targets, then every
    instance's overrides (they win over the StackSet's values, so they must
    follow the policy file too)."""
    common = {
        "StackSetName": name,
        "TemplateBody": body,
        "Parameters": as_cfn(parameters),
        "Capabilities": CAPABILITIES,
        "PermissionModel": "SERVICE_MANAGED",
        "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
    }
    targets = {"DeploymentTargets": deployment_targets(args), "Regions": args.regions, "OperationPreferences": preferences(args)}
    existed = find_stackset(cfn, name) is not None
    if existed:
        wait_for(cfn, name, cfn.update_stack_set(**common, **targets)["OperationId"])
    else:
        cfn.create_stack_set(**common, Description=f"scaling-guard ({name}), by scripts/org-deploy")
    overrides = {"StackSetName": name, "ParameterOverrides": as_cfn(parameters), **targets}
    wait_for(cfn, name, cfn.create_stack_instances(**overrides)["OperationId"])
    if existed:
        wait_for(cfn, name, cfn.update_stack_instances(**overrides)["OperationId"])
    print(f"{'updated' if existed else 'created'} StackSet {name}: {len(instances(cfn, name))} stack instance(s)")


# ----------------------------------------------------------------- commands


def publish(args: argparse.Namespace) -> None:
    zips = {fn: args.artifacts / f"{fn}.zip" for fn in FUNCTIONS}
    absent = [str(path) for path in zips.values() if not path.is_file()]
    if absent:
        raise DeployError(f"no zip {', '.join(absent)} (scripts/sam-build, or cargo lambda build --output-format zip)")
    for region in args.regions:
        s3 = boto3.client("s3", region_name=region)
        bucket = f"{args.bucket_prefix}-{region}"
        ensure_bucket(s3, bucket, region)
        for function, path in zips.items():
            s3.upload_file(str(path), bucket, f"{args.key_prefix}/{function}.zip")
        print(f"published {len(zips)} zips to s3://{bucket}/{args.key_prefix}/")


def ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **where)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        },
    )


def hub(args: argparse.Namespace) -> None:
    cfn = boto3.client("cloudformation")
    stack = {
        "StackName": args.stack_name,
        "TemplateBody": HUB_TEMPLATE.read_text(),
        "Parameters": as_cfn({"OrganizationId": args.organization_id}),
    }
    try:
        cfn.describe_stacks(StackName=args.stack_name)
        cfn.update_stack(**stack)
        cfn.get_waiter("stack_update_complete").wait(StackName=args.stack_name)
    except ClientError as error:
        message = error.response["Error"]["Message"]
        if "does not exist" in message:
            cfn.create_stack(**stack)
            cfn.get_waiter("stack_create_complete").wait(StackName=args.stack_name)
        elif "No updates are to be performed" not in message:
            raise
    outputs = cfn.describe_stacks(StackName=args.stack_name)["Stacks"][0].get("Outputs", [])
    arn = next((o["OutputValue"] for o in outputs if o["OutputKey"] == "EventBusArn"), "?")
    print(f"hub {args.stack_name}: central bus {arn} (the clusters' --central-bus-arn)")


def audit_role(args: argparse.Namespace) -> None:
    body = AUDIT_ROLE_TEMPLATE.read_text()
    parameters = {"AuditAccountId": args.audit_account, "ExternalId": args.external_id}
    roll_out(boto3.client("cloudformation"), AUDIT_STACKSET, body, parameters, args)


def cluster(args: argparse.Namespace) -> None:
    body = stackset_body(args.stackset_template)
    parameters = cluster_parameters(args, json.loads(body))
    roll_out(boto3.client("cloudformation"), STACKSET_PREFIX + args.cluster, body, parameters, args)


def stackset_body(path: pathlib.Path | None) -> str:
    """The given StackSet template, or one made now from template.yaml."""
    if path is not None:
        return path.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "stackset.json"
        subprocess.run([sys.executable, str(MAKE_STACKSET), "--out", str(out)], check=True)
        return out.read_text()


def remove(args: argparse.Namespace) -> None:
    cfn = boto3.client("cloudformation")
    name = STACKSET_PREFIX + args.cluster
    if find_stackset(cfn, name) is None:
        raise DeployError(f"no StackSet {name}")
    found = instances(cfn, name)
    if found:
        ous = sorted({i.get("OrganizationalUnitId") for i in found if i.get("OrganizationalUnitId")} | set(args.ou or []))
        if not ous:
            raise DeployError(f"{name}: its instances name no OU; give --ou")
        deleted = cfn.delete_stack_instances(
            StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": ous},
            Regions=sorted({i["Region"] for i in found}), RetainStacks=False,
        )
        wait_for(cfn, name, deleted["OperationId"])
    cfn.delete_stack_set(StackSetName=name)
    print(f"removed {name}: {len(found)} stack instance(s), then the StackSet")


def status(args: argparse.Namespace) -> None:
    cfn = boto3.client("cloudformation")
    pages = cfn.get_paginator("list_stack_sets").paginate(Status="ACTIVE")
    for summary in (s for page in pages for s in page["Summaries"]):
        name = summary["StackSetName"]
        if not name.startswith(STACKSET_PREFIX) or summary.get("Status") != "ACTIVE":
            continue
        print(f"{name}  drift {summary.get('DriftStatus', 'NOT_CHECKED')}")
        for instance in instances(cfn, name):
            detailed = instance.get("StackInstanceStatus", {}).get("DetailedStatus", "?")
            print(f"  {instance['Account']} {instance['Region']}  {instance.get('Status', '?')} {detailed}"
                  f"  drift {instance.get('DriftStatus', 'NOT_CHECKED')}")


# -------------------------------------------------------------------- parser


def target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ou", action="append", help="target OU id (repeatable; the root r-... for all)")
    parser.add_argument("--accounts", type=comma_list, help="ID,ID: only these accounts of the OUs")
    parser.add_argument("--regions", type=comma_list, required=True, help="R,R: the regions of the stacks")
    parser.add_argument("--failure-tolerance", type=int, default=0, help="failed accounts per region before stopping")
    parser.add_argument("--max-concurrency", type=int, default=10, help="accounts at a time per region")
    parser.add_argument("--region-concurrency", choices=["SEQUENTIAL", "PARALLEL"], default="SEQUENTIAL")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="org-deploy", description=__doc__.splitlines()[0],
                                  epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)
    p = commands.add_parser("publish", help="upload the functions' zips to P-<region> in every region")
    p.add_argument("--artifacts", type=pathlib.Path, required=True, help="DIR holding <function>.zip")
    p.add_argument("--bucket-prefix", required=True)
    p.add_argument("--key-prefix", required=True, help="a new one per release")
    p.add_argument("--regions", type=comma_list, required=True)
    p.set_defaults(run=publish)
    p = commands.add_parser("hub", help="deploy org/hub.yaml (the organisation's event bus) here")
    p.add_argument("--organization-id", required=True)
    p.add_argument("--stack-name", default="scaling-guard-org-hub")
    p.set_defaults(run=hub)
    p = commands.add_parser("audit-role", help="deploy org/audit-role.yaml to member accounts (StackSet)")
    p.add_argument("--audit-account", required=True)
    p.add_argument("--external-id", default="")
    target_options(p)
    p.set_defaults(run=audit_role)
    p = commands.add_parser("cluster", help="create or update a cluster's StackSet and its instances")
    p.add_argument("--cluster", required=True)
    p.add_argument("--tag-key", required=True, help="the cluster tag key ('' for kubernetes.io/cluster/<name>)")
    p.add_argument("--tag-value", default="")
    p.add_argument("--policy", type=pathlib.Path, required=True, help="KEY=VALUE lines of template parameters")
    p.add_argument("--bucket-prefix", required=True, help="as given to publish")
    p.add_argument("--key-prefix", required=True, help="as given to publish")
    p.add_argument("--central-bus-arn", default="")
    p.add_argument("--permissions-boundary", default="")
    p.add_argument("--stackset-template", type=pathlib.Path, help="made by make_stackset.py (default: made now)")
    target_options(p)
    p.set_defaults(run=cluster)
    p = commands.add_parser("remove", help="delete a cluster's stack instances, then its StackSet")
    p.add_argument("--cluster", required=True)
    p.add_argument("--ou", action="append", help="OU ids, when the instances do not name theirs")
    p.set_defaults(run=remove)
    p = commands.add_parser("status", help="list the StackSets, their instances and drift")
    p.set_defaults(run=status)
    return top


def main(argv: list[str] | None = None, run: Callable[[argparse.Namespace], None] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        (run or args.run)(args)
    except DeployError as error:
        print(f"org-deploy: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
