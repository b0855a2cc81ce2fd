"""Issue 22, point 3: a setting's name is written once, in the settings table
(core/src/policy/settings.rs). Production Rust code reads a setting through
its row (`settings::MODE.name`), never through a string of its own; and a
name that code cites in a message or a doc comment is one the table has, so
that a renamed setting leaves no stale name behind.

Tests are left out: they spell names out on purpose (settings files as an
operator writes them, typos the parser must refuse)."""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterator

import settings_table
from rust_calls import ROOT, _is_test_file, _matching_brace

# Where production code lives.
ROOTS = [ROOT / "core" / "src", ROOT / "shared" / "src", ROOT / "cli" / "src"] + sorted(
    (ROOT / "functions").glob("*/src")
)
TABLE = ROOT / "core" / "src" / "policy" / "settings.rs"

_NAME_STRING = re.compile(r'"(GUARD_[A-Z0-9_]*)"')
_NAME = re.compile(r"\bGUARD_[A-Z0-9_]*[A-Z0-9]\b")
_CFG_TEST_BLOCK = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{")
_CFG_TEST_FILE = re.compile(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;")


def _without_test_modules(text: str) -> str:
    while (match := _CFG_TEST_BLOCK.search(text)) is not None:
        end = _matching_brace(text, match.end() - 1)
        text = text[: match.start()] + text[end + 1 :]
    return text


def _test_module_files(path: pathlib.Path, text: str) -> set[pathlib.Path]:
    """The files of the `#[cfg(test)] mod name;` modules `path` declares."""
    folder = path.parent if path.name in {"lib.rs", "main.rs", "mod.rs"} else path.with_suffix("")
    files = set()
    for name in _CFG_TEST_FILE.findall(text):
        files |= {folder / f"{name}.rs", folder / name / "mod.rs"}
    return files


def production_sources() -> Iterator[tuple[pathlib.Path, str]]:
    """(path, text without test modules) of every production Rust file but the table."""
    for root in ROOTS:
        paths = sorted(root.rglob("*.rs"))
        texts = {path: path.read_text() for path in paths}
        test_files = set().union(*(_test_module_files(p, t) for p, t in texts.items()))
        for path in paths:
            relative = path.relative_to(root)
            if path == TABLE or path in test_files or _is_test_file(relative) or path.stem.endswith("_tests"):
                continue
            yield path, _without_test_modules(texts[path])


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def names_as_strings() -> list[str]:
    """`path:line name` of every setting name (or the prefix, `settings::PREFIX`)
    written as a whole string."""
    return [
        f"{path.relative_to(ROOT)}:{_line(text, m.start())} {m.group(1)}"
        for path, text in production_sources()
        for m in _NAME_STRING.finditer(text)
    ]


def unknown_names(known: set[str]) -> list[str]:
    """`path:line name` of every `GUARD_*` name cited that the table lacks."""
    return [
        f"{path.relative_to(ROOT)}:{_line(text, m.start())} {m.group(0)}"
        for path, text in production_sources()
        for m in _NAME.finditer(text)
        if m.group(0) not in known
    ]


def test_production_code_reads_every_setting_name_from_its_row() -> None:
    assert names_as_strings() == []


def test_every_setting_name_production_code_cites_is_in_the_table() -> None:
    known = {row["name"] for row in settings_table.table()}
    assert unknown_names(known) == []


def test_the_scan_reads_production_code_and_skips_tests() -> None:
    scanned = {path.relative_to(ROOT).as_posix() for path, _ in production_sources()}
    assert "shared/src/startup.rs" in scanned
    assert "functions/stack-guard/src/main.rs" in scanned
    assert "core/src/policy/settings.rs" not in scanned
    # A `#[cfg(test)] mod read_only;` file, and test modules inside a file.
    assert "cli/src/app/read_only.rs" not in scanned
    startup = dict(production_sources())[ROOT / "shared" / "src" / "startup.rs"]
    assert "mod tests" not in startup
