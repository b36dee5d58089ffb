"""Executions' integer ids as a workspace sees them: stable, unique, and saying nothing of the log.

Datalab names executions by integers. Each execution is listed at one log position (its run
request, or its root span's first initiated event: migration 0014), given once and never again,
which makes it a stable, unique integer id. A bare position, though, would tell a workspace how
much the others write (README, "What a workspace sees"), so a workspace sees each position
through a keyed permutation of its own,

    number = F(workspace, position) + 1,   F a bijection of [0, 2**53 - 1)

a four-round Feistel network over 54 bits whose round function is HMAC-SHA256 of a key derived
from the log's secret, the workspace and the round (Luby and Rackoff: a pseudorandom
permutation), walked again until it lands below 2**53 - 1. A number is a whole number from 1 to
2**53 - 1, which every JSON reader reads exactly; two workspaces' numbers are unrelated; and
numbers neither count nor order the log. The number is computed, never stored: the projections
keep the position, and a number given back is turned into a position by the inverse.
"""

from __future__ import annotations

import hashlib
import hmac
from uuid import UUID

_HALF_BITS = 27
_HALF = 1 << _HALF_BITS
_DOMAIN = (1 << 53) - 1
_ROUNDS = 4
LARGEST_NUMBER = _DOMAIN
"""The largest number an execution can have (2**53 - 1)."""


class UnknownNumber(ValueError):
    """A number no position maps to."""


class ExecutionNumbers:
    """Turns the log positions executions are listed at into a workspace's numbers and back."""

    def __init__(self, log_secret: bytes) -> None:
        self._key = hashlib.blake2b(log_secret, digest_size=32, person=b"rl-exec-number").digest()

    def number(self, workspace_id: UUID, position: int) -> int:
        """The workspace's number for the execution listed at `position`."""
        if not 0 <= position < _DOMAIN:
            raise ValueError(f"position {position} is outside the numbers' domain")
        keys = self._round_keys(workspace_id)
        value = _permute(keys, position)
        while value >= _DOMAIN:  # cycle-walk back into the domain
            value = _permute(keys, value)
        return value + 1

    def position(self, workspace_id: UUID, number: int) -> int:
        """The position a number of the workspace stands for; `UnknownNumber` for an integer no
        execution could have."""
        if not 1 <= number <= _DOMAIN:
            raise UnknownNumber(number)
        keys = self._round_keys(workspace_id)
        value = _unpermute(keys, number - 1)
        while value >= _DOMAIN:
            value = _unpermute(keys, value)
        return value

    def _round_keys(self, workspace_id: UUID) -> list[bytes]:
        return [
            hmac.new(self._key, workspace_id.bytes + bytes([round_]), hashlib.sha256).digest()
            for round_ in range(_ROUNDS)
        ]


def _round(key: bytes, half: int) -> int:
    digest = hmac.new(key, half.to_bytes(4, "big"), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") % _HALF


def _permute(keys: list[bytes], value: int) -> int:
    left, right = value >> _HALF_BITS, value & (_HALF - 1)
    for key in keys:
        left, right = right, left ^ _round(key, right)
    return (left << _HALF_BITS) | right


def _unpermute(keys: list[bytes], value: int) -> int:
    left, right = value >> _HALF_BITS, value & (_HALF - 1)
    for key in reversed(keys):
        left, right = right ^ _round(key, left), left
    return (left << _HALF_BITS) | right
