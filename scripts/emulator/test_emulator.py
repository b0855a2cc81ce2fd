"""Tests of the emulator's extensions, with boto3 against a running server.py.

    .venv/bin/python -m pytest scripts/emulator -q
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

SERVER = Path(__file__).resolve().parent / "server.py"
REGION = "us-east-1"
ACCOUNT = "123456789012"
HOOK = "scaling-guard-prod"
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"


DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@pytest.fixture(scope="session", autouse=True)
def dummy_credentials():
    """Dummy credentials only: no profile, no real account is ever used."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            patch.delenv(name)
        for name, value in DUMMY_ENV.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory, dummy_credentials):
    """server.py on a free port; stopped at the end even when tests fail."""
    tmp = tmp_path_factory.mktemp("emulator")
    port_file, log_path = tmp / "port", tmp / "server.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--port", "0", "--port-file", str(port_file)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"emulator did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert proc.returncode == 0, log_path.read_text()
    assert not port_file.exists()


def client(endpoint: str, service: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)


@pytest.fixture(scope="session")
def ec2(endpoint):
    return client(endpoint, "ec2")


@pytest.fixture(scope="session")
def asg(endpoint):
    return client(endpoint, "autoscaling")


def control(endpoint: str, method: str, path: str, body: object = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{endpoint}/_scaling_guard/{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="session")
def world(endpoint, ec2):
    """A private subnet, an image, an instance profile and a hardened launch template."""
    iam = client(endpoint, "iam")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    profile = iam.create_instance_profile(InstanceProfileName="eks-node")["InstanceProfile"]["Arn"]
    template = hardened_template(ec2, "eks-nodes", image, profile, threads_per_core=1)
    return {"subnet": subnet, "image": image, "profile": profile, "template": template}


def hardened_template(ec2, name: str, image: str, profile: str, threads_per_core: int) -> str:
    """A launch template with a profile, IMDSv2 (hop limit 2) and CPU options."""
    return ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={
            "ImageId": image,
            "InstanceType": "m6i.large",
            "IamInstanceProfile": {"Arn": profile},
            "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2},
            "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": threads_per_core},
        },
    )["LaunchTemplate"]["LaunchTemplateId"]


@pytest.fixture
def make_group(asg, world):
    def make(desired: int, hooked: bool = True, default_result: str = "ABANDON") -> str:
        name = f"nodes-{uuid.uuid4().hex[:8]}"
        hooks = [
            {
                "LifecycleHookName": HOOK,
                "LifecycleTransition": LAUNCHING,
                "NotificationMetadata": '{"cluster":"prod"}',
                "HeartbeatTimeout": 300,
                "DefaultResult": default_result,
            }
        ]
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateId": world["template"], "Version": "$Latest"},
            MinSize=0,
            MaxSize=10,
            DesiredCapacity=desired,
            VPCZoneIdentifier=world["subnet"],
            **({"LifecycleHookSpecificationList": hooks} if hooked else {}),
        )
        return name

    return make


def instances(asg, group: str) -> dict[str, str]:
    """instance id -> lifecycle state, as DescribeAutoScalingGroups reports it."""
    (found,) = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    return {i["InstanceId"]: i["LifecycleState"] for i in found["Instances"]}


def actions(endpoint: str, group: str) -> list[dict]:
    status, body = control(endpoint, "GET", f"lifecycle-actions?group={group}")
    assert status == 200
    return body


def complete(asg, group: str, result: str, **target) -> None:
    asg.complete_lifecycle_action(
        AutoScalingGroupName=group, LifecycleHookName=HOOK, LifecycleActionResult=result, **target
    )


def ec2_state(ec2, instance_id: str) -> str:
    (reservation,) = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservation["Instances"][0]["State"]["Name"]


def test_launch_into_hooked_group_waits_and_records_an_action(endpoint, asg, make_group):
    group = make_group(desired=2)
    states = instances(asg, group)
    assert list(states.values()) == ["Pending:Wait", "Pending:Wait"]
    described = asg.describe_auto_scaling_instances(InstanceIds=list(states))["AutoScalingInstances"]
    assert {i["LifecycleState"] for i in described} == {"Pending:Wait"}

    listed = actions(endpoint, group)
    assert sorted(a["instance_id"] for a in listed) == sorted(states)
    action = listed[0]
    assert uuid.UUID(action["token"]).version == 4
    assert {k: action[k] for k in ("group", "hook", "transition", "notification_metadata", "account", "region")} == {
        "group": group,
        "hook": HOOK,
        "transition": LAUNCHING,
        "notification_metadata": '{"cluster":"prod"}',
        "account": ACCOUNT,
        "region": REGION,
    }
    (hook,) = asg.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
    assert hook["NotificationMetadata"] == '{"cluster":"prod"}'

    # Waiting instances count towards the desired capacity: no relaunch, one more on scale-out.
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)
    assert len(instances(asg, group)) == 2
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=3)
    assert list(instances(asg, group).values()).count("Pending:Wait") == 3
    assert len(actions(endpoint, group)) == 3


def test_hook_put_later_holds_the_next_launches(endpoint, asg, make_group):
    group = make_group(desired=1, hooked=False)
    asg.put_lifecycle_hook(
        AutoScalingGroupName=group, LifecycleHookName=HOOK, LifecycleTransition=LAUNCHING, NotificationMetadata="m"
    )
    asg.update_auto_scaling_group(AutoScalingGroupName=group, DesiredCapacity=2)
    assert sorted(instances(asg, group).values()) == ["InService", "Pending:Wait"]
    assert [a["notification_metadata"] for a in actions(endpoint, group)] == ["m"]


def test_group_without_hook_goes_in_service(endpoint, asg, make_group):
    group = make_group(desired=2, hooked=False)
    assert list(instances(asg, group).values()) == ["InService", "InService"]
    assert actions(endpoint, group) == []


def test_continue_puts_the_instance_in_service(endpoint, asg, make_group):
    group = make_group(desired=2)
    first, second = actions(endpoint, group)
    complete(asg, group, "CONTINUE", LifecycleActionToken=first["token"])
    complete(asg, group, "CONTINUE", InstanceId=second["instance_id"])
    assert instances(asg, group) == {first["instance_id"]: "InService", second["instance_id"]: "InService"}
    assert actions(endpoint, group) == []


def test_abandon_terminates_and_removes_the_instance(endpoint, ec2, asg, make_group):
    group = make_group(desired=1)
    (action,) = actions(endpoint, group)
    complete(asg, group, "ABANDON", LifecycleActionToken=action["token"])
    assert ec2_state(ec2, action["instance_id"]) == "terminated"
    states = instances(asg, group)
    assert action["instance_id"] not in states
    # As AWS does, the group replaces it; the replacement waits for its own decision.
    assert list(states.values()) == ["Pending:Wait"]
    (replacement,) = actions(endpoint, group)
    assert replacement["token"] != action["token"]
    assert replacement["instance_id"] in states


def test_no_replacement_while_launch_is_suspended(endpoint, asg, make_group):
    group = make_group(desired=1)
    (action,) = actions(endpoint, group)
    asg.suspend_processes(AutoScalingGroupName=group, ScalingProcesses=["Launch"])
    complete(asg, group, "ABANDON", LifecycleActionToken=action["token"])
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)
    assert instances(asg, group) == {}
    asg.resume_processes(AutoScalingGroupName=group, ScalingProcesses=["Launch"])
    assert list(instances(asg, group).values()) == ["Pending:Wait", "Pending:Wait"]


def test_unknown_token_is_a_validation_error(asg, make_group):
    group = make_group(desired=1)
    token = str(uuid.uuid4())
    with pytest.raises(ClientError) as raised:
        complete(asg, group, "CONTINUE", LifecycleActionToken=token)
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationError"
    assert error["Error"]["Message"] == f"No active Lifecycle Action found with token {token}"


def test_duplicate_completion_is_the_same_validation_error(asg, make_group):
    group = make_group(desired=1)
    (state,) = instances(asg, group)
    complete(asg, group, "CONTINUE", InstanceId=state)
    with pytest.raises(ClientError) as by_instance:
        complete(asg, group, "CONTINUE", InstanceId=state)
    assert by_instance.value.response["Error"]["Code"] == "ValidationError"
    assert by_instance.value.response["Error"]["Message"] == f"No active Lifecycle Action found with instance ID {state}"


