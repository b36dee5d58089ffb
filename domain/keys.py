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
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event

from domain.errors import UnknownApiKey
from domain.log.ledger import Ledger

_WORKSPACES = uuid5(NAMESPACE_URL, "https://runledger.dev/workspaces")
_KEYS = uuid5(NAMESPACE_URL, "https://runledger.dev/api-keys")
KEY_PREFIX = "rl_"
_SHOWN_CHARS = 11
# The topic eventsourcing gives ApiKey's creation event (module:qualname of `ApiKey.Issued`).
_ISSUED_TOPIC = "domain.keys:ApiKey.Issued"


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
        self._cache: dict[str, tuple[float, Workspace | None]] = {}
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

    def authenticate(self, key: str) -> Workspace | None:
        """The workspace of a valid key, or None."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        workspace = self._load(key)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now, workspace)
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
                    self._cache.clear()
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
