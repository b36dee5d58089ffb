"""Latency samples of a few alternatives, measured interleaved, as percentiles.

Each repetition calls every alternative once, in a fresh random order, so a burst of load from
another job on the shared machine lands on all of them alike and their ratio stays fair.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from bench._runners import _frozen_heap

Call = Callable[[int], object]
"""One alternative, called with an index (to pick, say, a random execution): 0 to
`repetitions - 1` for the timed calls, `repetitions` onwards for the warm-up calls."""


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `fraction` of them at or below."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Samples:
    """Seconds per call of one alternative, in call order."""

    seconds: list[float]

    @property
    def count(self) -> int:
        """How many calls were timed."""
        return len(self.seconds)

    @property
    def p50(self) -> float:
        """The median call, seconds."""
        return percentile(self.seconds, 0.50)

    @property
    def p99(self) -> float:
        """The 99th-percentile call, seconds."""
        return percentile(self.seconds, 0.99)

    @property
    def mean(self) -> float:
        """The mean call, seconds."""
        return sum(self.seconds) / len(self.seconds)

    def summary(self) -> dict[str, float | int]:
        """What the JSON keeps of it."""
        return {
            "count": self.count,
            "p50_seconds": self.p50,
            "p99_seconds": self.p99,
            "mean_seconds": self.mean,
            "max_seconds": max(self.seconds),
        }


class ParseTally:
    """The answers a client parsed during a walk: how many bytes, and the seconds `orjson.loads`
    took of the walk's time (what any client of that API pays whatever the server does)."""

    def __init__(self) -> None:
        self.bytes = 0
        self.seconds = 0.0

    def loads(self, content: bytes) -> Any:
        """`orjson.loads(content)`, counted."""
        started = time.perf_counter()
        parsed = orjson.loads(content)
        self.seconds += time.perf_counter() - started
        self.bytes += len(content)
        return parsed

    def summary(self) -> dict[str, float | int]:
        """What the JSON keeps of it."""
        return {"bytes": self.bytes, "parse_seconds": self.seconds}


def interleaved(
    calls: Mapping[str, Call],
    repetitions: int,
    budget_seconds: float,
    warmup: int = 5,
    seed: int = 7,
) -> dict[str, Samples]:
    """Time every call `repetitions` times, interleaved; stop early when the budget is spent.

    The warm-up repetitions (first-query plans, caches, connections) are not kept. A run cut
    short by the budget still keeps at least 20 repetitions.
    """
    shuffle = random.Random(seed)
    names = list(calls)
    for index in range(repetitions, repetitions + warmup):
        for name in names:
            calls[name](index)
    samples: dict[str, list[float]] = {name: [] for name in names}
    with _frozen_heap():
        deadline = time.monotonic() + budget_seconds
        for index in range(repetitions):
            if index >= 20 and time.monotonic() > deadline:
                break
            shuffle.shuffle(names)
            for name in names:
                started = time.perf_counter()
                calls[name](index)
                samples[name].append(time.perf_counter() - started)
    return {name: Samples(seconds) for name, seconds in samples.items()}
