"""The AWS operations the CLI makes in a member account, read from its code.

`org audit` assumes org/audit-role.yaml's role in each member account and
runs there exactly what `scaling-guard audit` runs (`cli/src/audit.rs` and
its modules) and, with `--leftovers`, `cli/src/org/leftovers.rs`. So the
role must allow the operations reachable from those files, and nothing
else. The derivation is rust_calls.py's (port methods reached by name, each
mapped to the SDK calls of its adapters), with one difference: it starts
from the functions of those files alone and follows calls into them and into
`shared/src`, never into the rest of the CLI. Otherwise a call named `run(`
in the audit would reach `app::run` and with it `release --yes`, whose
writes the audit role must not hold."""

from __future__ import annotations

import pathlib

import rust_calls

CLI = rust_calls.ROOT / "cli" / "src"


def _entry_files() -> list[pathlib.Path]:
    """`audit.rs`, its non-test modules, and the leftovers survey."""
    audit = [CLI / "audit.rs", *sorted((CLI / "audit").rglob("*.rs"))]
    files = [*audit, CLI / "org" / "leftovers.rs"]
    return [
        path
        for path in files
        if path.exists() and not rust_calls._is_test_file(path.relative_to(CLI)) and not path.stem.endswith("_tests")
    ]


def _entry_bodies() -> dict[str, list[str]]:
    bodies: dict[str, list[str]] = {}
    for path in _entry_files():
        for name, body in rust_calls._functions(rust_calls._clean(path.read_text())):
            bodies.setdefault(name, []).append(body)
    return bodies


def port_methods_used() -> set[str]:
    """Port methods reachable from the audit and the leftovers survey."""
    ports = rust_calls.port_arities()
    pools = [_entry_bodies(), rust_calls._bodies([rust_calls.SHARED])]
    queue = [body for bodies in pools[0].values() for body in bodies]
    used: set[str] = set()
    seen: set[tuple[int, str]] = set()
    while queue:
        body = queue.pop()
        for name, empty in rust_calls._CALL.findall(body):
            if name in rust_calls._KEYWORDS:
                continue
            # As in rust_calls: a call without arguments is not a port method that takes some.
            if name in ports and empty.endswith(")") and ports[name] > 0:
                continue
            if name in ports:
                used.add(name)
            for index, pool in enumerate(pools):
                if name in pool and (index, name) not in seen:
                    seen.add((index, name))
                    queue.extend(pool[name])
    return used


def member_account_actions() -> dict[str, set[str]]:
    """IAM action -> the port methods of the audit or the survey that call it."""
    by_method = rust_calls.adapter_actions()
    needed: dict[str, set[str]] = {}
    for method in port_methods_used():
        for action in by_method.get(method, set()):
            needed.setdefault(action, set()).add(method)
    return needed
