"""EC2 extensions to moto 5.2.5.

Closes these moto gaps (each patch below says which one):

* images: moto has no `EnableImageDeprecation` / `DisableImageDeprecation`,
  never reports `DeprecationTime`, and stamps `CreationDate` with "now";
  `set_image_dates` (used by the control endpoint) backdates both;
* images: moto's RegisterImage drops `Architecture` and `RootDeviceName`;
* instances: moto ignores the launch template's `IamInstanceProfile`,
  `MetadataOptions` and `CpuOptions` (for RunInstances with a template and for
  Auto Scaling launches), and drops `CpuOptions` of RunInstances;
* scale: moto finds a resource's tags by scanning every tag of the region
  (and copying the table first), so describing N tagged instances takes
  O(N²): 142 s for one DescribeInstances of 10,000; `get_tags` here looks the
  resource up by its id (the same answer, in the same order); and each
  launched instance finds its image by filtering every image of the region
  (10 ms each): looked up by id here;
* fleets: instances an EC2 Fleet (`CreateFleet`, e.g. Karpenter's `instant`
  fleets) launches from a launch template lack the template's
  SecurityGroupIds, IamInstanceProfile, MetadataOptions and CpuOptions;
* volumes: moto gives every instance launched without an explicit
  `BlockDeviceMappings` an unencrypted 8 GiB root volume at `/dev/sda1`, also
  when the launch template maps the image's root device itself.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from moto.autoscaling.models import ASG_NAME_TAG, FakeAutoScalingGroup
from moto.core.parse import default_timestamp_parser
from moto.core.responses import ActionResult
from moto.ec2.models import EC2Backend
from moto.ec2.models.amis import Ami
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.fleets import Fleet
from moto.ec2.models.instances import Instance, MetadataOptions
from moto.ec2.responses import EC2Response
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, filter_iam_instance_profiles, get_prefix


# --- images ------------------------------------------------------------------


def parse_time(value: Any) -> datetime:
    """An ISO 8601 (or epoch) timestamp as a naive UTC datetime, like moto's own."""
    parsed = value if isinstance(value, datetime) else default_timestamp_parser(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def format_time(value: datetime) -> str:
    """AWS's format of DeprecationTime: `2021-01-01T00:00:00.000Z`."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def set_image_dates(ami: Ami, changes: dict[str, Any]) -> None:
    """Apply `creation_date` and/or `deprecation_time` (None clears it)."""
    if changes.get("creation_date") is not None:
        ami.creation_date = parse_time(changes["creation_date"])
    if "deprecation_time" in changes:
        value = changes["deprecation_time"]
        ami.deprecation_time = None if value is None else format_time(parse_time(value))


def describe_image(response: EC2Response, image_id: str) -> Ami:
    """The image, or moto's own InvalidAMIID errors."""
    return response.ec2_backend.describe_images(ami_ids=[image_id])[0]


def enable_image_deprecation(self: EC2Response) -> ActionResult:
    """Gap: EnableImageDeprecation is not implemented by moto. (Unlike AWS,
    a past DeprecateAt is accepted, and seconds are kept.)"""
    ami = describe_image(self, self._get_param("ImageId"))
    self.error_on_dryrun()
    set_image_dates(ami, {"deprecation_time": self._get_param("DeprecateAt")})
    return ActionResult({"Return": True})


def disable_image_deprecation(self: EC2Response) -> ActionResult:
    """Gap: DisableImageDeprecation is not implemented by moto."""
    ami = describe_image(self, self._get_param("ImageId"))
    self.error_on_dryrun()
    set_image_dates(ami, {"deprecation_time": None})
    return ActionResult({"Return": True})


def _patch_register_image() -> None:
    """Gap: RegisterImage drops `Architecture` and `RootDeviceName`, so
    DescribeImages answers no `Architecture` for a registered image (and
    `/dev/sda1` as its root device). AWS keeps both. Wraps
    `EC2Response.register_image`. (Without `Architecture` nothing is reported,
    as moto does; AWS documents `i386` as the default for EBS-backed images.)"""
    original = EC2Response.register_image

    def register_image(self: EC2Response) -> Any:
        result = original(self)
        if isinstance(result, ActionResult):
            ami = self.ec2_backend.amis[result.result["ImageId"]]  # type: ignore[index]
            if self._get_param("Architecture"):
                ami.architecture = self._get_param("Architecture")
            if self._get_param("RootDeviceName"):
                ami.root_device_name = self._get_param("RootDeviceName")
        return result

    EC2Response.register_image = register_image  # type: ignore[method-assign]


# --- instances -----------------------------------------------------------------


def _cpu_options(options: dict[str, Any]) -> dict[str, Any]:
    cpu = {key: int(options[key]) for key in ("CoreCount", "ThreadsPerCore") if key in options}
    if "AmdSevSnp" in options:
        cpu["AmdSevSnp"] = options["AmdSevSnp"]
    return cpu


def _attach_profile(ec2: EC2Backend, instance: Instance, profile: dict[str, Any]) -> None:
    """Associate the profile like RunInstances does; a profile that does not
    exist in moto's IAM is still shown on the instance (AWS would refuse the
    launch; a test double that needs no IAM set-up is more useful here)."""
    arn, name = profile.get("Arn"), profile.get("Name")
    try:
        found = filter_iam_instance_profiles(ec2.account_id, ec2.partition, arn, name)
    except Exception:  # moto's IAM raises when the profile is unknown
        found = None
    if found is not None:
        ec2.associate_iam_instance_profile(
            instance_id=instance.id, iam_instance_profile_name=name, iam_instance_profile_arn=arn
        )
    else:
        arn = arn or f"arn:{ec2.partition}:iam::{ec2.account_id}:instance-profile/{name}"
        instance.iam_instance_profile = {"Arn": arn, "Id": "AIPA" + uuid.uuid4().hex[:17].upper()}


def apply_template(
    ec2: EC2Backend, instance: Instance, data: dict[str, Any], explicit: set[str]
) -> None:
    """Carry the template's CpuOptions, MetadataOptions and IamInstanceProfile
    onto the instance, unless the request set them itself (`explicit`)."""
    if data.get("CpuOptions") and "cpu" not in explicit:
        instance.cpu_options = _cpu_options(data["CpuOptions"])
    if data.get("MetadataOptions") and "metadata" not in explicit:
        instance.metadata_options = MetadataOptions(data["MetadataOptions"])
    if (
        data.get("IamInstanceProfile")
        and "profile" not in explicit
        and instance.iam_instance_profile is None
    ):
        _attach_profile(ec2, instance, data["IamInstanceProfile"])


def _patch_run_instances() -> None:
    """Gap: RunInstances with a launch template ignores the template's
    IamInstanceProfile, MetadataOptions and CpuOptions. Wraps
    `EC2Backend.run_instances` (Auto Scaling launches are handled below, with the
    group's template version)."""
    original = EC2Backend.run_instances

    def run_instances(
        self: EC2Backend, image_id: str, count: int, user_data: Any, security_group_names: list[str], **kwargs: Any
    ) -> Any:
        template = kwargs.get("launch_template")
        by_group = ASG_NAME_TAG in (kwargs.get("tags") or {}).get("instance", {})
        reservation = original(self, image_id, count, user_data, security_group_names, **kwargs)
        if template and not by_group:
            data = self._get_template_from_args(template).data
            explicit = set()
            if kwargs.get("metadata_options"):
                explicit.add("metadata")
            if kwargs.get("iam_instance_profile_name") or kwargs.get("iam_instance_profile_arn"):
                explicit.add("profile")
            for instance in reservation.instances:
                apply_template(self, instance, data, explicit)
        return reservation

    EC2Backend.run_instances = run_instances  # type: ignore[method-assign]


def _patch_root_volume() -> None:
    """Gap: moto attaches a default root volume (8 GiB, unencrypted) at
    `/dev/sda1` whatever the image's `RootDeviceName`, and keeps it (in
    DescribeVolumes, attached to the instance) when the launch template's
    `BlockDeviceMappings` map the root device too. On AWS the root volume is at
    the image's root device, and a mapping for that device replaces it (its
    size, type, `Encrypted`, `KmsKeyId`), so every volume of the instance is
    the template's when it maps the root device. Here the default volume goes
    to the image's root device and is deleted when a mapping took that device.
    Wraps `Instance.setup_defaults` and `EC2Backend.run_instances` (so both
    RunInstances and Auto Scaling launches are covered)."""

    def setup_defaults(self: Instance) -> None:
        volume = self.ec2_backend.create_volume(size=8, zone_name=self._placement.zone)
        self.ec2_backend.attach_volume(volume.id, self.id, self.root_device_name, True)
        self.scaling_guard_default_root = volume.id  # type: ignore[attr-defined]

    Instance.setup_defaults = setup_defaults  # type: ignore[method-assign]
    original = EC2Backend.run_instances

    def run_instances(self: EC2Backend, *args: Any, **kwargs: Any) -> Any:
        reservation = original(self, *args, **kwargs)
        for instance in reservation.instances:
            default = getattr(instance, "scaling_guard_default_root", None)
            attached = {block.volume_id for _, block in instance.get_block_device_mapping}
            if default is not None and default not in attached:  # a mapping replaced it
                volume = self.get_volume(default)
                volume.attachment = None
                self.delete_volume(default)
                instance.scaling_guard_default_root = None
        return reservation

    EC2Backend.run_instances = run_instances  # type: ignore[method-assign]


def _patch_tag_lookup() -> None:
    """Gap: `TaggedEC2Resource.get_tags` asks `describe_tags` with a
    `resource-id` filter, which copies and scans the region's whole tag table
    for each resource: quadratic in the number of tagged resources. The
    resource's own tags are one entry of that table (keyed by its id); this
    answers with them, shaped and ordered as `describe_tags` does."""

    def get_tags(self: TaggedEC2Resource) -> list[dict[str, str]]:
        resource_id = getattr(self, "id", None)
        if not resource_id:
            return []
        backend = self.ec2_backend  # type: ignore[attr-defined]
        resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
        return [
            {"resource_id": resource_id, "key": key, "value": value, "resource_type": resource_type}
            for key, value in backend.tags.get(resource_id, {}).items()
        ]

    TaggedEC2Resource.get_tags = get_tags  # type: ignore[method-assign]


def _patch_instance_image_lookup() -> None:
    """Gap: each new `Instance` finds its image with
    `describe_images(filters={"image-id": id})`, a generic filter over every
    image of the region (thousands are preloaded): 10 s of RunInstances'
    13 s for 1,000 instances. That exact call is answered from the image
    table by id; every other `describe_images` goes to moto."""
    original = EC2Backend.describe_images

    def describe_images(self: EC2Backend, *args: Any, **kwargs: Any) -> Any:
        filters = kwargs.get("filters")
        if not args and set(kwargs) == {"filters"} and isinstance(filters, dict) and set(filters) == {"image-id"}:
            image_id = filters["image-id"]
            if isinstance(image_id, str):
                image = self.amis.get(image_id)
                return [image] if image is not None else []
        return original(self, *args, **kwargs)

    EC2Backend.describe_images = describe_images  # type: ignore[method-assign]


def _patch_group_launch() -> None:
    """Gap: instances an Auto Scaling group launches from a launch template
    lack the template's IamInstanceProfile, MetadataOptions and CpuOptions.
    Wraps `FakeAutoScalingGroup.replace_autoscaling_group_instances` and applies
    the group's template version (`$Default`, `$Latest` or a number)."""
    original = FakeAutoScalingGroup.replace_autoscaling_group_instances

    def replace_autoscaling_group_instances(
        self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]
    ) -> None:
        before = {state.instance.id for state in self.instance_states}
        original(self, count_needed, propagated_tags)
        if self.ec2_launch_template is None:
            return
        data = self.ec2_launch_template.get_version(self.launch_template_version).data
        for state in self.instance_states:
            if state.instance.id not in before:
                apply_template(self.ec2_backend, state.instance, data, set())

    FakeAutoScalingGroup.replace_autoscaling_group_instances = (  # type: ignore[method-assign]
        replace_autoscaling_group_instances
    )


