"""Run ``clockodo-pipeline`` with the given arguments in this process and report its cost.

run.py starts this as a child process so that the peak RSS is the pipeline's alone (the
parent holds a million response bodies). Prints one JSON line: exit code, seconds of
``main()`` (imports excluded, as they do not grow with the data), peak RSS and the CLI output.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time

# the CLI imports its commands (dlt, DuckDB, pyarrow) inside `main()`, so that a Ctrl-C while
# importing is answered: imported here first, they stay outside the measured time
import clockodo_source.app.commands  # noqa: F401
from clockodo_source.app.cli import main as cli_main


def main() -> None:
    captured = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(captured):
        code = cli_main(sys.argv[1:])
    seconds = time.perf_counter() - started
    print(json.dumps({"code": code, "seconds": seconds, "peak_rss_bytes": peak_rss_bytes(),
                      "output": captured.getvalue()}))


def peak_rss_bytes() -> int:
    """High-water RSS of this process image (Linux ``VmHWM``).

    Not ``ru_maxrss``: exec carries the parent's high-water mark over into it, so a parent that
    held a million response bodies would inflate the figure.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    main()
