"""`GET /v1/audit/checkpoint` and `runledger verify --log --checkpoint`: a signed head an auditor
keeps proves later that the history up to it was not rewritten, even by someone who rebuilt
the whole chain."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
import orjson
import pytest

from api.app import open_ledger
from api.cli import parser
from api.settings import Settings
from domain.log.checkpoint import BadCheckpoint, Checkpoint
from domain.log.ledger import Ledger
from tests.events import execution
from tests.log.test_chain import execute
from tests.servers import TEST_ADMIN_TOKEN, RunningServer, post_events


def fetch_checkpoint(server: RunningServer) -> dict[str, object]:
    answer = httpx.get(
        f"{server.base_url}/v1/audit/checkpoint", headers={"X-Admin-Token": TEST_ADMIN_TOKEN}
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def verify_log(env: Mapping[str, str], checkpoint: Path) -> int:
    arguments = parser().parse_args(["verify", "--log", "--checkpoint", str(checkpoint)])
    code: int = arguments.handler(arguments, env)
    return code


def test_the_checkpoint_is_the_chains_head_signed(server: RunningServer) -> None:
    for headers in ({}, {"X-API-KEY": server.api_key}, {"X-Admin-Token": "wrong"}):
        refused = httpx.get(f"{server.base_url}/v1/audit/checkpoint", headers=headers)
        assert refused.status_code == 401
    post_events(server, execution(node_count=2))
    first = fetch_checkpoint(server)
    checkpoint = Checkpoint.from_json(first)
    ledger = open_ledger(Settings.from_env(server.env))
    try:
        assert (checkpoint.position, checkpoint.link) == ledger.chain_head()
        assert checkpoint.position == ledger.max_position()
    finally:
        ledger.close()
    assert first["algorithm"] == "Ed25519"
    # One key for the server's checkpoints.
    assert fetch_checkpoint(server)["key_id"] == first["key_id"]
    forged = {**first, "log_position": checkpoint.position + 1}
    with pytest.raises(BadCheckpoint, match="signature"):
        Checkpoint.from_json(forged)


def test_a_kept_checkpoint_holds_while_history_grows_and_catches_a_rebuilt_chain(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    post_events(server, execution(node_count=2))
    kept = tmp_path / "checkpoint.json"
    kept.write_bytes(orjson.dumps(fetch_checkpoint(server)))
    post_events(server, execution(node_count=1))  # history goes on
    assert verify_log(server.env, kept) == 0
    assert "signature holds" in capsys.readouterr().out

    # Someone rewrites an early record and rebuilds the whole chain over the new history.
    ledger = Ledger(Settings.from_env(server.env).log_env, tail_records=0)
    try:
        execute(
            ledger,
            server.env,
            "UPDATE {table} SET topic = 'node.execution.streaming' WHERE {id} = 2",
        )
        execute(ledger, server.env, "DELETE FROM {chain}")
    finally:
        ledger.close()
    rebuilt = Ledger(Settings.from_env(server.env).log_env, tail_records=0)  # re-chains
    try:
        assert rebuilt.check_chain().first_break is None  # the chain alone cannot tell
    finally:
        rebuilt.close()
    assert verify_log(server.env, kept) == 1
    assert "the chain differs from the checkpoint (rewritten)" in capsys.readouterr().out


def test_a_checkpoint_whose_record_was_removed_and_the_chain_rebuilt_fails(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    post_events(server, execution(node_count=1))
    taken = fetch_checkpoint(server)
    kept = tmp_path / "checkpoint.json"
    kept.write_bytes(orjson.dumps(taken))
    post_events(server, execution(node_count=1))
    ledger = Ledger(Settings.from_env(server.env).log_env, tail_records=0)
    try:
        execute(ledger, server.env, f"DELETE FROM {{table}} WHERE {{id}} = {taken['log_position']}")
        execute(ledger, server.env, "DELETE FROM {chain}")
    finally:
        ledger.close()
    Ledger(Settings.from_env(server.env).log_env, tail_records=0).close()  # rebuilds the chain
    assert verify_log(server.env, kept) == 1
    out = capsys.readouterr().out
    assert f"position {taken['log_position']}: the chain differs from the checkpoint" in out


def test_a_checkpoint_with_a_broken_signature_is_refused(
    server: RunningServer, tmp_path: Path
) -> None:
    post_events(server, execution(node_count=1))
    taken = fetch_checkpoint(server)
    signature = str(taken["signature"])
    taken["signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]
    kept = tmp_path / "checkpoint.json"
    kept.write_bytes(orjson.dumps(taken))
    with pytest.raises(BadCheckpoint, match="signature does not hold"):
        verify_log(server.env, kept)
