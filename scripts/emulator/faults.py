"""Fault injection per AWS operation, and the journal of AWS requests.

The control endpoint (`control.py`) sets rules; `EmulatorApp` asks `decide`
for every AWS request *before* it takes the emulator's lock, so that a slowed
call sleeps without holding up the others, and an injected error is answered
without reaching moto at all.

A rule names an operation (`"*"`: any) and optionally a service (the SigV4
credential scope's service: `ec2`, `autoscaling`, `sns`, `sqs`, `monitoring`,
...), a kind, and how often it fires:

* `kind`: `throttle` (the service's own throttling error, one the AWS SDKs
  retry: Query protocol `Throttling` with 400, EC2 `RequestLimitExceeded`
  with 503, JSON protocol `ThrottlingException` with 400, CloudWatch over
  CBOR `Throttling` with 400 and the `x-amzn-query-error` header, Security
  Hub (REST-JSON) `LimitExceededException` with 429), `error`
  (a plain 5xx: `status` 500, the default, answers `InternalFailure` — EC2:
  `InternalError` —, 503 answers `ServiceUnavailable` — EC2: `Unavailable`)
  or `latency` (the call is answered normally after `latency_ms`);
* `count` (the next N matching calls) or `share` (each matching call with
  probability `share`, drawn from one RNG seeded by the request's `seed`, so
  the same sequence of calls meets the same faults);
* `skip` (optional): the first N matching calls pass untouched;
* `latency_ms` (optional for `throttle` and `error`; `latency` needs it
  or `latency_per_result_ms`): N, or [LOW, HIGH] for a uniform draw; the
  error is answered after it;
* `latency_per_result_ms` (optional): N more milliseconds per result the
  request asks for (its `MaxResults`; nothing for a request without one),
  as a slow endpoint whose answer grows with the page: asking for smaller
  pages makes each one faster (`scaling-guard audit` shrinks its pages on
  a timeout);
* `account` (optional): only requests acting in that account — moto's
  account of the access key that signed them (the static test credentials:
  moto's default account; an `AssumeRole`'s: the role's account);
* `region` (optional): only requests signed for that region (the SigV4
  credential scope's region).

For each call the rules are tried in order; the first that fires decides
(later rules are not tried, and do not count the call). So three rules of
share p each hit 1 - (1 - p)^3 of the calls. Each rule counts the calls it
saw (`matched`) and the faults it injected (`injected`).
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import random
import re
import threading
import time
import urllib.parse
import uuid
from typing import Any, Callable, Iterable

from . import cloudwatch_cbor

KINDS = ("throttle", "error", "latency")
RULE_KEYS = {
    "operation", "service", "kind", "count", "share", "skip", "latency_ms", "status",
    "latency_per_result_ms", "account", "region",
}
_SCOPE = re.compile(r"Credential=([^/,]+)/[^/,]+/([^/,]+)/([^/,]+)/aws4_request")

_seq_lock = threading.Lock()
_seq = itertools.count(1)


def next_seq() -> int:
    """One sequence for requests and lifecycle completions: their order."""
    with _seq_lock:
        return next(_seq)


class BadRules(ValueError):
    pass


@dataclasses.dataclass
class Rule:
    operation: str
    kind: str
    service: str | None = None
    count: int | None = None
    share: float | None = None
    skip: int = 0
    latency_ms: tuple[int, int] | None = None
    latency_per_result_ms: int = 0
    account: str | None = None
    region: str | None = None
    status: int = 500
    matched: int = 0
    injected: int = 0

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"operation": self.operation, "kind": self.kind}
        if self.service is not None:
            out["service"] = self.service
        if self.count is not None:
            out["count"] = self.count
        if self.share is not None:
            out["share"] = self.share
        if self.skip:
            out["skip"] = self.skip
        if self.latency_ms is not None:
            low, high = self.latency_ms
            out["latency_ms"] = low if low == high else [low, high]
        if self.latency_per_result_ms:
            out["latency_per_result_ms"] = self.latency_per_result_ms
        for key in ("account", "region"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.kind == "error":
            out["status"] = self.status
        out["matched"] = self.matched
        out["injected"] = self.injected
        return out


@dataclasses.dataclass
class Fault:
    rule: int
    kind: str
    latency_s: float
    status: int


def _int(value: Any, what: str, low: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise BadRules(f"`{what}` must be an integer >= {low}, not {value!r}")
    return value


def parse_rule(n: int, raw: Any) -> Rule:
    if not isinstance(raw, dict):
        raise BadRules(f"rule {n} is not an object")
    unknown = set(raw) - RULE_KEYS
    if unknown:
        raise BadRules(f"rule {n}: unknown keys {sorted(unknown)}")
    operation, kind = raw.get("operation"), raw.get("kind")
    if not isinstance(operation, str) or not operation:
        raise BadRules(f"rule {n} needs `operation` (an operation name or \"*\")")
    if kind not in KINDS:
        raise BadRules(f"rule {n}: `kind` must be one of {list(KINDS)}, not {kind!r}")
    scope = {}
    for key in ("service", "account", "region"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise BadRules(f"rule {n}: `{key}` must be a non-empty string")
        scope[key] = value
    if ("count" in raw) == ("share" in raw):
        raise BadRules(f"rule {n} needs exactly one of `count` and `share`")
    rule = Rule(operation=operation, kind=kind, **scope)
    rule.latency_per_result_ms = _int(raw.get("latency_per_result_ms", 0), f"rule {n}: latency_per_result_ms")
    if "count" in raw:
        rule.count = _int(raw["count"], f"rule {n}: count")
    else:
        share = raw["share"]
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise BadRules(f"rule {n}: `share` must be a number in 0..1, not {share!r}")
        rule.share = float(share)
    rule.skip = _int(raw.get("skip", 0), f"rule {n}: skip")
    latency = raw.get("latency_ms")
    if latency is not None:
        if isinstance(latency, list) and len(latency) == 2:
            low, high = (_int(v, f"rule {n}: latency_ms") for v in latency)
        else:
            low = high = _int(latency, f"rule {n}: latency_ms")
        if low > high:
            raise BadRules(f"rule {n}: latency_ms [{low}, {high}] is not a range")
        rule.latency_ms = (low, high)
    elif kind == "latency" and not rule.latency_per_result_ms:
        raise BadRules(f"rule {n}: a latency rule needs `latency_ms` or `latency_per_result_ms`")
    status = raw.get("status", 500)
    if kind != "error" and "status" in raw:
        raise BadRules(f"rule {n}: `status` is for error rules only")
    if status not in (500, 503):
        raise BadRules(f"rule {n}: `status` must be 500 or 503, not {status!r}")
    rule.status = status
    return rule


class Faults:
    """The rule set, its RNG and counters (one per emulator process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: list[Rule] = []
        self.seed: int = 0
        self.rng = random.Random(0)

    def set(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRules("the body must be a JSON object")
        unknown = set(body) - {"rules", "seed"}
        if unknown:
            raise BadRules(f"unknown keys: {sorted(unknown)}")
        raw_rules = body.get("rules")
        if not isinstance(raw_rules, list):
            raise BadRules("the body needs `rules`, a list")
        seed = _int(body.get("seed", 0), "seed")
        rules = [parse_rule(n, raw) for n, raw in enumerate(raw_rules)]
        with self.lock:
            self.rules, self.seed, self.rng = rules, seed, random.Random(seed)
        return self.state()

    def clear(self) -> dict[str, Any]:
        with self.lock:
            self.rules, self.seed, self.rng = [], 0, random.Random(0)
        return self.state()

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "seed": self.seed,
                "rules": [rule.describe() for rule in self.rules],
                "injected": sum(rule.injected for rule in self.rules),
            }

    def decide(self, call: "Call") -> Fault | None:
        if call.operation is None:
            return None
        with self.lock:
            rules = list(self.rules)
        # moto's account of the caller, looked up only when a rule asks, and
        # outside the lock (it reads moto's IAM backends).
        account = _account_of(call.caller) if any(r.account for r in rules) else None
        with self.lock:
            for n, rule in enumerate(self.rules):
                if rule.operation not in ("*", call.operation):
                    continue
                if rule.service is not None and rule.service != call.service:
                    continue
                if rule.account is not None and rule.account != account:
                    continue
                if rule.region is not None and rule.region != call.region:
                    continue
                rule.matched += 1
                if rule.matched <= rule.skip:
                    continue
                if rule.count is not None:
                    fires = rule.injected < rule.count
                else:
                    fires = self.rng.random() < (rule.share or 0.0)
                if not fires:
                    continue
                rule.injected += 1
                latency = 0.0
                if rule.latency_ms is not None:
                    low, high = rule.latency_ms
                    latency = self.rng.uniform(low, high) / 1000.0
                latency += rule.latency_per_result_ms * (call.max_results or 0) / 1000.0
                return Fault(rule=n, kind=rule.kind, latency_s=latency, status=rule.status)
        return None


@dataclasses.dataclass
class Call:
    """What a request is: service (credential scope), operation, protocol."""

    service: str | None
    operation: str | None
    protocol: str  # "query", "ec2", "json", "cbor", "restjson" or "other"
    # The groups and instances a form-encoded request names (`AutoScalingGroupName`,
    # `InstanceId.N`, `ResourceId.N`, `Tags.member.N.ResourceId`), so that a test
    # can tell which cluster's resources a call acted on.
    targets: tuple[str, ...] = ()
    # The access key id that signed it: several guards on one emulator each
    # sign with their own, so the journal tells whose call it was.
    caller: str | None = None
    # The region it was signed for, and the page it asks for (`MaxResults`).
    region: str | None = None
    max_results: int | None = None


def _account_of(access_key: str | None) -> str | None:
    """moto's account of a request signed with `access_key`."""
    if access_key is None:
        return None
    from moto.iam.models import get_account_id_from  # imports moto: only when asked

    return get_account_id_from(access_key)


def _max_results(params: dict[str, list[str]]) -> int | None:
    value = params.get("MaxResults", [None])[0]
    return int(value) if value is not None and value.isdigit() else None


_TARGET_PARAMETERS = {"AutoScalingGroupName", "InstanceId", "InstanceIds", "ResourceId"}


def _targets(params: dict[str, list[str]]) -> tuple[str, ...]:
    """The values of the parameters that name a group or an instance; list
    members (`.N`, `.member.N`) included."""
    found: set[str] = set()
    for key, values in params.items():
        parts = [part for part in key.split(".") if not part.isdigit() and part != "member"]
        if parts and parts[-1] in _TARGET_PARAMETERS:
            found.update(values)
    return tuple(sorted(found))


# REST-JSON calls, named by service, method and path (extension 14): the
# Security Hub calls the guard makes.
REST_OPERATIONS = {
    ("securityhub", "POST", "/findings/import"): "BatchImportFindings",
    ("securityhub", "POST", "/findings"): "GetFindings",
}


def identify(environ: dict[str, Any]) -> Call:
    """Service and operation of an AWS request. Reads (and puts back) a
    form-encoded body to find its `Action=`."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    call = _identify(environ, scope.group(3) if scope else None)
    if scope is None:
        return call
    return dataclasses.replace(call, caller=scope.group(1), region=scope.group(2))


def _identify(environ: dict[str, Any], service: str | None) -> Call:
    if cloudwatch_cbor.handles(environ):
        operation = environ["PATH_INFO"][len(cloudwatch_cbor.PREFIX):].strip("/")
        return Call(service or "monitoring", operation, "cbor")
    rest = REST_OPERATIONS.get((service, environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))
    if rest is not None:
        return Call(service, rest, "restjson")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return Call(service, target.rsplit(".", 1)[-1], "json")
    params = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    action = params.get("Action", [None])[0]
    content_type = environ.get("CONTENT_TYPE", "")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if action is None and length and content_type.startswith("application/x-www-form-urlencoded"):
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        params = urllib.parse.parse_qs(raw.decode(errors="replace"))
        action = params.get("Action", [None])[0]
    if action is None:
        return Call(service, None, "other")
    protocol = "ec2" if service == "ec2" else "query"
    return Call(service, action, protocol, _targets(params), max_results=_max_results(params))


_QUERY_CODES = {
    "throttle": (400, "Throttling", "Sender", "Rate exceeded"),
    500: (500, "InternalFailure", "Receiver", "The request processing has failed because of an unknown error"),
    503: (503, "ServiceUnavailable", "Receiver", "The request has failed due to a temporary failure of the server"),
}
_EC2_CODES = {
    "throttle": (503, "RequestLimitExceeded", "Request limit exceeded."),
    500: (500, "InternalError", "An internal error has occurred."),
    503: (503, "Unavailable", "The server is overloaded and can't handle the request."),
}
_JSON_CODES = {
    "throttle": (400, "ThrottlingException", "Throttling", "Sender", "Rate exceeded"),
    500: (500, "InternalFailure", "InternalFailure", "Receiver", "The request processing has failed"),
    503: (503, "ServiceUnavailable", "ServiceUnavailable", "Receiver", "Service unavailable"),
}
# Security Hub's own: it throttles with 429 `LimitExceededException`.
_REST_JSON_CODES = {
    "throttle": (429, "LimitExceededException", "Rate exceeded"),
    500: (500, "InternalException", "Internal service error"),
    503: (503, "InternalException", "Service unavailable"),
}
_REASONS = {400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


def error_response(call: Call, fault: Fault) -> tuple[str, list[tuple[str, str]], bytes]:
    """The status line, headers and body of the service's own error."""
    key: Any = "throttle" if fault.kind == "throttle" else fault.status
    request_id = str(uuid.uuid4())
    if call.protocol == "ec2":
        status, code, message = _EC2_CODES[key]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    elif call.protocol == "restjson":
        status, code, message = _REST_JSON_CODES[key]
        body = json.dumps({"message": message}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
    elif call.protocol in ("json", "cbor"):
        status, code, query_code, sender, message = _JSON_CODES[key]
        if call.protocol == "cbor":
            import cbor2

            body = cbor2.dumps({"__type": query_code, "message": message})
            headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        else:
            body = json.dumps({"__type": code, "message": message}).encode()
            headers = [("Content-Type", "application/x-amz-json-1.0")]
        headers.append(("x-amzn-query-error", f"{query_code};{sender}"))
    else:
        status, code, sender, message = _QUERY_CODES[key]
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{sender}</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    headers += [("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))]
    return f"{status} {_REASONS[status]}", headers, body


class Journal:
    """Every AWS request served: its order (`seq` when received, `done_seq`
    when answered), service, operation, the fault it met, its status."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[dict[str, Any]] = []

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.entries.append(entry)

    def list(self, operation: str | None) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(e) for e in self.entries if operation is None or e["operation"] == operation]

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


def serve(
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    faults: Faults,
    journal: Journal,
    answer: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
) -> Iterable[bytes]:
    """One AWS request: the fault (sleep outside any lock, or an error without
    moto), else `answer` (which takes the lock); journaled either way."""
    call = identify(environ)
    seq, received = next_seq(), time.time()
    fault = faults.decide(call)
    if fault is not None and fault.latency_s > 0:
        time.sleep(fault.latency_s)
    status_line: dict[str, str] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status_line["status"] = status
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    if fault is not None and fault.kind != "latency":
        status, headers, body = error_response(call, fault)
        capture(status, headers)
        result: Iterable[bytes] = [body]
    else:
        result = answer(environ, capture)
    journal.record(
        {
            "seq": seq,
            "done_seq": next_seq(),
            "service": call.service,
            "operation": call.operation,
            "fault": None if fault is None else fault.kind,
            "rule": None if fault is None else fault.rule,
            "status": int(status_line.get("status", "0 ?").split(" ", 1)[0]),
            "received": received,
            "answered": time.time(),
            "targets": list(call.targets),
            "caller": call.caller,
        }
    )
    return result
