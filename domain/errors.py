"""Domain exceptions, named for what went wrong; `api/errors.py` maps each to HTTP once."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason an event was refused: which event (its index in the batch), which field, why."""

    index: int | None
    field: str
    reason: str


class RunledgerError(Exception):
    """Base of every error the domain raises on purpose."""


class InvalidBatch(RunledgerError):
    """A batch of events failed validation; nothing of it was stored."""

    def __init__(self, errors: list[FieldError], event_count: int) -> None:
        self.errors = errors
        # Every event of the batch is refused with the bad ones.
        self.event_count = event_count
        super().__init__(f"{len(errors)} invalid field(s) in the batch")


class InvalidBody(RunledgerError):
    """The request body is not a JSON object or array of objects at all."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class UnknownApiKey(RunledgerError):
    """A key id given to revoke matches no key."""


class ExecutionNotFound(RunledgerError):
    """No such execution in the asking workspace (another workspace's is not found either)."""

    def __init__(self, execution_id: object) -> None:
        super().__init__(f"no workflow execution {execution_id} in this workspace")


class PayloadNotFound(RunledgerError):
    """A payload link's span has no such value (a link is signed only for values it had)."""


class InvalidCursor(RunledgerError):
    """A paging cursor that does not point into the execution being paged."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field} {reason}")


class DeploymentNotFound(RunledgerError):
    """No such deployment, or no release with that tag, in the asking workspace."""


class InvalidInputs(RunledgerError):
    """A run's inputs do not match what its entrypoint declares; each error names one input."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))


class ExternalIdConflict(RunledgerError):
    """An `external_id` already names an execution that was started with a different request."""

    def __init__(self, external_id: str, execution_id: UUID) -> None:
        self.external_id = external_id
        self.execution_id = execution_id
        super().__init__(
            f"external_id {external_id!r} already names execution {execution_id}, "
            "started with a different request"
        )


class PositionBeyondLog(RunledgerError):
    """A read asked to wait for a log position that no append has answered."""

    def __init__(self, position: int) -> None:
        self.position = position
        super().__init__("the position is beyond the end of the log")


class NotVisibleYet(RunledgerError):
    """A read's log position did not become visible within the read wait."""

    def __init__(self, waited_seconds: float) -> None:
        self.waited_seconds = waited_seconds
        super().__init__(f"not visible after {waited_seconds:g}s")
