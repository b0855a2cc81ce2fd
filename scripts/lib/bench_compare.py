"""Compares a new benchmark table with the committed BENCHMARKS.md (issue 13,
part 5): cold start, memory and size rows, before -> after, flagged when
worse by more than the tolerance or beyond a goal.

    python scripts/lib/bench_compare.py OLD_BENCHMARKS_MD NEW_ROWS_FILE

Prints a markdown section (to stdout) and exits 0; a regression or a missed
goal is reported, not fatal (the run measured what it measured).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

TOLERANCE = 0.10  # worse by more than 10 % is a regression
MB_PER_MIB = 1.048576
# (area, what the number is, goal in the row's unit, how the goal reads)
GOALS = {
    "cold start": (12.0, "init ≤ 12 ms median"),
    "memory": (12.0 / MB_PER_MIB, "peak RSS ≤ 12 MB (11.4 MiB) after 50 invocations"),
    "zip": (5.0 / MB_PER_MIB, "arm64 zip ≤ 5 MB (4.77 MiB)"),
    "memory at size": (48.0 / MB_PER_MIB, "peak RSS ≤ 48 MB (45.8 MiB) at 10,000 instances"),
    # issue 20: another cluster's burst costs at most 1 DescribeInstances per 10 state changes
    "many stacks": (100.0, "≤ 100 DescribeInstances per 1000 foreign state changes (issue 20)"),
    # issue 25: `org audit` of 10 accounts × 1,000 instances
    "org audit wall": (60.0, "≤ 60 s wall at 10 accounts × 1,000 instances (issue 25)"),
    "org audit memory": (64.0 / MB_PER_MIB, "peak RSS ≤ 64 MB (61.0 MiB) at 10 accounts × 1,000 instances (issue 25)"),
}
# The scale at which issue 25's goals are judged (smaller fleets: compared only).
ORG_AUDIT_GOAL_SCALE = "10 accounts × 1000 instances"


def rows(text: str) -> dict[tuple[str, str], str]:
    """The value of each compared row of the measurements table (area,
    measurement, value, notes): not of the comparison section a
    BENCHMARKS.md also has, whose rows name the same measurements."""
    found = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in ("cold start", "memory", "size", "memory at size", "CLI audit", "many stacks", "org audit"):
            found.setdefault((cells[0], cells[1]), cells[2])
    return found


def number(area: str, value: str) -> tuple[str, float] | None:
    """The compared number of a row: (kind, value); lower is better."""
    if area == "cold start":
        match = re.search(r"median ([\d.]+) ms", value)
        return ("cold start", float(match.group(1))) if match else None
    if area == "size":
        zipped = re.search(r"([\d.]+) MiB zipped", value)
        if zipped:
            return ("zip", float(zipped.group(1)))
        match = re.match(r"([\d.]+) MiB", value)
        return ("binary", float(match.group(1))) if match else None
    if area == "many stacks":
        match = re.match(r"(\d+) calls", value)
        return ("many stacks", float(match.group(1))) if match else None
    if area == "CLI audit":
        match = re.search(r"peak RSS ([\d.]+) MiB", value)
        return ("memory at size", float(match.group(1))) if match else None
    match = re.match(r"([\d.]+) MiB", value)
    return (area, float(match.group(1))) if match else None


def measures(area: str, measurement: str, value: str) -> list[tuple[str, str, float]]:
    """The compared numbers of a row: (label, kind, number) each, lower is
    better. The `org audit` row gives two, its wall and its peak RSS (its
    reference row, the single audits, none); every other row at most one,
    unlabelled."""
    if area == "org audit":
        if not measurement.startswith("`scaling-guard org audit`"):
            return []
        wall = re.search(r"wall ([\d.]+) s", value)
        rss = re.search(r"peak RSS ([\d.]+) MiB", value)
        return [(label, kind, float(match.group(1)))
                for label, kind, match in ((": wall (s)", "org audit wall", wall),
                                           (": peak RSS (MiB)", "org audit memory", rss))
                if match]
    parsed = number(area, value)
    return [("", parsed[0], parsed[1])] if parsed else []


def judged(kind: str, measurement: str) -> bool:
    """Whether the goal of `kind` applies at the row's size."""
    if kind == "memory at size":
        return "10000 instances" in measurement
    if kind.startswith("org audit"):
        return ORG_AUDIT_GOAL_SCALE in measurement
    return True


def main(old_path: str, new_path: str) -> int:
    old = rows(Path(old_path).read_text()) if Path(old_path).exists() else {}
    new = rows(Path(new_path).read_text())
    lines = [
        "| area | measurement | before | after | change | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for (area, measurement), value in new.items():
        before_value = old.get((area, measurement))
        previous = {label: n for label, _, n in measures(area, measurement, before_value)} if before_value else {}
        for label, kind, after in measures(area, measurement, value):
            before = previous.get(label)
            verdicts = []
            if before is not None and after > before * (1 + TOLERANCE):
                verdicts.append(f"**regressed** (> {TOLERANCE:.0%} worse)")
            goal = GOALS.get(kind)
            if goal and judged(kind, measurement):
                verdicts.append(("goal met: " if after <= goal[0] else "**goal not met**: ") + goal[1])
            change = f"{(after - before) / before:+.0%}" if before else "new"
            lines.append(
                f"| {area} | {measurement}{label} | {before if before is not None else '-'} | {after} | {change} | "
                f"{'; '.join(verdicts) or 'ok'} |"
            )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
