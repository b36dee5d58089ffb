"""The projection benchmark's tables (terminal and Markdown) and its JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from bench._report import markdown_table

RATE_TITLES = {
    "runner": "projection runner, replay from zero",
    "insert": "raw column insert, same rows, same tables",
    "insert_bare": "raw column insert, `events` alone (no MVs)",
}
COMPONENT_TITLES = {
    "log_read": "(part of the runner) log read alone",
    "rows": "(part of the runner) encoding the rows alone",
}
Table = tuple[str, list[str], list[list[str]]]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f}"


def _best(rounds: list[dict[str, float]]) -> dict[str, float]:
    # On a shared machine a measurement is only ever slowed down by others.
    return max(rounds, key=lambda timing: timing["events_per_second"])


def rate_table(rate: dict[str, Any]) -> Table:
    """One row per path (best round), its rate over the raw insert with the views."""
    ceiling = _best(rate["paths"]["insert"])["events_per_second"]
    rows = []
    for name, title in RATE_TITLES.items():
        rounds = rate["paths"][name]
        best = _best(rounds)
        rows.append(
            [
                title,
                f"{best['events']:,}",
                f"{best['seconds']:.2f}",
                f"{best['events_per_second']:,.0f}",
                " / ".join(f"{r['events_per_second']:,.0f}" for r in rounds),
                f"{best['events_per_second'] / ceiling:.2f}",
                f"{best['cpu_seconds'] / best['events'] * 1e6:,.0f}",
            ]
        )
    for name, title in COMPONENT_TITLES.items():
        timing = rate[name]
        rows.append(
            [
                title,
                f"{timing['events']:,}",
                f"{timing['seconds']:.2f}",
                f"{timing['events_per_second']:,.0f}",
                "-",
                "-",
                f"{timing['cpu_seconds'] / timing['events'] * 1e6:,.0f}",
            ]
        )
    header = ["path", "events", "seconds", "events/s", "each round", "of raw", "CPU µs/ev"]
    title = (
        f"Projection rate: {rate['events']:,} events ({rate['executions']:,} executions,"
        f" {rate['spans']:,} spans), batches of {rate['batch_size']:,}"
    )
    return title, header, rows


def _latency_row(
    title: str, found: dict[str, Any], name: str, beside_title: str, beside: str
) -> list[str]:
    measured, reference = found[name], found[beside]
    return [
        title,
        f"{measured['count']:,}",
        _ms(measured["p50_seconds"]),
        _ms(measured["p99_seconds"]),
        beside_title,
        _ms(reference["p50_seconds"]),
        _ms(reference["p99_seconds"]),
        f"{measured['p50_seconds'] / reference['p50_seconds']:.2f}",
        f"{measured['p99_seconds'] / reference['p99_seconds']:.2f}",
    ]


LATENCY_HEADER = [
    "measured",
    "calls",
    "p50 ms",
    "p99 ms",
    "beside",
    "p50 ms",
    "p99 ms",
    "p50 ratio",
    "p99 ratio",
]


def latency_table(results: dict[str, Any]) -> Table:
    """Each read beside its reference, measured interleaved in the same loop."""
    rows = []
    detail = results.get("detail")
    if detail:
        spans = f"{detail['deep_execution_spans']:,}"
        small = f"{detail['small_execution_spans']:,}"
        rows += [
            _latency_row(
                f"detail page at 99 % depth, {spans}-span execution",
                detail["pages"],
                "deep",
                "its first page",
                "first",
            ),
            _latency_row(
                "the same over HTTP", detail["http_pages"], "deep", "first page, HTTP", "first"
            ),
            _latency_row(
                f"first page, {spans}-span execution",
                detail["pages"],
                "first",
                f"first page, {small}-span execution",
                "small",
            ),
        ]
        if "walk_deep" in detail["pages"]:
            walk = f"{detail['walk_execution_spans']:,}"
            rows += [
                _latency_row(
                    f"detail page at 99 % depth, {walk}-span execution",
                    detail["pages"],
                    "walk_deep",
                    f"first page, {small}-span execution",
                    "small",
                ),
                _latency_row(
                    "the same over HTTP",
                    detail["http_pages"],
                    "walk_deep",
                    f"first page, {small}-span, HTTP",
                    "small",
                ),
            ]
    status = results.get("status")
    if status:
        rows += [
            _latency_row(
                f"status, {status['executions']:,} executions stored",
                status["in_process"],
                "status",
                "bare primary-key query",
                "bare",
            ),
            _latency_row(
                "status over HTTP", status["http"], "status", "bare primary-key query", "bare"
            ),
        ]
    return "Read latency (interleaved calls)", LATENCY_HEADER, rows


def walk_table(detail: dict[str, Any]) -> Table:
    """Whole walks of one execution, page after page."""
    rows = [
        [
            "in-process",
            f"{walk['spans']:,}",
            str(walk["span_limit"]),
            str(walk["pages"]),
            f"{walk['seconds']:.2f}",
            _ms(walk["seconds"] / walk["pages"]),
            f"{walk['spans'] / walk['seconds']:,.0f}",
            "-",
            "-",
        ]
        for walk in detail["walks"]
    ]
    spans = detail["walk_execution_spans"]
    rows += [
        [
            "HTTP",
            f"{spans:,}",
            "1000",
            str(walk["pages"]),
            f"{walk['seconds']:.2f}",
            _ms(walk["seconds"] / walk["pages"]),
            f"{spans / walk['seconds']:,.0f}",
            f"{walk['bytes'] / 1e6:.1f}" if "bytes" in walk else "-",
            f"{walk['parse_seconds']:.2f}" if "parse_seconds" in walk else "-",
        ]
        for walk in detail.get("http_walks", [])
    ]
    header = [
        "path",
        "spans",
        "span_limit",
        "pages",
        "seconds",
        "ms per page",
        "spans/s",
        "MB received",
        "client parse s",
    ]
    return "Full walk of one execution", header, rows


def lag_table(lag: dict[str, Any]) -> Table:
    """Each steady-rate run: the rate, the lag a client saw, the lag the server reports."""
    probe = lag["probe_events_per_second"]
    rows = []
    for run in lag["runs"]:
        projections = run["readyz"]["projections"]
        rows.append(
            [
                run["rate_basis"],
                f"{run['target_events_per_second']:,.0f}",
                f"{run['events_per_second']:,.0f}",
                f"{run['events']:,}",
                f"{run['seconds']:.1f}",
                _ms(run["client_lag"]["p50_seconds"]),
                _ms(run["client_lag"]["p99_seconds"]),
                str(run["client_lag"]["count"]),
                _ms(run["poll_round_trip"]["p50_seconds"]),
                _ms(projections["lag_p50_seconds"]),
                _ms(projections["lag_p99_seconds"]),
                f"{run['server_cpu_seconds'] / run['seconds']:.2f}",
                _ms(run["max_slip_seconds"]),
                _batches(projections),
            ]
        )
    header = [
        "rate",
        "target ev/s",
        "sent ev/s",
        "events",
        "seconds",
        "client lag p50 ms",
        "p99 ms",
        "samples",
        "status poll p50 ms",
        "/readyz lag p50 ms",
        "p99 ms",
        "server CPU cores",
        "max slip ms",
        "batches: events p50, write p50 / p99 ms",
    ]
    title = "Acknowledgement-to-visibility lag, batches of 100 at a steady rate"
    if probe:
        title += f" (the rate halved: {probe:,.0f} events/s)"
    return title, header, rows


def _batches(projections: dict[str, Any]) -> str:
    # The runner's recent batches as /readyz reports them (runs before 2026-12-04 have none).
    if not projections.get("batches_count"):
        return "-"
    p50, p99 = projections["batch_apply_p50_seconds"], projections["batch_apply_p99_seconds"]
    return f"{projections['batch_events_p50']:,.0f}, {_ms(p50)} / {_ms(p99)}"


def tables(results: dict[str, Any]) -> list[Table]:
    """Every table the results fill."""
    found = []
    if "rate" in results:
        found.append(rate_table(results["rate"]))
    if "detail" in results or "status" in results:
        found.append(latency_table(results))
    if "detail" in results:
        found.append(walk_table(results["detail"]))
    if "lag" in results:
        found.append(lag_table(results["lag"]))
    return found


def write(
    out: Path, stem: str, meta: dict[str, Any], results: dict[str, Any], found: list[Table]
) -> tuple[Path, Path]:
    """`<stem>.json` (everything) and `<stem>.md` (the tables for bench/README.md)."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{stem}.json"
    json_path.write_bytes(orjson.dumps({**meta, "results": results}, option=orjson.OPT_INDENT_2))
    md_path = out / f"{stem}.md"
    md_path.write_text(
        "\n\n".join(
            f"**{title}**\n\n{markdown_table(header, rows)}" for title, header, rows in found
        )
        + "\n"
    )
    return json_path, md_path
