"""The README's "From Python" snippets, run as written (as scripts, against the fake API),
leave the loaded tables and the analytics models in the DuckDB file."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from clockodo_source.analytics import MODEL_NAMES
from clockodo_source.fake.company import FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from tests.expected import first_entry_day
from tests.helpers import API_KEY, API_USER

README = Path(__file__).resolve().parents[1] / "README.md"


def python_snippets() -> list[str]:
    """The Python code blocks of the README's "From Python" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### From Python", 1)[1].split("\n#", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_readme_has_both_snippets() -> None:
    snippets = python_snippets()
    assert len(snippets) == 2
    assert all("build_models(pipeline)" in snippet for snippet in snippets)
    assert "bound_allocators()" in snippets[1]


@pytest.mark.parametrize("index", [0, 1])
def test_readme_python_snippet_builds_the_models(index: int, api: FakeClockodoServer,
                                                 company: FakeCompany, tmp_path: Path) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(python_snippets()[index], encoding="utf-8")
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false",
           "SOURCES__CLOCKODO__API_USER": API_USER, "SOURCES__CLOCKODO__API_KEY": API_KEY,
           "SOURCES__CLOCKODO__BASE_URL": api.url,
           "SOURCES__CLOCKODO__START_DATE": first_entry_day(company).isoformat()}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    built = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert set(built) == set(MODEL_NAMES) and all(built.values())
    with duckdb.connect(str(tmp_path / "clockodo_pipeline.duckdb"), read_only=True) as database:
        for model, rows in built.items():
            (count,) = database.execute(f"SELECT COUNT(*) FROM clockodo.{model}").fetchone() \
                or (None,)
            assert count == rows, model
        (entries,) = database.execute("SELECT COUNT(*) FROM clockodo.entries").fetchone() \
            or (None,)
    assert entries == len(company.all_entries())
