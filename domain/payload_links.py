"""Signed, expiring links to one stored payload (`GET /v1/payloads/{token}`).

Datalab answers a step's output as a presigned URL, since outputs can be large. A link here is
its own credential, as a presigned URL is: it names one payload of one workspace (the
workspace, the execution, the span and which of its values) and when it expires, and carries a
tag over all of it,

    token = base64url(workspace ‖ execution ‖ span ‖ value ‖ expires ‖ HMAC-SHA256(key, …)[:16])

so it can be neither forged nor altered nor used after it expires, and a refused token says
nothing of why. It is signed, not encrypted: whoever holds a link can read the ids it names (as
the answer that gave it shows them too), but not change them. The key is
`RUNLEDGER_PAYLOAD_SECRET` when set (hashed to a key), or else derived from the log's own secret
(domain/position_tokens.py) for this purpose alone, so every replica of one log and every
restart accepts the links any of them gave.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from uuid import UUID

_TAG_BYTES = 16
_BODY_BYTES = 16 * 3 + 1 + 8
_TOKEN_BYTES = _BODY_BYTES + _TAG_BYTES


class PayloadValue(IntEnum):
    """Which of a span's values a link names."""

    INPUTS = 1
    OUTPUTS = 2
    ERROR = 3
    STATE = 4
    """The execution's newest state (the span named is the execution's root)."""

    @property
    def field(self) -> str:
        """The name of the value in a span (and in the payload's answer)."""
        return self.name.lower()


class InvalidPayloadLink(ValueError):
    """Not a link this server gave, altered, or expired (the caller is told none of which)."""


@dataclass(frozen=True, slots=True)
class PayloadRef:
    """One value of one span of one execution of one workspace."""

    workspace_id: UUID
    execution_id: UUID
    span_id: UUID
    value: PayloadValue
    expires_at: int = 0
    """When a link to it stops working (seconds since the epoch); 0 before one is made."""


class PayloadLinks:
    """Signs payload references into tokens that expire, and checks them."""

    def __init__(self, key: bytes, seconds: int, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._seconds = seconds
        self._clock = clock

    @classmethod
    def of(cls, log_secret: bytes, configured: str | None, seconds: int) -> PayloadLinks:
        """Links keyed by the configured secret, or else by the log's secret."""
        if configured:
            key = hashlib.sha256(b"rl-payload-link\0" + configured.encode()).digest()
        else:
            key = hashlib.blake2b(log_secret, digest_size=32, person=b"rl-payload-link").digest()
        return cls(key, seconds)

    def seconds_left(self, ref: PayloadRef) -> int:
        """How long a checked link has left."""
        return max(0, ref.expires_at - int(self._clock()))

    def token(self, ref: PayloadRef) -> str:
        """A token for `ref`, good for the configured seconds from now."""
        expires = int(self._clock()) + self._seconds
        body = (
            ref.workspace_id.bytes
            + ref.execution_id.bytes
            + ref.span_id.bytes
            + bytes([ref.value])
            + expires.to_bytes(8, "big")
        )
        return _encode(body + self._tag(body))

    def ref(self, token: str) -> PayloadRef:
        """What an unexpired token of this server names; `InvalidPayloadLink` otherwise."""
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise InvalidPayloadLink(token) from None
        # Only the one spelling this server writes: base64 leaves spare bits in the last
        # character, which a lenient decoder would let a changed token keep.
        if len(raw) != _TOKEN_BYTES or _encode(raw) != token:
            raise InvalidPayloadLink(token)
        body, tag = raw[:_BODY_BYTES], raw[_BODY_BYTES:]
        if not hmac.compare_digest(tag, self._tag(body)):
            raise InvalidPayloadLink(token)
        expires = int.from_bytes(body[49:57], "big")
        if expires < self._clock() or body[48] not in PayloadValue._value2member_map_:
            raise InvalidPayloadLink(token)
        return PayloadRef(
            UUID(bytes=body[0:16]),
            UUID(bytes=body[16:32]),
            UUID(bytes=body[32:48]),
            PayloadValue(body[48]),
            expires,
        )

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_TAG_BYTES]


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
