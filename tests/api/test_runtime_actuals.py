"""`POST /v1/submit-workflow-execution-actuals`: quality feedback recorded on the execution,
the latest per output shown by the status and detail reads."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from vellum import WorkflowExecutionActualJsonRequest, WorkflowExecutionActualStringRequest
from vellum.client.core.api_error import ApiError

from tests.api.runtime_support import (
    runtime_server_fixture,  # noqa: F401  (the runtime_server fixture)
    status_json,
    string,
    visible_now,
)
from tests.servers import RunningServer, create_key, vellum_client


def _by_output(actuals: Any) -> dict[str, dict[str, Any]]:
    """The shown actuals keyed by output: a list of actuals, or an object keyed by output."""
    if isinstance(actuals, dict):
        return {str(key): value for key, value in actuals.items()}
    assert isinstance(actuals, list), actuals
    keyed = {str(a.get("output_key") or a.get("output_id")): a for a in actuals}
    assert len(keyed) == len(actuals), f"more than one actual per output: {actuals}"
    return keyed


def _submitted(actual: dict[str, Any]) -> dict[str, Any]:
    return {k: actual.get(k) for k in ("quality", "desired_output_value", "metadata")}


def test_submitted_actuals_show_the_latest_per_output_by_execution_and_external_id(
    runtime_server: RunningServer,
) -> None:
    with vellum_client(runtime_server) as client:
        run = client.execute_workflow(
            workflow_deployment_name="summarize",
            inputs=[string("text", "a b c d")],
            external_id="review-1",
        )
        client.submit_workflow_execution_actuals(
            execution_id=run.execution_id,
            actuals=[
                WorkflowExecutionActualStringRequest(
                    output_key="summary",
                    quality=0.0,
                    desired_output_value="a b",
                    metadata={"reviewer": "ada"},
                ),
                WorkflowExecutionActualJsonRequest(
                    output_key="count", quality=1.0, desired_output_value={"words": 4}
                ),
            ],
        )
        client.submit_workflow_execution_actuals(
            external_id="review-1",
            actuals=[
                WorkflowExecutionActualStringRequest(
                    output_key="summary",
                    quality=1.0,
                    desired_output_value="a b c",
                    metadata={"reviewer": "bob"},
                )
            ],
        )
        options = visible_now(runtime_server)
        position = options["additional_query_parameters"]["min_log_position"]
        status = status_json(runtime_server, run.execution_id, min_log_position=position)
        detail = client.workflow_executions.retrieve_workflow_execution_detail(
            run.execution_id, request_options=options
        )
    expected = {
        "summary": {
            "quality": 1.0,
            "desired_output_value": "a b c",
            "metadata": {"reviewer": "bob"},
        },
        "count": {"quality": 1.0, "desired_output_value": {"words": 4}, "metadata": None},
    }
    assert status["status"] == "FULFILLED"
    shown = _by_output(status["actuals"])
    assert {key: _submitted(actual) for key, actual in shown.items()} == expected
    in_detail = _by_output((detail.model_extra or {})["actuals"])
    assert {key: _submitted(actual) for key, actual in in_detail.items()} == expected


def test_actuals_for_an_unknown_or_foreign_execution_are_a_404(
    runtime_server: RunningServer,
) -> None:
    actual = WorkflowExecutionActualStringRequest(output_key="summary", quality=1.0)
    with vellum_client(runtime_server) as client:
        run = client.execute_workflow(
            workflow_deployment_name="summarize", inputs=[string("text", "a")], external_id="mine"
        )
        # The owner's submission is taken: the 404s below are about the execution, not the path.
        client.submit_workflow_execution_actuals(actuals=[actual], execution_id=run.execution_id)
        for execution_id, external_id in ((str(uuid.uuid4()), None), (None, "nobody-used-this")):
            with pytest.raises(ApiError) as raised:
                client.submit_workflow_execution_actuals(
                    actuals=[actual], execution_id=execution_id, external_id=external_id
                )
            assert raised.value.status_code == 404
    foreign = RunningServer(
        runtime_server.base_url, create_key(runtime_server.env, "other"), runtime_server.env
    )
    with vellum_client(foreign) as client:
        for execution_id, external_id in ((run.execution_id, None), (None, "mine")):
            with pytest.raises(ApiError) as raised:
                client.submit_workflow_execution_actuals(
                    actuals=[actual], execution_id=execution_id, external_id=external_id
                )
            assert raised.value.status_code == 404


def test_the_latest_actual_is_the_newest_by_its_timestamp_not_by_arrival(
    runtime_server: RunningServer,
) -> None:
    with vellum_client(runtime_server) as client:
        run = client.execute_workflow(
            workflow_deployment_name="summarize", inputs=[string("text", "a b")]
        )
        newer = WorkflowExecutionActualStringRequest(
            output_id="summary", quality=0.75, desired_output_value="newer", timestamp=2_000_000_000
        )
        older = WorkflowExecutionActualStringRequest(
            output_id="summary", quality=0.25, desired_output_value="older", timestamp=1_000_000_000
        )
        client.submit_workflow_execution_actuals(execution_id=run.execution_id, actuals=[newer])
        client.submit_workflow_execution_actuals(execution_id=run.execution_id, actuals=[older])
        options = visible_now(runtime_server)
        detail = client.workflow_executions.retrieve_workflow_execution_detail(
            run.execution_id, request_options=options
        )
    shown = _by_output((detail.model_extra or {})["actuals"])
    assert list(shown) == ["summary"]
    assert (shown["summary"]["quality"], shown["summary"]["desired_output_value"]) == (
        0.75,
        "newer",
    )


def test_a_malformed_actual_is_a_400_naming_the_field(runtime_server: RunningServer) -> None:
    with vellum_client(runtime_server) as client:
        run = client.execute_workflow(
            workflow_deployment_name="summarize", inputs=[string("text", "a")]
        )
        with pytest.raises(ApiError) as raised:
            client.submit_workflow_execution_actuals(
                execution_id=run.execution_id,
                actuals=[WorkflowExecutionActualStringRequest(quality=2.0)],
            )
    assert raised.value.status_code == 400
    body = raised.value.body
    assert isinstance(body, dict)
    assert {e["field"] for e in body["errors"]} == {"actuals.output_key", "actuals.quality"}


def test_a_field_of_the_wrong_type_is_a_400_naming_it(
    runtime_server: RunningServer,
) -> None:
    # The ids were ignored (and the actual recorded) while the other field named the target.
    with vellum_client(runtime_server) as client:
        run = client.execute_workflow(
            workflow_deployment_name="summarize", inputs=[string("text", "a")]
        )
    for body, field in (
        ({"actuals": [{"output_key": "summary"}], "external_id": {}}, "external_id"),
        ({"actuals": [{"output_key": "summary", "output_id": 5}]}, "actuals.output_id"),
        # An object there used to be a 500 (unhashable in the set of types).
        ({"actuals": [{"output_key": "summary", "output_type": {}}]}, "actuals.output_type"),
    ):
        response = httpx.post(
            f"{runtime_server.base_url}/v1/submit-workflow-execution-actuals",
            json={"execution_id": run.execution_id, **body},
            headers=runtime_server.headers(),
        )
        assert response.status_code == 400, body
        assert [e["field"] for e in response.json()["errors"]] == [field]
