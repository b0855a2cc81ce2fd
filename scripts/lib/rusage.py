"""Runs a command and reports what it used, like GNU time's
`-f "time:%e %U %S %M"`: the last line on stderr is
`time:<wall s> <user CPU s> <system CPU s> <peak RSS KiB>`, from the child's
own rusage (os.wait4), so no `time` package is needed. Exits with the
command's exit code (128 + N if a signal N ended it).

    python rusage.py COMMAND [ARG...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: rusage.py COMMAND [ARG...]", file=sys.stderr)
        return 2
    started = time.monotonic()
    child = subprocess.Popen(argv)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    print(
        f"time:{wall:.2f} {usage.ru_utime:.2f} {usage.ru_stime:.2f} {usage.ru_maxrss}",
        file=sys.stderr,
        flush=True,
    )
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