def test_duplicate_completion_by_token(endpoint, asg, make_group):
    group = make_group(desired=1)
    (action,) = actions(endpoint, group)
    complete(asg, group, "CONTINUE", LifecycleActionToken=action["token"])
    with pytest.raises(ClientError) as raised:
        complete(asg, group, "ABANDON", LifecycleActionToken=action["token"])
    assert raised.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": f"No active Lifecycle Action found with token {action['token']}",
        "Type": "Sender",
    }
    assert list(instances(asg, group).values()) == ["InService"]


def test_heartbeat_validates_the_action(endpoint, asg, make_group):
    group = make_group(desired=1)
    (action,) = actions(endpoint, group)
    asg.record_lifecycle_action_heartbeat(
        AutoScalingGroupName=group, LifecycleHookName=HOOK, LifecycleActionToken=action["token"]
    )
    with pytest.raises(ClientError, match="No active Lifecycle Action found with token"):
        asg.record_lifecycle_action_heartbeat(
            AutoScalingGroupName=group, LifecycleHookName="other-hook", LifecycleActionToken=action["token"]
        )


def test_timeout_applies_the_default_result(endpoint, asg, make_group):
    group = make_group(desired=1, default_result="CONTINUE")
    (action,) = actions(endpoint, group)
    status, body = control(endpoint, "POST", f"lifecycle-actions/{action['token']}/timeout")
    assert (status, body) == (200, {"token": action["token"], "instance_id": action["instance_id"], "result": "CONTINUE"})
    assert instances(asg, group) == {action["instance_id"]: "InService"}
    status, _ = control(endpoint, "POST", f"lifecycle-actions/{action['token']}/timeout")
    assert status == 404


def test_deleting_a_group_deletes_its_hooks_and_actions(endpoint, asg, make_group):
    group = make_group(desired=1)
    asg.delete_auto_scaling_group(AutoScalingGroupName=group, ForceDelete=True)
    assert actions(endpoint, group) == []
    assert asg.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"] == []


NOTIFICATION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/scaling-guard-hook-notification"


def launch_queue(sqs, fifo: bool = False) -> tuple[str, str]:
    """A fresh queue: its URL and ARN."""
    name = f"launches-{uuid.uuid4().hex[:8]}" + (".fifo" if fifo else "")
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"} if fifo else {})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def received(sqs, url: str) -> list[dict]:
    """Every message waiting in the queue, as JSON, in order; deleted."""
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def put_hook_to(asg, group: str, target: str, **settings) -> None:
    asg.put_lifecycle_hook(
        AutoScalingGroupName=group,
        LifecycleHookName=HOOK,
        LifecycleTransition=LAUNCHING,
        NotificationTargetARN=target,
        RoleARN=NOTIFICATION_ROLE,
        **settings,
    )


def test_a_hook_describes_the_target_and_role_it_was_put_with_or_none(endpoint, asg, make_group):
    sqs = client(endpoint, "sqs")
    _, queue = launch_queue(sqs)
    group = make_group(desired=0)
    (hook,) = asg.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
    assert "NotificationTargetARN" not in hook and "RoleARN" not in hook, hook

    put_hook_to(asg, group, queue, HeartbeatTimeout=300, DefaultResult="ABANDON")
    (hook,) = asg.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
    assert (hook["NotificationTargetARN"], hook["RoleARN"]) == (queue, NOTIFICATION_ROLE)

    # As on AWS, an update that names no target keeps it; an empty one clears it.
    asg.put_lifecycle_hook(AutoScalingGroupName=group, LifecycleHookName=HOOK, DefaultResult="CONTINUE")
    (hook,) = asg.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
    assert (hook["NotificationTargetARN"], hook["RoleARN"]) == (queue, NOTIFICATION_ROLE)
    asg.put_lifecycle_hook(AutoScalingGroupName=group, LifecycleHookName=HOOK, NotificationTargetARN="")
    (hook,) = asg.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
    assert "NotificationTargetARN" not in hook, hook


