"""Runs in the log: external_id idempotency and what a crash leaves open."""

from __future__ import annotations

import uuid

import pytest

from domain.errors import ExternalIdConflict
from domain.log.ledger import Ledger
from domain.runs import Run, Runs, request_digest

WORKSPACE = uuid.uuid4()


def _run(replica: str = "a", external_id: str | None = None, text: str = "hi") -> Run:
    inputs = {"text": text}
    return Run(
        execution_id=uuid.uuid4(),
        workspace_id=WORKSPACE,
        deployment_id=uuid.uuid4(),
        release_id=uuid.uuid4(),
        release_tag="LATEST",
        inputs=inputs,
        external_id=external_id,
        metadata=None,
        previous_execution_id=None,
        digest=request_digest({"inputs": inputs}),
        replica=replica,
    )


def test_a_repeated_external_id_answers_the_first_run(ledger: Ledger) -> None:
    runs = Runs(ledger)
    first = runs.request(_run(external_id="order-1"))
    repeat = runs.request(_run(external_id="order-1"))
    assert first.created
    assert not repeat.created
    assert repeat.run.id == first.run.id
    assert runs.by_external_id(WORKSPACE, "order-1") is not None


def test_a_taken_external_id_with_another_request_is_a_conflict(ledger: Ledger) -> None:
    runs = Runs(ledger)
    first = runs.request(_run(external_id="order-2", text="one"))
    with pytest.raises(ExternalIdConflict) as conflict:
        runs.request(_run(external_id="order-2", text="two"))
    assert conflict.value.execution_id == first.run.id
    assert runs.get(conflict.value.execution_id) is not None


def test_unfinished_lists_this_replicas_open_runs_in_request_order(ledger: Ledger) -> None:
    runs = Runs(ledger)
    finished, started, waiting, elsewhere = _run(), _run(), _run(), _run(replica="b")
    for run in (finished, started, waiting, elsewhere):
        runs.request(run)
    for run in (finished, started):
        run.start(uuid.uuid4())
        runs.save(run)
    finished.finish("FULFILLED")
    runs.save(finished)
    open_runs = list(runs.unfinished("a"))
    assert [r.id for r in open_runs] == [started.id, waiting.id]
    assert [r.started for r in open_runs] == [True, False]
