"""Performance benchmark of clockodo-dlt against the fake Clockodo API (issue 5).

Run it where the package is installed as users install it, without the test extras (which
bring in pandas, see `pandas()`):

    python3 -m venv .venv-bench && .venv-bench/bin/pip install -e .
    .venv-bench/bin/python benchmarks/run.py              # 1,000,000 entries; several minutes
    .venv-bench/bin/python benchmarks/run.py --quick      # 100,000 entries; a smoke run
    .venv-bench/bin/python benchmarks/run.py --entries N

Prints one table: every figure the issue asks for, its target, PASS or FAIL. The fake API runs
in a process of its own and answers from pages unmeasured runs prepared (fake_api.py); every
pipeline run is `clockodo-pipeline` in a child process (pipeline_child.py), so time and peak RSS
are the pipeline's; the local ceilings run here, on the same response bodies (ceiling.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb
from ceiling import Throughput, dlt_ceiling, read_json_ceiling
from fake_api import API_KEY, API_USER, FakeApi, ServerStats

from clockodo_source.settings import DEFAULT_FUTURE_DAYS
from clockodo_source.windows import tile, utc_midnight

HERE = Path(__file__).resolve().parent
LATENCY_SECONDS = 0.1
LATENCY_ENTRIES = 100_000
BINDING_BUDGET = (60, 10.0)
#: the connector's `rate_budgets` where the budget must not bind (the fake has none then)
UNLIMITED = [(1_000_000_000, 1.0)]
SPARSE_ENTRIES = 300
SPARSE_YEARS = 10
MAX_RSS_BYTES = 400e6
PIPELINE_TIMEOUT_SECONDS = 3600
#: No-change runs after the full load: one such run lasts about a second, which this machine's
#: load moves by a tenth or more, so the median of a few is the figure
NO_CHANGE_RUNS = 3


@dataclass(frozen=True)
class CliRun:
    """One `clockodo-pipeline` run: wall time of its `main()`, peak RSS, the request count it
    printed, entries stored afterwards, and what the fake saw meanwhile."""

    seconds: float
    peak_rss_bytes: int
    requests: int
    rows: int
    server: ServerStats

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


@dataclass(frozen=True)
class Line:
    """One row of the printed table; `section` is the issue's item (1 to 6), `passed` is None
    for figures without a target."""

    section: str
    figure: str
    measured: str
    target: str = ""
    passed: bool | None = None


class Bench:
    """Working directories under one temporary root, and the way a pipeline run is made."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs: list[CliRun] = []
        self._preparations = 0

    def workdir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(exist_ok=True)
        return path

    def prepare(self, fake: FakeApi, again: bool = False) -> None:
        """A `run`, not measured: afterwards the fake answers every request of a full load
        from memory, except those whose window ends at now + future_days. `again`: a second,
        no-change run in the same directory, which prepares the pages of a look-back."""
        progress(f"preparing the fake's pages ({'no-change' if again else 'full'} run, "
                 "not measured)")
        self._preparations += 0 if again else 1
        self._run(fake, f"prepare-{self._preparations}", ["run"], {})

    def cli(self, fake: FakeApi, name: str, args: Sequence[str], **config: str) -> CliRun:
        """A measured `clockodo-pipeline <args>` against `fake` in the working directory
        `name`; `config` overrides `sources.clockodo` keys."""
        run = self._run(fake, name, args, config)
        self.runs.append(run)
        return run

    def _run(self, fake: FakeApi, name: str, args: Sequence[str], config: dict[str, str]
             ) -> CliRun:
        """Configured through env as a user would, in a child process."""
        workdir = self.workdir(name)
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("SOURCES__", "DESTINATION__"))}
        settings = {
            "api_user": API_USER, "api_key": API_KEY, "base_url": fake.url,
            "start_date": fake.first_day.isoformat(), "enhanced_list": "false",
            "rate_budgets": json.dumps(UNLIMITED), **config,
        }
        env.update({f"SOURCES__CLOCKODO__{key.upper()}": value for key, value in settings.items()})
        env.update(RUNTIME__DLTHUB_TELEMETRY="false", DLT_DATA_DIR=str(workdir / "dlt"))
        fake.stats()
        log = workdir / "stderr.log"
        with log.open("ab") as stderr:
            done = subprocess.run(
                [sys.executable, str(HERE / "pipeline_child.py"), *args], cwd=workdir, env=env,
                stdout=subprocess.PIPE, stderr=stderr, timeout=PIPELINE_TIMEOUT_SECONDS,
                check=False,
            )
        server = fake.stats()
        lines = done.stdout.decode().splitlines()
        report = json.loads(lines[-1]) if lines else {}
        found = re.search(r"requests: ([\d,]+)", report.get("output", ""))
        if done.returncode or report.get("code") or found is None:
            tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:])
            raise RuntimeError(f"clockodo-pipeline {' '.join(args)} failed in {name}:\n{tail}")
        with duckdb.connect(str(workdir / "clockodo_pipeline.duckdb"), read_only=True) as db:
            result = db.execute("SELECT count(*) FROM clockodo.entries").fetchone()
        return CliRun(report["seconds"], report["peak_rss_bytes"],
                      int(found.group(1).replace(",", "")), int(result[0]) if result else 0,
                      server)