def test_putting_an_sqs_target_sends_it_a_test_message(endpoint, asg, make_group):
    sqs = client(endpoint, "sqs")
    url, queue = launch_queue(sqs)
    group = make_group(desired=0, hooked=False)

    put_hook_to(asg, group, queue)

    (test,) = received(sqs, url)
    assert {k: test[k] for k in ("AccountId", "AutoScalingGroupName", "Service", "Event")} == {
        "AccountId": ACCOUNT,
        "AutoScalingGroupName": group,
        "Service": "AWS Auto Scaling",
        "Event": "autoscaling:TEST_NOTIFICATION",
    }
    assert test["AutoScalingGroupARN"].startswith(f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:")
    assert test["AutoScalingGroupARN"].endswith(f":autoScalingGroupName/{group}")
    uuid.UUID(test["RequestId"])
    datetime.strptime(test["Time"], "%Y-%m-%dT%H:%M:%S.%fZ")


def test_each_launch_is_delivered_to_the_sqs_target_of_each_launch_hook(endpoint, asg, make_group):
    sqs = client(endpoint, "sqs")
    url, queue = launch_queue(sqs)
    group = make_group(desired=0, hooked=False)
    put_hook_to(asg, group, queue, NotificationMetadata='{"cluster":"prod"}')
    received(sqs, url)  # the test message

    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)

    (action,) = actions(endpoint, group)
    (message,) = received(sqs, url)
    assert message == {
        "Origin": "EC2",
        "LifecycleHookName": HOOK,
        "Destination": "AutoScalingGroup",
        "AccountId": ACCOUNT,
        "RequestId": message["RequestId"],
        "LifecycleTransition": LAUNCHING,
        "AutoScalingGroupName": group,
        "Service": "AWS Auto Scaling",
        "Time": message["Time"],
        "EC2InstanceId": action["instance_id"],
        "LifecycleActionToken": action["token"],
        "NotificationMetadata": '{"cluster":"prod"}',
    }
    datetime.strptime(message["Time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    # The delivered action is the one CompleteLifecycleAction completes.
    complete(asg, group, "CONTINUE", LifecycleActionToken=message["LifecycleActionToken"])
    assert instances(asg, group) == {action["instance_id"]: "InService"}
    # A hook without a target notifies no queue.
    plain = make_group(desired=1)
    assert len(actions(endpoint, plain)) == 1
    assert received(sqs, url) == []


@pytest.mark.parametrize("target", ["missing", "fifo"])
def test_a_target_the_hook_cannot_send_to_is_refused_and_nothing_is_put(endpoint, asg, make_group, target):
    sqs = client(endpoint, "sqs")
    if target == "fifo":
        _, queue = launch_queue(sqs, fifo=True)
    else:
        queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:no-such-queue"
    group = make_group(desired=0, hooked=False)

    with pytest.raises(ClientError, match="Unable to publish test message to notification target") as refused:
        put_hook_to(asg, group, queue)

    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert asg.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"] == []


def test_image_backdating_and_deprecation(endpoint, ec2, world):
    image = ec2.register_image(Name="eks-node-old", RootDeviceName="/dev/xvda")["ImageId"]
    status, body = control(
        endpoint,
        "POST",
        f"images/{image}",
        {"creation_date": "2020-01-01T00:00:00.000Z", "deprecation_time": "2021-01-01T00:00:00.000Z", "region": REGION},
    )
    assert status == 200
    assert body == [
        {
            "image_id": image,
            "account": ACCOUNT,
            "region": REGION,
            "creation_date": "2020-01-01T00:00:00.000Z",
            "deprecation_time": "2021-01-01T00:00:00.000Z",
        }
    ]
    (described,) = ec2.describe_images(ImageIds=[image])["Images"]
    assert described["CreationDate"] == "2020-01-01T00:00:00.000Z"
    assert described["DeprecationTime"] == "2021-01-01T00:00:00.000Z"

    ec2.enable_image_deprecation(ImageId=image, DeprecateAt=datetime(2030, 6, 1, 12, 30, tzinfo=timezone.utc))
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["DeprecationTime"] == "2030-06-01T12:30:00.000Z"
    ec2.disable_image_deprecation(ImageId=image)
    assert "DeprecationTime" not in ec2.describe_images(ImageIds=[image])["Images"][0]

    assert control(endpoint, "POST", "images/ami-12345678", {"creation_date": "2020-01-01T00:00:00Z"})[0] == 404
    assert control(endpoint, "POST", f"images/{image}", {"creation_date": "yesterday"})[0] == 400


def test_group_instances_carry_the_launch_template_settings(ec2, asg, make_group, world):
    group = make_group(desired=1, hooked=False)
    (instance_id,) = instances(asg, group)
    (reservation,) = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    instance = reservation["Instances"][0]
    assert instance["IamInstanceProfile"]["Arn"] == world["profile"]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert instance["CpuOptions"] == {"CoreCount": 1, "ThreadsPerCore": 1}
    assert instance["InstanceType"] == "m6i.large"


def test_run_instances_echoes_cpu_options_and_template_settings(ec2, world):
    direct = ec2.run_instances(
        ImageId=world["image"], InstanceType="c7g.2xlarge", MinCount=1, MaxCount=1,
        CpuOptions={"CoreCount": 4, "ThreadsPerCore": 1},
    )["Instances"][0]["InstanceId"]
    templated = ec2.run_instances(
        LaunchTemplate={"LaunchTemplateId": world["template"]}, MinCount=1, MaxCount=1,
        MetadataOptions={"HttpTokens": "optional"},
    )["Instances"][0]["InstanceId"]
    described = {
        i["InstanceId"]: i
        for r in ec2.describe_instances(InstanceIds=[direct, templated])["Reservations"]
        for i in r["Instances"]
    }
    assert described[direct]["CpuOptions"] == {"CoreCount": 4, "ThreadsPerCore": 1}
    assert "IamInstanceProfile" not in described[direct]
    assert described[templated]["CpuOptions"] == {"CoreCount": 1, "ThreadsPerCore": 1}
    assert described[templated]["IamInstanceProfile"]["Arn"] == world["profile"]
    assert described[templated]["MetadataOptions"]["HttpTokens"] == "optional"  # the request wins


def test_instant_fleet_instances_carry_the_template_settings_groups_and_tags(ec2, world):
    # Karpenter's launch: an `instant` CreateFleet of a launch template, the
    # subnet in an override, the NodePool's tags on the instances.
    group = ec2.create_security_group(
        GroupName=f"nodes-{uuid.uuid4().hex[:8]}", Description="nodes",
        VpcId=ec2.describe_subnets(SubnetIds=[world["subnet"]])["Subnets"][0]["VpcId"],
    )["GroupId"]
    template = ec2.create_launch_template(
        LaunchTemplateName=f"karpenter-{uuid.uuid4().hex[:8]}",
        LaunchTemplateData={
            "ImageId": world["image"],
            "SecurityGroupIds": [group],
            "IamInstanceProfile": {"Arn": world["profile"]},
            "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 1},
        },
    )["LaunchTemplate"]["LaunchTemplateId"]
    tags = [{"Key": "karpenter.sh/nodepool", "Value": "default"}]
    fleet = ec2.create_fleet(
        Type="instant",
        LaunchTemplateConfigs=[{
            "LaunchTemplateSpecification": {"LaunchTemplateId": template, "Version": "$Latest"},
            "Overrides": [{"InstanceType": "m6i.large", "SubnetId": world["subnet"]}],
        }],
        TargetCapacitySpecification={"TotalTargetCapacity": 3, "DefaultTargetCapacityType": "on-demand"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    ids = [i for launched in fleet["Instances"] for i in launched["InstanceIds"]]
    assert len(ids) == 3
    described = [i for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]]
    for instance in described:
        assert [g["GroupId"] for g in instance["SecurityGroups"]] == [group]
        assert instance["IamInstanceProfile"]["Arn"] == world["profile"]
        assert instance["MetadataOptions"]["HttpTokens"] == "required"
        assert instance["SubnetId"] == world["subnet"]
        assert {"Key": "karpenter.sh/nodepool", "Value": "default"} in instance["Tags"]


def test_published_notifications_keep_the_whole_json_structure(endpoint):
    sns = client(endpoint, "sns")
    topic = sns.create_topic(Name="published-check")["TopicArn"]
    structure = {"default": '{"kind":"launch_denied"}', "email": "What happened: a launch was denied."}
    sns.publish(
        TopicArn=topic,
        Subject="[scaling-guard] prod: launch denied",
        Message=json.dumps(structure),
        MessageStructure="json",
        MessageAttributes={"severity": {"DataType": "String", "StringValue": "warning"}},
    )
    status, body = control(endpoint, "GET", f"sns/published?topic={topic}")
    assert status == 200
    assert len(body) == 1
    assert body[0]["subject"] == "[scaling-guard] prod: launch denied"
    assert json.loads(body[0]["message"])["email"] == "What happened: a launch was denied."
    assert "warning" in json.dumps(body[0]["attributes"]["severity"])
    status, body = control(endpoint, "GET", f"sns/published?topic={topic}-nope")
    assert status == 404


def cbor_call(endpoint: str, operation: str, params: dict) -> tuple[int, dict, dict]:
    import cbor2

    request = urllib.request.Request(
        f"{endpoint}/service/GraniteServiceVersion20100801/operation/{operation}",
        data=cbor2.dumps(params),
        method="POST",
        headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), cbor2.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), cbor2.loads(error.read())


def test_cloudwatch_speaks_rpc_v2_cbor_like_the_rust_sdk(endpoint):
    import cbor2

    status, headers, _ = cbor_call(endpoint, "PutMetricData", {
        "Namespace": "ScalingGuard",
        "MetricData": [{"MetricName": "ClusterVcpus", "Value": 8.0, "Unit": "Count",
                        "Dimensions": [{"Name": "Cluster", "Value": "prod"}]}],
    })
    assert status == 200
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    status, _, listed = cbor_call(endpoint, "ListMetrics", {"Namespace": "ScalingGuard"})
    assert status == 200
    assert [m["MetricName"] for m in listed["Metrics"]] == ["ClusterVcpus"]

    cbor_call(endpoint, "PutMetricAlarm", {
        "AlarmName": "cbor-alarm", "Namespace": "ScalingGuard", "MetricName": "ClusterVcpus",
        "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 100.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    })
    cbor_call(endpoint, "SetAlarmState", {"AlarmName": "cbor-alarm", "StateValue": "ALARM", "StateReason": "test"})
    status, _, alarms = cbor_call(endpoint, "DescribeAlarms", {"AlarmNames": ["cbor-alarm"], "StateValue": "ALARM"})
    assert status == 200
    alarm = alarms["MetricAlarms"][0]
    assert alarm["AlarmName"] == "cbor-alarm"
    assert isinstance(alarm["StateUpdatedTimestamp"], datetime), "timestamps travel as CBOR tag 1"

    status, _, error = cbor_call(endpoint, "SetAlarmState", {"AlarmName": "no-such-alarm", "StateValue": "OK", "StateReason": "x"})
    assert status >= 400
    assert error["__type"] == "ResourceNotFound"


# --- warm pools ----------------------------------------------------------------


def warm_pool(asg, group: str) -> dict[str, str]:
    """instance id -> lifecycle state, as DescribeWarmPool reports it."""
    described = asg.describe_warm_pool(AutoScalingGroupName=group)
    return {i["InstanceId"]: i["LifecycleState"] for i in described["Instances"]}


def ec2_tags(ec2, instance_id: str) -> dict[str, str]:
    (reservation,) = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return {t["Key"]: t["Value"] for t in reservation["Instances"][0].get("Tags", [])}


def pool_launch(endpoint: str, group: str, count: int) -> list[str]:
    status, body = control(endpoint, "POST", f"groups/{group}/warm-pool/launch", {"count": count})
    assert status == 200, body
    return body


def pool_enter(endpoint: str, group: str, instance_id: str) -> tuple[int, dict]:
    return control(endpoint, "POST", f"groups/{group}/warm-pool/enter", {"instance_id": instance_id})


def test_launch_into_the_warm_pool_waits_for_the_launch_hook(endpoint, ec2, asg, make_group, world):
    group = make_group(desired=0)
    asg.create_or_update_tags(Tags=[{
        "ResourceId": group, "ResourceType": "auto-scaling-group",
        "Key": "kubernetes.io/cluster/prod", "Value": "owned", "PropagateAtLaunch": True,
    }])
    asg.put_warm_pool(AutoScalingGroupName=group, PoolState="Running", MinSize=0)
    kept, abandoned = pool_launch(endpoint, group, 2)

    # In the pool, not in the group; waiting; in EC2 with the group's tags and template.
    assert instances(asg, group) == {}
    assert warm_pool(asg, group) == {kept: "Warmed:Pending:Wait", abandoned: "Warmed:Pending:Wait"}
    described = asg.describe_auto_scaling_instances(InstanceIds=[kept])["AutoScalingInstances"]
    assert [(i["InstanceId"], i["LifecycleState"], i["AutoScalingGroupName"]) for i in described] == [
        (kept, "Warmed:Pending:Wait", group)
    ]
    assert ec2_state(ec2, kept) == "running"
    tags = ec2_tags(ec2, kept)
    assert tags["aws:autoscaling:groupName"] == group
    assert tags["kubernetes.io/cluster/prod"] == "owned"
    (reservation,) = ec2.describe_instances(InstanceIds=[kept])["Reservations"]
    assert reservation["Instances"][0]["IamInstanceProfile"]["Arn"] == world["profile"]

    listed = actions(endpoint, group)
    assert sorted(a["instance_id"] for a in listed) == sorted([kept, abandoned])
    assert {(a["origin"], a["destination"], a["hook"], a["transition"]) for a in listed} == {
        ("EC2", "WarmPool", HOOK, LAUNCHING)
    }

    # CONTINUE warms the instance in the pool's state; ABANDON terminates it.
    complete(asg, group, "CONTINUE", InstanceId=kept)
    complete(asg, group, "ABANDON", InstanceId=abandoned)
    assert warm_pool(asg, group) == {kept: "Warmed:Running"}
    assert ec2_state(ec2, kept) == "running"
    assert ec2_state(ec2, abandoned) == "terminated"
    assert instances(asg, group) == {}, "neither enters the group, and nothing replaces the abandoned one"
    assert actions(endpoint, group) == []


def test_leaving_the_warm_pool_meets_the_launch_hook_again(endpoint, ec2, asg, make_group):
    group = make_group(desired=0)
    asg.put_warm_pool(AutoScalingGroupName=group, PoolState="Running")
    first, second = pool_launch(endpoint, group, 2)
    for instance_id in (first, second):
        complete(asg, group, "CONTINUE", InstanceId=instance_id)

    assert pool_enter(endpoint, group, first) == (200, {"instance_id": first, "lifecycle_state": "Pending:Wait"})
    assert instances(asg, group) == {first: "Pending:Wait"}
    assert warm_pool(asg, group) == {second: "Warmed:Running"}
    (group_state,) = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    assert group_state["DesiredCapacity"] == 1, "it counts towards the desired capacity"
    (action,) = actions(endpoint, group)
    assert (action["instance_id"], action["origin"], action["destination"]) == (first, "WarmPool", "AutoScalingGroup")
    complete(asg, group, "CONTINUE", LifecycleActionToken=action["token"])
    assert instances(asg, group) == {first: "InService"}

    # ABANDON on the way out: terminated, and the group replaces it with a fresh launch.
    assert pool_enter(endpoint, group, second)[0] == 200
    (action,) = actions(endpoint, group)
    complete(asg, group, "ABANDON", LifecycleActionToken=action["token"])
    assert ec2_state(ec2, second) == "terminated"
    states = instances(asg, group)
    assert states.pop(first) == "InService"
    (replacement,) = states
    assert states[replacement] == "Pending:Wait"
    (fresh,) = actions(endpoint, group)
    assert (fresh["instance_id"], fresh["origin"], fresh["destination"]) == (replacement, "EC2", "AutoScalingGroup")
    assert warm_pool(asg, group) == {}


def test_stopped_pool_without_hooks_and_refusals(endpoint, ec2, asg, make_group):
    group = make_group(desired=0, hooked=False)
    assert control(endpoint, "POST", f"groups/{group}/warm-pool/launch", {"count": 1})[0] == 409  # no pool yet
    asg.put_warm_pool(AutoScalingGroupName=group)  # PoolState defaults to Stopped
    (instance_id,) = pool_launch(endpoint, group, 1)
    assert warm_pool(asg, group) == {instance_id: "Warmed:Stopped"}
    assert ec2_state(ec2, instance_id) == "stopped"
    assert actions(endpoint, group) == []

    asg.update_auto_scaling_group(AutoScalingGroupName=group, MaxSize=0)
    status, body = pool_enter(endpoint, group, instance_id)
    assert status == 409 and "MaxSize" in body["error"]
    asg.update_auto_scaling_group(AutoScalingGroupName=group, MaxSize=10)
    asg.suspend_processes(AutoScalingGroupName=group, ScalingProcesses=["Launch"])
    assert pool_enter(endpoint, group, instance_id)[0] == 409
    asg.resume_processes(AutoScalingGroupName=group, ScalingProcesses=["Launch"])

    assert pool_enter(endpoint, group, instance_id) == (200, {"instance_id": instance_id, "lifecycle_state": "InService"})
    assert instances(asg, group) == {instance_id: "InService"}
    assert ec2_state(ec2, instance_id) == "running"
    assert pool_enter(endpoint, group, instance_id)[0] == 404  # no longer in the pool
    assert control(endpoint, "POST", "groups/no-such-group/warm-pool/launch", {"count": 1})[0] == 404
    assert control(endpoint, "POST", f"groups/{group}/warm-pool/launch", {"count": 0})[0] == 400

    # DeleteWarmPool terminates the pool's instances.
    (pooled,) = pool_launch(endpoint, group, 1)
    asg.delete_warm_pool(AutoScalingGroupName=group, ForceDelete=True)
    assert ec2_state(ec2, pooled) == "terminated"
    assert instances(asg, group) == {instance_id: "InService"}


def test_waiting_pool_instance_cannot_enter_and_deleting_the_group_forgets_it(endpoint, ec2, asg, make_group):
    group = make_group(desired=0)
    asg.put_warm_pool(AutoScalingGroupName=group, PoolState="Running")
    (instance_id,) = pool_launch(endpoint, group, 1)
    status, body = pool_enter(endpoint, group, instance_id)
    assert status == 409 and "Warmed:Pending:Wait" in body["error"]
    (action,) = actions(endpoint, group)
    status, body = control(endpoint, "POST", f"lifecycle-actions/{action['token']}/timeout")
    assert (status, body["result"]) == (200, "ABANDON")
    assert ec2_state(ec2, instance_id) == "terminated"
    assert warm_pool(asg, group) == {}

    (instance_id,) = pool_launch(endpoint, group, 1)
    asg.delete_auto_scaling_group(AutoScalingGroupName=group, ForceDelete=True)
    assert actions(endpoint, group) == []
    assert ec2_state(ec2, instance_id) == "terminated"


# --- MaxSize and MinSize move the desired capacity ---------------------------


def desired_capacity(asg, group: str) -> int:
    (found,) = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    return found["DesiredCapacity"]


def test_max_size_below_desired_scales_in(ec2, asg, make_group):
    group = make_group(desired=4, hooked=False)
    before = set(instances(asg, group))
    asg.update_auto_scaling_group(AutoScalingGroupName=group, MaxSize=2)
    assert desired_capacity(asg, group) == 2
    after = instances(asg, group)
    assert list(after.values()) == ["InService", "InService"]
    assert sorted(ec2_state(ec2, i) for i in before - set(after)) == ["terminated", "terminated"]

    # A MaxSize at or above the desired capacity changes nothing.
    asg.update_auto_scaling_group(AutoScalingGroupName=group, MaxSize=2)
    asg.update_auto_scaling_group(AutoScalingGroupName=group, MaxSize=8)
    assert desired_capacity(asg, group) == 2
    assert instances(asg, group) == after


def test_max_size_follows_the_desired_capacity_not_the_instance_count(asg, make_group):
    # Launch suspended: desired 5 with 2 instances. moto compared MaxSize with
    # the 2 instances and left desired 5 above MaxSize 4.
    group = make_group(desired=2, hooked=False)
    asg.suspend_processes(AutoScalingGroupName=group, ScalingProcesses=["Launch"])
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=5)
    asg.update_auto_scaling_group(AutoScalingGroupName=group, MaxSize=4)
    assert desired_capacity(asg, group) == 4
    # A MinSize raise below the desired capacity keeps it (moto lowered it to 3).
    asg.update_auto_scaling_group(AutoScalingGroupName=group, MinSize=3)
    assert desired_capacity(asg, group) == 4
    assert len(instances(asg, group)) == 2
    # An explicit DesiredCapacity wins, as on AWS.
    asg.update_auto_scaling_group(AutoScalingGroupName=group, MaxSize=6, DesiredCapacity=6)
    assert desired_capacity(asg, group) == 6


def test_max_size_scale_in_forgets_waiting_actions(endpoint, asg, make_group):
    group = make_group(desired=3)
    asg.update_auto_scaling_group(AutoScalingGroupName=group, MaxSize=1)
    (remaining,) = instances(asg, group)
    assert [a["instance_id"] for a in actions(endpoint, group)] == [remaining]


# --- composite alarms ------------------------------------------------------------


def test_composite_alarms_follow_their_rule_and_are_listed_only_when_asked(endpoint):
    cw = client(endpoint, "cloudwatch")
    for name in ("budget-vcpus", "budget-memory"):
        cw.put_metric_alarm(
            AlarmName=name, Namespace="ScalingGuard", MetricName=name, Statistic="Maximum",
            Period=60, EvaluationPeriods=1, Threshold=100.0, ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
    cw.put_composite_alarm(AlarmName="budget", AlarmRule='ALARM("budget-vcpus") OR ALARM(budget-memory)')
    names = ["budget-vcpus", "budget-memory", "budget"]
    both = ["MetricAlarm", "CompositeAlarm"]

    def firing(**kwargs) -> tuple[list[str], list[str]]:
        answer = cw.describe_alarms(AlarmNames=names, StateValue="ALARM", **kwargs)
        return sorted(a["AlarmName"] for a in answer["MetricAlarms"]), sorted(a["AlarmName"] for a in answer["CompositeAlarms"])

    assert firing(AlarmTypes=both) == ([], [])
    cw.set_alarm_state(AlarmName="budget-memory", StateValue="ALARM", StateReason="test")
    assert firing(AlarmTypes=both) == (["budget-memory"], ["budget"]), "the rule is re-evaluated"
    assert firing() == (["budget-memory"], []), "without AlarmTypes, metric alarms only"
    assert firing(AlarmTypes=["CompositeAlarm"]) == ([], ["budget"])
    (composite,) = cw.describe_alarms(AlarmNames=["budget"], AlarmTypes=both)["CompositeAlarms"]
    assert composite["AlarmRule"] == 'ALARM("budget-vcpus") OR ALARM(budget-memory)'
    assert composite["StateValue"] == "ALARM"

    # SetAlarmState on the composite holds until one of its alarms changes.
    cw.set_alarm_state(AlarmName="budget", StateValue="OK", StateReason="test")
    assert firing(AlarmTypes=both) == (["budget-memory"], [])
    cw.set_alarm_state(AlarmName="budget-vcpus", StateValue="ALARM", StateReason="test")
    assert firing(AlarmTypes=both) == (["budget-memory", "budget-vcpus"], ["budget"])
    for name in ("budget-vcpus", "budget-memory"):
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test")
    assert firing(AlarmTypes=both) == ([], [])
    cw.set_alarm_state(AlarmName="budget", StateValue="ALARM", StateReason="test")
    assert firing(AlarmTypes=both) == ([], ["budget"])

    with pytest.raises(ClientError) as raised:
        cw.put_composite_alarm(AlarmName="broken", AlarmRule='ALARM("no-such-alarm")')
    assert raised.value.response["Error"]["Code"] == "ValidationError"


def test_composite_alarms_over_rpc_v2_cbor(endpoint):
    cbor_call(endpoint, "PutMetricAlarm", {
        "AlarmName": "cbor-child", "Namespace": "ScalingGuard", "MetricName": "ClusterVcpus",
        "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 100.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    })
    status, _, _ = cbor_call(endpoint, "PutCompositeAlarm", {
        "AlarmName": "cbor-composite", "AlarmRule": 'ALARM("cbor-child") AND NOT OK("cbor-child")',
    })
    assert status == 200
    cbor_call(endpoint, "SetAlarmState", {"AlarmName": "cbor-child", "StateValue": "ALARM", "StateReason": "t"})
    query = {"AlarmNames": ["cbor-child", "cbor-composite"], "StateValue": "ALARM"}
    status, _, answer = cbor_call(endpoint, "DescribeAlarms", {**query, "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]})
    assert status == 200
    assert [a["AlarmName"] for a in answer["MetricAlarms"]] == ["cbor-child"]
    (composite,) = answer["CompositeAlarms"]
    assert (composite["AlarmName"], composite["StateValue"]) == ("cbor-composite", "ALARM")
    assert isinstance(composite["StateUpdatedTimestamp"], datetime)
    _, _, answer = cbor_call(endpoint, "DescribeAlarms", query)
    assert [a["AlarmName"] for a in answer["MetricAlarms"]] == ["cbor-child"]
    assert answer.get("CompositeAlarms", []) == []


# --- fault injection, the request journal, how actions ended -------------------


@pytest.fixture
def faults(endpoint):
    """Sets fault rules for one test; clears them (and the journal) after."""

    assert control(endpoint, "DELETE", "requests")[0] == 200

    def set_rules(rules: list[dict], seed: int = 7) -> dict:
        status, body = control(endpoint, "POST", "faults", {"rules": rules, "seed": seed})
        assert status == 200, body
        return body

    yield set_rules
    assert control(endpoint, "DELETE", "faults")[0] == 200
    assert control(endpoint, "DELETE", "requests")[0] == 200


def no_retries(endpoint: str, service: str):
    from botocore.config import Config

    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def fault_state(endpoint: str) -> dict:
    status, body = control(endpoint, "GET", "faults")
    assert status == 200
    return body


def test_throttling_faults_answer_each_services_own_error_for_the_next_n_calls(endpoint, faults):
    asg, ec2 = no_retries(endpoint, "autoscaling"), no_retries(endpoint, "ec2")
    faults([
        {"operation": "DescribeAutoScalingGroups", "kind": "throttle", "count": 2},
        {"operation": "DescribeInstances", "service": "ec2", "kind": "throttle", "count": 1},
    ])
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            asg.describe_auto_scaling_groups()
        error = raised.value.response
        assert error["Error"]["Code"] == "Throttling"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    asg.describe_auto_scaling_groups()  # the third passes
    with pytest.raises(ClientError) as raised:
        ec2.describe_instances()
    assert raised.value.response["Error"]["Code"] == "RequestLimitExceeded"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    ec2.describe_instances()
    rules = fault_state(endpoint)["rules"]
    assert [(r["matched"], r["injected"]) for r in rules] == [(3, 2), (2, 1)]
    status, journal = control(endpoint, "GET", "requests?operation=DescribeAutoScalingGroups")
    assert status == 200
    assert [(e["fault"], e["status"], e["service"]) for e in journal] == [
        ("throttle", 400, "autoscaling"), ("throttle", 400, "autoscaling"), (None, 200, "autoscaling"),
    ]
    assert all(e["seq"] < e["done_seq"] for e in journal)


def test_the_journal_names_the_groups_and_instances_each_request_acts_on(endpoint, ec2, asg, make_group):
    group = make_group(1, hooked=False)
    instance = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    control(endpoint, "DELETE", "requests")
    asg.suspend_processes(AutoScalingGroupName=group, ScalingProcesses=["Launch"])
    asg.create_or_update_tags(Tags=[{
        "ResourceId": group, "ResourceType": "auto-scaling-group", "Key": "k", "Value": "v", "PropagateAtLaunch": False,
    }])
    ec2.create_tags(Resources=[instance], Tags=[{"Key": "k", "Value": "v"}])
    ec2.describe_instances(Filters=[{"Name": "tag:k", "Values": ["v"]}])
    status, journal = control(endpoint, "GET", "requests")
    assert status == 200
    assert [(e["operation"], e["targets"]) for e in journal] == [
        ("SuspendProcesses", [group]),
        ("CreateOrUpdateTags", [group]),
        ("CreateTags", [instance]),
        ("DescribeInstances", []),
    ]
    # Each request names the access key that signed it.
    assert {e["caller"] for e in journal} == {os.environ["AWS_ACCESS_KEY_ID"]}
    other = boto3.client(
        "autoscaling", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="staging-guard", aws_secret_access_key="testing",
    )
    other.resume_processes(AutoScalingGroupName=group, ScalingProcesses=["Launch"])
    _, journal = control(endpoint, "GET", "requests?operation=ResumeProcesses")
    assert [(e["caller"], e["targets"]) for e in journal] == [("staging-guard", [group])]


def test_error_faults_answer_500_or_503_and_botocore_sees_them_as_retryable(endpoint, faults):
    sns = no_retries(endpoint, "sns")
    topic = client(endpoint, "sns").create_topic(Name="faulty")["TopicArn"]
    faults([
        {"operation": "Publish", "kind": "error", "count": 1},
        {"operation": "Publish", "kind": "error", "status": 503, "count": 1},
    ])
    codes = []
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            sns.publish(TopicArn=topic, Message="x")
        codes.append((raised.value.response["Error"]["Code"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]))
    assert codes == [("InternalFailure", 500), ("ServiceUnavailable", 503)]
    sns.publish(TopicArn=topic, Message="passes")
    status, published = control(endpoint, "GET", f"sns/published?topic={topic}")
    assert [p["message"] for p in published] == ["passes"], "a failed publish reached nothing"
    # With its default retries, botocore retries both kinds and gets through.
    faults([{"operation": "Publish", "kind": "error", "count": 1}, {"operation": "Publish", "kind": "throttle", "count": 1}])
    client(endpoint, "sns").publish(TopicArn=topic, Message="retried")
    assert fault_state(endpoint)["injected"] == 2


def test_a_share_of_calls_fails_reproducibly_for_a_seed(endpoint, faults):
    asg = no_retries(endpoint, "autoscaling")

    def pattern(seed: int) -> list[bool]:
        faults([{"operation": "DescribeLifecycleHooks", "kind": "error", "share": 0.3}], seed=seed)
        failed = []
        for _ in range(40):
            try:
                asg.describe_lifecycle_hooks(AutoScalingGroupName="none")
                failed.append(False)
            except ClientError:
                failed.append(True)
        assert fault_state(endpoint)["rules"][0]["injected"] == sum(failed)
        return failed

    first = pattern(11)
    assert 4 <= sum(first) <= 20, first
    assert pattern(11) == first, "the same seed, the same faults"
    assert pattern(12) != first


def test_a_slow_call_does_not_hold_up_the_others(endpoint, faults):
    import threading

    asg, ec2 = no_retries(endpoint, "autoscaling"), no_retries(endpoint, "ec2")
    faults([{"operation": "DescribeAutoScalingGroups", "kind": "latency", "latency_ms": 1500, "count": 1}])
    slow: dict[str, float] = {}

    def call_slow() -> None:
        started = time.monotonic()
        asg.describe_auto_scaling_groups()
        slow["took"] = time.monotonic() - started

    thread = threading.Thread(target=call_slow)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    ec2.describe_instances()
    asg.describe_lifecycle_hooks(AutoScalingGroupName="none")
    others = time.monotonic() - started
    assert "took" not in slow, "the slow call is still sleeping"
    thread.join()
    assert slow["took"] >= 1.4
    assert others < 1.0, f"other calls were answered meanwhile ({others:.2f} s)"
    (rule,) = fault_state(endpoint)["rules"]
    assert (rule["kind"], rule["injected"], rule["latency_ms"]) == ("latency", 1, 1500)


def test_skip_and_any_operation_and_clearing(endpoint, faults):
    asg = no_retries(endpoint, "autoscaling")
    faults([{"operation": "*", "service": "autoscaling", "kind": "throttle", "count": 1, "skip": 1}])
    asg.describe_auto_scaling_groups()  # skipped
    with pytest.raises(ClientError):
        asg.describe_lifecycle_hooks(AutoScalingGroupName="none")
    status, state = control(endpoint, "DELETE", "faults")
    assert (status, state["rules"]) == (200, [])
    asg.describe_auto_scaling_groups()
    for bad in (
        {"rules": [{"operation": "X", "kind": "boom", "count": 1}]},
        {"rules": [{"operation": "X", "kind": "error", "count": 1, "share": 0.5}]},
        {"rules": [{"operation": "X", "kind": "latency", "count": 1}]},
        {"rules": [{"operation": "X", "kind": "error", "share": 2}]},
        {"rules": [{"operation": "X", "kind": "throttle", "count": 1, "status": 503}]},
        {"rules": [], "nope": 1},
    ):
        assert control(endpoint, "POST", "faults", bad)[0] == 400, bad


def test_cloudwatch_over_cbor_is_throttled_in_its_own_shape(endpoint, faults):
    faults([{"operation": "PutMetricData", "kind": "throttle", "count": 1}])
    params = {"Namespace": "ScalingGuard", "MetricData": [{"MetricName": "X", "Value": 1.0}]}
    status, headers, error = cbor_call(endpoint, "PutMetricData", params)
    assert (status, error["__type"]) == (400, "Throttling")
    assert headers["x-amzn-query-error"] == "Throttling;Sender"
    assert cbor_call(endpoint, "PutMetricData", params)[0] == 200


def ended(endpoint: str, group: str) -> list[dict]:
    status, body = control(endpoint, "GET", f"lifecycle-actions/ended?group={group}")
    assert status == 200
    return body


def test_ended_actions_say_how_each_ended(endpoint, asg, make_group):
    group = make_group(desired=3, default_result="CONTINUE")
    first, second, third = actions(endpoint, group)
    complete(asg, group, "ABANDON", LifecycleActionToken=first["token"])
    assert control(endpoint, "POST", f"lifecycle-actions/{second['token']}/timeout")[0] == 200
    client(endpoint, "ec2").terminate_instances(InstanceIds=[third["instance_id"]])
    records = ended(endpoint, group)
    by_token = {r["token"]: r for r in records}
    assert (by_token[first["token"]]["by"], by_token[first["token"]]["result"]) == ("CompleteLifecycleAction", "ABANDON")
    assert (by_token[second["token"]]["by"], by_token[second["token"]]["result"]) == ("heartbeat_timeout", "CONTINUE")
    assert (by_token[third["token"]]["by"], by_token[third["token"]]["result"]) == ("instance_left", None)
    record = by_token[first["token"]]
    assert record["heartbeat_timeout"] == 300
    assert 0 <= record["seconds"] < 30 and record["launched"] <= record["ended"]
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)


def test_enforced_heartbeat_timeouts_apply_the_default_result(endpoint, asg, world):
    name = f"nodes-{uuid.uuid4().hex[:8]}"
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": world["template"], "Version": "$Latest"},
        MinSize=0, MaxSize=5, DesiredCapacity=2, VPCZoneIdentifier=world["subnet"],
        LifecycleHookSpecificationList=[{
            "LifecycleHookName": HOOK, "LifecycleTransition": LAUNCHING,
            "HeartbeatTimeout": 1, "DefaultResult": "CONTINUE",
        }],
    )
    kept, lapsed = actions(endpoint, name)
    assert control(endpoint, "POST", "heartbeat-timeouts", {"enforce": True}) == (200, {"enforce": True})
    try:
        time.sleep(0.6)
        asg.record_lifecycle_action_heartbeat(
            AutoScalingGroupName=name, LifecycleHookName=HOOK, LifecycleActionToken=kept["token"]
        )
        time.sleep(0.6)
        assert [a["token"] for a in actions(endpoint, name)] == [kept["token"]], "the heartbeat kept it"
        time.sleep(0.6)
        assert actions(endpoint, name) == []
    finally:
        control(endpoint, "POST", "heartbeat-timeouts", {"enforce": False})
    assert {(r["token"], r["by"], r["result"]) for r in ended(endpoint, name)} == {
        (kept["token"], "heartbeat_timeout", "CONTINUE"), (lapsed["token"], "heartbeat_timeout", "CONTINUE"),
    }
    assert set(instances(asg, name).values()) == {"InService"}
    assert control(endpoint, "POST", "heartbeat-timeouts", {"enforce": "yes"})[0] == 400


# --- SSM public parameters, launch template settings on volumes ------------------

EKS_AMI = "/aws/service/eks/optimized-ami/1.30/amazon-linux-2023/x86_64/standard/recommended/image_id"
BOTTLEROCKET_AMI = "/aws/service/bottlerocket/aws-k8s-1.30/x86_64/latest/image_id"


def test_seeded_public_parameters_are_answered_by_get_parameters(endpoint):
    ssm = client(endpoint, "ssm")
    unknown = "/aws/service/eks/optimized-ami/1.30/amazon-linux-2023/arm64/standard/recommended/image_id"
    # moto knows none of them, and refuses PutParameter under /aws as AWS does.
    assert ssm.get_parameters(Names=[EKS_AMI])["InvalidParameters"] == [EKS_AMI]
    with pytest.raises(ClientError) as raised:
        ssm.put_parameter(Name=EKS_AMI, Value="ami-0123456789abcdef0", Type="String")
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"

    status, body = control(endpoint, "POST", "ssm/public-parameters", {
        "parameters": {EKS_AMI: "ami-0123456789abcdef0", BOTTLEROCKET_AMI: "ami-0fedcba9876543210"},
    })
    assert status == 200, body
    assert [(p["name"], p["version"], p["region"]) for p in body] == [(EKS_AMI, 1, REGION), (BOTTLEROCKET_AMI, 1, REGION)]
    assert body[0]["arn"] == f"arn:aws:ssm:{REGION}::parameter{EKS_AMI}", "AWS's own: no account in the ARN"

    answer = ssm.get_parameters(Names=[EKS_AMI, unknown, BOTTLEROCKET_AMI])
    assert answer["InvalidParameters"] == [unknown]
    found = {p["Name"]: p for p in answer["Parameters"]}
    assert {name: p["Value"] for name, p in found.items()} == {
        EKS_AMI: "ami-0123456789abcdef0", BOTTLEROCKET_AMI: "ami-0fedcba9876543210",
    }
    assert (found[EKS_AMI]["Type"], found[EKS_AMI]["DataType"], found[EKS_AMI]["Version"]) == ("String", "text", 1)
    assert ssm.get_parameter(Name=BOTTLEROCKET_AMI)["Parameter"]["Value"] == "ami-0fedcba9876543210"
    assert client(endpoint, "ssm").get_parameters(Names=[EKS_AMI])["Parameters"][0]["ARN"].endswith(EKS_AMI)

    # Seeding again publishes a new version, as AWS does for a new recommended image.
    status, body = control(endpoint, "POST", "ssm/public-parameters", {"parameters": {EKS_AMI: "ami-0aaaaaaaaaaaaaaa1"}})
    assert (status, body[0]["version"]) == (200, 2)
    (latest,) = ssm.get_parameters(Names=[EKS_AMI])["Parameters"]
    assert (latest["Value"], latest["Version"]) == ("ami-0aaaaaaaaaaaaaaa1", 2)
    # Other regions are separate, as on AWS.
    other = boto3.client("ssm", endpoint_url=endpoint, region_name="eu-west-1")
    assert other.get_parameters(Names=[EKS_AMI])["InvalidParameters"] == [EKS_AMI]

    for bad in (
        {"parameters": {"/my/own": "x"}},
        {"parameters": {EKS_AMI: ""}},
        {"parameters": {}},
        {"parameters": {EKS_AMI: "x"}, "region": "nowhere-1"},
        {"parameters": {EKS_AMI: "x"}, "nope": 1},
    ):
        assert control(endpoint, "POST", "ssm/public-parameters", bad)[0] == 400, bad


def test_get_parameters_over_json_1_1_like_the_rust_sdk(endpoint):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    name = "/aws/service/bottlerocket/aws-k8s-1.30/arm64/latest/image_id"
    assert control(endpoint, "POST", "ssm/public-parameters", {"parameters": {name: "ami-0bbbbbbbbbbbbbbb2"}})[0] == 200
    missing = "/aws/service/bottlerocket/aws-k8s-1.29/arm64/latest/image_id"
    request = AWSRequest(
        method="POST",
        url=f"{endpoint}/",
        data=json.dumps({"Names": [name, missing]}).encode(),
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.GetParameters"},
    )
    SigV4Auth(Credentials("testing", "testing"), "ssm", REGION).add_auth(request)
    prepared = urllib.request.Request(request.url, data=request.body, headers=dict(request.headers), method="POST")
    with urllib.request.urlopen(prepared, timeout=10) as response:
        answer = json.loads(response.read())
    assert [(p["Name"], p["Value"]) for p in answer["Parameters"]] == [(name, "ami-0bbbbbbbbbbbbbbb2")]
    assert answer["InvalidParameters"] == [missing]


def test_group_instances_carry_the_templates_key_hop_limit_and_encrypted_root_volume(endpoint, ec2, asg, world):
    key = client(endpoint, "kms").create_key()["KeyMetadata"]["Arn"]
    ec2.create_key_pair(KeyName="ops-break-glass")
    # RegisterImage keeps Architecture and RootDeviceName (moto dropped both).
    image = ec2.register_image(Name="bottlerocket-arm64", Architecture="arm64", RootDeviceName="/dev/xvda")["ImageId"]
    (described,) = ec2.describe_images(ImageIds=[image])["Images"]
    assert (described["Architecture"], described["RootDeviceName"]) == ("arm64", "/dev/xvda")
    template = ec2.create_launch_template(
        LaunchTemplateName=f"encrypted-{uuid.uuid4().hex[:8]}",
        LaunchTemplateData={
            "ImageId": image,
            "InstanceType": "m7g.large",
            "KeyName": "ops-break-glass",
            "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2},
            "BlockDeviceMappings": [
                {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 50, "VolumeType": "gp3", "Encrypted": True, "KmsKeyId": key}},
                {"DeviceName": "/dev/xvdb", "Ebs": {"VolumeSize": 20, "Encrypted": True, "KmsKeyId": key}},
            ],
        },
    )["LaunchTemplate"]["LaunchTemplateId"]
    group = f"encrypted-{uuid.uuid4().hex[:8]}"
    asg.create_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        MinSize=0, MaxSize=2, DesiredCapacity=1, VPCZoneIdentifier=world["subnet"],
    )
    (instance_id,) = instances(asg, group)
    (reservation,) = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    instance = reservation["Instances"][0]
    assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["KeyName"] == "ops-break-glass"
    assert instance["RootDeviceName"] == "/dev/xvda"
    mapped = {m["DeviceName"]: m["Ebs"]["VolumeId"] for m in instance["BlockDeviceMappings"]}
    assert sorted(mapped) == ["/dev/xvda", "/dev/xvdb"], "the template's root mapping replaced moto's default root"
    volumes = ec2.describe_volumes(VolumeIds=list(mapped.values()))["Volumes"]
    assert {(v["Encrypted"], v["KmsKeyId"]) for v in volumes} == {(True, key)}
    assert {v["Size"] for v in volumes} == {50, 20}
    attached = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}])["Volumes"]
    assert sorted(v["VolumeId"] for v in attached) == sorted(mapped.values()), "no unencrypted leftover"

    # Without a mapping of the root device, the default root is at the image's root device.
    (plain,) = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"]
    (reservation,) = ec2.describe_instances(InstanceIds=[plain["InstanceId"]])["Reservations"]
    (root,) = reservation["Instances"][0]["BlockDeviceMappings"]
    assert root["DeviceName"] == "/dev/xvda"
    (volume,) = ec2.describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])["Volumes"]
    assert volume["Encrypted"] is False


