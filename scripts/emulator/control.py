"""The test harness's control endpoint (not an AWS API), under `/_scaling_guard/`,
for what moto cannot do through the AWS API. Everything else goes to moto.

    GET  /_scaling_guard/lifecycle-actions[?group=NAME]
         -> 200 [{token, group, hook, instance_id, transition,
                  notification_metadata, account, region, time, origin, destination}]
    POST /_scaling_guard/lifecycle-actions/<token>/timeout
         -> 200 {token, instance_id, result}   (the hook's DefaultResult, applied
                                                 as when the heartbeat times out)
    POST /_scaling_guard/groups/<name>/warm-pool/launch
         body {"count": N, "region": optional}
         -> 200 ["i-...", ...]   (the ids of the instances launched into the
            group's warm pool, not into its Instances; with launch hooks each
            waits in `Warmed:Pending:Wait` with one action per hook, origin
            "EC2", destination "WarmPool"; without, it is `Warmed:<PoolState>`
            at once)
    POST /_scaling_guard/groups/<name>/warm-pool/enter
         body {"instance_id": ID, "region": optional}
         -> 200 {"instance_id", "lifecycle_state"}   (a warmed pool instance
            moved into the group, as a scale-out does: `Pending:Wait` with one
            action per launch hook, origin "WarmPool", destination
            "AutoScalingGroup"; `InService` without hooks)
         Both answer 404 for an unknown group (or pool instance) and 409 when
         the group has no warm pool, its `Launch` process is suspended, the
         instance still waits, or the group is at its MaxSize.
    POST /_scaling_guard/images/<ami-id>
         body {"creation_date": ISO-8601, "deprecation_time": ISO-8601 | null,
               "region": optional, default every region that has the image}
         -> 200 [{image_id, account, region, creation_date, deprecation_time}]

    POST /_scaling_guard/ssm/public-parameters
         body {"parameters": {"/aws/service/...": "value", ...},
               "region": optional, default "us-east-1"}
         -> 200 [{name, value, version, region, arn}]   (stored as AWS's own
            public parameters in moto's SSM backend of the default account:
            GetParameter(s) answer them; seeding a name again adds a version)

    POST /_scaling_guard/managed-instances
         body {"instance_ids": ["i-...", ...], "principal": "eks.amazonaws.com"}
         -> 200 [{instance_id, account, region, principal}]   (the instances
            become EC2 managed instances of that service, as EKS Auto Mode's
            nodes are: DescribeInstances shows their Operator and, while the
            account's managed-resource visibility is `hidden`, leaves them out
            unless IncludeManagedResources=true; 404 for an unknown id, and
            then nothing is marked)

    GET  /_scaling_guard/lifecycle-actions/ended[?group=NAME]
         -> 200 [{token, group, hook, instance_id, destination, by, result,
                  launched, ended, seconds, heartbeat_timeout, seq}]
            (how each action ended, in order: `by` is "CompleteLifecycleAction",
             "heartbeat_timeout" (the hook's DefaultResult, from the endpoint
             above or an enforced timeout) or "instance_left" (terminated,
             detached, ... otherwise; `result` null); times are epoch seconds,
             `seq` orders it among the requests of /requests)
    POST /_scaling_guard/heartbeat-timeouts
         body {"enforce": true|false}
         -> 200 {"enforce": bool}   (on: an action whose hook's HeartbeatTimeout
            passed since its launch or last RecordLifecycleActionHeartbeat gets
            the hook's DefaultResult, as on AWS; checked at every request.
            Off by default: nothing times out on its own)

    POST   /_scaling_guard/faults
           body {"rules": [{"operation": NAME | "*", "kind": "throttle" | "error" | "latency",
                            "count": N | "share": 0..1, "service": optional,
                            "skip": optional N, "latency_ms": N | [LOW, HIGH],
                            "latency_per_result_ms": optional N (x MaxResults),
                            "account": optional ID, "region": optional NAME,
                            "status": 500 | 503 (error only)}, ...],
                 "seed": N}
           -> 200 the state below (replaces the rules, restarts the RNG)
    GET    /_scaling_guard/faults
           -> 200 {"seed", "injected", "rules": [{...rule, "matched", "injected"}]}
    DELETE /_scaling_guard/faults -> 200 the (empty) state
           (see faults.py: the service's own throttling error or a 5xx, or a
            delay, per operation; a delayed call sleeps outside the lock below)
    GET    /_scaling_guard/requests[?operation=NAME]
           -> 200 [{seq, done_seq, service, operation, fault, rule, status,
                    received, answered, targets, caller}]   (every AWS request,
                    in order; targets: the groups and instances it names;
                    caller: the access key id that signed it)
    DELETE /_scaling_guard/requests -> 200 []

    POST   /_scaling_guard/sts/checked-accounts
           body {"accounts": ["111111111111", ...]}
           -> 200 {"accounts": [...]}   (in those accounts AssumeRole answers
              AccessDenied unless the role exists there, with the ExternalId
              its trust policy requires: sts_ext.py; elsewhere any AssumeRole
              succeeds, as in moto)

    GET  /_scaling_guard/events
         -> 200 [{detail_type, detail, bus, problems}]   (every PutEvents entry of
            source scaling-guard, in order, with what its schema in
            schemas/events finds wrong: events_ext.py)
    GET  /_scaling_guard/events/invalid
         -> 200 the same, only the entries with problems
    GET  /_scaling_guard/events/refused
         -> 200 [{sender, bus, detail_type, detail}]   (events another account
            forwarded to a bus whose policy refused them: bus_policy_ext.py)
    POST /_scaling_guard/organizations
         body {"management": "111111111111", "accounts": ["hub", "member-a"]}
         -> 200 {"id": "o-...", "accounts": ["<id>", ...]}   (CreateOrganization
            by management, one CreateAccount per name: bus_policy_ext.py)

    GET  /_scaling_guard/sns/published?topic=ARN
         -> 200 [{message_id, subject, message, attributes}]   (every Publish to
            the topic as SNS received it: with MessageStructure json, `message`
            is the whole structure, so the `email` body an e-mail subscriber
            would get is readable although moto sends no e-mail)

Errors answer {"error": message} with 400 (bad request), 404 (unknown) or
409 (not possible in the group's current state).

All requests (AWS and control) are served one at a time: moto's backends are
not thread-safe, and the end-to-end tests fire concurrent launch decisions.
Injected faults are decided before that lock is taken: a delayed call sleeps
without holding up the others, an injected error never reaches moto.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any, Callable, Iterable

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.sns.models import sns_backends
from moto.ec2.utils import format_timestamp
from werkzeug.wrappers import Request, Response

from . import autoscaling_ext, bus_policy_ext, cloudwatch_cbor, ec2_ext, events_ext, faults, managed_ext, ssm_ext, sts_ext

PREFIX = "/_scaling_guard/"


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def list_actions(request: Request) -> list[dict[str, Any]]:
    group = request.args.get("group")
    return [
        dataclasses.asdict(action)
        for backend in autoscaling_ext.loaded_backends()
        for action in autoscaling_ext.active_actions(backend)
        if group is None or action.group == group
    ]


def ended_actions(request: Request) -> list[dict[str, Any]]:
    group = request.args.get("group")
    for backend in autoscaling_ext.loaded_backends():
        autoscaling_ext.active_actions(backend)  # records the actions forgotten meanwhile
    ended = [
        record
        for backend in autoscaling_ext.loaded_backends()
        for record in autoscaling_ext.ended_actions(backend)
        if group is None or record["group"] == group
    ]
    return sorted(ended, key=lambda r: (r["seq"] is None, r["seq"] or 0, r["ended"]))


def heartbeat_timeouts(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or set(body) != {"enforce"} or not isinstance(body["enforce"], bool):
        raise ControlError(400, 'the body must be {"enforce": true|false}')
    autoscaling_ext.ENFORCE_HEARTBEAT_TIMEOUTS["on"] = body["enforce"]
    return {"enforce": body["enforce"]}


def time_out_action(token: str) -> dict[str, Any]:
    for backend in autoscaling_ext.loaded_backends():
        for action in autoscaling_ext.active_actions(backend):
            if action.token == token:
                result = autoscaling_ext.time_out(backend, action)
                return {"token": token, "instance_id": action.instance_id, "result": result}
    raise ControlError(404, f"no active lifecycle action with token {token}")


def find_group(name: str, region: str | None) -> Any:
    """The group named `name` in the first account and region that has one
    (or in `region` only)."""
    for backend in autoscaling_ext.loaded_backends():
        if region is not None and backend.region_name != region:
            continue
        group = backend.autoscaling_groups.get(name)
        if group is not None:
            return group
    raise ControlError(404, f"no group {name}")


def warm_pool(name: str, verb: str, body: dict[str, Any]) -> Any:
    expected = {"launch": {"count", "region"}, "enter": {"instance_id", "region"}}[verb]
    unknown = set(body) - expected
    if unknown:
        raise ControlError(400, f"unknown keys: {sorted(unknown)}")
    group = find_group(name, body.get("region"))
    try:
        if verb == "launch":
            count = body.get("count", 1)
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise ControlError(400, "`count` must be a positive integer")
            return autoscaling_ext.warm_pool_launch(group, count)
        instance_id = body.get("instance_id")
        if not isinstance(instance_id, str) or not instance_id:
            raise ControlError(400, "the body needs `instance_id`")
        state = autoscaling_ext.warm_pool_enter(group, instance_id)
        return {"instance_id": instance_id, "lifecycle_state": state}
    except autoscaling_ext.Refused as refused:
        raise ControlError(refused.status, refused.message) from None


def update_image(image_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    unknown = set(body) - {"creation_date", "deprecation_time", "region"}
    if unknown:
        raise ControlError(400, f"unknown keys: {sorted(unknown)}")
    if "region" in body:  # load the region's backend (moto creates them on first use)
        try:
            ec2_backends[DEFAULT_ACCOUNT_ID][body["region"]]
        except KeyError as error:
            raise ControlError(400, f"unknown region {body['region']}") from error
    updated = []
    for account, per_region in list(ec2_backends.items()):
        for region, backend in list(per_region.items()):
            ami = backend.amis.get(image_id)
            if ami is None or body.get("region", region) != region:
                continue
            try:
                ec2_ext.set_image_dates(ami, body)
            except (TypeError, ValueError) as error:
                raise ControlError(400, f"bad timestamp: {error}") from error
            updated.append(
                {
                    "image_id": image_id,
                    "account": account,
                    "region": region,
                    "creation_date": format_timestamp(ami.creation_date),
                    "deprecation_time": ami.deprecation_time,
                }
            )
    if not updated:
        raise ControlError(404, f"no image {image_id}")
    return updated


def seed_public_parameters(body: dict[str, Any]) -> list[dict[str, Any]]:
    unknown = set(body) - {"parameters", "region"}
    if unknown:
        raise ControlError(400, f"unknown keys: {sorted(unknown)}")
    parameters, region = body.get("parameters"), body.get("region", "us-east-1")
    if not isinstance(parameters, dict) or not parameters:
        raise ControlError(400, "`parameters` must be a non-empty object {name: value}")
    for name, value in parameters.items():
        if not name.startswith(ssm_ext.PUBLIC_PREFIX):
            raise ControlError(400, f"`{name}` is not a public parameter name ({ssm_ext.PUBLIC_PREFIX}...)")
        if not isinstance(value, str) or not value:
            raise ControlError(400, f"the value of `{name}` must be a non-empty string")
    if not isinstance(region, str):
        raise ControlError(400, "`region` must be a string")
    try:
        ec2_backends[DEFAULT_ACCOUNT_ID][region]
    except KeyError:
        raise ControlError(400, f"unknown region {region}") from None
    return [ssm_ext.seed(region, name, value) for name, value in parameters.items()]


def mark_managed(body: dict[str, Any]) -> list[dict[str, Any]]:
    unknown = set(body) - {"instance_ids", "principal"}
    if unknown:
        raise ControlError(400, f"unknown keys: {sorted(unknown)}")
    ids, principal = body.get("instance_ids"), body.get("principal", "eks.amazonaws.com")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise ControlError(400, "`instance_ids` must be a non-empty list of instance ids")
    if not isinstance(principal, str) or not principal:
        raise ControlError(400, "`principal` must be a non-empty string")
    try:
        return managed_ext.mark_managed(ids, principal)
    except managed_ext.NotFound as missing:
        raise ControlError(404, f"no instance {missing}") from None


def published(request: Request) -> list[dict[str, Any]]:
    topic = request.args.get("topic")
    if not topic:
        raise ControlError(400, "the query needs `topic=<topic arn>`")
    parts = topic.split(":")
    if len(parts) < 6:
        raise ControlError(400, f"`{topic}` is not a topic arn")
    region, account = parts[3], parts[4]
    try:
        found = sns_backends[account][region].topics[topic]
    except KeyError:
        raise ControlError(404, f"no topic `{topic}`") from None
    return [
        {"message_id": message_id, "subject": subject, "message": message, "attributes": attributes or {}}
        for message_id, message, subject, attributes, _group in found.sent_notifications
    ]


def route(request: Request, app: "EmulatorApp") -> Any:
    parts = request.path[len(PREFIX):].strip("/").split("/")
    if request.method == "GET" and parts == ["lifecycle-actions"]:
        return list_actions(request)
    if request.method == "GET" and parts == ["lifecycle-actions", "ended"]:
        return ended_actions(request)
    if request.method == "POST" and parts == ["heartbeat-timeouts"]:
        return heartbeat_timeouts(request.get_json(force=True, silent=True))
    if request.method == "POST" and parts == ["sts", "checked-accounts"]:
        try:
            return sts_ext.set_checked(request.get_json(force=True, silent=True))
        except ValueError as error:
            raise ControlError(400, str(error)) from error
    if parts == ["faults"]:
        try:
            if request.method == "POST":
                return app.faults.set(request.get_json(force=True, silent=True))
            if request.method == "DELETE":
                return app.faults.clear()
            if request.method == "GET":
                return app.faults.state()
        except faults.BadRules as error:
            raise ControlError(400, str(error)) from None
    if parts == ["requests"] and request.method == "GET":
        return app.journal.list(request.args.get("operation"))
    if parts == ["requests"] and request.method == "DELETE":
        app.journal.clear()
        return []
    if request.method == "POST" and len(parts) == 3 and parts[0] == "lifecycle-actions" and parts[2] == "timeout":
        return time_out_action(parts[1])
    if request.method == "GET" and parts == ["events"]:
        return events_ext.received()
    if request.method == "GET" and parts == ["events", "invalid"]:
        return events_ext.received(invalid_only=True)
    if request.method == "GET" and parts == ["events", "refused"]:
        return bus_policy_ext.refused()
    if request.method == "POST" and parts == ["organizations"]:
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("management"), str):
            raise ControlError(400, "the body must be {management, accounts: [name, ...]}")
        return bus_policy_ext.create_organization(body["management"], list(body.get("accounts", [])))
    if request.method == "GET" and parts == ["sns", "published"]:
        return published(request)
    if (
        request.method == "POST"
        and len(parts) == 4
        and parts[0] == "groups"
        and parts[2] == "warm-pool"
        and parts[3] in ("launch", "enter")
    ):
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            raise ControlError(400, "the body must be a JSON object")
        return warm_pool(parts[1], parts[3], body)
    if request.method == "POST" and parts == ["managed-instances"]:
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            raise ControlError(400, "the body must be a JSON object")
        return mark_managed(body)
    if request.method == "POST" and parts == ["ssm", "public-parameters"]:
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            raise ControlError(400, "the body must be a JSON object")
        return seed_public_parameters(body)
    if request.method == "POST" and len(parts) == 2 and parts[0] == "images":
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            raise ControlError(400, "the body must be a JSON object")
        return update_image(parts[1], body)
    raise ControlError(404, f"no control endpoint {request.method} {request.path}")


class EmulatorApp:
    """WSGI app: the control endpoint in front of moto's app, one request at a time."""

    def __init__(self, moto_app: Callable[..., Iterable[bytes]]):
        self.moto_app = moto_app
        self.lock = threading.Lock()
        self.faults = faults.Faults()
        self.journal = faults.Journal()
        autoscaling_ext.set_sequence(faults.next_seq)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(PREFIX):
            with self.lock:
                self.expire_heartbeats()
                return self.control(environ, start_response)
        # Faults are decided (and slept) before the lock: see faults.serve.
        return faults.serve(environ, start_response, self.faults, self.journal, self.answer)

    def answer(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self.lock:
            self.expire_heartbeats()
            if cloudwatch_cbor.handles(environ):
                return cloudwatch_cbor.call(environ, start_response, self.moto_app)
            body = self.moto_app(environ, start_response)
            try:
                return list(body)  # produce the whole answer while holding the lock
            finally:
                if hasattr(body, "close"):
                    body.close()

    @staticmethod
    def expire_heartbeats() -> None:
        for backend in autoscaling_ext.loaded_backends():
            autoscaling_ext.expire(backend)

    def control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            status, payload = 200, route(request, self)
        except ControlError as error:
            status, payload = error.status, {"error": error.message}
        response = Response(json.dumps(payload), status=status, mimetype="application/json")
        return response(environ, start_response)
