"""The envelope every Vellum event carries, and its validation on the way in.

Validation is hand-written rather than done with the vellum-ai pydantic models: those cost
milliseconds per deeply nested event, and ingest must stay within a few microseconds. The
body of an event is kept as sent; only the envelope fields the log and the projections rely
on are checked here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from domain.errors import FieldError
from domain.exact_json import ambiguities
from domain.lineage import MAX_PARENT_DEPTH, parent_chain
from domain.usage import check_usage_result
from domain.vocabulary import EVENT_NAMES, WORKFLOW_CONTEXT_TYPE, EventName

Json = Any
"""The one alias for parsed JSON values (STYLE.md rule 11)."""

# Context types whose span_id is a span of the trace and must therefore be a UUID; the
# other types (EXTERNAL, API_REQUEST, WORKFLOW_RELEASE_TAG, ...) carry the caller's ids.
_SPAN_CONTEXT_TYPES = frozenset({WORKFLOW_CONTEXT_TYPE, "WORKFLOW_NODE"})


@dataclass(frozen=True, slots=True)
class Envelope:
    """A validated event: the envelope fields Runledger reads, and the bytes that were sent."""

    event_id: UUID
    name: EventName
    timestamp: datetime
    api_version: str | None
    trace_id: UUID
    span_id: UUID
    parent_span_id: UUID | None
    execution_id: UUID
    raw: bytes


MAX_NESTING = 128
"""Objects and arrays nest at most this deep in an event, the event itself included.