def test_instance_tags_are_looked_up_by_id_with_the_same_answer_as_describe_tags(ec2, world):
    """The tag lookup patch (ec2_ext._patch_tag_lookup): each instance's tags,
    and the tag filters of DescribeInstances, answer as moto's table scan
    did."""
    key = f"kubernetes.io/cluster/tags-{uuid.uuid4().hex[:8]}"
    run = ec2.run_instances(
        ImageId=world["image"], MinCount=3, MaxCount=3, SubnetId=world["subnet"],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": key, "Value": "owned"}, {"Key": "b", "Value": "2"}]}],
    )
    ids = sorted(i["InstanceId"] for i in run["Instances"])
    ec2.create_tags(Resources=[ids[0]], Tags=[{"Key": "a", "Value": "1"}])
    ec2.delete_tags(Resources=[ids[1]], Tags=[{"Key": "b"}])
    described = {
        i["InstanceId"]: i.get("Tags", [])
        for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
        for i in r["Instances"]
    }
    for instance_id in ids:
        listed = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance_id]}])["Tags"]
        assert described[instance_id] == [{"Key": t["Key"], "Value": t["Value"]} for t in listed]
    assert {t["Key"] for t in described[ids[0]]} == {key, "b", "a"}
    assert {t["Key"] for t in described[ids[1]]} == {key}
    by_key = ec2.describe_instances(Filters=[{"Name": "tag-key", "Values": [key]}])["Reservations"]
    assert sorted(i["InstanceId"] for r in by_key for i in r["Instances"]) == ids
    by_value = ec2.describe_instances(Filters=[{"Name": "tag:b", "Values": ["2"]}, {"Name": "tag-key", "Values": [key]}])
    assert sorted(i["InstanceId"] for r in by_value["Reservations"] for i in r["Instances"]) == [ids[0], ids[2]]


