"""The one read API: every read a route makes goes through `Views`, which owns freshness.

Everything a user reads is a projection of the log in ClickHouse (received events, and the
runs, actuals and deployments the runtime and the API record: projections/facts.py), so status,
detail, state and lists agree by construction. The routes never read the log nor wait on the
projection runner; the rules of how fresh an answer is live here:

- **Read your writes**: a read given a log position (`min_log_position`, decoded from its
  token by the route) waits until that position is visible, up to the read wait
  (`NotVisibleYet` after it), and a position beyond the log's end is refused at once
  (`PositionBeyondLog`: no append answered it).
- **Read your runs and your ingest**: an execution the projections do not know yet may have
  been accepted a moment ago (a run requested, events just ingested), so such a read first
  waits, within the read wait, until the projections have caught up with the log as it was at
  the request, and only then answers 404.
- A run whose end is visible is answered with its last events: if a read finds the run's end
  but not yet the events that came before it (a batch's facts land just before its events),
  it catches up and reads again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import orjson
from clickhouse_connect.driver.client import Client

from domain.errors import (
    DeploymentNotFound,
    ExecutionNotFound,
    NotVisibleYet,
    PayloadNotFound,
    PositionBeyondLog,
)
from domain.lifecycle import ExecutionStatus
from domain.payload_links import PayloadRef, PayloadValue
from domain.state import ResolvedState
from domain.vocabulary import DEPLOYMENT_CONTEXT_TYPE
from projections.deployments import DeploymentQueries, DeploymentView
from projections.detail import DetailPage, ExecutionDetails, SpanView
from projections.filter_grammar import Expr
from projections.history import HistoryEvent, history_page
from projections.list_filters import list_filter
from projections.listing import ExecutionList, GroupCount, ListFilter, ListOrder, ListPage
from projections.metrics import Bucket, ExecutionMetrics, Interval
from projections.origin import Origin, ingested_origin, run_origin
from projections.queries import ExecutionQueries, ExecutionRead, RunView, execution_header
from projections.state import execution_state, recorded_events

_FINISHED = (ExecutionStatus.FULFILLED, ExecutionStatus.REJECTED)
# How often a waiting history read looks at how far the projections are, and how long it goes
# without reading again when that does not move (a replica that does not write projections
# learns of new ones only by reading).
_TAIL_POLL_SECONDS = 0.05
_TAIL_MIN_SECONDS = 0.25
_TAIL_READ_SECONDS = 1.0
# Spans a statement reads while every span of an execution is gathered: the detail's largest
# page.
_SPANS_PER_READ = 1000


class LiveReads(Protocol):
    """The live generation of the projections, as a running server has it (api/live.py)."""

    @property
    def queries(self) -> ExecutionQueries: ...

    @property
    def details(self) -> ExecutionDetails: ...

    @property
    def reader(self) -> Client: ...

    @property
    def deployments(self) -> DeploymentQueries: ...

    @property
    def listing(self) -> ExecutionList: ...

    @property
    def metrics(self) -> ExecutionMetrics: ...

    @property
    def visible_position(self) -> int: ...

    def wait_for(self, position: int, timeout: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class PendingDetail:
    """The detail of a run the runtime accepted whose events are not visible yet."""

    execution_id: UUID
    run: RunView
    actuals: list[dict[str, Any]] | None

    @property
    def listed_position(self) -> int | None:
        """Where the run was listed: its request's log position (migration 0014)."""
        return self.run.requested_position


