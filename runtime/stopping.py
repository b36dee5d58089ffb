"""Stopping a run that is in flight: cancellation and timeouts.

An SDK workflow stops through its own cancel signal. A plain function cannot be asked: an
`async def` gets its task cancelled on its loop; a sync function running in a worker thread
gets `RunStopped` raised inside that thread (CPython's `PyThreadState_SetAsyncExc`), which
takes effect at its next bytecode — pure-Python code stops at once, a blocking C call when it
returns. Either way the run is recorded REJECTED at the moment it was stopped.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
from dataclasses import dataclass
from datetime import UTC, datetime


class RunStopped(BaseException):
    """Raised inside a stopped run. A BaseException, so `except Exception` in user code
    does not swallow it."""


@dataclass(frozen=True, slots=True)
class StopReason:
    """Why and when a run was stopped."""

    code: str  # WORKFLOW_CANCELLED or WORKFLOW_TIMEOUT
    message: str
    at: datetime


class Stopper:
    """The stop switch of one run."""

    def __init__(self) -> None:
        self.signal = threading.Event()  # the SDK's cancel_signal
        self.reason: StopReason | None = None
        self._lock = threading.Lock()
        self._thread_id: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[object] | None = None

    def attach_thread(self, thread_id: int | None) -> None:
        """Stop by raising in this thread (a sync function); None detaches."""
        with self._lock:
            self._thread_id = thread_id
            pending = self.reason is not None and thread_id is not None
        if pending:
            self._interrupt()

    def attach_task(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[object]) -> None:
        """Stop by cancelling this task (an async function)."""
        with self._lock:
            self._loop, self._task = loop, task
            pending = self.reason is not None
        if pending:
            loop.call_soon_threadsafe(task.cancel)

    def detach(self) -> None:
        """The run's code returned: nothing is left to interrupt.

        A stop that raced the return may have left `RunStopped` pending in the thread; it is
        cleared here so it cannot fire in the runtime's own code. The caller decides by
        `reason`, not by whether the exception arrived.
        """
        with self._lock:
            if self._thread_id is not None and self.reason is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread_id), None)
            self._thread_id = None
            self._loop = self._task = None

    def stop(self, code: str, message: str) -> bool:
        """Stop the run; False if it was already stopped."""
        return self.stop_as(StopReason(code, message, datetime.now(UTC)))

    def stop_as(self, reason: StopReason) -> bool:
        """Stop the run for a reason given whole (a cancel recorded before a restart)."""
        with self._lock:
            if self.reason is not None:
                return False
            self.reason = reason
            loop, task = self._loop, self._task
        self.signal.set()
        if loop is not None and task is not None:
            loop.call_soon_threadsafe(task.cancel)
        else:
            self._interrupt()
        return True

    def _interrupt(self) -> None:
        with self._lock:
            thread_id = self._thread_id
            if thread_id is None:
                return
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread_id), ctypes.py_object(RunStopped)
            )