def test_describe_instances_is_paged_by_instance_and_unpaged_without_max_results(ec2, world):
    """fast_instances.page_by_instance: EC2 pages DescribeInstances by
    instance (moto paged by reservation); one reservation of 25 is split
    across pages of 10, each page naming the reservation."""
    key = f"paged-{uuid.uuid4().hex[:8]}"
    run = ec2.run_instances(
        ImageId=world["image"], MinCount=25, MaxCount=25, SubnetId=world["subnet"],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": key, "Value": "1"}]}],
    )
    launched = [i["InstanceId"] for i in run["Instances"]]
    tagged = [{"Name": "tag-key", "Values": [key]}]
    pages, token = [], None
    while True:
        page = ec2.describe_instances(Filters=tagged, MaxResults=10, **({"NextToken": token} if token else {}))
        pages.append(page)
        token = page.get("NextToken")
        if not token:
            break
    sizes = [sum(len(r["Instances"]) for r in page["Reservations"]) for page in pages]
    assert sizes == [10, 10, 5]
    assert {r["ReservationId"] for page in pages for r in page["Reservations"]} == {run["ReservationId"]}
    paged = [i["InstanceId"] for page in pages for r in page["Reservations"] for i in r["Instances"]]
    assert sorted(paged) == sorted(launched) and len(set(paged)) == 25
    whole = ec2.describe_instances(Filters=tagged)
    assert "NextToken" not in whole
    assert [i["InstanceId"] for r in whole["Reservations"] for i in r["Instances"]] == paged


