"""samconfig.toml: a second cluster's deploy never updates the first
cluster's stack (issue 21, scenario 7)."""

from __future__ import annotations

import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _config() -> dict:
    return tomllib.loads((ROOT / "samconfig.toml").read_text())


def test_no_stack_name_is_shared_by_every_cluster() -> None:
    # A stack name in an environment every deploy reads (default, global or
    # deploy) would send every cluster's deploy to the same stack.
    for environment, commands in _config().items():
        if not isinstance(commands, dict):
            continue
        for command, table in commands.items():
            assert "stack_name" not in table.get("parameters", {}), (environment, command)


def test_the_readme_deploys_each_cluster_to_its_own_stack() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "--stack-name scaling-guard-<cluster>" in readme
    assert "--config-env <cluster>" in readme
