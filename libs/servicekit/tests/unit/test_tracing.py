from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts import make_envelope
from contracts.stream import StreamStarted
from servicekit import tracing
from servicekit.broker import LIVE, make_broker
from servicekit.logs import _add_trace_ids
from servicekit.memory import RecordingPublisher
from servicekit.mongo import make_mongo_client
from servicekit.outbox import OUTBOX_FIELD, TRACE_FIELD, OutboxRelay, stage_insert

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tracing not configured yet in this process (as at a service's start)."""
    monkeypatch.setattr(tracing, "_configured", False)
    monkeypatch.setattr(tracing, "_provider", None)
    monkeypatch.setattr(tracing, "_tracer", None)


@pytest.fixture
def spans(fresh: None) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.install(None)


def started() -> Any:
    return make_envelope(
        StreamStarted(
            stream_id="s1", owner_id="o", title="t", playback_url="https://p", started_at=NOW
        ),
        producer="test",
    )


class TestSwitch:
    @pytest.mark.usefixtures("fresh")
    def test_off_without_an_endpoint_and_nothing_is_wired(self) -> None:
        assert tracing.configure_from_env("svc", {}) is False
        assert tracing.tracer_provider() is None
        assert tracing.broker_middlewares() == ()
        assert tracing.mongo_listeners() == []
        assert tracing.carrier() == {}
        items: Any = object()
        assert tracing.traced_items(items, "x") is items
        with tracing.span("nothing") as current:
            assert current is None

    @pytest.mark.usefixtures("fresh")
    def test_an_otlp_endpoint_switches_it_on_with_the_service_name(self) -> None:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
        assert tracing.configure_from_env("stream-svc", env) is True
        provider = tracing.tracer_provider()
        assert provider is not None
        assert provider.resource.attributes["service.name"] == "stream-svc"  # type: ignore[attr-defined]
        assert len(tracing.broker_middlewares()) == 1
        assert len(tracing.mongo_listeners()) == 1
        provider.shutdown()  # type: ignore[attr-defined]

    @pytest.mark.usefixtures("fresh")
    @pytest.mark.parametrize(
        "env",
        [
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"},
            {"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
        ],
    )
    def test_disabled_or_unsupported_exporter_stays_off(self, env: dict[str, str]) -> None:
        assert tracing.configure_from_env("svc", env) is False

    @pytest.mark.usefixtures("fresh")
    def test_exporter_none_traces_without_exporting(self) -> None:
        assert tracing.configure_from_env("svc", {"OTEL_TRACES_EXPORTER": "none"}) is True
        with tracing.span("x") as current:
            assert current is not None and current.is_recording()

    @pytest.mark.usefixtures("fresh")
    def test_the_first_decision_holds(self) -> None:
        assert tracing.configure_from_env("svc", {}) is False
        assert tracing.configure_from_env("svc", {"OTEL_TRACES_EXPORTER": "none"}) is False

    @pytest.mark.usefixtures("spans")
    def test_clients_built_while_on_carry_the_instrumentation(self) -> None:
        broker = make_broker("amqp://guest:guest@127.0.0.1:1/", app_id="t")
        assert any(
            type(m).__name__ == "RabbitTelemetryMiddleware"
            for m in broker.config.broker_middlewares
        )
        client = make_mongo_client("mongodb://127.0.0.1:1/", app_name="t")
        listeners = client.options.event_listeners
        assert any(type(li).__name__ == "CommandTracer" for li in listeners)


class TestLogs:
    def test_a_log_line_inside_a_span_carries_its_trace_id(
        self, spans: InMemorySpanExporter
    ) -> None:
        with tracing.span("work") as current:
            assert current is not None
            line = _add_trace_ids(None, "info", {"event": "x"})
            ctx = current.get_span_context()
        assert line["trace_id"] == format(ctx.trace_id, "032x")
        assert line["span_id"] == format(ctx.span_id, "016x")
        assert "trace_id" not in _add_trace_ids(None, "info", {"event": "y"})


class TestOutbox:
    async def test_a_relayed_event_continues_the_trace_that_staged_it(
        self, spans: InMemorySpanExporter
    ) -> None:
        with tracing.span("request") as request:
            assert request is not None
            doc = {"_id": "d1", **stage_insert([started()])}
        staged = next(iter(doc[OUTBOX_FIELD].values()))
        assert staged[TRACE_FIELD]["traceparent"].split("-")[1] == format(
            request.get_span_context().trace_id, "032x"
        )
        seen: list[trace.SpanContext] = []

        class Publisher(RecordingPublisher):
            async def publish(self, envelope: Any, **kw: Any) -> None:
                seen.append(trace.get_current_span().get_span_context())
                await super().publish(envelope, **kw)

        publisher = Publisher()
        relay = OutboxRelay([], publisher)
        published, error = await relay._publish_one_doc("c", doc, time.time(), 0.0)
        assert error is None and len(published) == 1
        (relayed,) = [s for s in spans.get_finished_spans() if s.name == "outbox relay"]
        assert relayed.parent is not None
        assert relayed.parent.span_id == request.get_span_context().span_id
        assert seen[0].span_id == relayed.context.span_id  # type: ignore[union-attr]
        assert publisher.published[0].exchange == LIVE

    async def test_staging_with_tracing_off_stores_no_context(self, fresh: None) -> None:
        tracing.install(None)
        doc = stage_insert([started()])
        assert TRACE_FIELD not in next(iter(doc[OUTBOX_FIELD].values()))


class TestTracedItems:
    async def test_one_span_per_item_current_while_it_is_handled(
        self, spans: InMemorySpanExporter
    ) -> None:
        async def frames() -> AsyncIterator[str]:
            for f in ("a", "b", "c"):
                yield f

        inside: list[int] = []
        async for _ in tracing.traced_items(frames(), "frame"):
            inside.append(trace.get_current_span().get_span_context().span_id)
            with tracing.span("handle"):
                pass
        finished = spans.get_finished_spans()
        frame_spans = [s for s in finished if s.name == "frame"]
        assert [s.context.span_id for s in frame_spans] == inside  # type: ignore[union-attr]
        handles = [s for s in finished if s.name == "handle"]
        assert [h.parent.span_id for h in handles] == inside  # type: ignore[union-attr]
        assert not trace.get_current_span().get_span_context().is_valid  # nothing leaks
