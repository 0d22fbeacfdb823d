"""The requests an API user spent recently, shared by every run on this machine.

Clockodo counts an API user's requests per minute, 15 minutes, hour and day, whichever process
sent them. A run that started with an empty budget ran into the 429s its predecessor caused
(a reconcile right after a backfill waited 15 minutes in silence). Each answer time is appended
to a small file in dlt's data directory, one line per request (an append of a few bytes, atomic
between processes); a new run's limiter starts from the times still inside its longest window.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from pathlib import Path

from dlt.common.pipeline import get_dlt_pipelines_dir


class RequestLedger:
    """Answer times (seconds since the epoch) of one API user's requests at one API."""

    def __init__(self, path: Path, horizon: float) -> None:
        self.path = path
        self.horizon = horizon

    @classmethod
    def for_user(cls, base_url: str, api_user: str, scope: str, horizon: float
                 ) -> RequestLedger:
        digest = hashlib.sha256(f"{base_url}\n{api_user}\n{scope}".encode()).hexdigest()[:16]
        return cls(Path(get_dlt_pipelines_dir()).parent / "clockodo" / "requests" / digest, horizon)

    def recent(self) -> list[float]:
        """The answer times inside the horizon; the file is rewritten without older ones."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        since = time.time() - self.horizon
        with open(self.path, "a+") as ledger:
            fcntl.flock(ledger, fcntl.LOCK_EX)
            ledger.seek(0)
            times = []
            for line in ledger:
                try:
                    moment = float(line)
                except ValueError:  # a line cut by a killed process
                    continue
                if moment > since:
                    times.append(moment)
            ledger.seek(0)
            ledger.truncate()
            ledger.write("".join(f"{moment:.3f}\n" for moment in times))
        return times

    def record(self, moment: float) -> None:
        """Append one answer time (a single small write: appends of processes never mix)."""
        file = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(file, f"{moment:.3f}\n".encode())
        finally:
            os.close(file)
