"""The OpenAPI document against the app and the official client: every route documented, every
documented operation served, the Vellum shapes as vellum-ai's models read them; `/openapi.json`
and `/docs` served without a key."""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from pydantic import BaseModel
from starlette.routing import Route
from vellum.client import types as vellum

from api.app import create_app
from api.openapi import document
from tests.servers import RunningServer

DOCUMENT = document()
METHODS = ("get", "put", "post", "delete", "patch")


def _served() -> set[tuple[str, str]]:
    app = create_app({"RUNLEDGER_DATA_DIR": "/nonexistent"})  # nothing opens before lifespan
    served = set()
    for route in app.routes:
        assert isinstance(route, Route), f"{route!r}: not a Route; document it and teach this test"
        # Starlette serves HEAD with every GET; the document lists GET alone.
        for method in (route.methods or set()) - {"HEAD"}:
            served.add((route.path, method.lower()))
    return served


def _documented() -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in DOCUMENT["paths"].items()
        for method in METHODS
        if method in item
    }


def test_every_route_is_documented_and_every_documented_operation_is_served() -> None:
    served, documented = _served(), _documented()
    assert served - documented == set(), "routes missing from the document"
    assert documented - served == set(), "documented operations the app does not serve"


def test_every_path_parameter_is_documented() -> None:
    for path, item in DOCUMENT["paths"].items():
        named = set(re.findall(r"{(\w+)}", path))
        for method in METHODS:
            if method in item:
                parameters = item[method]["parameters"]
                given = {p["name"] for p in parameters if p["in"] == "path"}
                assert given == named, f"{method.upper()} {path}"


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(DOCUMENT).validate()


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["$ref"]} if isinstance(value.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value))
    return set()


def test_every_reference_resolves_and_every_component_is_used() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    refs = _refs(DOCUMENT)
    assert {ref.rsplit("/", 1)[-1] for ref in refs} == set(schemas)
    assert all(ref.startswith("#/components/schemas/") for ref in refs)


def test_every_operation_documents_its_errors_and_credentials() -> None:
    for path, item in DOCUMENT["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            label = f"{method.upper()} {path}"
            answers = set(operation["responses"])
            # An operation whose credentials are optional ({} among them) refuses no one.
            if operation["security"] and {} not in operation["security"]:
                assert {"401", "500"} <= answers, label
            if "requestBody" in operation:
                assert "400" in answers, label


# Runledger's additions to Vellum's shapes: documented, and outside the client's models (which
# keep unknown fields as `model_extra`).
_DETAIL_ADDITIONS = {
    "status",
    "has_more",
    "number",
    "actuals",
    "unreadable",
    "inputs_url",
    "outputs_url",
}
ADDITIONS = {
    "CheckWorkflowExecutionStatusResponse": {"actuals", "unreadable"},
    "WorkflowExecutionDetail": _DETAIL_ADDITIONS,
    "WorkflowExecutionSpan": {"status"},
    "NodeExecutionSpan": {"status"},
    "SlimWorkflowDeployment": {"releases"},
    "EventCreateResponse": {"accepted_count", "duplicate_count", "log_position"},
    "SlimWorkflowExecutionRead": {"status"},
    # The detail's, which it extends (the link fields come only with the detail's `payloads`).
    "WorkflowEventExecutionRead": _DETAIL_ADDITIONS,
}

# Each documented answer shape and the vellum-ai model the official client parses it with.
MODELS: list[tuple[str, type[BaseModel]]] = [
    ("CheckWorkflowExecutionStatusResponse", vellum.CheckWorkflowExecutionStatusResponse),
    ("WorkflowExecutionDetail", vellum.WorkflowExecutionDetail),
    ("VellumSpan", vellum.WorkflowExecutionSpan),
    ("VellumSpan", vellum.NodeExecutionSpan),
    ("ExecuteWorkflowResponse", vellum.ExecuteWorkflowResponse),
    ("ExecuteWorkflowAsyncResponse", vellum.ExecuteWorkflowAsyncResponse),
    ("FulfilledExecuteWorkflowResult", vellum.FulfilledExecuteWorkflowWorkflowResultEvent),
    ("RejectedExecuteWorkflowResult", vellum.RejectedExecuteWorkflowWorkflowResultEvent),
    ("WorkflowError", vellum.WorkflowEventError),
    ("WorkflowResolvedState", vellum.WorkflowResolvedState),
    ("SlimWorkflowDeployment", vellum.SlimWorkflowDeployment),
    ("PaginatedSlimWorkflowDeploymentList", vellum.PaginatedSlimWorkflowDeploymentList),
    ("VellumVariable", vellum.VellumVariable),
    ("WorkflowExecutionUsageResult", vellum.WorkflowExecutionUsageResult),
    ("UsageResult", vellum.WorkflowExecutionUsageCalculationFulfilledBody),
    ("MlModelUsageWrapper", vellum.MlModelUsageWrapper),
    ("MlModelUsage", vellum.MlModelUsage),
    ("Price", vellum.Price),
    ("StatusError", vellum.CheckWorkflowExecutionStatusError),
    ("EventCreateResponse", vellum.EventCreateResponse),
    ("SlimWorkflowExecutionRead", vellum.SlimWorkflowExecutionRead),
    ("WorkflowEventExecutionRead", vellum.WorkflowEventExecutionRead),
    (
        "WorkflowDeploymentEventExecutionsResponse",
        vellum.WorkflowDeploymentEventExecutionsResponse,
    ),
    ("WorkflowExecutionActual", vellum.WorkflowExecutionActual),
]


def _properties(name: str) -> tuple[set[str], set[str]]:
    """A component's properties and required ones (through `allOf`)."""
    schema = DOCUMENT["components"]["schemas"][name]
    parts = [schema, *schema.get("allOf", [])]
    properties: set[str] = set()
    required: set[str] = set()
    for part in parts:
        if "$ref" in part:
            more, needed = _properties(part["$ref"].rsplit("/", 1)[-1])
            properties, required = properties | more, required | needed
        properties |= set(part.get("properties", {}))
        required |= set(part.get("required", []))
    return properties, required


@pytest.mark.parametrize(
    ("component", "model"), [pytest.param(c, m, id=m.__name__) for c, m in MODELS]
)
def test_each_vellum_shape_carries_what_the_clients_model_requires(
    component: str, model: type[BaseModel]
) -> None:
    properties, required = _properties(component)
    fields = {f.alias or name for name, f in model.model_fields.items()}
    needed = {f.alias or name for name, f in model.model_fields.items() if f.is_required()}
    assert needed <= required, f"{component} must require what {model.__name__} requires"
    additions = ADDITIONS.get(model.__name__, set())
    assert properties - fields - additions == set(), f"{component}: fields not in the model"


def test_the_served_document_is_the_built_one_and_needs_no_key(
    sqlite_server: RunningServer,
) -> None:
    response = httpx.get(f"{sqlite_server.base_url}/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert orjson.loads(response.content) == DOCUMENT


def test_the_rendered_reference_is_one_page_that_loads_the_document_from_this_server(
    sqlite_server: RunningServer,
) -> None:
    response = httpx.get(f"{sqlite_server.base_url}/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert 'fetch(new URL("openapi.json", location.href))' in page
    # Nothing from elsewhere: a machine without internet renders it all the same.
    assert re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page) == []
    assert "@import" not in page
    assert "<script src" not in page
