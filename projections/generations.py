"""Which database holds the live projections, so a replay can build aside and then switch.

Each generation is a database of its own (`<base>_g<N>`) with every projection table; the
pointer is a row in `<base>.generations`. Readers and the runner follow the newest row, so a
replay fills a new generation while the old one serves reads, then switches with one insert.
"""

from __future__ import annotations

import re

from clickhouse_connect.driver.client import Client

from projections.clickhouse import connect

_GENERATION = re.compile(r".*_g(\d+)")


class Generations:
    """The generation pointer of one base database."""

    def __init__(self, url: str, base: str) -> None:
        self._url = url
        self._base = base
        self._client: Client = connect(url, base)
        self._client.command(
            "CREATE TABLE IF NOT EXISTS generations "
            "(database String, activated_at DateTime64(6, 'UTC') DEFAULT now64(6)) "
            "ENGINE = MergeTree ORDER BY activated_at"
        )

    def active(self) -> str:
        """The live generation's database, creating the first generation if there is none."""
        rows = self._client.query(
            "SELECT argMax(database, activated_at), count() FROM generations"
        ).result_rows
        database, count = rows[0]
        if count:
            return str(database)
        first = f"{self._base}_g1"
        self.activate(first)
        return first

    def next_database(self) -> str:
        """A database name for a new generation, after every one used so far."""
        rows = self._client.query("SELECT database FROM generations").result_rows
        numbers = [int(m.group(1)) for (name,) in rows if (m := _GENERATION.fullmatch(name))]
        return f"{self._base}_g{max(numbers, default=0) + 1}"

    def activate(self, database: str) -> None:
        """Make `database` the live generation."""
        self._client.insert("generations", [[database]], column_names=["database"])

    def drop(self, database: str) -> None:
        """Remove a generation that is no longer live."""
        if database == self.active():
            raise ValueError(f"{database} is the live generation")
        self._client.command("DROP DATABASE IF EXISTS {d:Identifier}", parameters={"d": database})

    def close(self) -> None:
        """Release the client."""
        self._client.close()
