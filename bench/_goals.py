"""Issue 5's goals, read off one run's results: each measure beside its ceiling or peer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench._concurrency import ROUTES as CONCURRENCY_ROUTES
from bench._concurrency import error_text

GIB_LIMIT = 1.5
LAG_LIMIT_SECONDS = 0.250
# p99 of a route under many clients, at most this many times one client's p50 in the same run.
CONCURRENT_P99_LIMIT = 10


@dataclass(frozen=True)
class Goal:
    """One row of the goals table; `met` is None when a part did not run (or was skipped)."""

    measure: str
    value: str
    reference: str
    ratio: float | None
    goal: str
    met: bool | None

    def cells(self) -> list[str]:
        """The row as table cells."""
        met = "-" if self.met is None else ("yes" if self.met else "no")
        ratio = "-" if self.ratio is None else f"{self.ratio:,.2f}"
        digits = 2
        # 0.598 against "≥ 0.6" must not read "0.60", "no": more digits until it differs.
        while (
            self.ratio is not None
            and self.met is False
            and digits < 6
            and _bound(self.goal) == round(self.ratio, digits)
        ):
            digits += 1
            ratio = f"{self.ratio:,.{digits}f}"
        return [self.measure, self.value, self.reference, ratio, self.goal, met]

    def as_json(self) -> dict[str, Any]:
        """What the JSON keeps."""
        return asdict(self)


def _bound(goal: str) -> float | None:
    """The number a goal like "≥ 0.6" compares with."""
    try:
        return float(goal.rsplit(maxsplit=1)[-1])
    except (IndexError, ValueError):
        return None


HEADER = ["measure", "value", "ceiling / peer", "ratio", "goal", "met"]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def _rate(value: float, unit: str = "ev/s") -> str:
    return f"{value:,.0f} {unit}"


def _at_least(ratio: float, bound: float) -> bool:
    return ratio >= bound


def _at_most(ratio: float, bound: float) -> bool:
    return ratio <= bound


def _ratio_goal(
    measure: str,
    value: tuple[float, str],
    reference: tuple[float, str],
    goal: str,
    test: Callable[[float], bool] | None,
) -> Goal:
    ratio = value[0] / reference[0]
    return Goal(measure, value[1], reference[1], ratio, goal, test(ratio) if test else None)


def _missing(measure: str, goal: str, why: str = "not measured") -> Goal:
    return Goal(measure, why, "-", None, goal, None)


def _ingest_goals(results: dict[str, Any], spans_per_event: float) -> list[Goal]:
    ingest = results.get("ingest", {})
    goals = []
    sqlite = ingest.get("sqlite", {})
    title = "ingest, HTTP, batches of 100, acknowledged and visible in status (SQLite)"
    visible = sqlite.get("http", {}).get("visible_events_per_second")
    if visible and "raw" in sqlite:
        raw = sqlite["raw"]["events_per_second"]
        goals.append(
            _ratio_goal(
                title,
                (visible, _rate(visible)),
                (raw, f"raw append {_rate(raw)}"),
                "≥ 0.6",
                lambda r: _at_least(r, 0.6),
            )
        )
    else:
        goals.append(_missing(title, "≥ 0.6"))
    title = "the same, spans/s, beside Phoenix's OTLP ingest until queryable"
    phoenix = results.get("phoenix", {})
    if visible and "ingest" in phoenix:
        ours = visible * spans_per_event
        theirs = phoenix["ingest"]["spans_per_second"]
        goals.append(
            _ratio_goal(
                title,
                (ours, _rate(ours, "spans/s")),
                (theirs, f"Phoenix {_rate(theirs, 'spans/s')}"),
                "≥ 100",
                lambda r: _at_least(r, 100),
            )
        )
    else:
        goals.append(_missing(title, "≥ 100", phoenix.get("skipped", "not measured")))
    ceiling = sqlite.get("http_ceiling", {}).get("events_per_second")
    if "http" in sqlite and ceiling:
        acked = sqlite["http"]["events_per_second"]
        goals.append(
            _ratio_goal(
                "(ceiling) ingest, HTTP, batches of 100, acknowledged (SQLite)",
                (acked, _rate(acked)),
                (ceiling, f"bare Starlette endpoint {_rate(ceiling)}"),
                "-",
                None,
            )
        )
    postgres = ingest.get("postgres", {})
    title = "PostgreSQL log: ingest, HTTP, batches of 100, acknowledged"
    if "http" in postgres and "raw" in postgres:
        http = postgres["http"]["events_per_second"]
        raw = postgres["raw"]["events_per_second"]
        goals.append(
            _ratio_goal(
                title,
                (http, _rate(http)),
                (raw, f"raw append {_rate(raw)}"),
                "≥ 0.6",
                lambda r: _at_least(r, 0.6),
            )
        )
    else:
        goals.append(_missing(title, "≥ 0.6"))
    return goals


def _best_rate(rounds: list[dict[str, float]]) -> float:
    return max(r["events_per_second"] for r in rounds)


def _read_goals(results: dict[str, Any]) -> list[Goal]:
    goals = []
    title = "projection replay from zero"
    if "rate" in results:
        paths = results["rate"]["paths"]
        runner, insert = _best_rate(paths["runner"]), _best_rate(paths["insert"])
        goals.append(
            _ratio_goal(
                title,
                (runner, _rate(runner)),
                (insert, f"raw column insert {_rate(insert)}"),
                "≥ 0.5",
                lambda r: _at_least(r, 0.5),
            )
        )
    else:
        goals.append(_missing(title, "≥ 0.5"))
    detail = results.get("detail")
    phoenix = results.get("phoenix", {})
    skipped = phoenix.get("skipped", "not measured")
    if detail:
        spans = detail["deep_execution_spans"]
        deep = detail["pages"]["deep"]["p50_seconds"]
        first = detail["pages"]["first"]["p50_seconds"]
        goals.append(
            _ratio_goal(
                f"detail page of 100 at 99 % depth, {spans:,}-span execution, p50",
                (deep, _ms(deep)),
                (first, f"its first page {_ms(first)}"),
                "≤ 1.2",
                lambda r: _at_most(r, 1.2),
            )
        )
    else:
        goals.append(_missing("detail page of 100 at 99 % depth, p50", "≤ 1.2"))
    if detail and "pages" in phoenix:
        walk_spans = detail["walk_execution_spans"]
        ours = detail["http_pages"]["walk_deep"]["p50_seconds"]
        theirs = phoenix["pages"]["deep"]["p50_seconds"]
        goals.append(
            _ratio_goal(
                f"the same at {walk_spans:,} spans, HTTP, beside Phoenix's at the same depth",
                (ours, _ms(ours)),
                (theirs, f"Phoenix {_ms(theirs)}"),
                "≤ 0.2",
                lambda r: _at_most(r, 0.2),
            )
        )
        deep_http = detail["http_pages"]["deep"]["p50_seconds"]
        goals.append(
            _ratio_goal(
                f"(ours at {detail['deep_execution_spans']:,} spans, HTTP, beside Phoenix's at"
                f" {walk_spans:,})",
                (deep_http, _ms(deep_http)),
                (theirs, f"Phoenix {_ms(theirs)}"),
                "-",
                None,
            )
        )
        ours_walk = min(w["seconds"] for w in detail["http_walks"])
        theirs_walk = min(w["seconds"] for w in phoenix["walks"])
        goals.append(
            _ratio_goal(
                f"full walk of a {walk_spans:,}-span execution, span_limit 1000, HTTP",
                (ours_walk, f"{ours_walk:.2f} s"),
                (theirs_walk, f"Phoenix {theirs_walk:.2f} s"),
                "≤ 0.1",
                lambda r: _at_most(r, 0.1),
            )
        )
        fastest = min(detail["http_walks"], key=lambda w: w["seconds"])
        if "parse_seconds" in fastest:
            # What the client alone spends parsing the walk's answers, beside the goal's bound:
            # a floor no server-side change lowers while the wire shape stays Vellum's.
            goals.append(
                _ratio_goal(
                    f"(the client's JSON parse of that walk's {fastest['bytes'] / 1e6:.1f} MB)",
                    (fastest["parse_seconds"], f"{fastest['parse_seconds']:.2f} s"),
                    (theirs_walk, f"Phoenix's walk {theirs_walk:.2f} s"),
                    "-",
                    None,
                )
            )
    else:
        goals.append(_missing("detail page at 99 % depth beside Phoenix's", "≤ 0.2", skipped))
        goals.append(_missing("full walk, span_limit 1000, beside Phoenix's", "≤ 0.1", skipped))
    status = results.get("status")
    if status:
        ours = status["in_process"]["status"]["p99_seconds"]
        bare = status["in_process"]["bare"]["p99_seconds"]
        goals.append(
            _ratio_goal(
                f"status p99, {status['executions']:,} executions",
                (ours, _ms(ours)),
                (bare, f"bare primary-key query {_ms(bare)}"),
                "≤ 2",
                lambda r: _at_most(r, 2),
            )
        )
    else:
        goals.append(_missing("status p99", "≤ 2"))
    return goals


def _lag_goal(results: dict[str, Any]) -> Goal:
    title = "acknowledgement-to-visibility lag p99 at 50 % of the sustained ingest rate"
    runs = [run for run in results.get("lag", {}).get("runs", []) if run["rate_basis"] != "fixed"]
    if not runs:
        return _missing(title, "≤ 250 ms")
    run = runs[-1]
    p99 = run["client_lag"]["p99_seconds"]
    return Goal(
        title,
        _ms(p99),
        f"at {run['events_per_second']:,.0f} ev/s",
        None,
        "≤ 250 ms",
        p99 <= LAG_LIMIT_SECONDS,
    )


def _rss_goal(results: dict[str, Any]) -> Goal:
    rss = results.get("rss")
    if not rss:
        return _missing("peak RSS of the embedded server while ingesting", "≤ 1.5 GiB")
    target = rss["target_events"]
    title = f"peak RSS of the embedded server while ingesting {target:,} events"
    peak = rss["peak_rss_gib"]
    if rss["events"] >= target:
        return Goal(title, f"{peak:.2f} GiB", "-", None, "≤ 1.5 GiB", peak <= GIB_LIMIT)
    extrapolated = rss["extrapolated_peak_gib"]
    return Goal(
        title,
        f"{peak:.2f} GiB after {rss['events']:,} events",
        f"extrapolated to {target:,}: {extrapolated:.2f} GiB",
        None,
        "≤ 1.5 GiB",
        extrapolated <= GIB_LIMIT,
    )


def _concurrency_goals(results: dict[str, Any]) -> list[Goal]:
    """Errors and lost events (none), and each route's p99 under many clients beside one's p50."""
    found = results.get("concurrency")
    if not found:
        return [
            _missing("concurrency: requests not answered 200, or answered wrong", "0"),
            _missing("concurrency: acknowledged events missing from the log afterwards", "0"),
            *(
                _missing(f"concurrency: p99 at many clients, {title}", f"≤ {CONCURRENT_P99_LIMIT}")
                for title in CONCURRENCY_ROUTES.values()
            ),
        ]
    phases = found["phases"]
    clients = found["clients"]
    # Every phase's, the warm-up's included: an error is one whatever the load.
    errors = [
        found["warmup"]["errors"],
        *({r: v["errors"] for r, v in p["routes"].items()} for p in phases.values()),
    ]
    counts: Counter[str] = Counter()
    for by_route in errors:
        for by_name in by_route.values():
            counts.update(by_name)
    errors_count = sum(counts.values())
    answered = sum(route["count"] for p in phases.values() for route in p["routes"].values())
    log = found["log"]
    goals = [
        Goal(
            f"concurrency: requests not answered 200, or answered wrong, 1 and {clients} clients",
            f"{errors_count:,}" + (f" ({error_text(dict(counts))})" if counts else ""),
            f"of {answered:,} answered",
            None,
            "0",
            errors_count == 0,
        ),
        Goal(
            "concurrency: acknowledged events missing from the log afterwards",
            f"{log['missing_count']:,}",
            f"of {log['acknowledged_count']:,} acknowledged",
            None,
            "0",
            log["missing_count"] == 0,
        ),
    ]
    for route, title in CONCURRENCY_ROUTES.items():
        many = phases["many"]["routes"][route].get("p99_seconds")
        one = phases["one"]["routes"][route].get("p50_seconds")
        measure = f"concurrency: p99 at {clients} clients, {title}"
        if many is None or one is None:
            goals.append(_missing(measure, f"≤ {CONCURRENT_P99_LIMIT}", "no answer"))
            continue
        goals.append(
            _ratio_goal(
                measure,
                (many, _ms(many)),
                (one, f"1 client's p50 {_ms(one)}"),
                f"≤ {CONCURRENT_P99_LIMIT}",
                lambda r: _at_most(r, CONCURRENT_P99_LIMIT),
            )
        )
    goals.append(
        Goal(
            f"(concurrency: peak RSS of the server, 1 then {clients} clients)",
            f"{found['peak_rss_gib']:.2f} GiB",
            "-",
            None,
            "-",
            None,
        )
    )
    return goals


LIST_LIMIT = 1.5
LIST_PEER_LIMIT = 0.2


def _page_title(page: str, case: dict[str, Any], executions: int) -> str:
    where = "first page of 50" if page == "first" else f"page of 50 after {case['depth']:,}"
    return f"list, {executions:,} executions, {case['q']}, {where}, p99"


def _lists_goals(results: dict[str, Any]) -> list[Goal]:
    """Issue 21: each filter's pages and the count beside the bare statement; the peer."""
    found = results.get("lists")
    if not found:
        return [_missing("list pages and count beside the bare statement, p99", "≤ 1.5")]
    executions = found["load"]["executions"]
    goals = []
    for key, case in found["cases"].items():
        for page in ("first", "deep"):
            if page == "deep" and case["depth"] is None:
                goals.append(
                    Goal(
                        f"list, {executions:,} executions, {case['q']}, page 10,000 deep",
                        f"not applicable: the filter keeps {case['matched']:,}",
                        "-",
                        None,
                        "-",
                        None,
                    )
                )
                continue
            ours = found["pages"][f"ours/{key}/{page}"]["p99_seconds"]
            bare = found["pages"][f"bare/{key}/{page}"]["p99_seconds"]
            goals.append(
                _ratio_goal(
                    _page_title(page, case, executions),
                    (ours, _ms(ours)),
                    (bare, f"bare statement {_ms(bare)}"),
                    f"≤ {LIST_LIMIT}",
                    lambda r: _at_most(r, LIST_LIMIT),
                )
            )
    count = found["count"]
    goals.append(
        _ratio_goal(
            f"count by status over {executions:,} executions, p99",
            (count["ours"]["p99_seconds"], _ms(count["ours"]["p99_seconds"])),
            (count["bare"]["p99_seconds"], f"bare GROUP BY {_ms(count['bare']['p99_seconds'])}"),
            f"≤ {LIST_LIMIT}",
            lambda r: _at_most(r, LIST_LIMIT),
        )
    )
    peer = found.get("peer", {})
    title = "list, first page filtered by metadata, beside Phoenix's, p99"
    if "skipped" in peer or not peer:
        goals.append(_missing(title, f"≤ {LIST_PEER_LIMIT}", peer.get("skipped", "not measured")))
    else:
        ours, theirs = peer["ours"]["p99_seconds"], peer["phoenix"]["p99_seconds"]
        goals.append(
            _ratio_goal(
                f"list, {peer['executions']:,} executions, {peer['q']}, first page, p99,"
                " beside Phoenix's",
                (ours, _ms(ours)),
                (theirs, f"Phoenix {_ms(theirs)}"),
                f"≤ {LIST_PEER_LIMIT}",
                lambda r: _at_most(r, LIST_PEER_LIMIT),
            )
        )
    return goals


