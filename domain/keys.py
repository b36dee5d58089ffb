"""Workspaces and their API keys, kept as aggregates in the same log as the events.

A key is a random secret; only its SHA-256 is stored. A slow password hash (bcrypt, argon2)
protects low-entropy secrets against guessing; 256 random bits need no such help, and a fast
hash keeps authentication off the ingest hot path. The key's aggregate id is derived from its
hash, so authenticating is one primary-key read, cached briefly in memory.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from domain.errors import UnknownApiKey
from domain.log.ledger import Ledger

_WORKSPACES = uuid5(NAMESPACE_URL, "https://runledger.dev/workspaces")
_KEYS = uuid5(NAMESPACE_URL, "https://runledger.dev/api-keys")
KEY_PREFIX = "rl_"
_SHOWN_CHARS = 11


def workspace_id_for(name: str) -> UUID:
    """The stable id of a workspace: the same name is the same workspace on every replica."""
    return uuid5(_WORKSPACES, name)


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(Aggregate):
    """An API key of a workspace."""

    @event("Issued")
    def __init__(self, key_hash: str, workspace_id: UUID, workspace_name: str, shown: str) -> None:
        self.key_hash = key_hash
        self.workspace_id = workspace_id
        self.workspace_name = workspace_name
        self.shown = shown
        self.revoked = False

    @staticmethod
    def create_id(key_hash: str, workspace_id: UUID, workspace_name: str, shown: str) -> UUID:
        """Derived from the hash, so a key is found by one point read."""
        return uuid5(_KEYS, key_hash)

    @event("Revoked")
    def revoke(self) -> None:
        """Stop accepting the key."""
        self.revoked = True


# Derived, not spelled out: if the class moves, listing keys must still find them.
_ISSUED_TOPIC = get_topic(ApiKey.Issued)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Workspace:
    """The workspace a request acts for."""

    id: UUID
    name: str


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a key after it was created."""

    shown: str
    workspace: Workspace
    created_at: datetime
    revoked: bool


class KeyRing:
    """Creates, checks and revokes API keys.

    Checked keys are cached for `cache_seconds`: another replica's revocation takes effect
    here within that time.
    """

    def __init__(self, ledger: Ledger, cache_seconds: float = 10.0) -> None:
        self._ledger = ledger
        self._cache_seconds = cache_seconds
        # Keyed by hash, so the secrets do not sit in memory. Unknown keys get a smaller cache
        # of their own: a client guessing keys must not evict the keys that work.
        self._known: dict[str, tuple[float, Workspace]] = {}
        self._unknown: dict[str, float] = {}
        self._lock = threading.Lock()

    def create(self, workspace_name: str) -> tuple[str, KeyInfo]:
        """A new key for the workspace (created with its first key); the secret is returned once."""
        name = workspace_name.strip()
        if not name:
            raise ValueError("a workspace name must not be empty")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        api_key = ApiKey(hash_key(key), workspace_id_for(name), name, key[:_SHOWN_CHARS])
        self._ledger.save(api_key)
        return key, self._info(api_key)

    def cached(self, key: str) -> Workspace | Literal[False] | None:
        """The workspace if the key was checked recently, None if it was refused, else False."""
        key_hash = hash_key(key)
        now = time.monotonic()
        with self._lock:
            known = self._known.get(key_hash)
            if known is not None and now - known[0] < self._cache_seconds:
                return known[1]
            refused = self._unknown.get(key_hash)
            if refused is not None and now - refused < self._cache_seconds:
                return None
        return False

    def authenticate(self, key: str) -> Workspace | None:
        """The workspace of a valid key, or None (reads the log unless cached)."""
        hit = self.cached(key)
        if hit is not False:
            return hit
        workspace = self._load(key)
        now = time.monotonic()
        with self._lock:
            if workspace is None:
                if len(self._unknown) >= 1_000:
                    self._unknown.clear()
                self._unknown[hash_key(key)] = now
            else:
                if len(self._known) >= 100_000:
                    self._known.clear()
                self._known[hash_key(key)] = (now, workspace)
        return workspace

    def _load(self, key: str) -> Workspace | None:
        if not key.startswith(KEY_PREFIX):
            return None
        try:
            api_key: ApiKey = self._ledger.repository.get(uuid5(_KEYS, hash_key(key)))
        except AggregateNotFoundError:
            return None
        return None if api_key.revoked else Workspace(api_key.workspace_id, api_key.workspace_name)

    def list(self) -> list[KeyInfo]:
        """Every key ever issued, oldest first."""
        return [self._info(api_key) for api_key in self._issued()]

    def revoke(self, shown: str) -> KeyInfo:
        """Revoke the active key whose shown prefix is given."""
        for api_key in self._issued():
            if api_key.shown == shown and not api_key.revoked:
                api_key.revoke()
                self._ledger.save(api_key)
                with self._lock:
                    self._known.clear()
                return self._info(api_key)
        raise UnknownApiKey(f"no active key is shown as {shown!r}")

    def _issued(self) -> Iterator[ApiKey]:
        position = 0
        while batch := self._ledger.recorder.select_notifications(
            start=position, limit=1000, topics=[_ISSUED_TOPIC], inclusive_of_start=False
        ):
            for notification in batch:
                api_key: ApiKey = self._ledger.repository.get(UUID(str(notification.originator_id)))
                yield api_key
            position = batch[-1].id

    @staticmethod
    def _info(api_key: ApiKey) -> KeyInfo:
        return KeyInfo(
            shown=api_key.shown,
            workspace=Workspace(api_key.workspace_id, api_key.workspace_name),
            created_at=api_key.created_on,
            revoked=api_key.revoked,
        )
