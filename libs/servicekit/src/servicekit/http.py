"""The FastAPI application base every HTTP service uses.

Adds, in one place: the correlation id (``X-Request-ID`` in when it matches
:data:`servicekit.logs.REQUEST_ID_PATTERN`, else a new one; bound for logs, echoed out), request
metrics, a request body limit (413), admission control (503 when overloaded), the JSON error
shape, ``/healthz``, ``/readyz``, ``/metrics``, and direct routes (:func:`serve_directly`) for
a service's hot path.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.datastructures import DefaultPlaceholder
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit import tracing
from servicekit.admission import AdmissionLimits, AdmissionMiddleware
from servicekit.errors import error_body, install_error_handlers
from servicekit.health import Readiness, metrics_payload
from servicekit.logs import REQUEST_ID_HEADER, accepted_correlation_id, set_correlation_id
from servicekit.openapi import document_error_responses
from servicekit.parsing import ascii_int

__all__ = ["DirectRoutes", "RequestContextMiddleware", "create_service_app", "serve_directly"]

REQUESTS = Counter("livecast_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "livecast_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
_REQUEST_ID_BYTES = REQUEST_ID_HEADER.lower().encode()


class RequestContextMiddleware:
    """Pure ASGI middleware: correlation id, metrics and the body size limit."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = 1 << 20) -> None:
        self.app = app
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent: list[str] = []
        length = None
        for key, value in scope["headers"]:
            if key == _REQUEST_ID_BYTES:
                sent.append(value.decode("latin-1"))
            elif key == b"content-length":
                length = value
        rid = accepted_correlation_id(*sent)
        set_correlation_id(rid)
        # bytes.isdigit() is ASCII-only; more than 18 digits is too large, not an error
        declared = ascii_int(length) if length is not None else None
        if (
            length is not None
            and length.isdigit()
            and (1 << 63 if declared is None else declared) > self.max_body
        ):
            await _too_large(send, rid, self.max_body)
            return
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (_REQUEST_ID_BYTES, rid.encode()),
                ]
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            await _too_large(send, rid, self.max_body)
            status = 413
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            REQUESTS.labels(method, template, str(status)).inc()
            LATENCY.labels(method, template).observe(time.perf_counter() - started)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, rid: str, limit: int) -> None:
    resp = JSONResponse(
        error_body("payload_too_large", f"request body over {limit} bytes"),
        status_code=413,
        headers={REQUEST_ID_HEADER: rid},
    )
    await send({"type": "http.response.start", "status": 413, "headers": resp.raw_headers})
    await send({"type": "http.response.body", "body": resp.body})


#: A route served directly: takes the request, returns the JSON body of a ``200``.
DirectEndpoint = Callable[[Request], Awaitable[Any]]


class DirectRoutes:
    """Pure ASGI middleware, the innermost of the kit's: a request whose method and path were
    registered with :func:`serve_directly` goes straight to its endpoint, past FastAPI's
    router, dependency solving and response machinery (a seventh of webhook-ingest's CPU per
    delivery). It still passes the kit's middleware around it (correlation id, metrics, body
    limit, admission) and FastAPI's outer layers. Answers are FastAPI's for such a route: the
    returned value through ``jsonable_encoder`` into a ``JSONResponse``; an exception through
    the app's handler for its class (``app.exception_handlers``, most specific first), and one
    only the catch-all ``Exception`` handler takes is raised on, as FastAPI's router does, to
    the server error middleware (which answers it, and tracing records it). Any other request
    goes on to FastAPI."""

    def __init__(
        self, app: ASGIApp, *, routes: dict[tuple[str, str], tuple[APIRoute, DirectEndpoint]]
    ) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        direct = None
        if scope["type"] == "http" and self.routes:
            direct = self.routes.get((scope["method"], _route_path(scope)))
        if direct is None:
            await self.app(scope, receive, send)
            return
        route, endpoint = direct
        scope["route"] = route  # as FastAPI's router sets it (metrics name the route by it)
        request = Request(scope, receive)
        try:
            response: Response = JSONResponse(jsonable_encoder(await endpoint(request)))
        except Exception as exc:
            handler = _handler_for(scope["app"].exception_handlers, exc)
            if handler is None:  # the body limit's (413), or the catch-all's (500)
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path the app's routes match (``scope["path"]`` without the ``root_path``), as
    Starlette's router reads it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :]
    return path