@pytest.fixture
def in_process():
    """moto in this process (not the server), with the extensions installed:
    for tests that reach into the renderer."""
    sys.path.insert(0, str(SERVER.parent.parent))
    import emulator
    from moto import mock_aws

    emulator.install()
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def varied_fleet(ec2) -> list[str]:
    """Instances in most of the shapes the tests and the functions create."""
    iam = boto3.client("iam", region_name=REGION)
    profile = iam.create_instance_profile(InstanceProfileName="nodes")["InstanceProfile"]["Arn"]
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    groups = [ec2.create_security_group(GroupName=f"g{n}", Description="d", VpcId=vpc)["GroupId"] for n in (1, 2)]
    ec2.create_key_pair(KeyName="ops")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    template = hardened_template(ec2, "nodes", image, profile, threads_per_core=2)
    tags = [{"Key": "kubernetes.io/cluster/c", "Value": "owned"}, {"Key": "odd <&> \"'", "Value": "a & <b>"}]
    runs = [
        ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2),
        ec2.run_instances(
            ImageId=image, MinCount=3, MaxCount=3, SubnetId=subnet, SecurityGroupIds=groups, KeyName="ops",
            InstanceType="c7g.xlarge", TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
            BlockDeviceMappings=[{"DeviceName": "/dev/xvdb", "Ebs": {"VolumeSize": 20, "Encrypted": True}}],
            Monitoring={"Enabled": True},
        ),
        ec2.run_instances(MinCount=2, MaxCount=2, SubnetId=subnet, LaunchTemplate={"LaunchTemplateId": template}),
        ec2.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet, CpuOptions={"CoreCount": 2, "ThreadsPerCore": 1},
            MetadataOptions={"HttpTokens": "optional", "HttpEndpoint": "disabled"},
            IamInstanceProfile={"Arn": profile},
        ),
    ]
    ids = [i["InstanceId"] for run in runs for i in run["Instances"]]
    ec2.stop_instances(InstanceIds=[ids[0]])
    ec2.terminate_instances(InstanceIds=[ids[1]])
    ec2.create_tags(Resources=[ids[2]], Tags=[{"Key": "scaling-guard/decision", "Value": "admitted"}])
    ec2.modify_instance_metadata_options(InstanceId=ids[3], HttpTokens="required")
    ec2.modify_instance_attribute(InstanceId=ids[4], Groups=groups[:1])
    return ids


