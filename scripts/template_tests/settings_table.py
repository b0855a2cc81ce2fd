"""The policy's settings table (core/src/policy/settings.rs), as the Rust
code holds it: each `GUARD_*` setting's name, section, kind, default and
help, printed as JSON by `cargo run -p scaling-guard-core --example
settings_table`. The template tests compare the template with it, so that
no name or default is copied by hand into a test."""

from __future__ import annotations

import functools
import json
import pathlib
import subprocess
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=1)
def _rows() -> tuple[dict[str, Any], ...]:
    printed = subprocess.run(
        ["cargo", "run", "-q", "--locked", "-p", "scaling-guard-core", "--example", "settings_table"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return tuple(json.loads(printed))


def table() -> list[dict[str, Any]]:
    """Every row, in the table's order (fresh copies: tests may change them)."""
    return json.loads(json.dumps(_rows()))


def row(name: str) -> dict[str, Any]:
    (found,) = [r for r in table() if r["name"] == name]
    return found
