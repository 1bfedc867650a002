"""OpenTelemetry traces across HTTP, AMQP, MongoDB, the outbox and the chat socket.

Wired here once; a service switches it on by calling :func:`configure_from_env` (its bootstrap
does, through :func:`servicekit.runtime.open_infra`). The environment decides, with the
standard OpenTelemetry variables:

* ``OTEL_SDK_DISABLED=true``: off.
* ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set: on, spans
  exported over OTLP/HTTP (protobuf) in batches. ``OTEL_TRACES_SAMPLER`` and friends apply.
* ``OTEL_TRACES_EXPORTER=none``: on without an exporter (trace ids in the logs, no export).
* otherwise: **off**, and off costs nothing: no broker middleware, no MongoDB listener, no ASGI
  middleware, no spans; the hooks below return at their first line.

What is traced once on:

* HTTP: every FastAPI app of :func:`servicekit.http.create_service_app` (server spans named by
  route template; the W3C ``traceparent`` header is honoured).
* AMQP: FastStream's ``RabbitTelemetryMiddleware`` on every broker of
  :func:`servicekit.broker.make_broker`: the context travels in the message headers, and a
  consumer's span is a child of the publisher's.
* MongoDB: one client span per command (PyMongo command monitoring).
* The outbox: the staging context is stored in the outbox row (``trace``), and the relay
  publishes each event inside a span whose parent is the request that staged it.
* Whatever else calls :func:`span`, :func:`traced` or :func:`traced_items` (chat frames,
  the go-live campaign).

Every log line carries ``trace_id`` and ``span_id`` while a span is current
(:mod:`servicekit.logs`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping
from typing import Any, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import Span, SpanKind, Tracer

__all__ = [
    "broker_middlewares",
    "carrier",
    "configure_from_env",
    "current_ids",
    "install",
    "instrument_fastapi",
    "mongo_listeners",
    "set_attributes",
    "span",
    "traced",
    "traced_items",
    "tracer_provider",
]

log = logging.getLogger(__name__)

INSTRUMENTATION = "livecast"

_provider: trace.TracerProvider | None = None
_tracer: Tracer | None = None
_configured = False

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def install(provider: trace.TracerProvider | None) -> None:
    """Use ``provider`` for every span from now on (``None``: tracing off).

    Clients built before the call keep what they had: install before the broker, the MongoDB
    client and the apps are built. Tests install an SDK provider with an in-memory exporter.
    """
    global _provider, _tracer, _configured
    _provider = provider
    _tracer = provider.get_tracer(INSTRUMENTATION) if provider is not None else None
    _configured = True


def tracer_provider() -> trace.TracerProvider | None:
    """The provider in use, or ``None`` when tracing is off."""
    return _provider


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def configure_from_env(service_name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Switch tracing on from the OpenTelemetry environment variables (see the module text).

    Idempotent: the first call in a process (or an earlier :func:`install`) decides. Returns
    whether tracing is on.
    """
    if _configured:
        return _provider is not None
    env = os.environ if environ is None else environ
    exporter = (env.get("OTEL_TRACES_EXPORTER") or "otlp").strip().lower()
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if _truthy(env.get("OTEL_SDK_DISABLED")) or (exporter == "otlp" and not endpoint):
        install(None)
        return False
    if exporter not in ("otlp", "none"):
        log.warning("OTEL_TRACES_EXPORTER=%s is not supported (otlp, none): tracing off", exporter)
        install(None)
        return False
    install(_sdk_provider(service_name, otlp=exporter == "otlp"))
    return True


def _sdk_provider(service_name: str, *, otlp: bool) -> trace.TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    resource = Resource.create(
        {
            "service.name": service_name,
            "service.namespace": "livecast",
            "service.instance.id": f"{socket.gethostname()}-{os.getpid()}",
        }
    )
    provider = TracerProvider(resource=resource)
    if otlp:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


# ---- clients ------------------------------------------------------------------------------


def broker_middlewares() -> tuple[Any, ...]:
    """FastStream's RabbitMQ telemetry middleware when tracing is on, else nothing."""
    if _provider is None:
        return ()
    from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware

    return (RabbitTelemetryMiddleware(tracer_provider=_provider),)


def mongo_listeners() -> list[Any]:
    """PyMongo command listeners (one client span per command) when tracing is on."""
    if _provider is None:
        return []
    from opentelemetry.instrumentation.pymongo import CommandTracer

    return [CommandTracer(_provider.get_tracer("opentelemetry.instrumentation.pymongo"))]


def instrument_fastapi(app: Any) -> None:
    """Server spans (named by route template) for a FastAPI ``app`` when tracing is on at build
    time; ``/healthz``, ``/readyz`` and ``/metrics`` are not traced. Off: nothing."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_provider,
        excluded_urls="/healthz,/readyz,/metrics",
        exclude_spans=["receive", "send"],
    )


# ---- own spans ----------------------------------------------------------------------------


@contextlib.contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Mapping[str, str] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span | None]:
    """A current span named ``name`` (``None`` and no work when tracing is off).

    ``parent``: a carrier from :func:`carrier` (stored with a message or a document): the span
    continues that trace instead of the current one.
    """
    if _tracer is None:
        yield None
        return
    ctx = extract(parent) if parent else None
    with _tracer.start_as_current_span(
        name, context=ctx, kind=kind, attributes=dict(attributes or {})
    ) as current:
        yield current


def traced(name: str, *, kind: SpanKind = SpanKind.INTERNAL) -> Callable[[F], F]:
    """Decorate a plain function to run inside a span ``name`` when tracing is on."""

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _tracer is None:
                return fn(*args, **kwargs)
            with _tracer.start_as_current_span(name, kind=kind):
                return fn(*args, **kwargs)

        return cast(F, wrapper)

    return deco


def traced_items(
    items: AsyncIterable[T],
    name: str,
    *,
    kind: SpanKind = SpanKind.SERVER,
    attributes: Mapping[str, Any] | None = None,
) -> AsyncIterable[T]:
    """``items`` with one span per item, current while the consumer handles that item (a span
    per received WebSocket frame). Off: ``items`` itself."""
    if _tracer is None:
        return items
    return _traced_items(items, _tracer, name, kind, dict(attributes or {}))


async def _traced_items(
    items: AsyncIterable[T], tracer: Tracer, name: str, kind: SpanKind, attrs: dict[str, Any]
) -> AsyncIterator[T]:
    outer = otel_context.get_current()
    async for item in items:
        current = tracer.start_span(name, context=outer, kind=kind, attributes=attrs)
        # attach without a detach token: if the consumer stops early, the generator is closed
        # in another task, where a token could not be reset; re-attaching ``outer`` always works
        otel_context.attach(trace.set_span_in_context(current, outer))
        try:
            yield item
        finally:
            current.end()
            otel_context.attach(outer)


def set_attributes(**attributes: Any) -> None:
    """Set attributes on the current span, if one is recording."""
    if _tracer is None:
        return
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes(attributes)


# ---- context across storage -----------------------------------------------------------------


def carrier() -> dict[str, str]:
    """The current trace context as W3C headers (``traceparent``), to store beside a staged
    event or a queued job; ``{}`` when tracing is off or no span is current."""
    if _tracer is None:
        return {}
    headers: dict[str, str] = {}
    inject(headers)
    return headers


def current_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` in hex of the current span, or ``None``."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
