"""schemathesis against a live server: every answer matches `/openapi.json`, no 5xx, a
rejected batch stores nothing, and what ingest accepts reads back as documented.

Each operation gets a bounded number of generated requests (`RUNLEDGER_SCHEMATHESIS_EXAMPLES`,
default 50: the whole run takes about a minute on a 2-core machine), the same ones every run.
For a deeper search, more of them and new ones each run:
`RUNLEDGER_SCHEMATHESIS_EXAMPLES=500 RUNLEDGER_SCHEMATHESIS_RANDOM=1 .venv/bin/python -m pytest
tests/api/test_openapi_contract.py`.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, CheckContext, Response

from api.app import open_ledger
from api.openapi import document
from api.openapi.events import EXAMPLE_EVENT
from api.settings import Settings
from domain.batch import split_body, validate_batch
from domain.exact_json import MAX_INTEGER, MIN_INTEGER
from tests.api.runtime_support import ENTRYPOINTS, Release, register
from tests.servers import RunningServer, ServerProcess, create_key

EXAMPLES = int(os.environ.get("RUNLEDGER_SCHEMATHESIS_EXAMPLES", "50"))
# The same cases every run (CI never flakes on a new one) unless asked to explore.
DERANDOMIZE = os.environ.get("RUNLEDGER_SCHEMATHESIS_RANDOM") != "1"
ADMIN_TOKEN = "contract-test-admin-token"
INGEST = "POST /monitoring/v1/events"

# Where a request the document allows may still be a 400, for what the server holds: inputs
# the release does not declare, a cursor that is no span of the execution, a log position
# no ingest answered yet. Every other operation must accept what the document allows.
ANSWERS_DEPEND_ON_STATE = {
    "GET /v1/workflows/executions/{execution_id}/status",
    "GET /v1/workflow-executions/{execution_id}/detail",
    "POST /v1/execute-workflow",
    "POST /v1/execute-workflow-async",
    "POST /v1/execute-workflow-stream",
    "POST /v1/workflow-deployments/{id_or_name}/execute-stream",
    # A filter's grammar, a cursor and a position token are strings the schema cannot tell
    # from valid ones: a schema-valid one may rightly be a 400.
    "GET /v1/workflow-executions",
    "GET /v1/workflow-executions/count",
    "GET /v1/workflow-executions/metrics",
    "GET /v1/workflow-executions/{execution_id}/events",
    "GET /v1/workflow-deployments/{id}/execution-events",
    "GET /v1/workflow-deployments/{id}/execution-events/{execution_id}",
    # A step cursor of no span of the execution; a link's token the schema cannot forge.
    "POST /v2/workflow/executions/get",
    "GET /api/v1/workflows/executions/{execution_id}",
    "GET /v1/payloads/{token}",
    # An OTLP request is protobuf's message, which the document gives as any object (or any
    # bytes): a schema-valid body may rightly not be a trace request.
    "POST /v1/traces",
}

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            # The API ignores query parameters and headers it does not know (Vellum's clients
            # send some): sending them is no test of the document.
            "allow-extra-parameters": False,
            # The test sends real credentials; `ignored_auth` still tries missing and wrong ones.
            "with-security-parameters": False,
        }
    }
)
schema = schemathesis.openapi.from_dict(document(), config=CONFIG)


# An OTLP protobuf body is bytes, sent as they are generated.
schemathesis.serializer.alias("application/x-protobuf", "application/octet-stream")


@schemathesis.deserializer("application/x-ndjson")
def _ndjson(ctx: schemathesis.DeserializationContext, response: Response) -> list[object]:
    """A stream's lines, as the document describes them: an array of its items."""
    return [orjson.loads(line) for line in response.content.splitlines() if line.strip()]


def _integral_float_count(body: Any) -> bool:
    """Whether an event's usage holds a count written as a float (`8510.0`).

    JSON Schema cannot tell `1.0` from `1`, so the document cannot say that ingest wants the
    counts written as whole numbers (`MlModelUsage` in the document says so in words).
    """
    for event in body if isinstance(body, list) else [body]:
        event_body = event.get("body") if isinstance(event, dict) else None
        usage = event_body.get("usage_result") if isinstance(event_body, dict) else None
        for item in (usage.get("usage") if isinstance(usage, dict) else None) or []:
            counts = item.get("ml_model_usage") if isinstance(item, dict) else None
            if isinstance(counts, dict) and any(type(v) is float for v in counts.values()):
                return True
    return False


def _integer_past_64_bits(value: Any) -> bool:
    """Whether any integer anywhere in `value` is outside 64 bits, which ingest refuses
    wherever it is (domain/exact_json.py): a free-form object's schema cannot say so."""
    if isinstance(value, dict):
        return any(_integer_past_64_bits(item) for item in value.values())
    if isinstance(value, list):
        return any(_integer_past_64_bits(item) for item in value)
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not MIN_INTEGER <= value <= MAX_INTEGER
    )


@schema.hook
def filter_body(context: schemathesis.HookContext, body: Any) -> bool:
    """Leave out the bodies the document cannot describe (`_integral_float_count`,
    `_integer_past_64_bits`)."""
    operation = context.operation
    return (
        operation is None
        or operation.label != INGEST
        or not (_integral_float_count(body) or _integer_past_64_bits(body))
    )


