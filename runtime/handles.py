"""A run in this process: its stop switch, its listeners and, once it ends, its outcome."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.deployments import Deployment, Release
from domain.runs import Run
from runtime.entrypoints import Entrypoint
from runtime.recorder import Listener
from runtime.stopping import Stopper


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended, as the execute endpoints answer it."""

    status: str  # FULFILLED or REJECTED
    outputs: dict[str, Any]
    error: dict[str, Any] | None
    at: datetime
    event_id: str | None = None  # the terminal workflow event's, when known


@dataclass(slots=True)
class RunHandle:
    """One accepted run, from queued to done."""

    run: Run
    listeners: list[Listener] = field(default_factory=list)
    # What the request resolved, so the worker need not read it again.
    deployment: Deployment | None = None
    release: Release | None = None
    entrypoint: Entrypoint | None = None
    stopper: Stopper = field(default_factory=Stopper)
    outcome: Outcome | None = None
    _done: threading.Event = field(default_factory=threading.Event)
    _callbacks: list[Callable[[Outcome], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Held while the worker starts the run and while a cancel records itself on it.
    starting: threading.Lock = field(default_factory=threading.Lock)

    @property
    def execution_id(self) -> UUID:
        """The run's execution id."""
        return self.run.id

    def finish(self, outcome: Outcome) -> None:
        """Record the outcome and wake everyone waiting for it."""
        with self._lock:
            self.outcome = outcome
            callbacks, self._callbacks = self._callbacks, []
        self._done.set()
        for callback in callbacks:
            callback(outcome)

    def on_done(self, callback: Callable[[Outcome], None]) -> None:
        """Call back with the outcome, at once if the run already ended."""
        with self._lock:
            outcome = self.outcome
            if outcome is None:
                self._callbacks.append(callback)
        if outcome is not None:
            callback(outcome)

    def wait(self, timeout: float | None = None) -> Outcome | None:
        """Block until the run ends (or the timeout passes)."""
        self._done.wait(timeout)
        return self.outcome
