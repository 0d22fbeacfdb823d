"""`clockodo-pipeline`: the process around a command (`clockodo_source.app.commands`).

A Ctrl-C at any moment ends it with one line and exit status 130, also during the seconds it
takes to import dlt, DuckDB and pyarrow: the commands are imported only once that handling is
in place (and the package imports dlt only when it is first used), and a Ctrl-C during the
imports is answered right after them. A reader that closes the
output pipe (`report unbilled | head -1`) ends it quietly with status 141, as it ends `seq` in
`seq 100000 | head -1`: the pipe is pointed at /dev/null, as the Python documentation's note on
SIGPIPE recommends, so that nothing more is written to it, nor an error about it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Sequence

from clockodo_source.app.process import (
    INTERRUPTED,
    INTERRUPTED_EXIT,
    OUTPUT_CLOSED_EXIT,
    OutputClosed,
    note_interrupt,
    on_interrupt,
    was_interrupted,
)


def main(argv: Sequence[str] | None = None) -> int:
    """One command in this process, from its main thread (the one SIGINT is handled in)."""
    signal.signal(signal.SIGINT, note_interrupt)
    try:
        from clockodo_source.app.commands import main as command

        signal.signal(signal.SIGINT, on_interrupt)
        if was_interrupted():
            raise KeyboardInterrupt
        return command(argv)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the line
        print(INTERRUPTED, file=sys.stderr)
        return INTERRUPTED_EXIT
    except OutputClosed:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OUTPUT_CLOSED_EXIT


def run() -> None:
    """Console entry point. Exits without interpreter teardown once the work is flushed:
    native threads of deltalake's and DuckDB's runtimes can abort the process ("terminate
    called without an active exception") while Python destroys them after a finished run;
    and a Ctrl-C leaves the threads of a cut-short extraction that nothing needs to wait for."""
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the work is done: only flushing is left
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
