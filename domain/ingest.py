"""The ingest use case: events in, durably logged events and their counts out.

Every event enters the log through `append_batch`: a request body of events through `ingest`,
which splits and validates it first; OTLP's spans as the checked records their mapping writes
(domain/otel_mapping.py: `span_records`); and a run's events, with the run's own records, from
the runtime's recorder. All three count, deduplicate and commit alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.batch import Batch, split_body, validate_batch
from domain.log.port import EventLog


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Vellum's `count`, and what Runledger adds: what was new, what was a repeat, where."""

    received_count: int
    accepted_count: int
    duplicate_count: int
    log_position: int


def ingest(
    log: EventLog, workspace_id: UUID, body: bytes, *, max_events: int, received_at: datetime
) -> IngestResult:
    """Validate the whole body, then append it; raises before writing anything if it is bad."""
    return append_batch(
        log, workspace_id, validate_batch(split_body(body, max_events)), received_at
    )


def append_batch(
    log: EventLog,
    workspace_id: UUID,
    batch: Batch,
    received_at: datetime,
    *,
    also_save: Sequence[Aggregate] = (),
) -> IngestResult:
    """Append validated events durably (the ones not stored yet), and `also_save`'s pending
    events, in one transaction."""
    appended = log.append(workspace_id, batch.envelopes, received_at, also_save=also_save)
    return IngestResult(
        received_count=batch.received_count,
        accepted_count=appended.accepted_count,
        duplicate_count=appended.duplicate_count + batch.repeated_in_batch_count,
        log_position=appended.log_position,
    )