def _handler_for(handlers: dict[Any, Any], exc: Exception) -> Any:
    """The app's handler for ``exc``'s most specific class that has one, but neither the
    catch-all ``Exception`` handler nor one for the kit's own body limit signal."""
    for cls in type(exc).__mro__:
        if cls is Exception or cls is _BodyTooLarge:
            return None
        if cls in handlers:
            return handlers[cls]
    return None


def serve_directly(app: FastAPI, endpoint: DirectEndpoint) -> None:
    """Serve ``endpoint``, a route already declared on ``app`` (an app of
    :func:`create_service_app`; the route stays in the OpenAPI document), through
    :class:`DirectRoutes`. Only a route FastAPI would do nothing more for can be: its one
    parameter the ``Request``, no dependencies (the app's and router's included),
    ``response_model=None``, the default status and response class, and a path with no
    parameters. Every method the route declares is served directly.

    Raises:
        ValueError: ``endpoint`` is not the endpoint of a route of ``app``, or its route asks
            FastAPI for more than that (the direct path would skip it: a dependency that
            checks a token, for one).
    """
    for route in app.router.routes:
        if isinstance(route, APIRoute) and route.endpoint is endpoint:
            refused = _not_direct(route)
            if refused:
                raise ValueError(f"{route.path} cannot be served directly: {refused}")
            for method in route.methods or ():
                app.state.direct_routes[(method, route.path)] = (route, endpoint)
            return
    raise ValueError(f"{endpoint!r} is not the endpoint of a route of this app")


def _not_direct(route: APIRoute) -> str:
    """What FastAPI would do for ``route`` that the direct path would not ('' if nothing)."""
    dependant = route.dependant
    params = [
        *dependant.path_params,
        *dependant.query_params,
        *dependant.header_params,
        *dependant.cookie_params,
        *dependant.body_params,
    ]
    if params or dependant.dependencies or route.dependencies:
        return "it has parameters or dependencies"
    if route.response_model is not None:
        return "it has a response model (declare response_model=None)"
    if route.status_code not in (None, 200):
        return f"its status is {route.status_code}"
    if not isinstance(route.response_class, DefaultPlaceholder):
        return "it has a response class of its own"
    if route.param_convertors:
        return "its path has parameters"
    return ""


def create_service_app(
    *,
    title: str,
    readiness: Callable[[FastAPI], Readiness],
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    max_body_bytes: int = 1 << 20,
    service: str | None = None,
    admission: AdmissionLimits | None = None,
    **kwargs: Any,
) -> FastAPI:
    """A FastAPI app with the kit's middleware, error handlers and ops routes.

    ``readiness(app)`` returns the checks for ``/readyz`` (called per request, so checks can use
    what the lifespan stored on ``app.state``). ``service`` (default: ``title`` without its
    ``livecast`` prefix) names the service in traces; tracing is switched on from the
    environment here (:func:`servicekit.tracing.configure_from_env`). ``admission`` bounds the
    requests in flight (``settings.admission``; the defaults of :class:`AdmissionLimits` when
    omitted): beyond it, 503 with ``Retry-After`` (see :mod:`servicekit.admission`).
    """
    app = FastAPI(title=title, lifespan=lifespan, **kwargs)
    install_error_handlers(app)
    document_error_responses(app)
    app.state.direct_routes = {}
    app.add_middleware(DirectRoutes, routes=app.state.direct_routes)  # the innermost
    app.add_middleware(AdmissionMiddleware, limits=admission)  # inside: shed answers get an id
    app.add_middleware(RequestContextMiddleware, max_body_bytes=max_body_bytes)
    tracing.configure_from_env(service or title.removeprefix("livecast").strip())
    tracing.instrument_fastapi(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        ok, checks = await readiness(app).run()
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = metrics_payload()
        return Response(body, media_type=content_type)

    return app
