"""Domain errors -> HTTP (one place)."""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from servicekit.errors import error_body
from stream_svc.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    MuxNotFound,
    MuxUnavailable,
    NotFound,
    RateLimited,
    Unavailable,
)
from stream_svc.handlers.changes import Contention


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        message = str(exc)
        if isinstance(exc, NotFound | MuxNotFound):
            return JSONResponse(error_body("not_found", message), 404)
        if isinstance(exc, Forbidden):
            return JSONResponse(error_body("forbidden", message), 403)
        if isinstance(exc, Conflict):
            return JSONResponse(error_body("conflict", message, status=exc.status), 409)
        if isinstance(exc, Invalid):
            return JSONResponse(error_body("validation_error", message), 422)
        if isinstance(exc, MuxUnavailable):
            status = 503 if exc.retryable else 502
            return JSONResponse(
                error_body("mux_unavailable", message),
                status,
                headers={"Retry-After": "5"} if exc.retryable else None,
            )
        if isinstance(exc, RateLimited):
            retry = max(1, math.ceil(exc.retry_after_s))
            return JSONResponse(
                error_body("rate_limited", message, retry_after_s=retry),
                429,
                headers={"Retry-After": str(retry)},
            )
        if isinstance(exc, Unavailable):
            return JSONResponse(
                error_body("unavailable", message), 503, headers={"Retry-After": "5"}
            )
        return JSONResponse(error_body("error", message), 500)

    @app.exception_handler(Contention)
    async def contention(_: Request, exc: Contention) -> JSONResponse:
        return JSONResponse(error_body("unavailable", str(exc)), 503, headers={"Retry-After": "1"})