VIEWS_LIMIT = 1.5


def _views_goal(results: dict[str, Any]) -> Goal:
    """Issue 23: Datalab's read (outputs as links) of 1 MiB outputs beside small ones (Velt's
    with links is in the part's own table)."""
    title = "Datalab read, node outputs of 1 MiB beside small ones, p99"
    found = results.get("views")
    if not found:
        return _missing(title, f"≤ {VIEWS_LIMIT}")
    large = found["reads"]["datalab/large"]["p99_seconds"]
    small = found["reads"]["datalab/small"]["p99_seconds"]
    return _ratio_goal(
        f"Datalab read, {found['nodes']} nodes of {found['large_output_bytes']:,}-byte outputs"
        " beside small ones, p99",
        (large, _ms(large)),
        (small, f"small outputs {_ms(small)}"),
        f"≤ {VIEWS_LIMIT}",
        lambda r: _at_most(r, VIEWS_LIMIT),
    )


OTLP_RAW_LIMIT = 0.5
OTLP_PEER_LIMIT = 40


def otlp_goals(results: dict[str, Any]) -> list[Goal]:
    """Issue 22: OTLP ingest visible in status beside the raw append of the same records (each
    log), and beside Phoenix; the exporter's own rate as a ceiling row."""
    found = results.get("otlp")
    best = found["best"] if found else {}
    goals = []
    for log in ("sqlite", "postgres"):
        title = (
            f"OTLP ingest, protobuf, batches of 512 from the SDK, spans/s acknowledged and"
            f" visible in status ({'SQLite' if log == 'sqlite' else 'PostgreSQL'})"
        )
        visible, raw = best.get(f"{log}/http/visible"), best.get(f"{log}/raw")
        if visible and raw:
            goals.append(
                _ratio_goal(
                    title,
                    (visible, _rate(visible, "spans/s")),
                    (raw, f"raw append of the same records {_rate(raw, 'spans/s')}"),
                    f"≥ {OTLP_RAW_LIMIT}",
                    lambda r: _at_least(r, OTLP_RAW_LIMIT),
                )
            )
        else:
            goals.append(_missing(title, f"≥ {OTLP_RAW_LIMIT}"))
    title = "the same (SQLite) beside Phoenix receiving the same spans, until queryable"
    phoenix = found.get("phoenix", {}) if found else {}
    visible = best.get("sqlite/http/visible")
    if visible and "queryable" in phoenix:
        theirs = phoenix["queryable"]["spans_per_second"]
        goals.append(
            _ratio_goal(
                title,
                (visible, _rate(visible, "spans/s")),
                (theirs, f"Phoenix {_rate(theirs, 'spans/s')}"),
                f"≥ {OTLP_PEER_LIMIT}",
                lambda r: _at_least(r, OTLP_PEER_LIMIT),
            )
        )
    else:
        goals.append(
            _missing(title, f"≥ {OTLP_PEER_LIMIT}", phoenix.get("skipped", "not measured"))
        )
    exporter = best.get("exporter")
    if visible and exporter:
        goals.append(
            _ratio_goal(
                "(ceiling) the same beside the exporter alone, to an endpoint answering at once",
                (visible, _rate(visible, "spans/s")),
                (exporter, f"exporter {_rate(exporter, 'spans/s')}"),
                "-",
                None,
            )
        )
    return goals


