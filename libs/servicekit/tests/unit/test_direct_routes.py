"""A route served directly (``servicekit.http.serve_directly``) answers exactly as the same
route served by FastAPI: status, JSON body and headers, for every outcome (the app's own
exception handlers, values FastAPI encodes, a bug), keeps what the kit's middleware adds
(correlation id, metrics, body limit, admission) and what tracing records; a route FastAPI
would do more for (dependencies, a response model, another status) is refused."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from pymongo.errors import ServerSelectionTimeoutError

from servicekit.admission import AdmissionLimits
from servicekit.errors import ApiError
from servicekit.health import Readiness
from servicekit.http import create_service_app, serve_directly


class Teapot(Exception):
    """An exception the app has a handler of its own for."""


#: what a request's body asks the endpoint to raise
OUTCOMES: dict[bytes, Exception] = {
    b"api-error": ApiError(409, "conflict", "taken", details={"x": 1}, headers={"X-A": "b"}),
    b"mongo-down": ServerSelectionTimeoutError("no servers"),
    b"bug": RuntimeError("a bug"),
    b"http-404": HTTPException(404, "no such thing"),
    b"teapot": Teapot(),
}
#: ... or return (the rest is echoed back)
VALUES: dict[bytes, Any] = {
    b"when": {"at": datetime(2026, 1, 1, tzinfo=UTC)},
    b"nan": {"x": math.nan},
    b"list": [1, "a", None],
}


def make_app(*, direct: bool, admission: AdmissionLimits | None = None) -> FastAPI:
    app = create_service_app(
        title="t",
        readiness=lambda _: Readiness(),
        max_body_bytes=1000,
        admission=admission,
    )
    app.state.gate = None

    @app.exception_handler(Teapot)
    async def teapot(_: Request, exc: Teapot) -> JSONResponse:
        return JSONResponse({"error": "teapot"}, status_code=418)

    @app.post("/hook", response_model=None)
    async def hook(request: Request) -> Any:
        body = await request.body()
        if request.app.state.gate is not None:
            await request.app.state.gate.wait()
        if body in OUTCOMES:
            raise OUTCOMES[body]
        if body in VALUES:
            return VALUES[body]
        if body == b"how":
            return {"routed": "endpoint" in request.scope}
        return {"echo": body.decode(errors="replace"), "sig": request.headers.get("x-sig")}

    if direct:
        serve_directly(app, hook)
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    # raise_app_exceptions=False: a bug's 500 is answered by the server error middleware, which
    # re-raises after answering (for the server to log)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


def answer(r: httpx.Response) -> tuple[int, bytes, dict[str, str]]:
    headers = {k: v for k, v in r.headers.items() if k != "x-request-id"}
    return r.status_code, r.content, headers


async def both(method: str, path: str, **kwargs: Any) -> list[tuple[int, bytes, dict[str, str]]]:
    out = []
    for direct in (False, True):
        async with client(make_app(direct=direct)) as c:
            out.append(answer(await c.request(method, path, **kwargs)))
    return out


@pytest.mark.parametrize(
    "body",
    [b"hello", b"", "é€😀".encode(), b"\xff\xfe", *OUTCOMES, *VALUES, b"x" * 1000, b"x" * 1001],
)
async def test_every_outcome_is_answered_as_fastapi_answers_it(body: bytes) -> None:
    plain, direct = await both("POST", "/hook", content=body, headers={"X-Sig": "s"})
    assert direct == plain


async def test_the_statuses_are_those_of_the_error_rules() -> None:
    async with client(make_app(direct=True)) as c:
        assert (await c.post("/hook", content=b"ok")).status_code == 200
        conflict = await c.post("/hook", content=b"api-error")
        assert conflict.status_code == 409 and conflict.headers["x-a"] == "b"
        assert conflict.json() == {"error": "conflict", "message": "taken", "details": {"x": 1}}
        down = await c.post("/hook", content=b"mongo-down")
        assert down.status_code == 503 and down.headers["retry-after"]
        bug = await c.post("/hook", content=b"bug")
        assert bug.status_code == 500 and bug.json()["error"] == "internal_error"
        assert (await c.post("/hook", content=b"x" * 1001)).status_code == 413


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=1200), sig=st.text(st.characters(max_codepoint=126), max_size=20))
def test_any_request_is_answered_as_fastapi_answers_it(body: bytes, sig: str) -> None:
    plain, direct = asyncio.run(both("POST", "/hook", content=body, headers={"X-Sig": sig}))
    assert direct == plain


async def test_other_methods_and_paths_still_go_to_fastapi() -> None:
    for method, path in [("GET", "/hook"), ("PUT", "/hook"), ("POST", "/hook/"), ("GET", "/x")]:
        plain, direct = await both(method, path)
        assert direct == plain
        assert direct[0] in (404, 405, 307)


async def test_the_correlation_id_is_echoed_and_the_metrics_name_the_route() -> None:
    def count() -> float:
        return (
            REGISTRY.get_sample_value(
                "livecast_http_requests_total",
                {"method": "POST", "route": "/hook", "status": "200"},
            )
            or 0.0
        )

    before = count()
    async with client(make_app(direct=True)) as c:
        r = await c.post("/hook", content=b"a", headers={"X-Request-ID": "rid-1"})
    assert r.headers["x-request-id"] == "rid-1"
    assert count() == before + 1


async def test_admission_still_sheds_a_directly_served_route() -> None:
    app = make_app(direct=True, admission=AdmissionLimits(max_in_flight=1, max_queued=0))
    app.state.gate = asyncio.Event()
    async with client(app) as c:
        first = asyncio.create_task(c.post("/hook", content=b"a"))
        await asyncio.sleep(0.05)
        shed = await c.post("/hook", content=b"b")
        app.state.gate.set()
        assert (await first).status_code == 200
    assert shed.status_code == 503 and "retry-after" in shed.headers


def need_token(request: Request) -> None:
    if request.headers.get("x-token") != "ok":
        raise ApiError(401, "unauthorized", "no token")


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"response_model": None, "dependencies": [Depends(need_token)]}, "dependencies"),
        ({"response_model": None, "status_code": 202}, "status"),
        ({}, "response model"),  # inferred from the annotation
        ({"response_model": None, "response_class": JSONResponse}, "response class"),
    ],
)
def test_a_route_fastapi_would_do_more_for_is_refused(options: dict[str, Any], why: str) -> None:
    app = create_service_app(title="t", readiness=lambda _: Readiness())

    @app.post("/r", **options)
    async def route(request: Request) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match=why):
        serve_directly(app, route)


def test_a_route_with_parameters_or_app_dependencies_is_refused() -> None:
    app = create_service_app(
        title="t", readiness=lambda _: Readiness(), dependencies=[Depends(need_token)]
    )

    @app.post("/a", response_model=None)
    async def guarded(request: Request) -> dict[str, Any]:
        return {}

    @app.post("/b/{item}", response_model=None)
    async def with_path(request: Request, item: str) -> dict[str, Any]:
        return {}

    for endpoint in (guarded, with_path):
        with pytest.raises(ValueError, match="parameters or dependencies"):
            serve_directly(app, endpoint)


async def test_behind_a_root_path_the_route_is_still_served_directly() -> None:
    """FastAPI's router puts the endpoint in the scope; the direct path does not."""
    for root, path in (("", "/hook"), ("/api", "/api/hook")):
        transport = httpx.ASGITransport(app=make_app(direct=True), root_path=root)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.post(path, content=b"how")).json() == {"routed": False}
    async with client(make_app(direct=False)) as c:
        assert (await c.post("/hook", content=b"how")).json() == {"routed": True}


async def test_tracing_records_a_bug_on_the_server_span_either_way() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from servicekit import tracing

    events = {}
    for direct in (False, True):
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        saved = (tracing._provider, tracing._tracer, tracing._configured)
        tracing.install(provider)
        try:
            app = make_app(direct=direct)
            async with client(app) as c:
                assert (await c.post("/hook", content=b"bug")).status_code == 500
        finally:
            tracing._provider, tracing._tracer, tracing._configured = saved
        (server,) = [s for s in exporter.get_finished_spans() if s.name == "POST /hook"]
        events[direct] = [e.name for e in server.events]
    assert events[True] == events[False] == ["exception"]


def test_only_an_endpoint_of_the_app_can_be_served_directly() -> None:
    app = make_app(direct=False)

    async def stranger(request: Request) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match="not the endpoint"):
        serve_directly(app, stranger)
