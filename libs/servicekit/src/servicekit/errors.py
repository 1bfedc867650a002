"""HTTP errors with one JSON body shape: ``{"error": code, "message": text, "details": ...}``.

A dependency that cannot answer (see :mod:`servicekit.unavailable`) is ``503`` with
``Retry-After``; any other unhandled error is a ``500`` with the same JSON body (never the
framework's ``text/plain``).
"""

from __future__ import annotations

import logging
from typing import Any

from aiormq.exceptions import AMQPError, ChannelInvalidStateError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from servicekit.unavailable import RETRY_AFTER_S, unavailable_dependency

__all__ = [
    "ApiError",
    "allowed_methods",
    "error_body",
    "error_response",
    "install_error_handlers",
    "unavailable_response",
]

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raise from a route to answer ``status`` with a JSON error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
        self.extra = extra


def error_body(code: str, message: str, details: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    body.update(extra)
    return body


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        out.append(
            {"field": ".".join(loc), "message": err.get("msg", ""), "type": err.get("type", "")}
        )
    return out


def unavailable_response(exc: BaseException) -> JSONResponse | None:
    """``503`` + ``Retry-After`` with the JSON body if ``exc`` says a dependency is unavailable
    (:func:`servicekit.unavailable.unavailable_dependency`), else ``None``."""
    dependency = unavailable_dependency(exc)
    if dependency is None:
        return None
    return JSONResponse(
        error_body(
            "unavailable",
            f"the {dependency} is unavailable; retry in {RETRY_AFTER_S} s",
            retry_after_s=RETRY_AFTER_S,
        ),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _internal() -> JSONResponse:
    return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers at the request's path (Starlette's own 405
    names only the first route that matches the path, so ``GET`` and ``POST`` routes on one path
    said ``Allow: GET``)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return sorted(methods, key=lambda m: order.index(m) if m in order else len(order))


def error_response(exc: Exception) -> JSONResponse:
    """The answer to an exception a route raised: an :class:`ApiError` as its status and JSON
    body; an unavailable dependency as ``503`` + ``Retry-After``; anything else as a JSON
    ``500`` (logged as a bug)."""
    if isinstance(exc, ApiError):
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details, **exc.extra),
            status_code=exc.status,
            headers=exc.headers,
        )
    response = unavailable_response(exc)
    if response is None:
        log.error("unhandled error", exc_info=exc)
        return _internal()
    log.warning("dependency unavailable: %s", repr(exc)[:300])
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Map :class:`ApiError`, request validation errors and HTTP errors to the JSON body;
    unavailable dependencies to ``503`` + ``Retry-After``; anything else to a JSON ``500``."""

    async def _dependency(_: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    # PyMongo and broker errors are handled (not re-raised); any other exception reaches the
    # server error middleware, which answers with this handler and logs it as a bug.
    app.add_exception_handler(PyMongoError, _dependency)
    app.add_exception_handler(ConnectionError, _dependency)
    app.add_exception_handler(AMQPError, _dependency)
    app.add_exception_handler(ChannelInvalidStateError, _dependency)
    app.add_exception_handler(Exception, _dependency)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        return JSONResponse(
            error_body("validation_error", f"invalid request: {summary}", details), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
            message = f"method not allowed here; allowed: {headers['Allow']}"
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=headers)