The reads write stored values back out with orjson, which stops at 254 levels (its parser
allows 1,024): an event nested deeper would be stored and then fail every read of its
execution. 128 leaves room for the levels a response adds around a value."""


def nests_too_deeply(value: Json, levels: int = MAX_NESTING) -> bool:
    """Whether objects and arrays in `value` nest deeper than `levels` (at most 254)."""
    # orjson.dumps refuses a 255th level: the value wrapped in 254 - levels lists fails exactly
    # when it nests deeper than `levels`.
    for _ in range(254 - levels):
        value = [value]
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError:
        return True
    return False


def _check_nesting(
    event: Mapping[str, Json], raw: bytes, index: int, errors: list[FieldError]
) -> None:
    # Nesting needs one bracket a level, so an event with fewer brackets in all (nearly every
    # one) is not walked at all; brackets inside strings only make this count higher.
    if raw.count(b"{") + raw.count(b"[") <= MAX_NESTING or not nests_too_deeply(event):
        return
    for key, value in event.items():  # the event is one level; name the field that goes on
        if nests_too_deeply(value, MAX_NESTING - 1):
            reason = f"nests objects and arrays deeper than {MAX_NESTING} levels in the event"
            errors.append(FieldError(index, str(key)[:60], reason))


# A canonical UUID string. Checked with a regex first because `UUID(str)` costs ~2 µs and
# most of an event's ids (its parent chain) only need checking, not an object.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _is_uuid(value: object) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def _uuid(value: object) -> UUID | None:
    return UUID(value) if _is_uuid(value) else None  # type: ignore[arg-type]


def _timestamp(value: object) -> datetime | str:
    """The parsed timestamp, or the reason it is refused."""
    if not isinstance(value, str):
        return f"must be an ISO-8601 string, got {_type_name(value)}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return f"is not an ISO-8601 date-time: {value[:40]!r}"
    if parsed.tzinfo is None:
        return "must carry a time zone (for example 'Z')"
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return f"is out of range in UTC: {value[:40]!r}"


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number" if isinstance(value, int | float) else type(value).__name__
    )


def _check_parent(parent: object, index: int, errors: list[FieldError]) -> str | None:
    """Check the context chain; return the span id of its outermost WORKFLOW context."""
    if parent is None:
        return None
    field = "parent"
    if not isinstance(parent, Mapping):
        errors.append(
            FieldError(index, field, f"must be an object or null, got {_type_name(parent)}")
        )
        return None
    root: str | None = None
    for depth, context in enumerate(parent_chain(parent)):
        if depth >= MAX_PARENT_DEPTH:
            errors.append(
                FieldError(index, field, f"nests deeper than {MAX_PARENT_DEPTH} contexts")
            )
            return None
        context_type = context.get("type")
        if not isinstance(context_type, str):
            errors.append(FieldError(index, f"{field}.type", "is required and must be a string"))
        span_id = context.get("span_id")
        if isinstance(context_type, str) and context_type in _SPAN_CONTEXT_TYPES:
            if not _is_uuid(span_id):
                errors.append(FieldError(index, f"{field}.span_id", "must be a UUID string"))
            elif context_type == WORKFLOW_CONTEXT_TYPE:
                root = span_id
        elif not isinstance(span_id, str):
            errors.append(FieldError(index, f"{field}.span_id", "is required and must be a string"))
        nested = context.get("parent")
        if nested is not None and not isinstance(nested, Mapping):
            errors.append(
                FieldError(
                    index, f"{field}.parent", f"must be an object or null, got {_type_name(nested)}"
                )
            )
            return None
        field += ".parent"
    return root


def _check_links(links: object, index: int, errors: list[FieldError]) -> None:
    """Links are kept as sent, but each must be a Vellum SpanLink in shape."""
    if links is None:
        return
    if not isinstance(links, list):
        errors.append(
            FieldError(index, "links", f"must be an array or null, got {_type_name(links)}")
        )
        return
    for position, link in enumerate(links):
        field = f"links[{position}]"
        if not isinstance(link, Mapping):
            errors.append(FieldError(index, field, f"must be an object, got {_type_name(link)}"))
            continue
        for key in ("trace_id", "type"):
            if not isinstance(link.get(key), str):
                errors.append(
                    FieldError(index, f"{field}.{key}", "is required and must be a string")
                )
        if not isinstance(link.get("span_context"), Mapping):
            errors.append(
                FieldError(index, f"{field}.span_context", "is required and must be an object")
            )


def _check_body(
    body: Mapping[str, Json], name: object, index: int, errors: list[FieldError]
) -> None:
    # What the reads serve as Vellum's typed values and errors: `inputs` and `outputs` are
    # maps of name to value, a rejection's `error` is an object (`message`, `code`). Anything
    # else would be stored, then fail or break the shape of every later read of the execution.
    for key in ("inputs", "outputs"):
        value = body.get(key)
        if value is not None and not isinstance(value, Mapping):
            reason = f"must be an object of name to value, got {_type_name(value)}"
            errors.append(FieldError(index, f"body.{key}", reason))
    error = body.get("error")
    rejected = isinstance(name, str) and name.endswith(".rejected")
    if rejected and error is not None:
        if not isinstance(error, Mapping):
            reason = f"must be an object with message and code, got {_type_name(error)}"
            errors.append(FieldError(index, "body.error", reason))
        else:
            # Vellum's WorkflowError requires both: a client could not read the detail page.
            for key in ("message", "code"):
                if not isinstance(error.get(key), str):
                    reason = f"is required and must be a string, got {_type_name(error.get(key))}"
                    errors.append(FieldError(index, f"body.error.{key}", reason))
    state = body.get("state")
    if state is not None and not isinstance(state, Mapping):
        # Served as the detail's `state`, which Vellum's clients read as an object.
        reason = f"must be an object of the workflow's state, got {_type_name(state)}"
        errors.append(FieldError(index, "body.state", reason))
    if body.get("usage_result") is not None:
        check_usage_result(body["usage_result"], index, errors)


def validate_event(event: Json, raw: bytes, index: int) -> Envelope | list[FieldError]:
    """The event's envelope, or every reason it is refused (never only the first)."""
    if not isinstance(event, Mapping):
        return [FieldError(index, "event", f"must be a JSON object, got {_type_name(event)}")]
    errors: list[FieldError] = []
    envelope = _read_envelope(event, raw, index, errors)
    _check_content(event, raw, index, errors)
    if errors or envelope is None:
        return errors
    return envelope


