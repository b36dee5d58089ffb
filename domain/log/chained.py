"""What both backends' recorders share: every insert, an append's or an aggregate's save, goes
through one chained insert (domain/log/chain.py)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent


class ChainedInserts(ABC):
    """Routes eventsourcing's two ways in through the backend's `_insert`."""

    @abstractmethod
    def _insert(self, stored_events: Sequence[StoredEvent], *, all_new: bool) -> list[int | None]:
        """Insert what is new and its block of the chain in one transaction; with `all_new`,
        a record already held is an `IntegrityError` and nothing commits."""

    def insert_new_events(self, stored_events: Sequence[StoredEvent]) -> list[int | None]:
        """Insert the events not yet stored, and their block of the chain, in one
        transaction; None marks a duplicate."""
        return self._insert(stored_events, all_new=False)

    def insert_events(self, stored_events: Sequence[StoredEvent], **_: Any) -> Sequence[int]:
        """An aggregate's save (eventsourcing's `Application.save`), chained like every
        insert; a version already taken is an `IntegrityError` and nothing is stored."""
        return [position for position in self._insert(stored_events, all_new=True) if position]
