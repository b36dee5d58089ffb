"""The views dashboards read (clickhouse/views): the list's own rows, as parameterized views.

Grafana, or any SQL client of the ClickHouse server, reads `execution_list(workspace_id=…)`
and `model_usage(workspace_id=…)` in the live generation's database. Each is built from the
named queries the list reads (execution_rows.sql, span_usage_rows.sql), filled the way a count
fills them, so a chart and the list it stands beside agree by construction, and a change to
those queries reaches the views at the next start. They are plain views: nothing is stored and
ingest does no more work.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from clickhouse_connect.driver.client import Client

from projections.clickhouse import SQL_ROOT, split_statements
from projections.listing import ALL_SOURCE, SPAN_USAGE, ListFilter, fill, rows_query

log = logging.getLogger("runledger.views")

VIEWS_ROOT = SQL_ROOT / "views"
_NAME = re.compile(r"[a-z][a-z0-9_]*\.sql")
_CREATE = re.compile(r"CREATE OR REPLACE VIEW (\w+) AS\b")


def view_statement(path: Path) -> str:
    """The `CREATE OR REPLACE VIEW` of one file, its markers filled: the rows marker with every
    index row of the workspace (as a count reads them), the span-usage marker with each
    span's usage; a file that is not one such statement, named as its file, is an error."""
    (statement,) = split_statements(path.read_text())
    match = _CREATE.match(statement)
    if _NAME.fullmatch(path.name) is None or match is None or match[1] != path.stem:
        raise ValueError(f"{path.name} must be one CREATE OR REPLACE VIEW {path.stem} AS ...")
    filled = fill(statement, rows=rows_query(ALL_SOURCE, ListFilter()), span_usage=SPAN_USAGE)
    # Neither a count's rows nor a view reads a chunk: every row of the workspace is in.
    return fill(filled, in_chunk="1")


def apply_views(client: Client, root: Path = VIEWS_ROOT) -> list[str]:
    """Create or replace every view in the client's database; returns their names.

    Run after the migrations, at every start and for every new generation: a view's text
    follows the queries of the release that runs, and replacing one is instant.
    """
    names = []
    for path in sorted(root.glob("*.sql")):
        client.command(view_statement(path))
        names.append(path.stem)
    log.info("views replaced", extra={"views": names})
    return names
