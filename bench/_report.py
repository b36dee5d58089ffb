"""What a run records: the machine, the versions, the numbers, as a table, JSON and Markdown."""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import sqlite3
import subprocess
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import orjson
import psycopg

from bench._runners import Timing

MODE_TITLES = {
    "raw": "raw append",
    "ingest": "in-process ingest",
    "http": "HTTP, 1 client",
    "http_c4": "HTTP, 4 clients",
    "http_projector_off": "HTTP, projector off",
    "http_ceiling": "HTTP ceiling (bare endpoint)",
}
# The ratios the summary shows: each HTTP path over the raw append of the same case.
RATIO_TITLES = {
    "http": "HTTP/raw",
    "http_c4": "HTTP 4c/raw",
    "http_projector_off": "HTTP off/raw",
}
_PACKAGES = (
    "eventsourcing",
    "psycopg",
    "starlette",
    "uvicorn",
    "h11",
    "httpx",
    "orjson",
    "chdb",
    "chdb-core",
    "clickhouse-connect",
)


@dataclass(frozen=True)
class Result:
    """One measured path for one backend and batch size."""

    backend: str
    batch_size: int
    mode: str
    clients: int
    rounds: list[Timing]

    @property
    def timing(self) -> Timing:
        """The best round: on a shared machine, interference only ever slows a run down."""
        return max(self.rounds, key=lambda timing: timing.events_per_second)

    @property
    def visible_events_per_second(self) -> float | None:
        """The best round's rate counted until the last batch was visible in status."""
        found = [t.visible_events_per_second for t in self.rounds]
        rates = [rate for rate in found if rate is not None]
        return max(rates) if rates else None

    @property
    def key(self) -> tuple[str, int]:
        """The case the result belongs to; ratios compare results of one case."""
        return (self.backend, self.batch_size)


def ratios_to_raw(results: list[Result]) -> dict[tuple[str, int, str], float]:
    """Each result's rate over the raw append rate of the same case, measured in the same run."""
    raw = {r.key: r.timing.events_per_second for r in results if r.mode == "raw"}
    return {
        (r.backend, r.batch_size, r.mode): r.timing.events_per_second / raw[r.key]
        for r in results
        if r.key in raw
    }


def machine() -> dict[str, Any]:
    """The hardware and load the numbers were measured on."""
    model = ""
    with open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as file:
        mem_kib = int(file.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 1024**2, 1),
        "kernel": platform.release(),
        "load_average": os.getloadavg(),
    }


