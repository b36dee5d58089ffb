"""Log positions as a workspace sees them: opaque tokens, never numbers.

The log is one sequence for every workspace, so a bare position tells whoever sees two of them
how much the others wrote in between. A workspace therefore gets a position only as a token
(in the manner of Zanzibar's zookies) that it can hand back to wait for its writes
(`min_log_position`) but not read, compare or forge:

    token = base64url(nonce ‖ position XOR pad(workspace, nonce) ‖ tag(workspace, nonce, ...))

with a fresh random nonce for every token (the same position never gives the same token twice)
and pad and tag keyed BLAKE2b of a secret that lives in the log itself (`TokenSecret`), so
every replica and every restart reads the same tokens. A token is bound to its workspace:
another workspace's token, or a changed one, is refused without saying anything about the log.
Operators (the admin token) see positions as numbers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from domain.log.ledger import Ledger

_SECRET_ID = uuid5(NAMESPACE_URL, "https://runledger.dev/position-token-secret")
_NONCE_BYTES = 8
_TAG_BYTES = 8
_TOKEN_BYTES = _NONCE_BYTES + 8 + _TAG_BYTES
TOKEN_LENGTH = len(base64.urlsafe_b64encode(bytes(_TOKEN_BYTES)))  # 32 characters


class InvalidPositionToken(ValueError):
    """Not a token this workspace was given."""


class TokenSecret(Aggregate):
    """The key of every position token; one per log, created by the first server to start."""

    @event("Created")
    def __init__(self, key_hex: str) -> None:
        self.key_hex = key_hex

    @staticmethod
    def create_id(key_hex: str) -> UUID:
        """One fixed id: the log holds one secret, found by a point read."""
        return _SECRET_ID


def log_secret(ledger: Ledger) -> bytes:
    """The log's secret, creating it if no server did before; every replica reads the same.
    Each use derives its own key from it (a keyed hash with a purpose of its own)."""
    try:
        secret: TokenSecret = ledger.repository.get(_SECRET_ID)
    except AggregateNotFoundError:
        try:
            secret = TokenSecret(secrets.token_hex(32))
            ledger.save(secret)
        except IntegrityError:  # another replica created it first: use theirs
            secret = ledger.repository.get(_SECRET_ID)
    return bytes.fromhex(secret.key_hex)


class PositionTokens:
    """Turns a workspace's log positions into tokens and back."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def of_log(cls, ledger: Ledger) -> PositionTokens:
        """The tokens of this log, creating its secret if no server did before."""
        return cls(log_secret(ledger))

    def _digest(self, purpose: bytes, data: bytes) -> bytes:
        return hashlib.blake2b(data, digest_size=8, key=self._key, person=purpose).digest()

    def token(self, workspace_id: UUID, position: int) -> str:
        """A token of `position` for `workspace_id`; a new one each call."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        pad = self._digest(b"rl-position-pad", workspace_id.bytes + nonce)
        masked = (position ^ int.from_bytes(pad, "big")).to_bytes(8, "big")
        tag = self._digest(b"rl-position-tag", workspace_id.bytes + nonce + masked)
        return base64.urlsafe_b64encode(nonce + masked + tag).decode()

    def position(self, workspace_id: UUID, token: str) -> int:
        """The position a token of `workspace_id` stands for; `InvalidPositionToken` for any
        other string."""
        if len(token) != TOKEN_LENGTH:
            raise InvalidPositionToken(token)
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError):
            raise InvalidPositionToken(token) from None
        nonce, masked, tag = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:-_TAG_BYTES], raw[-_TAG_BYTES:]
        expected = self._digest(b"rl-position-tag", workspace_id.bytes + nonce + masked)
        if len(raw) != _TOKEN_BYTES or not hmac.compare_digest(tag, expected):
            raise InvalidPositionToken(token)
        pad = self._digest(b"rl-position-pad", workspace_id.bytes + nonce)
        return int.from_bytes(masked, "big") ^ int.from_bytes(pad, "big")