def test_fast_rendering_is_byte_for_byte_moto_rendering_for_a_varied_fleet(in_process, monkeypatch):
    """fast_instances.Renderer against moto's serializer, compared by the
    emulator itself (every page is verified here: VERIFY_LIMIT raised)."""
    from emulator import fast_instances

    ids = varied_fleet(in_process)
    monkeypatch.setattr(fast_instances, "VERIFY_LIMIT", 10_000)
    rendered = []
    monkeypatch.setattr(fast_instances.Renderer, "document", _recording(fast_instances.Renderer.document, rendered))
    whole = in_process.describe_instances()
    assert len(rendered) == 1  # the fast renderer answered (and matched moto's)
    described = {i["InstanceId"]: i for r in whole["Reservations"] for i in r["Instances"]}
    assert set(described) == set(ids)
    assert described[ids[0]]["State"]["Name"] == "stopped"
    assert {"Key": "odd <&> \"'", "Value": "a & <b>"} in described[ids[2]]["Tags"]
    assert described[ids[5]]["MetadataOptions"]["HttpTokens"] == "required"
    assert described[ids[5]]["CpuOptions"] == {"CoreCount": 1, "ThreadsPerCore": 2}
    for page_size in (5, 1000):  # paged answers too
        token, pages = None, 0
        while True:
            page = in_process.describe_instances(MaxResults=page_size, **({"NextToken": token} if token else {}))
            pages, token = pages + 1, page.get("NextToken")
            if not token:
                break
        assert pages == (2 if page_size == 5 else 1)  # 8 instances
    assert len(rendered) == 1 + 2 + 1


