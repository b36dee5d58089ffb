"""Benchmark events in the Vellum Workflows SDK's wire form, cloned with fresh ids.

One small SDK workflow is run once with an emitter that keeps what `VellumEmitter` would
send (everything but `*.streaming`): the real shapes, parent chains and sizes, including the
larger `workflow.execution.snapshotted` events. Running the SDK for every execution would take
longer than the benchmark itself, so that execution is then cloned: each clone gets fresh
event, span, trace and state ids (consistently across its events, so the parent chains still
name one execution), while definition ids stay, as they do when one workflow runs many times.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping

import orjson

from domain.envelope import Json

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Keys whose values identify one run (not the workflow's definition) wherever they appear.
_INSTANCE_KEYS = frozenset({"span_id", "trace_id"})


def _instance_ids(events: list[Json]) -> set[str]:
    ids: set[str] = set()

    def walk(value: Json) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key in _INSTANCE_KEYS and isinstance(item, str):
                    ids.add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for event in events:
        ids.add(event["id"])
        walk(event)
        # A snapshot's state carries its own id per run.
        meta = event.get("body", {}).get("state", {}).get("meta", {})
        if isinstance(meta.get("id"), str):
            ids.add(meta["id"])
    return ids


class EventCloner:
    """Makes any number of distinct events by re-identifying copies of one execution."""

    def __init__(self, template: list[Json]) -> None:
        self._texts = [orjson.dumps(event).decode() for event in template]
        self._instance_ids = _instance_ids(template)

    @property
    def events_per_execution(self) -> int:
        """How many events one cloned execution has."""
        return len(self._texts)

    def executions(self) -> Iterator[list[bytes]]:
        """Endless fresh executions, each a list of serialized events."""
        while True:
            fresh = {old: str(uuid.uuid4()) for old in self._instance_ids}

            def swap(match: re.Match[str], fresh: dict[str, str] = fresh) -> str:
                return fresh.get(match.group(), match.group())

            yield [_UUID.sub(swap, text).encode() for text in self._texts]

    def take(self, count: int) -> list[bytes]:
        """`count` events with ids never handed out before, whole executions first."""
        events: list[bytes] = []
        for execution in self.executions():
            events.extend(execution)
            if len(events) >= count:
                return events[:count]
        raise AssertionError("executions() never ends")


def batch_bodies(events: list[bytes], batch_size: int) -> list[bytes]:
    """Request bodies of `batch_size` events: JSON arrays, as the SDK's emitter always sends."""
    return [
        b"[" + b",".join(events[start : start + batch_size]) + b"]"
        for start in range(0, len(events), batch_size)
    ]


def root_execution(body: bytes) -> str | None:
    """The execution whose root `workflow.execution.initiated` event is in the batch, if any."""
    for event in orjson.loads(body):
        parent = event.get("parent") or {}
        if event["name"] == "workflow.execution.initiated" and parent.get("type") != "WORKFLOW":
            span: str = event["span_id"]
            return span
    return None