def progress(message: str) -> None:
    print(f"benchmark: {message}", file=sys.stderr, flush=True)


def months_in_range(first_day: date) -> int:
    """Calendar months a full load covers: from the first entry to now + future_days."""
    until = datetime.now(UTC) + timedelta(days=DEFAULT_FUTURE_DAYS)
    return sum(1 for _ in tile(utc_midnight(first_day), until, "month"))


def ceilings(fake: FakeApi, bench: Bench) -> tuple[Throughput, Throughput]:
    """Both local ceilings on the entries pages the fake has answered (dropped on return)."""
    pages = bench.workdir("pages")
    bodies = fake.dump_entry_pages(pages)
    progress(f"local ceiling: orjson -> arrow -> dlt -> DuckDB, {len(bodies):,} pages")
    arrow = dlt_ceiling(bodies, bench.workdir("ceiling"))
    progress("local ceiling: DuckDB read_json")
    return arrow, read_json_ceiling(pages, bench.workdir("read_json"))


def rate(throughput: float) -> str:
    return f"{throughput:,.0f} rows/s"


def mb(size: float) -> str:
    return f"{size / 1e6:,.0f} MB"


def request_limit(rows: int) -> int:
    """The issue's bound for a dense account: 1.1 x ceil(rows / 1000) + 20."""
    return math.floor(1.1 * math.ceil(rows / 1000) + 20)


