"""DescribeInstances at cluster size: paged by instance, rendered fast.

Two moto gaps make a large DescribeInstances unusable for the scaling-guard
functions, which bound every AWS call to a 2 s attempt (shared/src/aws/mod.rs):

* paging: moto pages by *reservation* (`MaxResults` reservations a page), so
  10,000 instances launched 1,000 at a time come back as one page of 10,000;
  EC2 pages by instance. Here a request with `MaxResults` gets at most that
  many instances a page, a reservation split across pages as EC2 does (each
  page lists the reservation with the page's instances). Without `MaxResults`
  every instance comes back in one answer, as before;
* rendering: moto's generic serializer resolves every field of every instance
  through its attribute pickers and builds the XML with xmltodict: about 3 ms
  an instance (measured: 1,000 instances in 3.4 s). Here the same algorithm
  runs with the per-type decisions (which attribute names to try, which
  response transformer applies, each element's name) made once and cached,
  writing the XML text directly.

The answer must be moto's, byte for byte. So every page of at most
`VERIFY_LIMIT` instances (every page the test suite's small clusters read) is
also rendered by moto's own serializer and compared; a difference is an
internal error of the emulator (HTTP 500 naming the first differing byte), so
the test that caused it fails instead of reading a wrong answer. Larger pages
(the benchmark's and the large-cluster tests') are rendered only here;
`test_emulator.py` compares both renderings of a varied fleet of instances.

A shape this renderer does not handle (maps, flattened lists, XML attributes
or namespaces on members) raises `Unsupported` and the page goes to moto.
"""

from __future__ import annotations

import base64
import copy
from typing import Any, Callable
from xml.sax.saxutils import escape

from botocore.model import Shape
from botocore.utils import parse_to_aware_datetime
from moto.core.responses import ActionContext, ActionResult
from moto.core.serialize import AttributePickerContext, XFormedAttributePicker
from moto.core.utils import MISSING, get_value
from moto.ec2.responses import EC2Response

from . import managed_ext

# Pages of at most this many instances are also rendered by moto and compared.
VERIFY_LIMIT = 50

_NO_TRANSFORM = object()


class Unsupported(Exception):
    """A shape the fast renderer does not handle: moto renders the page."""


class RenderMismatch(AssertionError):
    """The fast rendering differs from moto's."""


def first_difference(ours: str, moto: str) -> str:
    index = next(
        (i for i, (a, b) in enumerate(zip(ours, moto)) if a != b), min(len(ours), len(moto))
    )
    return (
        f"fast DescribeInstances rendering differs from moto's at byte {index}: "
        f"ours …{ours[max(0, index - 80) : index + 80]!r}… "
        f"moto's …{moto[max(0, index - 80) : index + 80]!r}…"
    )