@dataclass(frozen=True, slots=True)
class ExecutionView:
    """One execution as the views of other systems show it (Velt's, Datalab's): a page of its
    spans, or what its request says while none is visible, and what it is of."""

    page: DetailPage | PendingDetail
    origin: Origin

    @property
    def execution_id(self) -> UUID:
        """The execution's id, whether its events are visible yet or not."""
        page = self.page
        return page.execution_id if isinstance(page, PendingDetail) else page.summary.execution_id


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a finished execution ended, as the projections hold it."""

    status: ExecutionStatus
    outputs: dict[str, Any]
    error: dict[str, Any] | None
    read: ExecutionRead
    event_id: UUID | None
    """The terminal event that decided the outcome."""


class Views:
    """Reads of executions, each as fresh as its caller asked (see the module docstring)."""

    def __init__(self, live: LiveReads, head: Callable[[], int], wait_seconds: float) -> None:
        self._live = live
        self._head = head
        self._wait_seconds = wait_seconds

    # Freshness.

    def wait_for_position(self, position: int | None) -> None:
        """Block until the log up to `position` is visible (read your writes)."""
        if position is None:
            return
        if position > self._live.visible_position and position > self._head():
            raise PositionBeyondLog(position)
        if not self._live.wait_for(position, self._wait_seconds):
            raise NotVisibleYet(self._wait_seconds)

    def catch_up(self, timeout: float | None = None) -> bool:
        """Wait until the projections have reached the log's end as it is now; True if so."""
        wait = self._wait_seconds if timeout is None else timeout
        return self._live.wait_for(self._head(), wait)

    def _fresh(self, read: Callable[[], ExecutionRead], position: int | None) -> ExecutionRead:
        self.wait_for_position(position)
        found = read()
        if _maybe_behind(found) and self.catch_up():
            found = read()
        return found

    # Executions.

    def status(
        self, workspace_id: UUID, execution_id: UUID, min_position: int | None = None
    ) -> ExecutionRead:
        """The execution's summary, run and actuals; `ExecutionNotFound` when the workspace has
        no such execution."""
        found = self._fresh(
            lambda: self._live.queries.status(workspace_id, execution_id), min_position
        )
        if not found.found:
            raise ExecutionNotFound(execution_id)
        return found

    def detail(
        self,
        workspace_id: UUID,
        execution_id: UUID,
        prev_span_id: UUID | None,
        limit: int,
        min_position: int | None = None,
        *,
        values: bool = True,
        inline_values: bool = True,
    ) -> DetailPage | PendingDetail:
        """A page of the execution's spans after `prev_span_id` (with their inputs, outputs
        and events unless not `values`; with markers where the payload store holds a value if
        not `inline_values`), or, for a run whose events are not visible yet, what its request
        says."""

        def page() -> DetailPage | None:
            # The live generation's reader at each call: a replay may switch it in between.
            try:
                return self._live.details.page(
                    workspace_id,
                    execution_id,
                    prev_span_id,
                    limit,
                    values=values,
                    inline_values=inline_values,
                )
            except ExecutionNotFound:
                return None

        self.wait_for_position(min_position)
        found = page()
        # A run accepted a moment ago, or events just ingested: caught up, read again.
        if (found is None or _maybe_behind(found.read)) and self.catch_up():
            found = page()
        if found is not None:
            return found
        status = self._live.queries.status(workspace_id, execution_id)
        if status.run is None:
            raise ExecutionNotFound(execution_id)
        return PendingDetail(execution_id, status.run, status.actuals)

    def state(self, workspace_id: UUID, execution_id: UUID) -> ResolvedState:
        """The execution's newest resolved state; `ExecutionNotFound` without a snapshot."""
        state = execution_state(self._live.reader, workspace_id, execution_id)
        if state is None and self.catch_up():
            # A run that ended a moment ago (a chained run reads its predecessor's state).
            state = execution_state(self._live.reader, workspace_id, execution_id)
        if state is None:
            raise ExecutionNotFound(execution_id)
        return state

    def execution_view(
        self,
        workspace_id: UUID,
        execution_id: UUID,
        prev_span_id: UUID | None,
        limit: int,
        *,
        listed_position: int | None = None,
        values: bool = True,
    ) -> ExecutionView:
        """A page of the execution's spans (as `detail`) with its origin: the deployment's name
        and the release's version number looked up when the deployment is registered here.
        Given a `listed_position`, an execution listed at another is not found."""
        page = self.detail(workspace_id, execution_id, prev_span_id, limit, values=values)
        if listed_position is not None and page.listed_position != listed_position:
            raise ExecutionNotFound(execution_id)
        root = page.root if isinstance(page, DetailPage) else None
        workflow = root.label or None if root is not None else None
        if page.run is not None:
            origin = run_origin(page.run, workflow)
        else:
            assert isinstance(page, DetailPage)  # a pending detail is a run's
            origin = ingested_origin(page.parent_context, workflow)
        if origin.deployment_id is not None:
            found = self._live.deployments.find(workspace_id, str(origin.deployment_id))
            if found is not None:
                versions = {release.id: n for n, release in enumerate(found.releases, 1)}
                origin = replace(
                    origin,
                    deployment=origin.deployment or found.name,
                    release_version=versions.get(origin.release_id)
                    if origin.release_id is not None
                    else None,
                )
        return ExecutionView(page, origin)

    def listed_with_every_span(
        self, workspace_id: UUID, position: int, shown_as: object
    ) -> tuple[ExecutionView, list[SpanView]]:
        """The execution listed at a log position (`listed_at`) and every span of it, without
        their inputs, outputs and events: a read that links to values (Datalab's, whose answer
        has no paging) costs the same whatever their size (span_steps.sql). The spans are
        read in pages of the detail's largest size, each with the header (a statement per
        thousand spans)."""
        execution_id = self.listed_at(workspace_id, position, shown_as)
        view = self.execution_view(
            workspace_id,
            execution_id,
            None,
            _SPANS_PER_READ,
            listed_position=position,
            values=False,
        )
        page = view.page
        if not isinstance(page, DetailPage):
            return view, []
        spans = list(page.spans)
        while page.has_more and page.spans:
            following = self.detail(
                workspace_id, execution_id, page.spans[-1].span_id, _SPANS_PER_READ, values=False
            )
            if not isinstance(following, DetailPage):
                break
            page = following
            spans.extend(page.spans)
        return view, spans

    def listed_at(self, workspace_id: UUID, position: int, shown_as: object) -> UUID:
        """The execution listed at a log position in the workspace (migration 0014);
        `ExecutionNotFound` (naming it `shown_as`) if none. Read it with
        `execution_view(..., listed_position=position)`, which checks that the position is the
        execution's own."""
        found = self._live.queries.listed_at(workspace_id, position)
        if found is None and self.catch_up():
            found = self._live.queries.listed_at(workspace_id, position)
        if found is None:
            raise ExecutionNotFound(shown_as)
        return found

    def payload(self, ref: PayloadRef) -> str:
        """The JSON text of the span value a payload link names, whole (where the payload
        store holds it: projections/payloads.py); `PayloadNotFound` when the span has no such
        value (or the workspace no such span)."""
        if ref.value is PayloadValue.STATE:
            return self._state_text(ref)
        span = self._live.details.span(ref.workspace_id, ref.execution_id, ref.span_id)
        if span is None and self.catch_up():
            span = self._live.details.span(ref.workspace_id, ref.execution_id, ref.span_id)
        value = getattr(span, ref.value.field) if span is not None else ""
        fulfilled = span is not None and span.status == "FULFILLED"
        if not value and fulfilled and ref.value is PayloadValue.OUTPUTS:
            return "{}"  # fulfilled without `outputs`: it has none
        if not value:
            raise PayloadNotFound(f"no {ref.value.field} of span {ref.span_id}")
        return str(value)

    def _state_text(self, ref: PayloadRef) -> str:
        """The execution's newest state as it was sent (a link names it by the root span)."""
        header = execution_header(self._live.reader, ref.workspace_id, ref.execution_id)
        if not header["state"] or ref.span_id != ref.execution_id:
            raise PayloadNotFound(f"no state of execution {ref.execution_id}")
        return str(header["state"])

    def run_by_external_id(self, workspace_id: UUID, external_id: str) -> UUID:
        """The execution of the run an `external_id` names; `ExecutionNotFound` if none."""
        found = self._live.queries.run_by_external_id(workspace_id, external_id)
        if found is None and self.catch_up():
            found = self._live.queries.run_by_external_id(workspace_id, external_id)
        if found is None:
            raise ExecutionNotFound(f"with external_id {external_id!r}")
        return found

    def exists(self, workspace_id: UUID, execution_id: UUID) -> bool:
        """Whether the workspace has the execution (a run, or events of it)."""
        try:
            self.status(workspace_id, execution_id)
        except ExecutionNotFound:
            return False
        return True

    def outcome(self, workspace_id: UUID, execution_id: UUID, seconds: float) -> Outcome | None:
        """How the execution ended, waiting up to `seconds` for it (a run another replica
        runs); None if it did not end by then."""
        deadline = time.monotonic() + seconds
        while True:
            self.catch_up(min(1.0, max(0.0, deadline - time.monotonic())))
            read = self._live.queries.status(workspace_id, execution_id)
            summary = read.summary
            if summary is not None and summary.status in _FINISHED:
                event_id = self._live.queries.outcome_event_id(workspace_id, execution_id)
                return Outcome(summary.status, summary.outputs or {}, summary.error, read, event_id)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.25)

    # Lists.

    def executions(
        self,
        workspace_id: UUID,
        where: ListFilter,
        order: ListOrder,
        limit: int,
        *,
        cursor: str | None = None,
        min_position: int | None = None,
    ) -> ListPage:
        """A page of the workspace's executions as the projections have them now (or as of
        `min_position`, after waiting for it)."""
        self.wait_for_position(min_position)
        return self._live.listing.page(workspace_id, where, order, limit, cursor=cursor)

    def execution_count(
        self,
        workspace_id: UUID,
        where: ListFilter,
        group_by: str | None = None,
        min_position: int | None = None,
    ) -> tuple[int, list[GroupCount]]:
        """How many executions the filter keeps, per group when grouped."""
        self.wait_for_position(min_position)
        return self._live.listing.count(workspace_id, where, group_by)

    def execution_metrics(
        self,
        workspace_id: UUID,
        where: ListFilter,
        interval: Interval,
        span: tuple[datetime, datetime],
        group_by: str | None = None,
        *,
        min_position: int | None = None,
    ) -> list[Bucket]:
        """A time series of the executions the filter keeps, started in `span`."""
        self.wait_for_position(min_position)
        return self._live.metrics.series(workspace_id, where, interval, span, group_by)

    def deployment_executions(
        self,
        workspace_id: UUID,
        id_or_name: str,
        expr: Expr | None,
        order: ListOrder,
        *,
        limit: int,
        offset: int,
    ) -> tuple[int, list[DetailPage | PendingDetail]]:
        """Vellum's list of a deployment's executions: how many the filter keeps, and the
        header of each on the page (its inputs, outputs, usage, parent context, actuals).

        The deployment is one registered here, or one that only ingested executions name in
        their parent context (a Vellum deployment whose runs send their events here); with
        neither, `DeploymentNotFound`."""
        scope, registered = self._deployment_scope(workspace_id, id_or_name)
        count, _ = self._live.listing.count(workspace_id, list_filter(None, scope))
        if count == 0 and not registered:
            raise DeploymentNotFound(f"no workflow deployment {id_or_name!r} in this workspace")
        where = list_filter(expr, scope)
        if expr is not None:
            count, _ = self._live.listing.count(workspace_id, where)
        page = self._live.listing.page(workspace_id, where, order, limit, offset=offset)
        headers = [self.detail(workspace_id, item.execution_id, None, 1) for item in page.items]
        return count, headers

    def deployment_execution(
        self, workspace_id: UUID, id_or_name: str, execution_id: UUID, span_limit: int
    ) -> DetailPage | PendingDetail:
        """One execution of a deployment with its first `span_limit` spans; an execution of
        another deployment (or none) is not found."""
        scope, _ = self._deployment_scope(workspace_id, id_or_name)
        found = self.detail(workspace_id, execution_id, None, span_limit)
        if scope not in _deployment_of(found):
            raise ExecutionNotFound(f"{execution_id} of deployment {id_or_name}")
        return found

    def _deployment_scope(self, workspace_id: UUID, id_or_name: str) -> tuple[UUID | str, bool]:
        """A registered deployment's id (and True); else the id or name as ingested executions
        name it (a UUID-shaped reference is an id), and False."""
        try:
            return self.deployment(workspace_id, id_or_name).id, True
        except DeploymentNotFound:
            try:
                return UUID(id_or_name), False
            except ValueError:
                return id_or_name, False

    # Deployments.

    def deployments(
        self, workspace_id: UUID, limit: int, offset: int, ordering: str = "created"
    ) -> tuple[int, list[DeploymentView]]:
        """How many deployments the workspace has, and a page of them in `ordering`, as of the
        log at the request (deployments change rarely, and one registered by the command line
        or a deployments file a moment ago must be listed)."""
        self.catch_up()
        return self._live.deployments.page(workspace_id, limit, offset, ordering)

    def deployment(self, workspace_id: UUID, id_or_name: str) -> DeploymentView:
        """A deployment by id or name; `DeploymentNotFound` when the workspace has none such
        (after catching up: it may have been registered a moment ago)."""
        found = self._live.deployments.find(workspace_id, id_or_name)
        if found is None and self.catch_up():
            found = self._live.deployments.find(workspace_id, id_or_name)
        if found is None:
            raise DeploymentNotFound(f"no workflow deployment {id_or_name!r} in this workspace")
        return found

    def history(
        self,
        workspace_id: UUID,
        execution_id: UUID,
        *,
        after: int | None,
        limit: int,
        descending: bool = False,
        min_position: int | None = None,
    ) -> list[HistoryEvent]:
        """A page of the execution's stored events past `after` (`history_page`);
        `ExecutionNotFound` when the workspace has no such execution. An empty page is an
        answer only for an execution that exists (a run not started yet, or one read to its
        end)."""
        self.wait_for_position(min_position)

        def page() -> list[HistoryEvent]:
            return history_page(
                self._live.reader,
                workspace_id,
                execution_id,
                after=after,
                limit=limit,
                descending=descending,
            )

        found = page()
        if found:
            return found
        # `exists` catches up with the log when the execution is not known yet: read again.
        if not self.exists(workspace_id, execution_id):
            raise ExecutionNotFound(execution_id)
        return page()

    async def history_when_newer(
        self,
        workspace_id: UUID,
        execution_id: UUID,
        *,
        after: int | None,
        limit: int,
        wait_seconds: float,
    ) -> list[HistoryEvent]:
        """The next page after `after`, oldest first, as soon as it holds an event, or an
        empty page once `wait_seconds` have passed (a long poll; `ExecutionNotFound` at once
        for no such execution). It waits without holding a thread, and reads again only when
        the projections have moved on, at most four times a second (and every second on a
        replica, which learns of new projections only by reading)."""
        deadline = time.monotonic() + wait_seconds
        seen = self._live.visible_position
        found = await asyncio.to_thread(
            self.history, workspace_id, execution_id, after=after, limit=limit
        )
        while not found and time.monotonic() < deadline:
            read_again = min(deadline, time.monotonic() + _TAIL_READ_SECONDS)
            await asyncio.sleep(min(_TAIL_MIN_SECONDS, max(0.0, deadline - time.monotonic())))
            while self._live.visible_position == seen and time.monotonic() < read_again:
                await asyncio.sleep(_TAIL_POLL_SECONDS)
            seen = self._live.visible_position
            found = await asyncio.to_thread(
                history_page,
                self._live.reader,
                workspace_id,
                execution_id,
                after=after,
                limit=limit,
                descending=False,
            )
        return found

    def recorded_events(self, workspace_id: UUID, execution_id: UUID) -> list[bytes]:
        """Every event of the execution in log order, byte for byte, once the log up to now is
        visible (a repeated stream replays the run's events); `NotVisibleYet` if it is not
        within the read wait."""
        if not self.catch_up():
            raise NotVisibleYet(self._wait_seconds)
        return recorded_events(self._live.reader, workspace_id, execution_id)


def _deployment_of(found: DetailPage | PendingDetail) -> set[UUID | str]:
    """The deployment an execution ran under, by id (and by name, as its parent context names
    it): its run's, or its root's parent context's."""
    run = found.run
    if run is not None and run.deployment_id is not None:
        return {run.deployment_id}
    if isinstance(found, PendingDetail) or not found.parent_context:
        return set()
    try:
        parent = orjson.loads(found.parent_context)
        if parent.get("type") != DEPLOYMENT_CONTEXT_TYPE:
            return set()
        return {UUID(parent["deployment_id"]), str(parent["deployment_name"])}
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        return set()


def _maybe_behind(read: ExecutionRead) -> bool:
    """Whether a read may predate what the log already holds: nothing of the execution yet, or
    a run's end without the events before it."""
    if not read.found:
        return True
    run, summary = read.run, read.summary
    return (
        run is not None
        and run.finished_status is not None
        and (summary is None or summary.status not in _FINISHED)
    )
