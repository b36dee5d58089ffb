"""`runledger project`: the projection runner on its own, following a PostgreSQL log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from api.app import open_ledger
from api.settings import Settings
from domain.batch import split_body, validate_batch
from tests.events import execution

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _caught_up_to(log_path: Path) -> int:
    position = 0
    for line in log_path.read_text().splitlines():
        if line.startswith("{") and (entry := orjson.loads(line)).get("msg") == "caught up":
            position = max(position, int(entry["position"]))
    return position


def test_a_standalone_projector_follows_the_log_and_verify_agrees(
    postgres_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **postgres_env,
        "RUNLEDGER_DATA_DIR": str(tmp_path / "data"),
        "RUNLEDGER_CLICKHOUSE_URL": f"chdb://{tmp_path / 'chdb'}",
        "RUNLEDGER_LOG_LEVEL": "DEBUG",
    }
    ledger = open_ledger(Settings.from_env(env))
    events = [e for _ in range(10) for e in execution(node_count=3)]
    envelopes = validate_batch(split_body(orjson.dumps(events), max_events=1000)).envelopes
    workspace = uuid.uuid4()
    ledger.append(workspace, envelopes[:40], datetime.now(UTC))
    log_path = tmp_path / "project.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "project"],
            env={**os.environ, **env},
            stdout=log_file,
            stderr=log_file,
        )
    try:
        # Events appended while it runs are followed too.
        time.sleep(1)
        head = ledger.append(workspace, envelopes[40:], datetime.now(UTC)).log_position
        deadline = time.monotonic() + 60
        while _caught_up_to(log_path) < head:
            assert time.monotonic() < deadline, log_path.read_text()[-2000:]
            assert process.poll() is None, log_path.read_text()[-2000:]
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        ledger.close()
    entries = [
        orjson.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")
    ]
    assert [e["writer"] for e in entries if e["msg"] == "projecting"] == [True]
    verified = subprocess.run(
        [sys.executable, "-m", "api.cli", "verify"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "10 executions, 80 events checked; 0 differences" in verified.stdout
