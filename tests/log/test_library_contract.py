"""eventsourcing's own recorder contract, run against Runledger's recorders.

Our recorders subclass the library's and add insert-only-new; the library's test case proves
that nothing the library (and its projection runner) relies on was broken by that.
"""

from __future__ import annotations

import os
import tempfile
import uuid

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase
from psycopg import sql

from domain.log.postgres import PostgresLedgerRecorder
from domain.log.sqlite import SQLiteLedgerRecorder
from tests.conftest import PG, PG_TEST_DATABASE, pg_connect, postgres_reason


class TestSQLiteLedgerRecorder(ApplicationRecorderTestCase[SQLiteLedgerRecorder]):
    def setUp(self) -> None:
        super().setUp()
        self._dir = tempfile.TemporaryDirectory()

    def tearDown(self) -> None:
        self._dir.cleanup()
        super().tearDown()

    def create_recorder(self) -> SQLiteLedgerRecorder:
        recorder = SQLiteLedgerRecorder(
            SQLiteDatastore(db_name=os.path.join(self._dir.name, "log.sqlite"))
        )
        recorder.create_table()
        return recorder

    # Timing printouts, not contracts: bench/ measures throughput.
    test_concurrent_throughput = None  # type: ignore[assignment]
    test_performance = None  # type: ignore[assignment]


class TestPostgresLedgerRecorder(ApplicationRecorderTestCase[PostgresLedgerRecorder]):
    def setUp(self) -> None:
        super().setUp()
        reason = postgres_reason()
        if reason is not None:
            if os.environ.get("RUNLEDGER_REQUIRE_POSTGRES") == "1":
                self.fail(reason)
            self.skipTest(reason)
        self.schema = f"c_{uuid.uuid4().hex[:12]}"
        with pg_connect(PG_TEST_DATABASE) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
        self.datastores: list[PostgresDatastore] = []

    def tearDown(self) -> None:
        for datastore in self.datastores:
            datastore.close()
        with pg_connect(PG_TEST_DATABASE) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(self.schema)))
        super().tearDown()

    def create_recorder(self) -> PostgresLedgerRecorder:
        datastore = PostgresDatastore(
            PG_TEST_DATABASE,
            PG["host"],
            PG["port"],
            PG["user"],
            PG["password"],
            schema=self.schema,
            pool_size=4,
            max_overflow=4,
        )
        self.datastores.append(datastore)
        recorder = PostgresLedgerRecorder(datastore)
        recorder.create_table()
        return recorder

    # Timing printouts, not contracts: bench/ measures throughput.
    test_concurrent_throughput = None  # type: ignore[assignment]
    test_performance = None  # type: ignore[assignment]