def versions() -> dict[str, str]:
    """The versions of everything on the measured path."""
    found = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for name in (*_PACKAGES, "vellum-ai"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    # psycopg runs as pure Python unless its C build (psycopg[c] or psycopg[binary]) is there.
    found["psycopg_implementation"] = psycopg.pq.__impl__
    # uvicorn picks uvloop and httptools when they are installed, else asyncio and h11.
    for name in ("uvloop", "httptools"):
        found[name] = "installed" if importlib.util.find_spec(name) else "absent"
    return found


def source_revision() -> dict[str, Any]:
    """The commit measured, and the files changed on top of it (the product is measured as is)."""

    def git(*args: str) -> list[str]:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
        return done.stdout.splitlines() if done.returncode == 0 else []

    commit = git("rev-parse", "--short", "HEAD")
    # Porcelain lines are two status letters, a space, then the path.
    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no")]
    return {"commit": commit[0] if commit else "", "changed": changed}


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def summary_rows(results: list[Result]) -> list[list[str]]:
    """One row per case: each path's events/s (best round), and each HTTP path over raw."""
    ratios = ratios_to_raw(results)
    by_case: dict[tuple[str, int], dict[str, Result]] = {}
    for result in results:
        by_case.setdefault(result.key, {})[result.mode] = result
    rows = []
    for (backend, batch_size), modes in by_case.items():
        row = [backend, str(batch_size), f"{modes['raw'].timing.acknowledged_count:,}"]
        for mode in MODE_TITLES:
            found = modes.get(mode)
            row.append(_rate(found.timing.events_per_second) if found else "-")
        http = modes.get("http")
        visible = http.visible_events_per_second if http else None
        row.append(_rate(visible) if visible is not None else "-")
        for mode in RATIO_TITLES:
            ratio = ratios.get((backend, batch_size, mode))
            row.append(f"{ratio:.2f}" if ratio is not None else "-")
        raw = modes["raw"].timing.events_per_second
        row.append(f"{visible / raw:.2f}" if visible is not None else "-")
        ceiling = modes.get("http_ceiling")
        row.append(
            f"{http.timing.events_per_second / ceiling.timing.events_per_second:.2f}"
            if http and ceiling
            else "-"
        )
        rows.append(row)
    return rows


SUMMARY_HEADER = [
    "backend",
    "batch",
    "events",
    *MODE_TITLES.values(),
    "HTTP, visible in status",
    *RATIO_TITLES.values(),
    "visible/raw",
    "HTTP/ceiling",
]


def detail_rows(results: list[Result]) -> list[list[str]]:
    """One row per path, its best round, and the CPU each side spent per event in it."""
    ratios = ratios_to_raw(results)
    rows = []
    for r in results:
        t = r.timing
        server = (
            f"{t.server_cpu_seconds / t.acknowledged_count * 1e6:,.0f}"
            if t.server_cpu_seconds is not None
            else "-"
        )
        rows.append(
            [
                r.backend,
                str(r.batch_size),
                MODE_TITLES[r.mode],
                f"{t.acknowledged_count:,}",
                f"{t.seconds:.2f}",
                _rate(t.events_per_second),
                " / ".join(_rate(round_.events_per_second) for round_ in r.rounds),
                f"{ratios[(r.backend, r.batch_size, r.mode)]:.2f}",
                f"{t.bench_cpu_seconds / t.acknowledged_count * 1e6:,.0f}",
                server,
                _rate(visible) if (visible := r.visible_events_per_second) is not None else "-",
            ]
        )
    return rows


DETAIL_HEADER = [
    "backend",
    "batch",
    "path",
    "events",
    "seconds",
    "ev/s",
    "each round",
    "of raw",
    "bench CPU µs/ev",
    "server CPU µs/ev",
    "visible in status ev/s",
]


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """A fixed-width table for the terminal."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
        for line in (header, *rows)
    ]
    return "\n".join(lines)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub Markdown table; columns of numbers are right-aligned."""
    numeric = re.compile(r"[-0-9.,/ ]+")
    align = [
        "---:" if all(numeric.fullmatch(row[n]) for row in rows) else "---"
        for n in range(len(header))
    ]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def write(out: Path, stem: str, meta: dict[str, Any], results: list[Result]) -> tuple[Path, Path]:
    """`<stem>.json` (everything) and `<stem>.md` (the tables for bench/README.md)."""
    out.mkdir(parents=True, exist_ok=True)
    ratios = ratios_to_raw(results)
    document = {
        **meta,
        "results": [
            {
                "backend": r.backend,
                "batch_size": r.batch_size,
                "mode": r.mode,
                "clients": r.clients,
                "rounds_events_per_second": [t.events_per_second for t in r.rounds],
                "acknowledged_count": r.timing.acknowledged_count,
                "seconds": r.timing.seconds,
                "events_per_second": r.timing.events_per_second,
                "ratio_to_raw": ratios[(r.backend, r.batch_size, r.mode)],
                "bench_cpu_seconds": r.timing.bench_cpu_seconds,
                "server_cpu_seconds": r.timing.server_cpu_seconds,
                "visible_seconds": r.timing.visible_seconds,
                "visible_events_per_second": r.visible_events_per_second,
            }
            for r in results
        ],
    }
    json_path = out / f"{stem}.json"
    json_path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    md_path = out / f"{stem}.md"
    md_path.write_text(
        markdown_table(SUMMARY_HEADER, summary_rows(results))
        + "\n\n"
        + markdown_table(DETAIL_HEADER, detail_rows(results))
        + "\n"
    )
    return json_path, md_path
