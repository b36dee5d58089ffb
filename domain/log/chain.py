"""The log's hash chain: evidence that no stored record was altered, removed, added or
reordered after it was committed.

Every record gets a digest over its stream, version, topic and the SHA-256 of its state (the
state's own hash, so a later redaction can drop a payload's bytes and keep its hash), and the
chain runs through every record in position order: `link = SHA-256(previous link || position ||
digest)`. One chain for the whole log, not one per workspace: positions are one sequence, every
append already commits under the log's single-writer lock, and one head is what an auditor
keeps (a checkpoint) and compares later.

Each commit stores one block beside the records it inserted, in the same transaction: the
positions and digests of its records and the link after its last one. A record's hash is thus
stored with the commit that wrote it, and the writer adds one row per transaction, not per
record. `verify` walks blocks and records together and names the first position where they
disagree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import StoredEvent

GENESIS = bytes(32)
"""The link before the first record."""
_POSITION_BYTES = 8
_DIGEST_BYTES = 32


@dataclass(frozen=True)
class DigestedEvent(StoredEvent):
    """A stored event with its digest worked out before the write: the appender hashes while
    no lock is held, and the commit, which holds the log's write lock, only links."""

    digest: bytes = b""


def digested(stored: StoredEvent) -> DigestedEvent:
    """`stored` with its digest."""
    return digested_event(
        stored.originator_id, stored.originator_version, stored.topic, stored.state
    )


def digested_event(
    originator_id: UUID | str, version: int, topic: str, state: bytes
) -> DigestedEvent:
    """A stored event and its digest, made at once."""
    digest = _digest_of(originator_id, version, topic, state)
    return DigestedEvent(originator_id, version, topic, state, digest)


def record_digest(stored: StoredEvent) -> bytes:
    """What the chain holds of one record (worked out already for a `DigestedEvent`)."""
    if isinstance(stored, DigestedEvent) and stored.digest:
        return stored.digest
    return _digest(stored)


def _digest(stored: StoredEvent) -> bytes:
    return _digest_of(stored.originator_id, stored.originator_version, stored.topic, stored.state)


def _digest_of(originator: UUID | str, version: int, topic: str, stored_state: bytes) -> bytes:
    # A row edited by hand may come back as text (SQLite's `||` makes text): hash its bytes.
    state = stored_state if isinstance(stored_state, bytes) else str(stored_state).encode()
    stream = originator.bytes if isinstance(originator, UUID) else UUID(str(originator)).bytes
    return hashlib.sha256(
        b"".join(
            (
                stream,
                version.to_bytes(_POSITION_BYTES, "big"),
                topic.encode(),
                b"\0",
                hashlib.sha256(state).digest(),
            )
        )
    ).digest()


def next_link(previous: bytes, position: int, digest: bytes) -> bytes:
    """The link after the record at `position`."""
    return hashlib.sha256(previous + position.to_bytes(_POSITION_BYTES, "big") + digest).digest()


@dataclass(frozen=True, slots=True)
class Block:
    """The chain's part one commit wrote: its records' positions and digests, and the link
    after its last record."""

    positions: bytes
    digests: bytes
    link: bytes

    @property
    def first_position(self) -> int:
        return int.from_bytes(self.positions[:_POSITION_BYTES], "big")

    @property
    def last_position(self) -> int:
        return int.from_bytes(self.positions[-_POSITION_BYTES:], "big")

    def entries(self) -> Iterator[tuple[int, bytes]]:
        """(position, digest) of each record, in position order."""
        for index in range(len(self.positions) // _POSITION_BYTES):
            start = index * _POSITION_BYTES
            position = int.from_bytes(self.positions[start : start + _POSITION_BYTES], "big")
            yield position, self.digests[index * _DIGEST_BYTES : (index + 1) * _DIGEST_BYTES]


def block_of(previous: bytes, records: Iterable[tuple[int, StoredEvent]]) -> Block:
    """The block of records committed together (in position order), after `previous`."""
    positions, digests = bytearray(), bytearray()
    link = previous
    for position, stored in records:
        digest = record_digest(stored)
        link = next_link(link, position, digest)
        positions += position.to_bytes(_POSITION_BYTES, "big")
        digests += digest
    return Block(bytes(positions), bytes(digests), link)


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where the log and its chain first disagree, and how."""

    position: int
    reason: str

    def __str__(self) -> str:
        return f"position {self.position}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """A walk of the whole chain: how far it went, its head, and the first break if any."""

    records_count: int
    head_position: int
    head_link: bytes
    first_break: ChainBreak | None


def check(
    blocks: Iterable[Block],
    records: Iterable[tuple[int, StoredEvent]],
    checkpoint: tuple[int, bytes] | None = None,
) -> ChainCheck:
    """Walk blocks and records (both in position order) together; stop at the first record
    that was altered, removed or added, or a block whose link does not follow. With a
    `checkpoint` (a position and the link a signed checkpoint gave there), the walk's link at
    that position must be the same: else the history up to it was rewritten since."""
    stream = iter(records)
    pending = next(stream, None)
    link, count, head = GENESIS, 0, 0
    # The checkpoint's position is met by the first record at or past it: if that is not its
    # record (removed since, the chain rebuilt around the gap) or not its link, history changed.
    unmet = checkpoint

    def result(broken: ChainBreak | None) -> ChainCheck:
        return ChainCheck(count, head, link, broken)

    for block in blocks:
        for position, digest in block.entries():
            if pending is not None and pending[0] < position:
                return result(ChainBreak(pending[0], "a record the chain does not hold (added)"))
            if pending is None or pending[0] > position:
                return result(ChainBreak(position, "the chain's record is missing (removed)"))
            if record_digest(pending[1]) != digest:
                return result(ChainBreak(position, "the record differs from its hash (altered)"))
            link = next_link(link, position, digest)
            count, head = count + 1, position
            pending = next(stream, None)
            if unmet is not None and position >= unmet[0]:
                if (position, link) != unmet:
                    return result(
                        ChainBreak(unmet[0], "the chain differs from the checkpoint (rewritten)")
                    )
                unmet = None
        if link != block.link:
            return result(
                ChainBreak(block.first_position, "the chain's link does not follow (rewritten)")
            )
    if pending is not None:
        return result(ChainBreak(pending[0], "a record the chain does not hold (added)"))
    if unmet is not None:
        return result(ChainBreak(unmet[0], "the checkpoint is past the chain's end (removed)"))
    return result(None)