def _patch_fleet_launch() -> None:
    """Gap: an EC2 Fleet's on-demand instances are launched without the
    template's SecurityGroupIds, IamInstanceProfile, MetadataOptions and
    CpuOptions (moto passes only image, type, subnet and tags). Wraps
    `Fleet.create_on_demand_requests` and applies each instance's template
    version, as resolved by the fleet."""
    original = Fleet.create_on_demand_requests

    def create_on_demand_requests(self: Fleet, weight_to_add: float) -> None:
        before = len(self.on_demand_instances)
        original(self, weight_to_add)
        for launched in self.on_demand_instances[before:]:
            spec = launched["launch_spec"].launch_template_spec or {}
            if "LaunchTemplateId" not in spec:
                continue
            template = self.ec2_backend.get_launch_template(spec["LaunchTemplateId"])
            version = spec.get("Version", template.default_version_number)
            data = template.get_version(version).data
            instance = launched["instance"]
            apply_template(self.ec2_backend, instance, data, set())
            if data.get("SecurityGroupIds"):
                instance.security_groups = [
                    self.ec2_backend.get_security_group_from_id(group)
                    for group in data["SecurityGroupIds"]
                ]

    Fleet.create_on_demand_requests = create_on_demand_requests  # type: ignore[method-assign]


