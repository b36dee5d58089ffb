"""How `runledger replay` and `verify` find the server of their data folder, safely.

`serve` writes the address it listens on into the data folder (`server.json`, beside the admin
token) and removes it when it stops. The commands talk to that address only, and only after
the server there has proved it holds the admin token without being sent it: it answers a
random challenge with an HMAC keyed by the token. A different program on that port, or a
server of another data folder, fails the proof and is never sent the token.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import httpx
import orjson

from api.settings import Settings

PROOF_CONTEXT = b"runledger admin proof\n"


def admin_proof(token: str, challenge: str) -> str:
    """What a server holding `token` answers to `challenge` (hex HMAC-SHA256)."""
    return hmac.new(token.encode(), PROOF_CONTEXT + challenge.encode(), hashlib.sha256).hexdigest()


def address_path(settings: Settings) -> Path:
    """Where `serve` leaves the address it listens on."""
    return settings.data_dir / "server.json"


def connectable_host(host: str) -> str:
    """An address a local command can reach a server bound to `host` at."""
    if host in ("", "0.0.0.0"):  # noqa: S104 (a comparison, not a bind)
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def write_address(settings: Settings, host: str, port: int) -> str:
    """Leave the server's URL in the data folder (mode 600); returns the URL."""
    url = f"http://{connectable_host(host)}:{port}"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = address_path(settings)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(orjson.dumps({"url": url, "pid": os.getpid()}))
    return url


def remove_address(settings: Settings, url: str) -> None:
    """Remove the address file if it still names this server (another may have replaced it)."""
    path = address_path(settings)
    try:
        if orjson.loads(path.read_bytes()).get("url") == url:
            path.unlink()
    except (FileNotFoundError, orjson.JSONDecodeError):
        pass


class NotThisServer(ValueError):
    """A server answers where the commands would go, but it is not the data folder's."""


def _recorded_url(settings: Settings) -> str | None:
    try:
        recorded = orjson.loads(address_path(settings).read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    url = recorded.get("url") if isinstance(recorded, dict) else None
    return url if isinstance(url, str) else None


def server_admin(settings: Settings, token: str | None, url: str | None) -> httpx.Client | None:
    """A client for the admin endpoints of the data folder's running server (or of `url`, when
    named), or None when no such server runs. Raises `NotThisServer` when something answers
    there without proving it holds the admin token, which is then never sent."""
    target = url or _recorded_url(settings)
    if target is None:
        return None
    challenge = secrets.token_hex(16)
    try:
        answer = httpx.get(f"{target}/admin/proof", params={"challenge": challenge}, timeout=5)
    except httpx.HTTPError:
        if url is not None:
            raise NotThisServer(f"no server answers at {url}") from None
        return None  # the recorded server is gone (killed, say): the folder is free
    if not token:
        raise NotThisServer(f"a server answers at {target} but no admin token was found")
    proof = answer.json().get("proof") if answer.status_code == 200 else None
    if not isinstance(proof, str) or not hmac.compare_digest(proof, admin_proof(token, challenge)):
        raise NotThisServer(
            f"the server at {target} cannot prove it holds this data folder's admin token, so "
            f"the token was not sent; if it is not Runledger's, remove {address_path(settings)}"
        )
    # A verify of a large log takes minutes: wait for it.
    return httpx.Client(
        base_url=target, headers={"X-Admin-Token": token}, timeout=httpx.Timeout(3600)
    )
