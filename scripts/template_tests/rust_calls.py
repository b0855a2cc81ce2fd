"""Which AWS operations each function can call, read from the Rust code.

The derivation, in three steps, all from the source text (no build):

1. Adapters (`shared/src/aws/*.rs`): every SDK call is written
   `self.client.<operation>()` (possibly across lines). Each adapter method
   maps to the operations it calls, directly or through a private helper of
   the same file called as `self.<helper>(`. The IAM action is the service
   prefix of the file's `aws_sdk_<service>` crate and the operation in
   PascalCase (`describe_auto_scaling_groups` -> `DescribeAutoScalingGroups`).
2. Ports (`shared/src/ports.rs`): the method names of the port traits. A port
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
}

_STRING = re.compile(r'r#"(?:.|\n)*?"#|"(?:\\.|[^"\\])*"')
_LINE_COMMENT = re.compile(r"//[^\n]*")
_BLOCK_COMMENT = re.compile(r"/\*(?:.|\n)*?\*/")
_FN = re.compile(r"\bfn\s+([a-z_][a-z0-9_]*)\s*(?:<[^{;]*?>)?\s*\(")
_CALL = re.compile(r"\b([a-z_][a-z0-9_]*)\s*(?:::\s*<[^()]*?>\s*)?\((\s*\)?)")
_CLIENT_CALL = re.compile(r"\.client\s*\.\s*([a-z_][a-z0-9_]*)\s*\(")
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


def port_arities() -> dict[str, int]:
    """Port-trait method name -> its number of arguments besides `self`."""
    text = _clean(PORTS.read_text())
    arities: dict[str, int] = {}
    for trait in re.finditer(r"\btrait\s+\w+[^{]*\{", text):
        body = text[trait.end() - 1 : _matching_brace(text, trait.end() - 1) + 1]
        for name, params in re.findall(r"\bfn\s+([a-z_][a-z0-9_]*)\s*\(([^)]*)\)", body):
            arities[name] = max(0, len([p for p in params.split(",") if p.strip()]) - 1)
    return arities


def port_methods() -> set[str]:
    return set(port_arities())


def adapter_actions() -> dict[str, set[str]]:
    """Port-method name -> IAM actions of every adapter method of that name."""
    ports = port_methods()
    actions: dict[str, set[str]] = {}
    for path in sorted(ADAPTERS.glob("*.rs")):
        source = path.read_text()
        # One SDK client per adapter file: the `Client` it imports.
        crates = set(re.findall(r"\buse\s+aws_sdk_([a-z0-9]+)::Client\s*;", source))
        if not crates:
            continue
        (crate,) = crates
        prefix = SERVICE_PREFIX[crate]
        text = _clean(source)
        bodies: dict[str, list[str]] = {}
        for name, body in _functions(text):
            bodies.setdefault(name, []).append(body)

        def operations(name: str, seen: set[str]) -> set[str]:
            found: set[str] = set()
            for body in bodies.get(name, []):
                found |= {f"{prefix}:{_pascal(op)}" for op in _CLIENT_CALL.findall(body)}
                for helper in _SELF_CALL.findall(body):
                    if helper in bodies and helper not in seen and helper not in ports:
                        found |= operations(helper, seen | {helper})
            return found

        for name in bodies:
            if name in ports:
                actions.setdefault(name, set()).update(operations(name, {name}))
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
            # without arguments is not a port method that takes some.
            if name in ports and not (empty.endswith(")") and ports[name] > 0):
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