def _patch_run_instances_cpu_options() -> None:
    """Gap: RunInstances drops `CpuOptions`. Wraps `EC2Response.run_instances`;
    DescribeInstances (and the RunInstances answer) then show them."""
    original = EC2Response.run_instances

    def run_instances(self: EC2Response) -> Any:
        result = original(self)
        cpu = self._get_param("CpuOptions")
        if cpu and isinstance(result, ActionResult):
            for instance in result.result.instances:  # type: ignore[attr-defined]
                instance.cpu_options = _cpu_options(cpu)
        return result

    EC2Response.run_instances = run_instances  # type: ignore[method-assign]


def install() -> None:
    Ami.deprecation_time = None  # type: ignore[attr-defined]
    Instance.cpu_options = None  # type: ignore[attr-defined]
    Instance.scaling_guard_default_root = None  # type: ignore[attr-defined]
    EC2Response.enable_image_deprecation = enable_image_deprecation  # type: ignore[attr-defined]
    EC2Response.disable_image_deprecation = disable_image_deprecation  # type: ignore[attr-defined]
    _patch_register_image()
    _patch_tag_lookup()
    _patch_instance_image_lookup()
    _patch_root_volume()
    _patch_run_instances()
    _patch_group_launch()
    _patch_run_instances_cpu_options()
    _patch_fleet_launch()
