"""CloudWatch over Smithy RPC v2 CBOR, translated to the JSON protocol moto speaks.

The Rust SDK's CloudWatch client (aws-sdk-cloudwatch 1.1xx) sends
`POST /service/GraniteServiceVersion20100801/operation/<Operation>` with a CBOR
body and the header `smithy-protocol: rpc-v2-cbor`. moto 5.2 serves CloudWatch
over the Query and JSON 1.0 protocols only (getmoto/moto#9195), so this
translation sits in front of it: CBOR request -> JSON 1.0 request to moto ->
JSON answer -> CBOR answer. Timestamps follow botocore's service model: CBOR
tag 1 (epoch seconds) on the wire, epoch-seconds numbers in JSON.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from typing import Any, Callable, Iterable

import botocore.session
import cbor2

PREFIX = "/service/GraniteServiceVersion20100801/operation/"
TARGET = "GraniteServiceVersion20100801"

_model = None


def model():
    global _model
    if _model is None:
        _model = botocore.session.get_session().get_service_model("cloudwatch")
    return _model


def handles(environ: dict[str, Any]) -> bool:
    return environ.get("PATH_INFO", "").startswith(PREFIX)


def to_json(value: Any) -> Any:
    """CBOR-decoded request values -> JSON 1.0 values."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value


def to_cbor(value: Any, shape: Any) -> Any:
    """JSON 1.0 answer values -> CBOR values, with timestamps as tag 1."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: to_cbor(v, members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [to_cbor(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: to_cbor(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        return cbor2.CBORTag(1, float(value))
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    if kind in ("double", "float") and isinstance(value, int):
        return float(value)
    return value


def call(environ: dict[str, Any], start_response: Callable[..., Any], moto_app: Callable[..., Iterable[bytes]]) -> list[bytes]:
    operation = environ["PATH_INFO"][len(PREFIX):].strip("/")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    params = to_json(cbor2.loads(raw)) if raw else {}
    body = json.dumps(params).encode()

    inner = dict(environ)
    inner.update({
        "PATH_INFO": "/",
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_AMZ_TARGET": f"{TARGET}.{operation}",
        "wsgi.input": io.BytesIO(body),
    })
    inner.pop("HTTP_SMITHY_PROTOCOL", None)
    # moto picks the service from the SigV4 credential scope; signed SDK
    # requests carry `.../monitoring/aws4_request`, unsigned ones get it here.
    inner.setdefault(
        "HTTP_AUTHORIZATION",
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/monitoring/aws4_request, "
        "SignedHeaders=host, Signature=0",
    )
    captured: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"] = status
        return lambda _data: None

    answer = b"".join(moto_app(inner, capture))
    status = captured.get("status", "500 Internal Server Error")
    try:
        document = json.loads(answer) if answer.strip() else {}
    except ValueError:
        document = {"__type": "InternalFailure", "message": answer.decode(errors="replace")[:500]}
    if status.startswith("2"):
        try:
            shape = model().operation_model(operation).output_shape
        except Exception:  # unknown operation: pass the document through
            shape = None
        payload = to_cbor(document, shape)
    else:
        kind = str(document.get("__type", "InternalFailure")).split("#")[-1]
        payload = {"__type": kind, "message": document.get("message") or document.get("Message", "")}
    encoded = cbor2.dumps(payload)
    start_response(status, [
        ("Content-Type", "application/cbor"),
        ("smithy-protocol", "rpc-v2-cbor"),
        ("Content-Length", str(len(encoded))),
    ])
    return [encoded]