def written_envelope(
    event: Mapping[str, Json],
    index: int,
    *,
    name: EventName,
    event_id: UUID,
    timestamp: datetime,
    api_version: str | None,
    trace_id: UUID,
    span_id: UUID,
    parent_span_id: UUID | None,
    execution_id: UUID,
) -> Envelope | list[FieldError]:
    """The envelope of an event Runledger writes itself from a sender's values (OTLP's mapped
    spans), or every reason it is refused, as `validate_event` would judge the event's bytes.

    The envelope's fields are the writer's, given, not read back: they are the values the event
    was built from. Its bytes are orjson's writing of the event, and what a sender controls
    inside it (values nested too deeply, a usage result) is checked as for a received event.
    Those bytes need no check for `ambiguities`: orjson writes an object's keys once and only
    integers of 64 bits, so they read back as the value they were written from.
    """
    try:
        raw = orjson.dumps(event)
    except orjson.JSONEncodeError as error:
        # Nested past the 254 levels orjson writes, say: refused like a body orjson refuses.
        return [FieldError(index, "event", f"cannot be written as JSON: {error}")]
    errors: list[FieldError] = []
    _check_content(event, raw, index, errors, exact=True)
    if errors:
        return errors
    return Envelope(
        event_id=event_id,
        name=name,
        timestamp=timestamp,
        api_version=api_version,
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        execution_id=execution_id,
        raw=raw,
    )


def stored_envelope(event: Json, raw: bytes) -> Envelope:
    """The envelope of an event the log holds. Only what files it (names, ids, times, its
    parent chain) is read: what ingest checks of the rest has grown stricter over time, and
    the log keeps what older versions accepted."""
    errors: list[FieldError] = []
    envelope = _read_envelope(event, raw, 0, errors) if isinstance(event, Mapping) else None
    if envelope is None:
        raise ValueError(f"the log holds an event without an envelope: {errors}")
    return envelope


def _check_content(
    event: Mapping[str, Json],
    raw: bytes,
    index: int,
    errors: list[FieldError],
    *,
    exact: bool = False,
) -> None:
    """What ingest requires beyond the envelope, so every read can serve what it stores.
    `exact`: `raw` is orjson's writing of `event`, so it holds no ambiguity (written_envelope)."""
    _check_links(event.get("links"), index, errors)
    _check_nesting(event, raw, index, errors)
    if not exact:
        errors.extend(FieldError(index, field, reason) for field, reason in ambiguities(event, raw))
    body = event.get("body")
    if not isinstance(body, Mapping):
        errors.append(FieldError(index, "body", f"must be an object, got {_type_name(body)}"))
    else:
        _check_body(body, event.get("name"), index, errors)


def _read_envelope(
    event: Mapping[str, Json], raw: bytes, index: int, errors: list[FieldError]
) -> Envelope | None:
    """The fields that file the event (appending a FieldError for each bad one), or None."""
    found = len(errors)
    name = event.get("name")
    if not isinstance(name, str) or name not in EVENT_NAMES:
        reason = "is required" if name is None else f"is not a known event name: {str(name)[:60]!r}"
        errors.append(FieldError(index, "name", reason))

    event_id = _uuid(event.get("id"))
    if event_id is None:
        reason = "is required" if event.get("id") is None else "must be a UUID string"
        errors.append(FieldError(index, "id", reason))

    timestamp = _timestamp(event.get("timestamp"))
    if isinstance(timestamp, str):
        errors.append(FieldError(index, "timestamp", timestamp))

    api_version = event.get("api_version")
    if api_version is not None and not isinstance(api_version, str):
        errors.append(FieldError(index, "api_version", "must be a string or null"))

    trace_id = _uuid(event.get("trace_id"))
    if trace_id is None:
        errors.append(FieldError(index, "trace_id", "is required and must be a UUID string"))
    span_id = _uuid(event.get("span_id"))
    if span_id is None:
        errors.append(FieldError(index, "span_id", "is required and must be a UUID string"))

    parent = event.get("parent")
    root_workflow_span = _check_parent(parent, index, errors)
    if len(errors) > found:
        return None
    assert isinstance(name, str)
    assert event_id
    assert trace_id
    assert span_id
    assert isinstance(timestamp, datetime)
    event_name = EventName(name)
    # The execution is the outermost WORKFLOW above the event (domain.lineage explains why);
    # a workflow event with none above it is the root itself.
    if root_workflow_span is not None:
        execution_id = UUID(root_workflow_span)
    elif event_name.is_workflow:
        execution_id = span_id
    else:
        reason = "a node event needs a WORKFLOW context in its parent chain to find its execution"
        errors.append(FieldError(index, "parent", reason))
        return None
    parent_span = parent.get("span_id") if isinstance(parent, Mapping) else None
    return Envelope(
        event_id=event_id,
        name=event_name,
        timestamp=timestamp,
        api_version=api_version,
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=_uuid(parent_span),
        execution_id=execution_id,
        raw=raw,
    )
