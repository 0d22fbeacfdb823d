"""How a command's process ends besides success and failure: a Ctrl-C, or a reader that closed
the standard output (`clockodo-pipeline report unbilled | head -1`).

Standard library only: the CLI's entry point relies on it before it imports the commands.
"""

from __future__ import annotations

import sys
from types import FrameType

#: 128 + SIGINT: what a shell reports for a command that Ctrl-C ended
INTERRUPTED_EXIT = 130
INTERRUPTED = "clockodo-pipeline: interrupted; the next run resumes"
#: 128 + SIGPIPE: what a shell reports for `seq 100000 | head -1`'s `seq`, the status of a
#: writer whose reader went away (Python ignores SIGPIPE and raises BrokenPipeError instead)
OUTPUT_CLOSED_EXIT = 141


_interrupts: list[int] = []


def note_interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGINT handler while the CLI imports its modules: it only notes the Ctrl-C, answered once
    the imports are done. An exception raised inside a C extension's module initialisation
    can crash the process (orjson's: a segmentation fault)."""
    _interrupts.append(signum)


def on_interrupt(signum: int, frame: FrameType | None) -> None:
    """The CLI's SIGINT handler: Python's own (raise KeyboardInterrupt), noting that it came.
    Code that a Ctrl-C cuts short may report a failure of its own instead: dlt the failure of
    its step, DuckDB `RuntimeError('Query interrupted')`."""
    note_interrupt(signum, frame)
    raise KeyboardInterrupt


def was_interrupted() -> bool:
    return bool(_interrupts)


class OutputClosed(Exception):
    """The reader of the standard output went away: nothing is wrong, the command stops."""


def write_out(text: str) -> None:
    """`text` on the standard output, flushed now, so that a closed pipe is noticed here and
    not at the interpreter's exit (where it printed `ValueError('I/O operation on closed
    file.')`). Unbuffered (PYTHONUNBUFFERED=1, common in container images), Python's text layer
    takes a write that a closing pipe cut short as complete: the bytes are written until all
    are, or the pipe is found closed."""
    stream = sys.stdout
    binary = getattr(stream, "buffer", None)
    try:
        if binary is None:  # a text stream in memory (a caller's `redirect_stdout`)
            stream.write(text)
            return
        stream.flush()
        data = text.encode(stream.encoding or "utf-8", stream.errors or "strict")
        while data:
            data = data[binary.write(data):]
        binary.flush()
    except BrokenPipeError:
        raise OutputClosed from None