class ContractServer:
    """The live server under test, and the log it writes to."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server

    def head(self) -> int:
        """The log's newest position, read from the log itself."""
        ledger = open_ledger(Settings.from_env(self.server.env))
        try:
            return ledger.max_position()
        finally:
            ledger.close()


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractServer]:
    """`runledger serve` in a process of its own, with a deployment and the document's example
    execution in its log.

    A process, not a thread of this one: hypothesis refuses a test whose global `random` state
    changes while it draws a case, and a run in the server's workers may use it meanwhile.
    """
    data = Path(tmp_path_factory.mktemp("contract"))
    env = {
        "RUNLEDGER_DATA_DIR": str(data / "data"),
        "RUNLEDGER_CLICKHOUSE_URL": f"chdb://{data / 'chdb'}",
        "RUNLEDGER_ADMIN_TOKEN": ADMIN_TOKEN,
        # A read given a position the projections never reach gives up soon.
        "RUNLEDGER_READ_WAIT_SECONDS": "0.5",
    }
    register(env, [Release("summarize", f"{ENTRYPOINTS}:summarize", tags=("production",))])
    key = create_key(env)
    process = ServerProcess(env, data / "server.log")
    process.start()
    try:
        server = RunningServer(process.base_url, key, env)
        # The document's example execution, with a state snapshot: the examples it names in
        # paths (and the reads of its state) find something.
        snapshot = {
            **EXAMPLE_EVENT,
            "id": str(uuid.uuid4()),
            "name": "workflow.execution.snapshotted",
            "timestamp": "2026-11-23T12:00:01Z",
            "body": {"state": {"text": "hi"}},
        }
        response = httpx.post(
            server.base_url + "/monitoring/v1/events",
            content=orjson.dumps([EXAMPLE_EVENT, snapshot]),
            headers=server.headers(),
        )
        assert response.status_code == 200, response.text
        yield ContractServer(server)
    finally:
        process.stop()


def _rejected_batch_stored_nothing(before: int, after: int) -> schemathesis.CheckFunction:
    # Not registered with @schemathesis.check: that would run it on every operation's answers.
    def rejected_batch_stores_nothing(
        ctx: CheckContext, response: Response, case: Case[Any]
    ) -> bool:
        """A 4xx answer to ingest leaves the log where it was."""
        if 400 <= response.status_code < 500:
            assert after == before, (
                f"ingest answered {response.status_code} but the log moved "
                f"from position {before} to {after}"
            )
        return True

    return rejected_batch_stores_nothing


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
def test_every_answer_matches_the_document(
    case: Case[Any], contract_server: ContractServer
) -> None:
    server = contract_server.server
    headers = {
        "X-API-KEY": server.api_key,
        "X-Admin-Token": ADMIN_TOKEN,
        "x-velt-api-key": server.api_key,
    }
    ingest = case.operation.label == INGEST
    before = contract_server.head() if ingest else 0
    response = case.call(base_url=server.base_url, headers=headers, timeout=60)
    extra = []
    if ingest:
        extra.append(_rejected_batch_stored_nothing(before, contract_server.head()))
    # The coverage phase builds bodies past the filter hook: such a body is refused, rightly.
    undescribable = ingest and (
        _integral_float_count(case.body) or _integer_past_64_bits(case.body)
    )
    excluded = (
        [schemathesis.checks.positive_data_acceptance]
        if case.operation.label in ANSWERS_DEPEND_ON_STATE or undescribable
        else []
    )
    case.validate_response(
        response, headers=headers, additional_checks=extra, excluded_checks=excluded
    )


READS = (
    "/v1/workflows/executions/{execution_id}/status",
    "/v1/workflow-executions/{execution_id}/detail",
    "/v1/workflows/{span_id}/state",
)
READ_CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


def _executions(body: Any) -> set[str]:
    """The executions an accepted body's events were filed under, as ingest files them."""
    # The standard library writes integers past 64 bits, which generated bodies may hold.
    batch = validate_batch(split_body(json.dumps(body).encode(), max_events=100_000))
    return {str(envelope.execution_id) for envelope in batch.envelopes}


def test_what_ingest_accepts_reads_back_as_the_document_says(
    contract_server: ContractServer,
) -> None:
    """Events the document allows, once stored, never break a read: no 5xx, answers as
    documented. (schemathesis alone sends reads of executions no event made.)"""
    server = contract_server.server
    headers = {"X-API-KEY": server.api_key}
    ingest = schema["/monitoring/v1/events"]["POST"]

    @settings(
        max_examples=max(1, EXAMPLES // 2),
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    @given(case=ingest.as_strategy())
    def ingest_then_read(case: Case[Any]) -> None:
        response = case.call(base_url=server.base_url, headers=headers, timeout=60)
        if response.status_code != 200:
            return  # refusals are the other test's business
        position = response.json()["log_position"]
        for execution_id in _executions(case.body):
            for path in READS:
                read = schema[path]["GET"]
                name = "span_id" if "{span_id}" in path else "execution_id"
                query = {} if name == "span_id" else {"min_log_position": position}
                read_case = read.Case(path_parameters={name: execution_id}, query=query)
                answer = read_case.call(base_url=server.base_url, headers=headers, timeout=60)
                read_case.validate_response(answer, checks=READ_CHECKS)

    ingest_then_read()