def dense(bench: Bench, entries: int) -> list[Line]:
    """1, 3 (dense), 4 and 5: full loads of `entries`, the ceilings, no-change runs."""
    progress(f"starting the fake API with {entries:,} entries")
    with FakeApi(entries) as fake:
        bench.prepare(fake)
        arrow, read_json = ceilings(fake, bench)
        bench.prepare(fake, again=True)
        progress("full load, entries only")
        load = bench.cli(fake, "entries", ["run", "--entities", "entries"])
        progress("full load, all tables")
        everything = bench.cli(fake, "all", ["run"])
        progress(f"no-change incremental runs ({NO_CHANGE_RUNS})")
        runs = sorted((bench.cli(fake, "all", ["run"]) for _ in range(NO_CHANGE_RUNS)),
                      key=lambda run: run.seconds)
    again = runs[len(runs) // 2]
    timed = f"({load.rows:,} rows, {load.seconds:.1f} s)"
    peak = max(load.peak_rss_bytes, everything.peak_rss_bytes)
    limit = request_limit(load.rows)
    return [
        Line("1", "full load, entries (`run --entities entries`)",
             f"{rate(load.rows_per_second)} {timed}",
             f">= 0.5 x ceiling = {rate(arrow.rows_per_second / 2)}",
             load.rows_per_second >= arrow.rows_per_second / 2),
        Line("1", "local ceiling: orjson, arrow, dlt (parquet, merge) into DuckDB",
             f"{rate(arrow.rows_per_second)} ({arrow.rows:,} rows, {arrow.seconds:.1f} s)"),
        Line("1", "DuckDB read_json on the same bodies",
             f"{rate(read_json.rows_per_second)} ({read_json.rows:,} rows, "
             f"{read_json.seconds:.1f} s)"),
        Line("1", "full load, all tables (`run`)",
             f"{everything.seconds:.1f} s, {everything.requests:,} requests"),
        Line("3", "requests, dense full load of entries",
             f"{load.requests:,} ({1000 * load.requests / max(load.rows, 1):.2f} per 1,000 rows)",
             f"<= 1.1 x ceil(rows/1000) + 20 = {limit:,}", load.requests <= limit),
        Line("4", f"peak RSS of the pipeline process, {entries:,} entries",
             f"{mb(peak)} (entries only {mb(load.peak_rss_bytes)})",
             f"<= {mb(MAX_RSS_BYTES)}", peak <= MAX_RSS_BYTES),
        Line("5", f"no-change incremental run (`run`, all tables), median of {len(runs)}",
             f"{again.seconds:.2f} s ({runs[0].seconds:.2f}-{runs[-1].seconds:.2f} s), "
             f"{again.requests:,} requests ({again.server.entries_requests:,} to /v2/entries)",
             f"<= 5 % of the full load = {0.05 * everything.seconds:.1f} s",
             again.seconds <= 0.05 * everything.seconds),
    ]


def latency_and_budget(bench: Bench, entries: int) -> list[Line]:
    """2 (latency, default vs one request at a time) and 6 (binding budget), one company."""
    progress(f"starting the fake API with {entries:,} entries")
    with FakeApi(entries) as fake:
        bench.prepare(fake)
        fake.configure(latency=LATENCY_SECONDS)
        progress(f"{LATENCY_SECONDS * 1000:.0f} ms latency, default settings")
        default = bench.cli(fake, "latency-default", ["run", "--entities", "entries"])
        progress(f"{LATENCY_SECONDS * 1000:.0f} ms latency, concurrency=1")
        serial = bench.cli(fake, "latency-serial", ["run", "--entities", "entries"],
                           concurrency="1")
        fake.configure(budgets=[BINDING_BUDGET])
        progress(f"binding budget {BINDING_BUDGET[0]} requests / {BINDING_BUDGET[1]:.0f} s")
        bound = bench.cli(fake, "binding", ["run"], rate_budgets=json.dumps([BINDING_BUDGET]))
    count, window = BINDING_BUDGET
    answered = bound.server.answered
    span = bound.server.last - bound.server.first
    shortest = (answered - 1) // count * window
    used = shortest / span if span > 0 else 0.0
    violations = bound.server.violations
    latency = f"{LATENCY_SECONDS * 1000:.0f} ms latency, {default.rows:,} entries"
    return [
        Line("2", f"{latency}, default settings",
             f"{rate(default.rows_per_second)} ({default.seconds:.1f} s)",
             f">= 4 x one at a time = {rate(4 * serial.rows_per_second)}",
             default.rows_per_second >= 4 * serial.rows_per_second),
        Line("2", f"{latency}, `concurrency=1`",
             f"{rate(serial.rows_per_second)} ({serial.seconds:.1f} s)"),
        Line("6", f"binding budget {count}/{window:.0f} s on both sides, full `run` "
                  f"({answered:,} requests)",
             f"{100 * used:.0f} % of the permitted rate, {violations} violations",
             ">= 90 %, 0 violations", used >= 0.9 and violations == 0),
    ]


def sparse(bench: Bench) -> list[Line]:
    """3 (sparse): a few entries a month over ten years."""
    today = date.today()
    start = date(today.year - SPARSE_YEARS, today.month, 1)
    progress(f"starting the fake API with {SPARSE_ENTRIES} entries since {start}")
    with FakeApi(SPARSE_ENTRIES, start=start) as fake:
        bench.prepare(fake)
        months = months_in_range(fake.first_day)
        progress("sparse full load")
        load = bench.cli(fake, "sparse", ["run"])
    limit = request_limit(load.rows)
    return [Line(
        "3", f"sparse: {load.rows} entries over {months} months, full `run`",
        f"{load.requests:,} requests, {load.server.entries_requests:,} to /v2/entries",
        f"/v2/entries <= {limit} (not one per month)", load.server.entries_requests <= limit,
    )]


def pandas() -> str:
    """Whether pandas is installed: pyarrow then imports it at its first conversion of Python
    values, in every run (about 0.2 s and 30 MB here). A user's install has none; the test
    extra brings it in through BigQuery's db-dtypes."""
    try:
        return f"pandas {version('pandas')} installed"
    except PackageNotFoundError:
        return "no pandas"


def table(lines: Sequence[Line]) -> str:
    """A Markdown table, aligned for the terminal."""
    rows = [("#", "figure", "measured", "target", "result")]
    shown = ""
    for line in lines:
        number, shown = ("" if line.section == shown else line.section), line.section
        verdict = "" if line.passed is None else ("PASS" if line.passed else "FAIL")
        rows.append((number, line.figure, line.measured, line.target, verdict))
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    rendered = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths,
                                                                             strict=True)) + " |"
                for row in rows]
    rendered.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(rendered)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--entries", type=int, default=1_000_000, help="dense account size")
    size.add_argument("--quick", action="store_true", help="100,000 entries (smoke run)")
    args = parser.parse_args(argv)
    entries = 100_000 if args.quick else args.entries
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="clockodo-benchmark-") as root:
        bench = Bench(Path(root))
        lines = [*dense(bench, entries),
                 *latency_and_budget(bench, min(entries, LATENCY_ENTRIES)),
                 *sparse(bench)]
    lines.sort(key=lambda line: line.section)  # stable: keeps each section's own order
    print(f"clockodo-dlt benchmark, {entries:,} entries; {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, dlt {version('dlt')}, "
          f"duckdb {version('duckdb')}, pyarrow {version('pyarrow')}, {pandas()}; load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(table(lines))
    print(notes(bench.runs))


def notes(runs: Sequence[CliRun]) -> str:
    """How the figures were made, printed under the table."""
    misses = sum(run.server.misses for run in runs)
    requests = sum(run.server.requests for run in runs)
    count, window = BINDING_BUDGET
    return "\n".join([
        "",
        "- Every pipeline run is `clockodo-pipeline` in a child process; time = its main() "
        "(imports excluded), rows = entries stored.",
        "- enhanced_list=false throughout: with enhanced_list=1 the connector holds /v2/entries "
        "to 300 requests per 15 minutes.",
        "- Rate budgets lifted on both sides except in 6. The fake answered "
        f"{requests - misses:,} of the {requests:,} requests of these runs from pages "
        "unmeasured runs (a full one, then a no-change one) prepared; it computed the rest "
        "(windows ending at now + future_days) at about 10 ms a page.",
        f"- 6: used = the shortest span the budget allows for n requests, "
        f"floor((n-1)/{count}) x {window:.0f} s, divided by the span from the first to the last "
        "answered request.",
    ])

if __name__ == "__main__":
    main()