def _recording(method, calls: list):
    def record(self, *args):
        calls.append(1)
        return method(self, *args)

    return record


def test_a_fast_rendering_that_differs_from_motos_is_an_error_not_an_answer(in_process, monkeypatch):
    """The check the test suite relies on: a page of at most VERIFY_LIMIT
    instances whose fast rendering differs from moto's is refused."""
    from emulator import fast_instances

    varied_fleet(in_process)
    original = fast_instances.Renderer.document
    monkeypatch.setattr(
        fast_instances.Renderer, "document", lambda self, result: original(self, result).replace("running", "runnin")
    )
    with pytest.raises(Exception, match="differs from moto's"):
        in_process.describe_instances()


# --- managed instances and the account's managed-resource visibility ----------


@pytest.fixture
def hidden_managed(endpoint, ec2):
    """The account's managed-resource visibility `hidden` for the test, then
    `visible` again (the emulator is shared by the session's tests)."""
    answer = ec2.modify_managed_resource_visibility(DefaultVisibility="hidden")
    assert answer["Visibility"] == {"DefaultVisibility": "hidden"}
    try:
        yield
    finally:
        ec2.modify_managed_resource_visibility(DefaultVisibility="visible")


def described(ec2, **request) -> dict[str, dict]:
    return {
        i["InstanceId"]: i
        for page in ec2.get_paginator("describe_instances").paginate(**request)
        for r in page["Reservations"]
        for i in r["Instances"]
    }


def test_hidden_managed_instances_are_listed_only_with_include_managed_resources(endpoint, ec2, world, hidden_managed):
    # Given: an Auto Mode-style node pool of two managed instances beside a plain one, visibility hidden.
    tag = {"Key": "kubernetes.io/cluster/auto", "Value": "owned"}
    run = ec2.run_instances(
        ImageId=world["image"], MinCount=3, MaxCount=3, SubnetId=world["subnet"],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [tag]}],
    )
    plain, *managed = [i["InstanceId"] for i in run["Instances"]]
    status, marked = control(endpoint, "POST", "managed-instances", {"instance_ids": managed, "principal": "eks.amazonaws.com"})
    assert status == 200, marked
    assert [m["instance_id"] for m in marked] == managed
    assert ec2.get_managed_resource_visibility()["Visibility"] == {"DefaultVisibility": "hidden"}
    by_tag = {"Filters": [{"Name": "tag-key", "Values": [tag["Key"]]}]}

    # Without the flag: absent, by filter, by id and by id filter alike.
    assert set(described(ec2, **by_tag)) == {plain}
    assert set(described(ec2, **by_tag, MaxResults=5)) == {plain}
    assert described(ec2, InstanceIds=managed) == {}
    assert described(ec2, Filters=[{"Name": "instance-id", "Values": managed}]) == {}

    # With it: present, with their Operator; the plain instance shows none.
    shown = described(ec2, **by_tag, IncludeManagedResources=True, MaxResults=5)
    assert set(shown) == {plain, *managed}
    for instance_id in managed:
        assert shown[instance_id]["Operator"] == {"Managed": True, "Principal": "eks.amazonaws.com", "HiddenByDefault": True}
    assert "Operator" not in shown[plain]
    assert set(described(ec2, InstanceIds=managed, IncludeManagedResources=True)) == set(managed)

    # Visibility `visible`: listed without the flag, no longer hidden by default.
    ec2.modify_managed_resource_visibility(DefaultVisibility="visible")
    shown = described(ec2, **by_tag)
    assert set(shown) == {plain, *managed}
    assert shown[managed[0]]["Operator"]["HiddenByDefault"] is False


def test_managed_marking_and_visibility_refuse_bad_input(endpoint, ec2):
    status, answer = control(endpoint, "POST", "managed-instances", {"instance_ids": ["i-00000000000000000"]})
    assert (status, answer) == (404, {"error": "no instance i-00000000000000000"})
    status, answer = control(endpoint, "POST", "managed-instances", {"instance_ids": []})
    assert status == 400, answer
    with pytest.raises(ClientError) as refused:
        ec2.modify_managed_resource_visibility(DefaultVisibility="sometimes")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert ec2.get_managed_resource_visibility()["Visibility"] == {"DefaultVisibility": "visible"}
