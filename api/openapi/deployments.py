"""The deployments a workspace can run, in Vellum's shapes, with Runledger's releases."""

from __future__ import annotations

from api.openapi._build import (
    Json,
    answer,
    errors,
    nullable,
    obj,
    operation,
    path_parameter,
    query_parameter,
    ref,
)
from api.openapi.events import UUID
from api.openapi.executions import DATE_TIME
from domain.vellum_values import VellumType
from projections.deployments import DEPLOYMENT_ORDERS

ID_OR_NAME = path_parameter("id_or_name", "The deployment's id or name.", example="summarize")

SCHEMAS: Json = {
    "VellumVariable": obj(
        {
            "id": {"type": "string"},
            "key": {"type": "string"},
            "type": {"type": "string", "enum": [kind.value for kind in VellumType]},
            "required": {"type": "boolean"},
        },
        ("id", "key", "type"),
        "Vellum's `VellumVariable`: one declared input.",
    ),
    "Release": obj(
        {
            "id": UUID,
            "entrypoint": {"type": "string"},
            "release_tags": {"type": "array", "items": {"type": "string"}},
            "timeout_seconds": nullable({"type": "number"}),
            "created": DATE_TIME,
        },
        ("id", "entrypoint", "release_tags", "timeout_seconds", "created"),
        "Runledger's addition: one release of a deployment.",
    ),
    "SlimWorkflowDeployment": obj(
        {
            "id": UUID,
            "name": {"type": "string"},
            "label": {"type": "string"},
            "status": {"type": "string", "enum": ["ACTIVE"]},
            "environment": {"type": "null"},
            "created": DATE_TIME,
            "last_deployed_on": DATE_TIME,
            "input_variables": {"type": "array", "items": ref("VellumVariable")},
            "output_variables": {"type": "array", "items": ref("VellumVariable")},
            "description": nullable({"type": "string"}),
            "releases": {"type": "array", "items": ref("Release")},
        },
        (
            "id",
            "name",
            "label",
            "created",
            "last_deployed_on",
            "input_variables",
            "output_variables",
            "releases",
        ),
        "Vellum's `SlimWorkflowDeployment`, plus `releases`.",
    ),
    "WorkflowDeploymentRead": {
        "description": "Vellum's `WorkflowDeploymentRead`, plus `releases`.",
        "allOf": [
            ref("SlimWorkflowDeployment"),
            obj(
                {"last_deployed_history_item_id": {"type": "string"}},
                ("last_deployed_history_item_id",),
            ),
        ],
    },
    "PaginatedSlimWorkflowDeploymentList": obj(
        {
            "count": {"type": "integer", "minimum": 0},
            "next": nullable({"type": "string"}),
            "previous": nullable({"type": "string"}),
            "results": {"type": "array", "items": ref("SlimWorkflowDeployment")},
        },
        ("count", "next", "previous", "results"),
        "Vellum's `PaginatedSlimWorkflowDeploymentList`.",
    ),
}

PATHS: Json = {
    "/v1/workflow-deployments": {
        "get": operation(
            "listWorkflowDeployments",
            "List the workspace's deployments",
            "Oldest first unless `ordering` says otherwise; `next` and `previous` are the "
            "addresses of the neighbouring pages.",
            "Deployments",
            {
                "200": answer("A page of deployments.", ref("PaginatedSlimWorkflowDeploymentList")),
                **errors(
                    400,
                    401,
                    503,
                    e400="`limit` or `offset` is out of range, or `ordering` or `status` unknown.",
                ),
            },
            parameters=[
                query_parameter(
                    "limit",
                    "Deployments per page (default 100).",
                    {"type": "integer", "minimum": 1, "maximum": 1000},
                    empty_is_default=True,
                ),
                query_parameter(
                    "offset",
                    "Deployments to skip (default 0).",
                    {"type": "integer", "minimum": 0},
                    empty_is_default=True,
                ),
                query_parameter(
                    "ordering",
                    "By registration, name or newest release; `-` for descending (default "
                    "`created`).",
                    {"type": "string", "enum": list(DEPLOYMENT_ORDERS)},
                    empty_is_default=True,
                ),
                query_parameter(
                    "status",
                    "Every deployment is ACTIVE (the default); ARCHIVED lists none.",
                    {"type": "string", "enum": ["ACTIVE", "ARCHIVED"]},
                    empty_is_default=True,
                ),
            ],
        )
    },
    "/v1/workflow-deployments/{id_or_name}": {
        "get": operation(
            "retrieveWorkflowDeployment",
            "Read one deployment",
            "By id or name.",
            "Deployments",
            {
                "200": answer("The deployment.", ref("WorkflowDeploymentRead")),
                **errors(401, 404, 503, e404="No such deployment in the workspace."),
            },
            parameters=[ID_OR_NAME],
        )
    },
}
