"""Issue 17: driver errors of a stalled database or broker answer 503 JSON with Retry-After on
every route of every service; other errors are a JSON 500, never ``text/plain``."""

from __future__ import annotations

import httpx
import pytest
from aiormq.exceptions import AMQPConnectionError, ChannelInvalidStateError, DeliveryError
from fastapi import FastAPI
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    ServerSelectionTimeoutError,
    WaitQueueTimeoutError,
    _OperationCancelled,
)

from servicekit.health import Readiness
from servicekit.http import create_service_app
from servicekit.unavailable import RETRY_AFTER_S, unavailable_dependency

DATABASE_ERRORS = [
    ServerSelectionTimeoutError("No servers found yet, Timeout: 5.0s"),
    AutoReconnect("connection closed"),
    NetworkTimeout("timed out"),
    WaitQueueTimeoutError("Timed out while checking out a connection from connection pool"),
    _OperationCancelled("operation cancelled"),
    ExecutionTimeout("operation exceeded time limit", 50),
    NotPrimaryError("not primary"),
    OperationFailure("interrupted at shutdown", 11600),
]
BROKER_ERRORS = [
    AMQPConnectionError("connection refused"),
    ChannelInvalidStateError("channel closed"),
    DeliveryError(None, None),
]
NOT_UNAVAILABLE = [
    DuplicateKeyError("E11000"),
    OperationFailure("bad query", 2),
    ValueError("a bug"),
    KeyError("seq"),
]


@pytest.mark.parametrize("exc", DATABASE_ERRORS, ids=lambda e: type(e).__name__)
def test_database_errors_mean_the_database_is_unavailable(exc: BaseException) -> None:
    assert unavailable_dependency(exc) == "database"


@pytest.mark.parametrize("exc", BROKER_ERRORS, ids=lambda e: type(e).__name__)
def test_broker_errors_mean_the_broker_is_unavailable(exc: BaseException) -> None:
    assert unavailable_dependency(exc) == "broker"


@pytest.mark.parametrize("exc", NOT_UNAVAILABLE, ids=lambda e: type(e).__name__)
def test_other_errors_are_not_unavailability(exc: BaseException) -> None:
    assert unavailable_dependency(exc) is None


def test_a_wrapped_or_grouped_driver_error_is_found() -> None:
    outer = RuntimeError("write failed")
    outer.__cause__ = AutoReconnect("reset")
    assert unavailable_dependency(outer) == "database"
    group = ExceptionGroup("many", [ValueError("x"), AMQPConnectionError("down")])
    assert unavailable_dependency(group) == "broker"


def make_app(exc: BaseException) -> FastAPI:
    async def ready() -> bool:
        return True

    app = create_service_app(title="t", readiness=lambda _: Readiness({"dep": ready}))

    @app.post("/things")
    async def things() -> dict[str, str]:
        raise exc

    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


@pytest.mark.parametrize("exc", DATABASE_ERRORS + BROKER_ERRORS, ids=lambda e: type(e).__name__)
async def test_a_route_answers_503_json_with_retry_after(exc: BaseException) -> None:
    async with client(make_app(exc)) as c:
        r = await c.post("/things")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/json"
    assert r.headers["retry-after"] == str(RETRY_AFTER_S)
    body = r.json()
    assert body["error"] == "unavailable"
    assert body["retry_after_s"] == RETRY_AFTER_S


@pytest.mark.parametrize("exc", NOT_UNAVAILABLE, ids=lambda e: type(e).__name__)
async def test_any_other_error_is_a_json_500(exc: BaseException) -> None:
    async with client(make_app(exc)) as c:
        r = await c.post("/things")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"] == "internal_error"
