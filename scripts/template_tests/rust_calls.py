"""Which AWS operations each function can call, read from the Rust code.

The derivation, in three steps, all from the source text (no build):

1. Adapters (`shared/src/aws/*.rs`): every SDK call is written
   `self.<field>.<operation>()` (possibly across lines), where `<field>` is a
   struct field holding an SDK client (or `self.<field>().<operation>()`
   where the field is `OnceLock<Client>`, a client made at first use, and
   `<field>()` the method that makes it): `client: Client` with
   `use aws_sdk_<service>::Client;` (one client per file), or, in an adapter
   that uses several services, `ssm: aws_sdk_ssm::Client` (or a `Client as
   Alias` import). Each adapter method maps to the operations it calls,
   directly, through a private helper of the same file called as
   `self.<helper>(`, or through a method of another adapter it holds in a
   field (`ec2: Ec2`, then `self.ec2.image(`). The IAM action is the service
   prefix of the field's `aws_sdk_<service>` crate and the operation in
   PascalCase (`describe_auto_scaling_groups` -> `DescribeAutoScalingGroups`,
   `get_parameters` on an `aws_sdk_ssm` client -> `ssm:GetParameters`).
2. Ports (`shared/src/ports.rs` and its submodules, `shared/src/ports/*.rs`):
   the method names of the port traits. A port
   method's operations are those of every adapter method of that name.
3. Reachability: starting from every non-test function of
   `functions/<crate>/src/**`, follow calls by name into the non-test
   functions of `shared/src/**` (not the adapters, not the fakes) and collect
   every port method called on the way. A name call (`name(`, `.name(`,
   `::name(`) counts whatever receiver it has: the derivation may name more
   than a function needs (then the test fails and a reader looks), never
   less, unless an SDK call bypasses the `self.client` adapters. One
   refinement: a call with no arguments is not a port method that takes some
   (`membership.group()` is not `GroupRead::group(name)`).
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterator

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared" / "src"
ADAPTERS = SHARED / "aws"
PORTS = SHARED / "ports.rs"

# `aws_sdk_<crate>` -> IAM service prefix.
SERVICE_PREFIX = {
    "autoscaling": "autoscaling",
    "ec2": "ec2",
    "cloudwatch": "cloudwatch",
    "sns": "sns",
    "sqs": "sqs",
    "cloudformation": "cloudformation",
    "lambda": "lambda",
    "iam": "iam",
    "ssm": "ssm",
    "securityhub": "securityhub",
    "eventbridge": "events",
}

# A string may continue over a line with `\` at its end (`\\[\s\S]`: the
# escaped character may be the newline).
_STRING = re.compile(r'r#"(?:.|\n)*?"#|"(?:\\[\s\S]|[^"\\])*"')
_LINE_COMMENT = re.compile(r"//[^\n]*")
_BLOCK_COMMENT = re.compile(r"/\*(?:.|\n)*?\*/")
_FN = re.compile(r"\bfn\s+([a-z_][a-z0-9_]*)\s*(?:<[^{;]*?>)?\s*\(")
_CALL = re.compile(r"\b([a-z_][a-z0-9_]*)\s*(?:::\s*<[^()]*?>\s*)?\((\s*\)?)")
# `.field.operation(`, or `.field().operation(` for a client made at first use.
_FIELD_CALL = re.compile(r"\.\s*([a-z_][a-z0-9_]*)\s*(?:\(\s*\))?\s*\.\s*([a-z_][a-z0-9_]*)\s*\(")
_CLIENT_IMPORT = re.compile(r"\buse\s+aws_sdk_([a-z0-9]+)::Client(?:\s+as\s+([A-Za-z_][A-Za-z0-9_]*))?\s*;")
_STRUCT = re.compile(r"\bstruct\s+([A-Z][A-Za-z0-9_]*)\s*(?:<[^{;]*?>)?\s*\{")
# `field: Type`, also `field: OnceLock<Type>` (a client made at first use).
_FIELD = re.compile(
    r"([a-z_][a-z0-9_]*)\s*:\s*(?:(?:std::sync::)?OnceLock\s*<\s*)?"
    r"((?:[A-Za-z_][A-Za-z0-9_]*::)*[A-Za-z_][A-Za-z0-9_]*)"
)
_SELF_CALL = re.compile(r"\bself\s*\.\s*([a-z_][a-z0-9_]*)\s*\(")
_CFG_TEST = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{")
_KEYWORDS = {"if", "while", "for", "match", "return", "fn", "loop", "in", "as", "move", "async"}


def _clean(text: str) -> str:
    """Source without comments, string contents and `#[cfg(test)]` modules."""
    text = _BLOCK_COMMENT.sub(" ", text)
    text = _STRING.sub('""', text)
    text = _LINE_COMMENT.sub("", text)
    while (match := _CFG_TEST.search(text)) is not None:
        end = _matching_brace(text, match.end() - 1)
        text = text[: match.start()] + text[end + 1 :]
    return text


def _matching_brace(text: str, open_at: int) -> int:
    depth = 0
    for index in range(open_at, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return len(text) - 1


def _functions(text: str) -> Iterator[tuple[str, str]]:
    """(name, body) of every `fn` with a body; declarations without one are skipped."""
    for match in _FN.finditer(text):
        rest = text[match.end() :]
        brace, semicolon = rest.find("{"), rest.find(";")
        if brace < 0 or (0 <= semicolon < brace):
            continue
        start = match.end() + brace
        yield match.group(1), text[start : _matching_brace(text, start) + 1]


def _is_test_file(path: pathlib.Path) -> bool:
    return (
        path.name in {"tests.rs", "fixtures.rs", "fakes.rs"}
        or "tests" in path.parts
        or "benches" in path.parts
    )


def _sources(root: pathlib.Path) -> Iterator[pathlib.Path]:
    for path in sorted(root.rglob("*.rs")):
        if not _is_test_file(path.relative_to(root)):
            yield path


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _port_files() -> list[pathlib.Path]:
    """`ports.rs` and its submodules (`ports/findings.rs`), not their tests."""
    submodules = sorted((SHARED / "ports").glob("*.rs")) if (SHARED / "ports").is_dir() else []
    return [PORTS, *(path for path in submodules if not _is_test_file(path.relative_to(SHARED)))]


def port_arities() -> dict[str, int]:
    """Port-trait method name -> its number of arguments besides `self`."""
    text = "\n".join(_clean(path.read_text()) for path in _port_files())
    arities: dict[str, int] = {}
    for trait in re.finditer(r"\btrait\s+\w+[^{]*\{", text):
        body = text[trait.end() - 1 : _matching_brace(text, trait.end() - 1) + 1]
        for name, params in re.findall(r"\bfn\s+([a-z_][a-z0-9_]*)\s*\(([^)]*)\)", body):
            arities[name] = max(0, len([p for p in params.split(",") if p.strip()]) - 1)
    return arities


def port_methods() -> set[str]:
    return set(port_arities())


class _Adapter:
    """One adapter file: its functions, its SDK-client fields (field -> IAM
    prefix) and its fields holding another adapter (field -> struct name)."""

    def __init__(self, source: str) -> None:
        aliases = {
            alias or "Client": SERVICE_PREFIX[crate]
            for crate, alias in _CLIENT_IMPORT.findall(source)
        }
        text = _clean(source)
        self.structs: set[str] = set()
        self.clients: dict[str, str] = {}
        self.adapters: dict[str, str] = {}
        for struct in _STRUCT.finditer(text):
            self.structs.add(struct.group(1))
            body = text[struct.end() - 1 : _matching_brace(text, struct.end() - 1) + 1]
            for field, kind in _FIELD.findall(body):
                crate = re.fullmatch(r"aws_sdk_([a-z0-9]+)::Client", kind)
                if crate is not None:
                    self.clients[field] = SERVICE_PREFIX[crate.group(1)]
                elif kind in aliases:
                    self.clients[field] = aliases[kind]
                else:
                    self.adapters[field] = kind.rsplit("::", 1)[-1]
        self.bodies: dict[str, list[str]] = {}
        for name, body in _functions(text):
            self.bodies.setdefault(name, []).append(body)


def _adapters() -> list[_Adapter]:
    return [_Adapter(path.read_text()) for path in sorted(ADAPTERS.glob("*.rs"))]


def adapter_actions() -> dict[str, set[str]]:
    """Port-method name -> IAM actions of every adapter method of that name."""
    ports = port_methods()
    adapters = _adapters()
    by_struct = {struct: adapter for adapter in adapters for struct in adapter.structs}

    def operations(adapter: _Adapter, name: str, seen: frozenset[tuple[int, str]]) -> set[str]:
        found: set[str] = set()
        for body in adapter.bodies.get(name, []):
            for field, op in _FIELD_CALL.findall(body):
                if field in adapter.clients:
                    found.add(f"{adapter.clients[field]}:{_pascal(op)}")
                elif field in adapter.adapters:
                    # A method of another adapter held in a field, e.g.
                    # `self.ec2.image(`: whatever that method calls.
                    other = by_struct.get(adapter.adapters[field])
                    key = (id(other), op)
                    if other is not None and key not in seen:
                        found |= operations(other, op, seen | {key})
            for helper in _SELF_CALL.findall(body):
                key = (id(adapter), helper)
                # `self.client()` returns a client made at first use: not a helper that calls one.
                if (
                    helper in adapter.bodies
                    and key not in seen
                    and helper not in ports
                    and helper not in adapter.clients
                ):
                    found |= operations(adapter, helper, seen | {key})
        return found

    actions: dict[str, set[str]] = {}
    for adapter in adapters:
        # An adapter with no client of its own may compose others (the alert
        # port `Notifier`: the SNS and EventBridge adapters in fields).
        if not adapter.clients and not adapter.adapters:
            continue
        for name in adapter.bodies:
            if name in ports:
                found = operations(adapter, name, frozenset({(id(adapter), name)}))
                actions.setdefault(name, set()).update(found)
    return actions


def _bodies(roots: list[pathlib.Path]) -> dict[str, list[str]]:
    bodies: dict[str, list[str]] = {}
    for root in roots:
        for path in _sources(root):
            if ADAPTERS in path.parents:
                continue
            for name, body in _functions(_clean(path.read_text())):
                bodies.setdefault(name, []).append(body)
    return bodies


def port_methods_used(crate: pathlib.Path) -> set[str]:
    """Port methods reachable from the crate's non-test code."""
    ports = port_arities()
    own = _bodies([crate / "src"])
    shared = _bodies([SHARED])
    used: set[str] = set()
    seen: set[str] = set()
    queue = [body for bodies in own.values() for body in bodies]
    while queue:
        body = queue.pop()
        for name, empty in _CALL.findall(body):
            if name in _KEYWORDS:
                continue
            # `membership.group()` is not the port's `group(name)`: a call
            # without arguments is not a port method that takes some, nor an
            # implementation of one (shared::release wraps the ports).
            if name in ports and empty.endswith(")") and ports[name] > 0:
                continue
            if name in ports:
                used.add(name)
            for pool in (own, shared):
                if name in pool and (pool is shared or name not in seen):
                    key = f"{id(pool)}:{name}"
                    if key in seen:
                        continue
                    seen.add(key)
                    queue.extend(pool[name])
    return used


def actions_of(crate: pathlib.Path) -> dict[str, set[str]]:
    """IAM action -> the port methods of the crate that call it."""
    by_method = adapter_actions()
    needed: dict[str, set[str]] = {}
    for method in port_methods_used(crate):
        for action in by_method.get(method, set()):
            needed.setdefault(action, set()).add(method)
    return needed
