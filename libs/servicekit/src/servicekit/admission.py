"""Admission control: overload is shed, not queued.

Every HTTP service bounds the requests it works on at once (each of which may hold a database
round trip). A request beyond the bound waits briefly for a slot in a bounded queue; when the
queue is full or the wait runs out, it is answered at once with ``503``, ``Retry-After`` and the
kit's JSON error body (``{"error": "overloaded", "message", "retry_after_s"}``), before any of
its work is done, so it is always safe to retry. What was admitted keeps its latency, and
throughput stays at the server's capacity as offered load rises past it instead of collapsing
under a growing queue (every queued request holding a connection, a pool slot and memory).

Ops routes (``/healthz``, ``/readyz``, ``/metrics``) and WebSocket scopes are never shed.
A long poll gives its slot back while it waits (:func:`parked`): a thousand idle waiters do not
shed the requests that do work, and each takes a slot again (or is shed) before its last read. The
bounds are per process (a service with two workers admits twice as much); they come from
:class:`~servicekit.settings.ServiceSettings` (``HTTP_MAX_IN_FLIGHT``, ``HTTP_MAX_QUEUED``,
``HTTP_QUEUE_TIMEOUT_S``, ``HTTP_RETRY_AFTER_S``) through
:func:`~servicekit.http.create_service_app`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.errors import ApiError, error_body

__all__ = [
    "OPS_PATHS",
    "AdmissionLimiter",
    "AdmissionLimits",
    "AdmissionMiddleware",
    "Parking",
    "parked",
]

#: Scope key under which the middleware offers a request's :func:`parked` context.
PARK_KEY = "livecast.admission.park"

OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

IN_FLIGHT = Gauge("livecast_http_in_flight", "HTTP requests admitted and not yet answered")
QUEUED = Gauge("livecast_http_queued", "HTTP requests waiting for admission")
SHED = Counter("livecast_http_shed_total", "HTTP requests answered 503 by admission control")


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    """Bounds of one process.

    Args:
        max_in_flight: requests worked on at once; ``0`` turns admission control off.
        max_queued: requests that may wait for a slot; beyond it a request is shed at once.
        queue_timeout_s: the longest a request waits for a slot before it is shed (seconds).
        retry_after_s: the ``Retry-After`` a shed request gets (whole seconds, at least 1).
    """

    max_in_flight: int = 32
    max_queued: int = 32
    queue_timeout_s: float = 0.1
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        if self.max_in_flight < 0 or self.max_queued < 0 or self.queue_timeout_s < 0:
            raise ValueError("admission limits must not be negative")
        if self.retry_after_s < 1:
            raise ValueError("retry_after_s must be at least 1 (Retry-After is whole seconds)")


class AdmissionLimiter:
    """At most ``max_in_flight`` holders; at most ``max_queued`` waiters, each for at most
    ``queue_timeout_s`` (an ``anyio.CapacityLimiter``, first come first served)."""

    def __init__(self, limits: AdmissionLimits) -> None:
        self.limits = limits
        self._limiter = anyio.CapacityLimiter(max(1, limits.max_in_flight))
        self._queued = 0

    @property
    def in_flight(self) -> int:
        return int(self._limiter.borrowed_tokens)

    @property
    def queued(self) -> int:
        return self._queued

    async def acquire(self) -> object | None:
        """A token to hand back to :meth:`release`, or ``None``: shed this request."""
        token = object()
        try:
            self._limiter.acquire_on_behalf_of_nowait(token)
            return token
        except anyio.WouldBlock:
            pass
        if self._queued >= self.limits.max_queued or self.limits.queue_timeout_s <= 0:
            return None
        self._queued += 1
        QUEUED.inc()
        try:
            with anyio.move_on_after(self.limits.queue_timeout_s):
                await self._limiter.acquire_on_behalf_of(token)
                return token
        finally:
            self._queued -= 1
            QUEUED.dec()
        return None

    def release(self, token: object) -> None:
        self._limiter.release_on_behalf_of(token)


class AdmissionMiddleware:
    """Pure ASGI middleware applying :class:`AdmissionLimits` to every HTTP request but the ops
    routes. A shed request gets 503 with ``Retry-After`` and the JSON error body."""

    def __init__(self, app: ASGIApp, *, limits: AdmissionLimits | None = None) -> None:
        self.app = app
        self.limits = limits or AdmissionLimits()
        self.limiter = AdmissionLimiter(self.limits)
        retry = self.limits.retry_after_s
        self._body = json.dumps(
            error_body(
                "overloaded",
                f"the service is busy; nothing was done, retry in {retry} s",
                retry_after_s=retry,
            )
        ).encode()
        self._headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self._body)).encode()),
            (b"retry-after", str(retry).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or self.limits.max_in_flight == 0
            or scope.get("path") in OPS_PATHS
        ):
            await self.app(scope, receive, send)
            return
        token = await self.limiter.acquire()
        if token is None:
            SHED.inc()
            await send({"type": "http.response.start", "status": 503, "headers": self._headers})
            await send({"type": "http.response.body", "body": self._body})
            return
        held: list[object] = [token]

        @contextlib.asynccontextmanager
        async def park() -> AsyncIterator[Parking]:
            IN_FLIGHT.dec()
            self.limiter.release(held.pop())
            parking = Parking()
            yield parking  # an exception inside leaves without a slot: nothing more is done
            if not parking.readmit:
                return
            again = await self.limiter.acquire()
            if again is None:
                SHED.inc()
                raise ApiError(
                    503,
                    "overloaded",
                    f"the service is busy; retry in {retry} s",
                    headers={"Retry-After": str(retry)},
                    retry_after_s=retry,
                )
            held.append(again)
            IN_FLIGHT.inc()

        retry = self.limits.retry_after_s
        scope[PARK_KEY] = park
        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            if held:
                IN_FLIGHT.dec()
                self.limiter.release(held.pop())


class Parking:
    """What :func:`parked` yields. Set ``readmit = False`` inside the block when the request
    has its answer and does no more work after the wait: it then leaves without a slot."""

    __slots__ = ("readmit",)

    def __init__(self) -> None:
        self.readmit = True


def parked(scope: Scope) -> contextlib.AbstractAsyncContextManager[Parking]:
    """Wait inside this block without holding an admission slot (a long poll's idle wait).

    Leaving the block normally takes a slot again (unless ``readmit`` was turned off), waiting
    in the queue like a new request; if none is free in time it raises ``ApiError`` 503
    ``overloaded`` with ``Retry-After`` (after a wake-up that reaches many waiters at once, the
    excess is shed instead of piling onto the database). Without admission control (no
    middleware, or ``max_in_flight`` 0) it does nothing."""
    park = scope.get(PARK_KEY)
    return park() if park is not None else contextlib.nullcontext(Parking())
