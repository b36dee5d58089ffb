"""Runs of deployed workflows, kept as aggregates in the same log as their events.

A run is the runtime's own record of an execution it was asked to make: which deployment and
release, with which inputs, for which `external_id`, and whether a worker has started and
finished it. The run's id is the execution id, the span id of its root workflow span. Its
workflow and node events are ordinary events in the log, like any ingested execution's; the
run adds what those cannot say: that an accepted run is still waiting (PENDING), and, after a
crash, which runs this replica had in flight.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from domain.errors import ExternalIdConflict
from domain.log.ledger import Ledger

_EXTERNAL_IDS = uuid5(NAMESPACE_URL, "https://runledger.dev/external-ids")

JsonObject = dict[str, Any]


def request_digest(request: JsonObject) -> str:
    """What makes two requests with one `external_id` "the same": their canonical JSON."""
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()


class Run(Aggregate):
    """One requested execution of a deployment release."""

    @event("Requested")
    def __init__(
        self,
        *,
        execution_id: UUID,
        workspace_id: UUID,
        deployment_id: UUID,
        release_id: UUID,
        release_tag: str,
        inputs: JsonObject,
        external_id: str | None,
        metadata: JsonObject | None,
        previous_execution_id: UUID | None,
        digest: str,
        replica: str,
    ) -> None:
        self.workspace_id = workspace_id
        self.deployment_id = deployment_id
        self.release_id = release_id
        self.release_tag = release_tag
        self.inputs = inputs
        self.external_id = external_id
        self.metadata = metadata
        self.previous_execution_id = previous_execution_id
        self.digest = digest
        self.replica = replica
        self.started = False
        self.trace_id: UUID | None = None
        self.finished_status: str | None = None
        # (code, message, ISO time) of a cancel that came while the run waited for a worker.
        self.cancelled: tuple[str, str, str] | None = None

    @staticmethod
    def create_id(execution_id: UUID, **kwargs: Any) -> UUID:
        """The run is found by its execution id."""
        return execution_id

    @event("Started")
    def start(self, trace_id: UUID) -> None:
        """A worker took the run; its events carry this trace id."""
        self.started = True
        self.trace_id = trace_id

    @event("CancelRequested")
    def request_cancel(self, code: str, message: str, at: str) -> None:
        """Cancelled before a worker took it: recorded so a restart does not run it after all."""
        self.cancelled = (code, message, at)

    @event("Finished")
    def finish(self, status: str) -> None:
        """The run's terminal workflow event is in the log."""
        self.finished_status = status


class ExternalRef(Aggregate):
    """Claims an `external_id` in a workspace for one execution."""

    @event("Claimed")
    def __init__(self, workspace_id: UUID, external_id: str, execution_id: UUID) -> None:
        self.execution_id = execution_id

    @staticmethod
    def create_id(workspace_id: UUID, external_id: str, execution_id: UUID) -> UUID:
        """Derived from the workspace and the external id: two claims collide in the log."""
        return uuid5(_EXTERNAL_IDS, f"{workspace_id}/{external_id}")


_REQUESTED_TOPIC = get_topic(Run.Requested)  # type: ignore[attr-defined]
_FINISHED_TOPIC = get_topic(Run.Finished)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Accepted:
    """The run a request names, and whether this request created it."""

    run: Run
    created: bool


class Runs:
    """Requests, starts and finishes runs in the log."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def request(self, run: Run) -> Accepted:
        """Record a new run; with an `external_id`, claim it in the same transaction.

        A repeated request (same `external_id`, same digest) answers the run that exists; a
        different request with a taken `external_id` raises `ExternalIdConflict`. Two replicas
        racing for one `external_id` collide on the claim's key, and the loser reads the winner.
        """
        if run.external_id is None:
            self._ledger.save(run)
            return Accepted(run, created=True)
        claim = ExternalRef(run.workspace_id, run.external_id, run.id)
        existing = self._claimed(claim.id)
        if existing is None:
            try:
                self._ledger.save(run, claim)
                return Accepted(run, created=True)
            except IntegrityError:
                existing = self._claimed(claim.id)
                if existing is None:
                    raise
        if existing.digest != run.digest:
            raise ExternalIdConflict(run.external_id, existing.id)
        return Accepted(existing, created=False)

    def _claimed(self, claim_id: UUID) -> Run | None:
        try:
            claim: ExternalRef = self._ledger.repository.get(claim_id)
        except AggregateNotFoundError:
            return None
        return self.get(claim.execution_id)

    def by_external_id(self, workspace_id: UUID, external_id: str) -> Run | None:
        """The run an `external_id` names in the workspace."""
        return self._claimed(uuid5(_EXTERNAL_IDS, f"{workspace_id}/{external_id}"))

    def get(self, execution_id: UUID) -> Run | None:
        """The run of an execution, if the runtime made it."""
        try:
            run: Run = self._ledger.repository.get(execution_id)
        except AggregateNotFoundError:
            return None
        return run if isinstance(run, Run) else None

    def save(self, run: Run) -> None:
        """Record what happened to a run (started, finished)."""
        self._ledger.save(run)

    def unfinished(self, replica: str) -> Iterator[Run]:
        """This replica's runs that never finished: what a crash left behind.

        One pass over the log's run requests and run ends, made once at start; only the runs
        left open are read whole.
        """
        open_runs: dict[UUID, None] = {}  # in request order
        position = 0
        topics = [_REQUESTED_TOPIC, _FINISHED_TOPIC]
        while batch := self._ledger.recorder.select_notifications(
            start=position, limit=1000, topics=topics, inclusive_of_start=False
        ):
            for notification in batch:
                run_id = UUID(str(notification.originator_id))
                if notification.topic == _FINISHED_TOPIC:
                    open_runs.pop(run_id, None)
                    continue
                requested = self._ledger.mapper.to_domain_event(notification)
                if getattr(requested, "replica", None) == replica:
                    open_runs[run_id] = None
            position = batch[-1].id
        for run_id in open_runs:
            run = self.get(run_id)
            if run is not None and run.finished_status is None:
                yield run
