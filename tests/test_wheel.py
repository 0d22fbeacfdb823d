"""A non-editable install works: the wheel `python -m build` makes, installed into a fresh venv
(its dependencies from the package index), runs `clockodo-pipeline demo` from a directory
outside the project; `pip install .` packs the same files.

Built from a copy of the files a clone has, so nothing outside them (and no editable install)
can make it pass. About 1.5 minutes, most of it pip installing dlt, DuckDB and pyarrow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import duckdb

from clockodo_source.settings import ENTITIES

PROJECT = Path(__file__).resolve().parents[1]
MODELS = {"unbilled_time", "utilization", "project_budgets", "overtime_balance",
          "absence_summary"}


def _run(*args: str | Path, cwd: Path, env: dict[str, str],
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(arg) for arg in args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def _clone(target: Path) -> Path:
    """The project's own files as a fresh clone has them (no caches, no build output)."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT / name, target / name)
    shutil.copytree(PROJECT / "clockodo_source", target / "clockodo_source",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def _files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if ".dist-info/" not in name}


def test_wheel_installs_into_a_fresh_venv_and_runs_the_demo(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(RUNTIME__DLTHUB_TELEMETRY="false", DLT_DATA_DIR=str(tmp_path / "dlt"))
    source = _clone(tmp_path / "clone")
    started = time.monotonic()
    _run(sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path / "dist", source,
         cwd=tmp_path, env=env)
    (wheel,) = (tmp_path / "dist").glob("clockodo_dlt-*.whl")
    packed = _files(wheel)
    assert {path.relative_to(source).as_posix()
            for path in (source / "clockodo_source").rglob("*.py")} <= packed

    # pip's own route (`pip install .`) packs the same files
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", tmp_path / "pip",
         source, cwd=tmp_path, env=env)
    (pip_wheel,) = (tmp_path / "pip").glob("clockodo_dlt-*.whl")
    assert _files(pip_wheel) == packed

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    # this pip installs into the new venv (pip --python): the same as the venv's own pip,
    # without ensurepip's 20 s
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-compile", wheel,
         cwd=tmp_path, env=env)
    installed = time.monotonic() - started

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run(python, "-c", "import clockodo_source; print(clockodo_source.__file__)",
                 cwd=elsewhere, env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    demo = _run(venv / "bin" / "clockodo-pipeline", "demo", "--entries", "300", cwd=elsewhere,
                env=env)
    print(f"build and install {installed:.0f} s, in all {time.monotonic() - started:.0f} s")
    assert "models: unbilled_time" in demo.stdout
    (database,) = elsewhere.glob("*.duckdb")
    with duckdb.connect(str(database), read_only=True) as connection:
        (dataset,) = connection.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'entries'"
        ).fetchone() or ("",)
        tables = {row[0] for row in connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [dataset]
        ).fetchall()}
        entries = connection.execute(f'SELECT COUNT(*) FROM "{dataset}".entries').fetchone()
    assert set(ENTITIES) | MODELS <= tables
    assert entries is not None and entries[0] > 0
    assert list(elsewhere.glob("*.html")), "the demo writes its report page"