class Renderer:
    """moto's EC2 serializer (`EC2Serializer` with `XFormedAttributePicker`),
    for the output shapes of DescribeInstances, with its per-type decisions
    cached. Caches are per process: keyed by shape identity (botocore's shapes
    live as long as the service model moto caches) and Python type."""

    _keys: dict[tuple[Any, ...], tuple[str, ...]] = {}
    _transforms: dict[str, Any] = {}
    _names: dict[tuple[int, str], str] = {}
    _times: dict[Any, str] = {}

    def __init__(self, context: ActionContext) -> None:
        self.operation_model = context.operation_model
        self.service_model = context.service_model
        transformers = getattr(context.response, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None) or {}
        self.transformers: dict[str, Callable[[Any], Any]] = transformers
        self.picker = XFormedAttributePicker(response_transformers=transformers)

    # --- moto's AttributePicker, decided once per (type, key, shape, parent) ---

    def value(self, obj: Any, key: str, shape: Shape, parent: Shape, path: str) -> Any:
        cache_key = (type(obj), key, id(shape), id(parent))
        keys = self._keys.get(cache_key)
        if keys is None:
            context = AttributePickerContext(
                obj=obj,
                key=key,
                shape=shape,
                operation_model=self.operation_model,
                service_model=self.service_model,
                key_path=path,
            )
            keys = tuple(self.picker.get_possible_keys(context))
            self._keys[cache_key] = keys
        found = None
        if hasattr(obj, "__getitem__"):
            for possible in keys:
                candidate = get_value(obj, possible, MISSING)
                if candidate is not MISSING:
                    found = candidate
                    break
        else:  # moto's get_value on an object: getattr, or a dotted path
            for possible in keys:
                if "." in possible:
                    candidate = get_value(obj, possible, MISSING)
                else:
                    candidate = getattr(obj, possible, MISSING)
                if candidate is not MISSING:
                    found = candidate
                    break
        key_path = f"{path}.{key}"
        transform = self._transforms.get(key_path)
        if transform is None:
            transform = next(
                (t for p, t in self.transformers.items() if key_path.endswith(p)), _NO_TRANSFORM
            )
            self._transforms[key_path] = transform
        return found if transform is _NO_TRANSFORM else transform(found)

    def name(self, shape: Shape, key: str) -> str:
        cache_key = (id(shape), key)
        name = self._names.get(cache_key)
        if name is None:
            if shape.serialization.get("xmlNamespace") or shape.serialization.get("xmlAttribute"):
                raise Unsupported(f"XML namespace or attribute on {shape.name}")
            name = shape.serialization.get("name", key)
            self._names[cache_key] = name
        return name

    # --- moto's _serialize_type_* ---------------------------------------------

    def members(self, out: list[str], obj: Any, shape: Shape, path: str) -> None:
        """The members of a structure, in the model's order (`path` is the
        structure's own path, as moto's `self.path` joined)."""
        for key, member in shape.members.items():  # type: ignore[attr-defined]
            member.parent = shape  # as moto's serializer does (its aliases read it)
            found = self.value(obj, key, member, shape, path)
            if found is not None:
                self.emit(out, found, member, key, f"{path}.{key}")

    def emit(self, out: list[str], value: Any, shape: Shape, key: str, path: str) -> None:
        kind = shape.type_name
        if kind == "structure":
            inner: list[str] = []
            self.members(inner, value, shape, path)
            self.element(out, self.name(shape, key), "".join(inner))
        elif kind == "list":
            self.emit_list(out, value, shape, key, path)
        else:
            self.element(out, self.name(shape, key), self.scalar(value, shape))

    def emit_list(self, out: list[str], value: Any, shape: Shape, key: str, path: str) -> None:
        if shape.serialization.get("flattened"):
            raise Unsupported(f"flattened list {shape.name}")
        member: Shape = shape.member  # type: ignore[attr-defined]
        item_path = f"{path}.{member.name}"
        items: list[str] = []
        for item in value:
            if member.type_name == "structure":
                if item is None:
                    continue
                inner: list[str] = []
                self.members(inner, item, member, item_path)
                if inner:  # an empty structure is dropped, as moto does
                    items.append("".join(inner))
            elif member.type_name == "list":
                raise Unsupported(f"list of lists {shape.name}")
            else:
                items.append(self.scalar(item, member))
        name = self.name(shape, key)
        if not items:
            self.element(out, name, "")
            return
        item_name = self.name(member, "member")
        out.append(f"<{name}>")
        for item in items:
            self.element(out, item_name, item)
        out.append(f"</{name}>")

    def scalar(self, value: Any, shape: Shape) -> str:
        """The element's text, escaped (structures and lists are not scalars)."""
        kind = shape.type_name
        if kind == "string":
            return escape(str(value))
        if kind == "boolean":
            return "true" if value is True or str(value).lower() == "true" else "false"
        if kind in ("integer", "long"):
            return str(int(value))
        if kind in ("float", "double"):
            return str(float(value))
        if kind == "timestamp":
            return self.timestamp(value, shape)
        if kind == "blob":
            raw = value.encode("utf-8") if isinstance(value, str) else value
            return base64.b64encode(raw).strip().decode("utf-8")
        raise Unsupported(f"{kind} {shape.name}")

    def timestamp(self, value: Any, shape: Shape) -> str:
        if shape.serialization.get("timestampFormat", "iso8601_zeroed").lower() != "iso8601_zeroed":
            raise Unsupported(f"timestamp format of {shape.name}")
        cache_key = value if isinstance(value, (str, int, float)) else None
        if cache_key is not None and cache_key in self._times:
            return self._times[cache_key]
        text = parse_to_aware_datetime(value).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if cache_key is not None:
            self._times[cache_key] = text
        return text

    @staticmethod
    def element(out: list[str], name: str, text: str) -> None:
        out.append(f"<{name}>{text}</{name}>" if text else f"<{name}/>")

    def document(self, result: Any) -> str:
        shape = self.operation_model.output_shape
        response = f"{self.operation_model.name}Response"
        inner: list[str] = []
        self.members(inner, result, shape, f"{self.operation_model.name}.{shape.name}")
        namespace = self.operation_model.metadata.get("xmlNamespace")
        opening = f'<{response} xmlns="{namespace}">' if namespace else f"<{response}>"
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            f"{opening}{''.join(inner)}<requestId>request-id</requestId></{response}>"
        )


