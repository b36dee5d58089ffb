"""Where the whole-history NDJSON stream spends its time, stage by stage, in one process.

    python -m bench._history_stages [--spans 20000] [--repetitions 9]

The audit part's execution (`bench._history.build`) projected into a fresh chDB database by the
product's own `ClickHouseStore`; then, each best of `repetitions`, what
`GET /v1/workflow-executions/{id}/events` with `Accept: application/x-ndjson` does for it
without HTTP: the route's pages (`projections.history.history_page`, 1,000 events each, as
`api/routes/history.py` reads them), its first and last full page alone, the first page's
statement without its `LIMIT 1 BY`, one statement reading every row at once (what the pages
would cost if the execution were read in one go), and the lines made of the events (the
route's own `_item`, the line-break replacement, a position token per event).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from api.routes.history import _item
from bench._history import build
from bench._runners import best_seconds
from domain.keys import workspace_id_for
from domain.position_tokens import PositionTokens
from projections.clickhouse import connect
from projections.history import HistoryEvent, history_page
from projections.migrations import apply_migrations
from projections.store import ClickHouseStore

WORKSPACE = "bench-audit"
PAGE = 1000
_ALL_ROWS = """
SELECT position, received_at, payload FROM events
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
ORDER BY position LIMIT 1 BY position
"""
# The route's statement (clickhouse/queries/execution_history.sql) without its LIMIT 1 BY: the
# deduplication is what keeps ClickHouse from reading only the page's payloads.
_PAGE_WITHOUT_LIMIT_BY = """
SELECT position, received_at, payload FROM events
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
  AND position > {after:UInt64}
ORDER BY position
LIMIT {limit:UInt32}
"""


def main(argv: list[str] | None = None) -> int:
    """Project the execution, time each stage, print a table."""
    parser = argparse.ArgumentParser(prog="python -m bench._history_stages", description=__doc__)
    parser.add_argument("--spans", type=int, default=20_000, help="node spans under the root")
    parser.add_argument("--repetitions", type=int, default=9)
    args = parser.parse_args(argv)
    workspace_id = workspace_id_for(WORKSPACE)
    made = build(workspace_id, args.spans)
    folder = Path(tempfile.mkdtemp(prefix="runledger-history-stages-"))
    try:
        url = f"chdb://{folder / 'chdb'}"
        writer, reader = connect(url, "history"), connect(url, "history")
        apply_migrations(writer)
        store = ClickHouseStore(writer)
        for start in range(0, len(made.events), 5000):
            store.apply(made.events[start : start + 5000])
        tokens = PositionTokens(os.urandom(32))
        pages: list[list[HistoryEvent]] = []

        def read_pages() -> None:
            pages.clear()
            after = None
            while True:
                page = history_page(
                    reader,
                    workspace_id,
                    made.execution_id,
                    after=after,
                    limit=PAGE,
                    descending=False,
                )
                pages.append(page)
                if len(page) < PAGE:
                    return
                after = page[-1].position

        def read_all() -> object:
            # The rows as tuples, as history_page takes them (it then builds its events).
            return reader.query(
                _ALL_ROWS,
                parameters={"workspace_id": workspace_id, "execution_id": made.execution_id},
                column_formats={"payload": "bytes"},
            ).result_rows

        def one_page(after: int) -> Callable[[], object]:
            return lambda: history_page(
                reader, workspace_id, made.execution_id, after=after, limit=PAGE, descending=False
            )

        def page_without_limit_by() -> None:
            reader.query(
                _PAGE_WITHOUT_LIMIT_BY,
                parameters={
                    "workspace_id": workspace_id,
                    "execution_id": made.execution_id,
                    "after": 0,
                    "limit": PAGE,
                },
                column_formats={"payload": "bytes"},
            )

        last_full = len(made.events) - len(made.events) % PAGE - PAGE

        def lines() -> None:
            for page in pages:
                b"".join(
                    _item(event, tokens, workspace_id).replace(b"\r", b" ").replace(b"\n", b" ")
                    + b"\n"
                    for event in page
                )

        def token_only() -> None:
            for page in pages:
                for event in page:
                    tokens.token(workspace_id, event.position)

        stages = {
            f"the route's pages of {PAGE} (history_page)": read_pages,
            "its first page": one_page(0),
            f"its last full page (after {last_full:,})": one_page(last_full),
            "the first page without LIMIT 1 BY": page_without_limit_by,
            "one statement reading every row (no pages)": read_all,
            "the lines (_item, line breaks, a token each)": lines,
            "of which the position tokens": token_only,
        }
        events = len(made.events)
        print(f"{made.span_count + 1:,} spans, {events:,} events; best of {args.repetitions}")
        for title, work in stages.items():
            seconds = best_seconds(work, args.repetitions)
            print(f"  {title:48} {seconds * 1e3:9,.1f} ms")
        print(f"  pages read: {len(pages)}")
        reader.close()
        writer.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
