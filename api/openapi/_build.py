"""Small builders the route groups describe their operations with, so each group reads as data."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

API_KEY = "ApiKey"
ADMIN_TOKEN = "AdminToken"  # noqa: S105 (a security scheme's name, not a secret)
METRICS_TOKEN = "MetricsToken"  # noqa: S105 (a security scheme's name, not a secret)


def ref(name: str) -> Json:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Json) -> Json:
    """`schema` or null (OpenAPI 3.1 has no `nullable`)."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(
    properties: Json, required: tuple[str, ...] = (), description: str = "", **extra: Any
) -> Json:
    """An object schema; extra properties are allowed unless `additionalProperties` says so."""
    schema: Json = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    schema.update(extra)
    return schema


def json_content(schema: Json, example: Any = None) -> Json:
    """An `application/json` content map."""
    media: Json = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def answer(description: str, schema: Json | None = None, **headers: Json) -> Json:
    """A response: a JSON body of `schema` (none if None), with the named headers."""
    response: Json = {"description": description}
    if schema is not None:
        response["content"] = json_content(schema)
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER: Json = {
    "description": "Seconds to wait before retrying.",
    "required": True,
    "schema": {"type": "string"},
}


def error(description: str) -> Json:
    """An error answer in the one error shape."""
    return answer(description, ref("Error"))


def errors(*statuses: int, **descriptions: str) -> Json:
    """The shared error answers for `statuses`; `descriptions` (e.g. `e400=...`) say when."""
    shared = {
        400: "The request is invalid; `errors[]` names each bad field.",
        401: "The key (or the admin token) is missing, unknown or revoked.",
        404: "Not found in the key's workspace (another workspace's is a 404 too).",
        409: "The request conflicts with the current state.",
        413: "The body is larger than `RUNLEDGER_MAX_BODY_BYTES`.",
        503: "The event log is unavailable (nothing was stored), or a wait timed out; retry.",
    }
    responses: Json = {}
    for status in statuses:
        text = descriptions.get(f"e{status}", shared.get(status, ""))
        if status == 503:
            responses["503"] = {**error(text), "headers": {"Retry-After": RETRY_AFTER}}
        else:
            responses[str(status)] = error(text)
    responses["500"] = answer(
        "An internal error; `error_id` is in the server log with the traceback.",
        ref("InternalError"),
    )
    return responses


def path_parameter(
    name: str, description: str, schema: Json | None = None, example: str | None = None
) -> Json:
    """A required path parameter (a string unless `schema` says otherwise)."""
    parameter: Json = {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or {"type": "string"},
    }
    if example is not None:
        parameter["example"] = example
    return parameter


def query_parameter(
    name: str, description: str, schema: Json, empty_is_default: bool = False
) -> Json:
    """An optional query parameter; with `empty_is_default`, `name=` is taken as not given."""
    if empty_is_default:
        schema = {"anyOf": [schema, {"const": ""}]}
        description += " An empty value is the default."
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


API_VERSION: Json = {
    "name": "X-API-Version",
    "in": "header",
    "required": False,
    "description": "Accepted as Vellum's clients send it; Runledger answers every version alike.",
    "schema": {"type": "string"},
}


def operation(
    operation_id: str,
    summary: str,
    description: str,
    tag: str,
    responses: Json,
    *,
    parameters: list[Json] | None = None,
    body: Json | None = None,
    security: str | None = API_KEY,
) -> Json:
    """One operation; `security` names the scheme it requires (None: no credentials)."""
    op: Json = {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": [tag],
        "parameters": [*(parameters or []), *([API_VERSION] if security == API_KEY else [])],
        "responses": responses,
        "security": [{security: []}] if security else [],
    }
    if body is not None:
        op["requestBody"] = body
    return op


def json_body(schema: Json, description: str, example: Any = None, required: bool = True) -> Json:
    """A request body of `application/json`."""
    return {
        "required": required,
        "description": description,
        "content": json_content(schema, example),
    }