class FastInstancesResult(ActionResult):
    """The DescribeInstances answer, rendered by `Renderer` (and by moto too,
    compared, for a page of at most `VERIFY_LIMIT` instances)."""

    def __init__(self, result: dict[str, Any], instance_count: int) -> None:
        super().__init__(result)
        self.instance_count = instance_count

    def execute_result(self, context: ActionContext) -> Any:
        try:
            body = Renderer(context).document(self.result)
        except Unsupported:
            return super().execute_result(context)
        if self.instance_count <= VERIFY_LIMIT:
            status, headers, moto_body = super().execute_result(context)
            if moto_body != body:
                raise RenderMismatch(first_difference(body, moto_body))
            return status, headers, body
        return 200, {"Content-Type": "text/xml"}, body


def page_by_instance(reservations: list[Any], token: str | None, max_results: int | None) -> tuple[list[Any], str | None, int]:
    """The page of at most `max_results` instances after the instance named by
    `token` (all of them without `max_results`), each reservation listed with
    its instances of this page. Returns (reservations, next token, count)."""
    pairs = [(reservation, instance) for reservation in reservations for instance in reservation.instances]
    start = 0
    if token:
        ids = [instance.id for _, instance in pairs]
        start = ids.index(token) + 1 if token in ids else len(pairs)
    end = len(pairs) if max_results is None else start + max_results
    page = pairs[start:end]
    views: list[Any] = []
    for reservation, instance in page:
        if not views or views[-1].id != reservation.id:
            view = copy.copy(reservation)
            view.instances = []
            views.append(view)
        views[-1].instances.append(instance)
    next_token = page[-1][1].id if page and end < len(pairs) else None
    return views, next_token, len(page)


def install() -> None:
    """Gaps: moto pages DescribeInstances by reservation, and renders about
    3 ms an instance. Replaces `EC2Response.describe_instances` (same
    parameters, filters and errors as moto's; see the module's doc), with
    the managed instances the account's visibility hides left out
    (`managed_ext`)."""
    from moto.ec2.exceptions import InvalidParameterCombination

    def describe_instances(self: EC2Response) -> ActionResult:
        self.error_on_dryrun()
        if "InstanceId.1" in self.data and "MaxResults" in self.data:
            raise InvalidParameterCombination(
                "The parameter instancesSet cannot be used with the parameter maxResults"
            )
        filter_dict = self._filters_from_querystring()
        instance_ids = self._get_param("InstanceIds", [])
        if instance_ids:
            reservations = self.ec2_backend.get_reservations_by_instance_ids(
                instance_ids, filters=filter_dict
            )
        else:
            reservations = self.ec2_backend.describe_instances(filters=filter_dict)
        reservations = managed_ext.visible_reservations(
            self.ec2_backend, reservations, self._get_param("IncludeManagedResources")
        )
        max_results = self._get_param("MaxResults")
        views, next_token, count = page_by_instance(
            reservations, self._get_param("NextToken"), int(max_results) if max_results else None
        )
        return FastInstancesResult({"Reservations": views, "NextToken": next_token}, count)

    EC2Response.describe_instances = describe_instances  # type: ignore[method-assign]
