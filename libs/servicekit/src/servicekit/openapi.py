"""Every operation of every service's OpenAPI lists the error statuses it can answer, each with
the one JSON error body (:mod:`servicekit.errors`), added once here rather than per route.

Which statuses (issue 17: the specs listed only 2xx and 422):

* every operation: ``422`` (bad input), ``500`` (a bug), ``503`` with ``Retry-After`` (the
  database or the broker is unavailable);
* an operation that takes a body: ``400`` (not parseable JSON), ``413`` (over the body limit);
* an operation behind the bearer token: ``401``, ``403`` (not yours / not allowed, banned);
* an operation with path parameters: ``404``;
* an operation behind the bearer token that changes something (POST, PUT, PATCH, DELETE):
  ``409`` (the state does not allow it) and ``429`` (rate limited) with ``Retry-After``.

A route that declares a status itself keeps its own description (and schema, if it gives one;
else the error body), e.g. webhook-ingest's ``400`` and ``401`` (a signature, not a token).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["ERROR_SCHEMA", "add_error_responses", "document_error_responses"]

#: The error body as JSON Schema (extra keys such as ``retry_after_s`` or ``reason`` allowed).
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "machine-readable code, e.g. 'not_found'"},
        "message": {"type": "string", "description": "what is wrong, for a person"},
        "details": {"description": "per-field problems of a 422, or more about the error"},
        "retry_after_s": {"type": "number", "description": "seconds to wait before retrying"},
    },
    "additionalProperties": True,
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_DESCRIPTIONS = {
    400: "the body is not parseable JSON",
    401: "no bearer token, or a bad or expired one",
    403: "not allowed for this account",
    404: "no such resource",
    409: "the resource's state does not allow this",
    413: "request body too large",
    422: "invalid request",
    429: "too many requests; retry after Retry-After seconds",
    500: "internal error",
    503: "a dependency (database, broker) is unavailable; retry after Retry-After seconds",
}
_MUTATING = {"post", "put", "patch", "delete"}


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    statuses = [422, 500, 503]
    if "requestBody" in operation:
        statuses += [400, 413]
    secured = bool(operation.get("security"))
    if secured:
        statuses += [401, 403]
    if "{" in path:
        statuses.append(404)
    if secured and method in _MUTATING:
        statuses += [409, 429]
    return sorted(statuses)


def _response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if status in (429, 503):
        response["headers"] = _RETRY_AFTER
    return response


def add_error_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the error responses to every operation of ``schema`` (in place; returned)."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for key, declared in responses.items():
                if key[:1] in "45" and "content" not in declared:
                    declared["content"] = _response(422)["content"]
            for status in _statuses(path, method, operation):
                key = str(status)
                declared = responses.get(key)
                if status == 422 or declared is None:  # FastAPI's 422 is not our body
                    responses[key] = _response(status)
    return schema


def document_error_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` list the error responses of every operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_error_responses(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    openapi_version=app.openapi_version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
