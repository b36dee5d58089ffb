"""Signed checkpoints of the log's hash chain: a head (position and link) an auditor keeps
outside Runledger, signed with the server's Ed25519 key, so it can later prove that the
history up to that position is still the one it saw (`runledger verify --log --checkpoint`).

A signature, not an HMAC: whoever holds a checkpoint checks it with the public key it carries
(compare that key with the one you trust: `key_id` is its SHA-256), without the secret that
signs them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALGORITHM = "Ed25519"
_PURPOSE = b"runledger-checkpoint/1"


class BadCheckpoint(ValueError):
    """A checkpoint that does not parse, or whose signature does not hold."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain's head at `position`, signed at `signed_at`."""

    position: int
    link: bytes
    signed_at: datetime
    public_key: bytes
    signature: bytes

    @property
    def key_id(self) -> str:
        """The signing key's fingerprint: SHA-256 of its raw public key, hex."""
        return hashlib.sha256(self.public_key).hexdigest()

    def as_json(self) -> dict[str, Any]:
        return {
            "log_position": self.position,
            "link": self.link.hex(),
            "signed_at": self.signed_at.isoformat(),
            "algorithm": ALGORITHM,
            "public_key": self.public_key.hex(),
            "key_id": self.key_id,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, found: Any) -> Checkpoint:
        """A checkpoint as `as_json` wrote it, its signature checked."""
        try:
            checkpoint = cls(
                position=int(found["log_position"]),
                link=bytes.fromhex(found["link"]),
                signed_at=datetime.fromisoformat(found["signed_at"]),
                public_key=bytes.fromhex(found["public_key"]),
                signature=bytes.fromhex(found["signature"]),
            )
            if found.get("algorithm") != ALGORITHM:
                raise ValueError(f"algorithm must be {ALGORITHM}")
        except (KeyError, TypeError, ValueError) as error:
            raise BadCheckpoint(f"not a checkpoint: {error}") from None
        try:
            Ed25519PublicKey.from_public_bytes(checkpoint.public_key).verify(
                checkpoint.signature,
                _message(checkpoint.position, checkpoint.link, checkpoint.signed_at),
            )
        except (InvalidSignature, ValueError):
            raise BadCheckpoint("the checkpoint's signature does not hold") from None
        return checkpoint


def _public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PrivateKey) -> str:
    """The fingerprint of the key's public half, as a checkpoint's `key_id`."""
    return hashlib.sha256(_public_bytes(key)).hexdigest()


def _message(position: int, link: bytes, signed_at: datetime) -> bytes:
    return b"\n".join(
        (_PURPOSE, str(position).encode(), link.hex().encode(), signed_at.isoformat().encode())
    )


def sign(key: Ed25519PrivateKey, position: int, link: bytes, now: datetime) -> Checkpoint:
    """The head at `position`, signed now."""
    signature = key.sign(_message(position, link, now))
    return Checkpoint(position, link, now, _public_bytes(key), signature)


def signing_key(seed_hex: str) -> Ed25519PrivateKey:
    """The key of a 32-byte seed, hex (`RUNLEDGER_AUDIT_SIGNING_KEY`, or the data folder's)."""
    try:
        seed = bytes.fromhex(seed_hex.strip())
        return Ed25519PrivateKey.from_private_bytes(seed)
    except ValueError:
        raise ValueError("the audit signing key must be 64 hex digits (a 32-byte seed)") from None