def goals(results: dict[str, Any], spans_per_event: float) -> list[Goal]:
    """Every goal of issue 5, in the issue's order, with the ceiling rows beside them; then the
    concurrency goals, issue 21's, 23's, 22's and 24's."""
    ingest = _ingest_goals(results, spans_per_event)
    postgres = ingest.pop()
    return [
        *ingest,
        *_read_goals(results),
        _lag_goal(results),
        _rss_goal(results),
        postgres,
        *_concurrency_goals(results),
        *_lists_goals(results),
        _views_goal(results),
        *otlp_goals(results),
        *audit_goals(results),
    ]


HISTORY_LIMIT = 2


def audit_goals(results: dict[str, Any]) -> list[Goal]:
    """Issue 24: the whole history as NDJSON beside the log's own read of the same rows (each
    log; judged at p50, with p99 beside it), and export and import beside the raw read and
    append (no goal: the ratios)."""
    found = results.get("audit")
    if not found:
        return [_missing("whole history as NDJSON beside Ledger.read of the same rows", "≤ 2")]
    goals = []
    for log, history in found["history"].items():
        reads = history["reads"]
        stream, raw = reads["stream"], reads["log"]
        title = (
            f"whole history of a {history['spans']:,}-span execution as NDJSON, beside"
            f" Ledger.read of the same {history['events']:,} rows ({_log_name(log)})"
        )
        for percentile, test in (("p50", True), ("p99", False)):
            ours, theirs = stream[f"{percentile}_seconds"], raw[f"{percentile}_seconds"]
            goals.append(
                _ratio_goal(
                    f"{title}, {percentile}" if test else f"(the same, {percentile})",
                    (ours, _ms(ours)),
                    (theirs, f"Ledger.read {_ms(theirs)}"),
                    f"≤ {HISTORY_LIMIT}" if test else "-",
                    (lambda r: _at_most(r, HISTORY_LIMIT)) if test else None,
                )
            )
    for kind, raw_name, raw_title in (
        ("export", "scan", "Ledger.scan"),
        ("import", "insert", "Ledger.insert_records"),
    ):
        for log, transfer in found[kind].items():
            rounds = transfer["rounds"]
            ours = max(r["plain"] for r in rounds)
            theirs = max(r[raw_name] for r in rounds)
            goals.append(
                _ratio_goal(
                    f"(runledger {kind}, plain file, {_log_name(log)}, records/s)",
                    (ours, _rate(ours, "records/s")),
                    (theirs, f"{raw_title} {_rate(theirs, 'records/s')}"),
                    "-",
                    None,
                )
            )
    return goals


def _log_name(log: str) -> str:
    return "SQLite" if log == "sqlite" else "PostgreSQL"
