"""The end-to-end package's lints are the workspace's, but for the four a
test may break (issue 22): Cargo does not allow `[lints] workspace = true`
with overrides, so tests/Cargo.toml writes the workspace's lints out; this
keeps the copy from drifting when a workspace lint is added or changed."""

from __future__ import annotations

import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]

# What test code may do and production code may not (clippy.toml allows the
# same inside `#[test]` functions and `#[cfg(test)]` modules).
TEST_RELAXATIONS = {"unwrap_used", "expect_used", "panic", "indexing_slicing"}


def _manifest(path: str) -> dict:
    return tomllib.loads((ROOT / path).read_text())


def test_the_e2e_package_has_the_workspace_lints_but_the_test_relaxations() -> None:
    workspace = _manifest("Cargo.toml")["workspace"]["lints"]
    e2e = _manifest("tests/Cargo.toml")["lints"]

    assert "workspace" not in e2e, "Cargo refuses `workspace = true` with overrides"
    assert e2e["rust"] == workspace["rust"]
    relaxed = {lint for lint, level in e2e["clippy"].items() if level == "allow"}
    assert relaxed == TEST_RELAXATIONS
    kept = {lint: level for lint, level in e2e["clippy"].items() if lint not in relaxed}
    expected = {
        lint: level for lint, level in workspace["clippy"].items() if lint not in TEST_RELAXATIONS
    }
    assert kept == expected
    assert TEST_RELAXATIONS <= set(workspace["clippy"]), "each relaxation relaxes a workspace lint"
