"""`GET /v1/audit/checkpoint`: the log's hash chain head, signed (domain/log/checkpoint.py)."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import require_admin
from api.settings import Settings
from domain.log.checkpoint import sign, signing_key


def audit_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """RUNLEDGER_AUDIT_SIGNING_KEY, else the data folder's key, made on first use (mode 600).
    Replicas that share a log but not a folder set the variable alike, so every checkpoint is
    signed by one key."""
    if settings.audit_signing_key:
        return signing_key(settings.audit_signing_key)
    path = settings.audit_key_path
    if not path.exists():
        _create_key_file(path)
    if path.stat().st_mode & 0o077:
        raise ValueError(f"{path} must be readable by its owner only (chmod 600)")
    return signing_key(path.read_text())


def _create_key_file(path: Path) -> None:
    # Written whole, synced, then linked into place: another process starting at the same
    # time, or a crash half way, never finds the name holding a partial key.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staged = tempfile.mkstemp(dir=path.parent, prefix=".audit-signing-key.")
    try:
        with os.fdopen(fd, "w") as file:  # mkstemp's file is mode 600
            file.write(secrets.token_hex(32) + "\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: theirs
            os.link(staged, path)
    finally:
        os.unlink(staged)


async def checkpoint(request: Request) -> Response:
    """The chain's head now, signed: for the operator's auditors (the admin token), since the
    head's position tells how much every workspace wrote."""
    require_admin(request)
    position, link = await run_in_threadpool(request.app.state.ledger.chain_head)
    signed = sign(request.app.state.audit_key, position, link, datetime.now(UTC))
    return Response(orjson.dumps(signed.as_json()), media_type="application/json")


routes = [Route("/v1/audit/checkpoint", checkpoint, methods=["GET"])]
