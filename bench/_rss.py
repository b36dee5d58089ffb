"""Peak memory of the embedded server (`runledger serve`: uvicorn, chDB, projection thread)
while one client posts batches of 100 back to back, until the target count or the time budget.

The server's VmRSS is sampled from /proc/<pid>/status every half second with the count of
events acknowledged so far; VmHWM (the kernel's peak RSS of the process) is read after the
projections have caught up. When the budget ends the run before the target, the growth of RSS
over the second half of the run (a least-squares line through the samples) is extrapolated to
the target, and both figures are recorded.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench._events import EventCloner, batch_bodies
from bench._runners import EVENTS_PATH, WORKSPACE
from bench._server import ADMIN_HEADERS, running_server
from bench._stores import SQLITE, Postgres, fresh_store

SAMPLE_SECONDS = 0.5
CHUNK_EVENTS = 10_000
BATCH = 100
GIB = 1024**3


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, KiB."""
    found = {}
    with open(f"/proc/{pid}/status") as file:
        for line in file:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                found[name] = int(value.split()[0])
    return found


@dataclass
class _Progress:
    acknowledged: int = 0
    done: bool = False


def _bodies(cloner: EventCloner, target: int, stop: threading.Event) -> Iterator[list[bytes]]:
    made = 0
    while made < target and not stop.is_set():
        count = min(CHUNK_EVENTS, target - made)
        yield batch_bodies(cloner.take(count), BATCH)
        made += count


def _fit_slope(points: list[tuple[int, int]]) -> float | None:
    """Least-squares slope of RSS (KiB) over acknowledged events."""
    if len(points) < 3:
        return None
    xs = [float(x) for x, _ in points]
    ys = [float(y) for _, y in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def measure_rss(
    cloner: EventCloner, target_events: int, budget_seconds: float, logs: Path
) -> dict[str, Any]:
    """Post up to `target_events` within `budget_seconds`; the server's memory all along."""
    stop = threading.Event()
    chunks: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=3)

    def produce() -> None:
        # Cloning costs ~15 µs an event: made ahead in a thread, a few chunks at a time.
        for chunk in _bodies(cloner, target_events, stop):
            while not stop.is_set():
                try:
                    chunks.put(chunk, timeout=0.5)
                    break
                except queue.Full:
                    continue
        chunks.put(None)

    progress = _Progress()
    samples: list[dict[str, float]] = []
    with (
        fresh_store(SQLITE, "rss", Postgres()) as env,
        running_server(env, WORKSPACE, logs / "server-rss.log") as server,
    ):
        started = time.perf_counter()

        def sample() -> None:
            while not progress.done:
                memory = memory_kib(server.pid)
                samples.append(
                    {
                        "seconds": time.perf_counter() - started,
                        "acknowledged": progress.acknowledged,
                        "rss_kib": memory["VmRSS"],
                    }
                )
                time.sleep(SAMPLE_SECONDS)

        producer = threading.Thread(target=produce, name="bench-rss-bodies", daemon=True)
        sampler = threading.Thread(target=sample, name="bench-rss-sampler", daemon=True)
        producer.start()
        sampler.start()
        deadline = time.monotonic() + budget_seconds
        headers = {"X-API-KEY": server.api_key, "Content-Type": "application/json"}
        try:
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=120) as http:
                while (chunk := chunks.get()) is not None:
                    for body in chunk:
                        response = http.post(EVENTS_PATH, content=body)
                        if response.status_code != 200:
                            raise RuntimeError(f"ingest answered {response.status_code}")
                        progress.acknowledged += orjson.loads(response.content)["accepted_count"]
                    if time.monotonic() > deadline:
                        break
                posted_seconds = time.perf_counter() - started
                stop.set()
                # The projections catch up on what was acknowledged: part of the same run.
                readyz = _caught_up(http, max(budget_seconds, 120.0))
            caught_up_seconds = time.perf_counter() - started
        finally:
            stop.set()
            progress.done = True
            sampler.join()
        peak = memory_kib(server.pid)["VmHWM"]
    events = progress.acknowledged
    posting = [s for s in samples if s["seconds"] <= posted_seconds]
    second_half = [
        (int(s["acknowledged"]), int(s["rss_kib"]))
        for s in posting
        if s["acknowledged"] >= events / 2
    ]
    slope = _fit_slope(second_half)
    extrapolated = (
        peak + slope * (target_events - events)
        if slope is not None and events < target_events
        else float(peak)
    )
    return {
        "target_events": target_events,
        "events": events,
        "posted_seconds": posted_seconds,
        "caught_up_seconds": caught_up_seconds,
        "events_per_second": events / posted_seconds,
        "peak_rss_kib": peak,
        "peak_rss_gib": peak * 1024 / GIB,
        "growth_kib_per_100k_events": slope * 100_000 if slope is not None else None,
        "extrapolated_peak_gib": extrapolated * 1024 / GIB,
        "readyz": readyz,
        "samples": samples,
    }


def _caught_up(http: httpx.Client, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer: dict[str, Any] = orjson.loads(http.get("/readyz", headers=ADMIN_HEADERS).content)
        if answer["projections"]["behind_count"] == 0:
            return answer
        if time.monotonic() > deadline:
            raise TimeoutError(f"projections still behind after {timeout:.0f} s: {answer}")
        time.sleep(0.2)


def rss_table(rss: dict[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """The memory run as one table row."""
    growth = rss["growth_kib_per_100k_events"]
    row = [
        f"{rss['events']:,}",
        f"{rss['posted_seconds']:.1f}",
        f"{rss['events_per_second']:,.0f}",
        f"{rss['caught_up_seconds']:.1f}",
        f"{rss['peak_rss_gib']:.2f}",
        f"{growth / 1024:,.1f}" if growth is not None else "-",
        f"{rss['target_events']:,}",
        f"{rss['extrapolated_peak_gib']:.2f}",
    ]
    header = [
        "events",
        "posting s",
        "ev/s",
        "caught up at s",
        "peak RSS GiB",
        "growth MiB / 100k ev",
        "target",
        "extrapolated GiB",
    ]
    return "Embedded server memory (VmHWM), one client, batches of 100", header, [row]
