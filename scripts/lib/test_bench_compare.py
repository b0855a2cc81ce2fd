"""scripts/lib/bench_compare.py: the rows it compares and what it says."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bench_compare  # noqa: E402

# A BENCHMARKS.md as scripts/bench writes it: the measurements, then the
# comparison with the run before, which names the same measurements.
PREVIOUS = """\
| area | measurement | value | notes |
|---|---|---|---|
| memory | launch-guard: peak RSS (VmHWM) | 10.0 MiB | after 50 invocations |
| cold start | launch-guard: spawn → first poll | median 5.0 ms, max 7.0 ms | 20 starts |

## Against the previous run

| area | measurement | before | after | change | verdict |
|---|---|---|---|---|---|
| memory | launch-guard: peak RSS (VmHWM) | 13.9 | 10.0 | -28% | goal met |
"""


def test_the_measurements_table_is_compared_not_the_comparison_section():
    assert bench_compare.rows(PREVIOUS) == {
        ("memory", "launch-guard: peak RSS (VmHWM)"): "10.0 MiB",
        ("cold start", "launch-guard: spawn → first poll"): "median 5.0 ms, max 7.0 ms",
    }


def test_a_row_worse_by_more_than_ten_percent_is_a_regression_and_goals_are_judged(tmp_path, capsys):
    old, new = tmp_path / "BENCHMARKS.md", tmp_path / "rows"
    old.write_text(PREVIOUS)
    new.write_text(
        "| memory | launch-guard: peak RSS (VmHWM) | 11.5 MiB | after 50 invocations |\n"
        "| cold start | launch-guard: spawn → first poll | median 5.2 ms, max 6.0 ms | 20 starts |\n"
    )

    assert bench_compare.main(str(old), str(new)) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == (
        "| memory | launch-guard: peak RSS (VmHWM) | 10.0 | 11.5 | +15% | **regressed** (> 10% worse); "
        "**goal not met**: peak RSS ≤ 12 MB (11.4 MiB) after 50 invocations |"
    )
    assert lines[3] == (
        "| cold start | launch-guard: spawn → first poll | 5.0 | 5.2 | +4% | goal met: init ≤ 12 ms median |"
    )


def test_the_foreign_burst_row_is_judged_against_issue_20s_bound(tmp_path, capsys):
    # Another cluster's 1,000 state changes may cost at most 100 reads.
    old, new = tmp_path / "BENCHMARKS.md", tmp_path / "rows"
    old.write_text(PREVIOUS)
    measurement = "instance-audit: DescribeInstances per 1000 foreign state changes"
    new.write_text(
        f"| many stacks | {measurement} | 10 calls (0.01 per state change) | batches of 100 |\n"
        f"| many stacks | {measurement}, one invocation each | 1000 calls (1.00 per state change) | before |\n"
    )

    assert bench_compare.main(str(old), str(new)) == 0

    lines = capsys.readouterr().out.splitlines()
    goal = "≤ 100 DescribeInstances per 1000 foreign state changes (issue 20)"
    assert lines[2] == f"| many stacks | {measurement} | - | 10.0 | new | goal met: {goal} |"
    assert lines[3] == f"| many stacks | {measurement}, one invocation each | - | 1000.0 | new | **goal not met**: {goal} |"


def test_the_org_audit_row_is_compared_by_wall_and_peak_rss_and_judged_against_issue_25s_goals(tmp_path, capsys):
    # 10 accounts × 1,000 instances in at most 60 s and 64 MB (61.0 MiB).
    measurement = "`scaling-guard org audit`, 10 accounts × 1000 instances"
    old, new = tmp_path / "BENCHMARKS.md", tmp_path / "rows"
    old.write_text(PREVIOUS + f"| org audit | {measurement} | wall 20.00 s, CPU 3.00 s, peak RSS 40.0 MiB | exit 1 |\n")
    new.write_text(
        f"| org audit | {measurement} | wall 61.50 s, CPU 3.10 s, peak RSS 41.0 MiB | exit 1 |\n"
        "| org audit | 10 single-account `scaling-guard audit`s, 1000 instances each "
        "| wall 31.35 s, CPU 4.27 s in total, peak RSS 39.6 MiB (largest) | the reference |\n"
    )

    assert bench_compare.main(str(old), str(new)) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[2:] == [
        f"| org audit | {measurement}: wall (s) | 20.0 | 61.5 | +208% | **regressed** (> 10% worse); "
        "**goal not met**: ≤ 60 s wall at 10 accounts × 1,000 instances (issue 25) |",
        f"| org audit | {measurement}: peak RSS (MiB) | 40.0 | 41.0 | +2% | "
        "goal met: peak RSS ≤ 64 MB (61.0 MiB) at 10 accounts × 1,000 instances (issue 25) |",
    ]
