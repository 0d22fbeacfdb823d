"""The filesystem destination: every table as Delta (parquet) files, locally and on S3.

S3 is moto's server on loopback; merges and deletions go through Delta tables.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import boto3
import dlt
import pytest
from botocore.exceptions import EndpointConnectionError

from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from tests.exact import assert_exact
from tests.expected import first_entry_day
from tests.helpers import API_KEY, API_USER

BUCKET = "clockodo-lake"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def s3_env() -> Iterator[dict[str, str]]:
    """moto's S3 server in a process of its own: deltalake's reader holds the GIL while it
    waits for S3, so a server thread in the test process would never answer it."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                               "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    deadline = time.monotonic() + 30
    while True:
        try:
            client.create_bucket(Bucket=BUCKET)
            break
        except EndpointConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    yield {
        "DESTINATION__FILESYSTEM__BUCKET_URL": f"s3://{BUCKET}/data",
        "DESTINATION__FILESYSTEM__CREDENTIALS__AWS_ACCESS_KEY_ID": "testing",
        "DESTINATION__FILESYSTEM__CREDENTIALS__AWS_SECRET_ACCESS_KEY": "testing",
        "DESTINATION__FILESYSTEM__CREDENTIALS__ENDPOINT_URL": endpoint,
        "DESTINATION__FILESYSTEM__CREDENTIALS__REGION_NAME": "us-east-1",
        "DESTINATION__FILESYSTEM__DELTALAKE_STORAGE_OPTIONS": '{"AWS_ALLOW_HTTP": "true"}',
    }
    server.terminate()
    server.wait(timeout=10)


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-m", "clockodo_source.app.cli", *args,
                             "--destination", "filesystem"], cwd=cwd,
                            env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr


def lake_pipeline(env: dict[str, str]) -> dlt.Pipeline:
    """A pipeline of the CLI's name over the lake, its schema and state read back from it."""
    os.environ.update(env)
    pipeline = dlt.pipeline(pipeline_name="clockodo_pipeline", destination="filesystem",
                            dataset_name="clockodo", pipelines_dir=env["DLT_DATA_DIR"] + "/p")
    pipeline.sync_destination()
    return pipeline


@pytest.mark.parametrize("storage", ["local", "s3"])
def test_filesystem_delta_load_with_edits_and_deletions(storage: str, tmp_path: Path,
                                                        request: pytest.FixtureRequest) -> None:
    company = FakeCompany(CompanyConfig(entries=500, seed=8,
                                        start=date.today() - timedelta(days=200)))
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        env = {
            "SOURCES__CLOCKODO__API_USER": API_USER,
            "SOURCES__CLOCKODO__API_KEY": API_KEY,
            "SOURCES__CLOCKODO__BASE_URL": server.url,
            "SOURCES__CLOCKODO__START_DATE": first_entry_day(company).isoformat(),
            "DLT_DATA_DIR": str(tmp_path / "dlt"),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
        }
        if storage == "s3":
            env.update(request.getfixturevalue("s3_env"))
        else:
            env["DESTINATION__FILESYSTEM__BUCKET_URL"] = (tmp_path / "lake").as_uri()
        run_cli(["run"], tmp_path, env)
        recent = [row for row in company.all_entries() if row["time_until"] and
                  company.now - timedelta(days=20) < datetime.fromisoformat(row["time_since"])
                  < company.now]
        company.delete_entry(recent[0]["id"])
        company.edit_entry(recent[1]["id"], text="edited on the lake")
        company.edit_entry(recent[2]["id"], text="")
        company.edit_entry(recent[3]["id"], text=None)
        company.add_entry(time_since=company.now - timedelta(days=2))
        run_cli(["run"], tmp_path, env)
        assert_exact(lake_pipeline(env), company)
    if storage == "local":
        assert list((tmp_path / "lake" / "clockodo" / "entries").rglob("*.parquet"))
