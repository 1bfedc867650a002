"""Consuming events: one FastStream subscriber per service queue, dispatching by event type.

Ack decisions are explicit:

* the body is not a valid envelope (not JSON, unknown version, payload fails validation): the
  message is **rejected** without requeue, so it goes to the queue's dead-letter queue at once;
* no handler for this event type: acked and ignored (a new event type is not an error);
* the handler raised: after a short backoff the message is **nacked** and requeued; the quorum
  queue's delivery limit moves it to the dead-letter queue if it keeps failing;
* otherwise: acked. With a :class:`~servicekit.idempotency.ProcessedEvents` store, an event id
  already processed by this consumer is acked without calling the handler again, and a copy
  that arrives while another copy is being processed is requeued until that one finishes.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from prometheus_client import Counter
from pydantic import ValidationError

from contracts.envelope import Envelope, Event, UnknownEventError, parse_envelope
from contracts.webhook import MuxWebhookReceived
from servicekit import tracing
from servicekit.broker import LIVE, MUX, Binding, QueueSpec
from servicekit.idempotency import EventInProgress, ProcessedEvents
from servicekit.logs import AMQP_CORRELATION_HEADER, set_correlation_id

__all__ = ["EventDispatcher", "attach_consumer"]

log = logging.getLogger(__name__)

Handler = Callable[[Envelope[Any]], Awaitable[None]]
H = TypeVar("H", bound=Handler)

CONSUMED = Counter(
    "livecast_events_consumed_total",
    "Events taken from a queue, by outcome (handled, duplicate, ignored, in_progress, failed, "
    "invalid)",
    ["queue", "event_type", "outcome"],
)
DEAD_LETTERED = Counter(
    "livecast_events_dead_lettered_total",
    "Events this consumer sent to its dead-letter queue: invalid (not a valid envelope) or "
    "delivery_limit (failed on its last allowed delivery)",
    ["queue", "reason"],
)


@dataclass(frozen=True, slots=True)
class _MuxRoute:
    pattern: str
    handler: Handler


class EventDispatcher:
    """Maps event types to handlers and derives the queue bindings from them.

    >>> events = EventDispatcher()
    >>> @events.on(StreamStarted)
    ... async def started(env: Envelope[StreamStarted]) -> None: ...
    >>> @events.on_mux("video.live_stream.active", "video.asset.*")
    ... async def mux(env: Envelope[MuxWebhookReceived]) -> None: ...
    """

    def __init__(self) -> None:
        self._by_type: dict[str, Handler] = {}
        self._mux: list[_MuxRoute] = []
        self._bindings: list[Binding] = []

    def on(self, *events: type[Event]) -> Callable[[H], H]:
        """Handle every version of these events (from ``live.events``)."""

        def deco(fn: H) -> H:
            for cls in events:
                if cls.TYPE in self._by_type:
                    raise ValueError(f"two handlers for {cls.TYPE}")
                self._by_type[cls.TYPE] = fn
                self._bindings.append(Binding(LIVE, f"{cls.TYPE}.*"))
            return fn

        return deco

    def on_mux(self, *mux_types: str) -> Callable[[H], H]:
        """Handle Mux webhooks whose type matches one of these (``*`` matches one word)."""

        def deco(fn: H) -> H:
            for pattern in mux_types:
                self._mux.append(_MuxRoute(pattern, fn))
                self._bindings.append(Binding(MUX, pattern))
            return fn

        return deco

    @property
    def bindings(self) -> tuple[Binding, ...]:
        """Queue bindings that deliver exactly the registered events."""
        return tuple(dict.fromkeys(self._bindings))

    def handler_for(self, envelope: Envelope[Event]) -> Handler | None:
        """The handler of this envelope, or ``None`` when nothing here handles it."""
        payload = envelope.payload
        if isinstance(payload, MuxWebhookReceived):
            for route in self._mux:
                if _topic_match(route.pattern, payload.type):
                    return route.handler
            return None
        return self._by_type.get(envelope.event_type)

    async def dispatch(self, envelope: Envelope[Event]) -> bool:
        """Run the handler of ``envelope``; ``False`` when none is registered."""
        handler = self.handler_for(envelope)
        if handler is None:
            return False
        await handler(envelope)
        return True


def _topic_match(pattern: str, key: str) -> bool:
    """AMQP topic matching for ``*`` (one word); ``#`` (zero or more words) is also accepted."""
    if "#" in pattern:
        return fnmatch.fnmatchcase(key, pattern.replace("#", "*"))
    p_words, k_words = pattern.split("."), key.split(".")
    return len(p_words) == len(k_words) and all(
        p in ("*", k) for p, k in zip(p_words, k_words, strict=True)
    )


def _delivery_count(value: object) -> int:
    """``x-delivery-count`` as an int (quorum queues set it on redelivery)."""
    return value if isinstance(value, int) else 0


def retry_delay(delivery_count: int, *, base: float = 0.2, cap: float = 5.0) -> float:
    """Backoff before requeueing a message that failed ``delivery_count`` times already."""
    return float(min(cap, base * (2 ** max(0, delivery_count))))


def attach_consumer(
    broker: RabbitBroker,
    queue: str,
    dispatcher: EventDispatcher,
    *,
    consumer: str,
    processed: ProcessedEvents | None = None,
    exclusive: bool = False,
    retry_base_s: float = 0.2,
    label: str | None = None,
    delivery_limit: int | None = None,
) -> QueueSpec:
    """Subscribe ``dispatcher`` to ``queue`` on ``broker`` and return the queue's spec for
    :func:`~servicekit.broker.declare_topology`. ``consumer`` names this consumer in the
    processed-events store (one service may run several consumers).

    ``label``: the queue's name in metrics (default ``queue``; a per-instance queue passes a
    name without the instance, so label values stay bounded). ``delivery_limit``: the queue's
    ``x-delivery-limit``, to count a failure on the last allowed delivery as dead-lettered.
    """
    metric_queue = label or queue

    async def handle(msg: RabbitMessage) -> None:
        raw = msg.raw_message
        body = raw.body
        headers = raw.headers or {}
        cid = headers.get(AMQP_CORRELATION_HEADER) or raw.correlation_id
        set_correlation_id(str(cid) if cid else None)
        tracing.set_attributes(**{"messaging.destination.subscription.name": queue})
        try:
            envelope = parse_envelope(body)
        except (ValidationError, UnknownEventError, ValueError) as exc:
            log.warning(
                "dead-lettering a message that is not a valid envelope",
                extra={"queue": queue, "error": str(exc)[:500], "message_id": raw.message_id},
            )
            CONSUMED.labels(metric_queue, "invalid", "invalid").inc()
            if not exclusive:
                DEAD_LETTERED.labels(metric_queue, "invalid").inc()
            await msg.reject(requeue=False)
            return
        etype = envelope.event_type
        if dispatcher.handler_for(envelope) is None:
            CONSUMED.labels(metric_queue, etype, "ignored").inc()
            await msg.ack()
            return
        try:
            if processed is None:
                await dispatcher.dispatch(envelope)
                ran = True
            else:
                ran = await processed.run_once(
                    consumer, envelope.event_id, lambda: dispatcher.dispatch(envelope)
                )
        except EventInProgress:
            count = _delivery_count(headers.get("x-delivery-count"))
            CONSUMED.labels(metric_queue, etype, "in_progress").inc()
            await asyncio.sleep(retry_delay(count, base=retry_base_s * 5))
            await msg.nack(requeue=True)
            return
        except Exception:
            count = _delivery_count(headers.get("x-delivery-count"))
            log.exception(
                "event handler failed; requeueing",
                extra={
                    "queue": queue,
                    "event_type": etype,
                    "event_id": str(envelope.event_id),
                    "delivery_count": count,
                },
            )
            CONSUMED.labels(metric_queue, etype, "failed").inc()
            if delivery_limit is not None and not exclusive and count >= delivery_limit:
                DEAD_LETTERED.labels(metric_queue, "delivery_limit").inc()
            await asyncio.sleep(retry_delay(count, base=retry_base_s))
            await msg.nack(requeue=True)
            return
        CONSUMED.labels(metric_queue, etype, "handled" if ran else "duplicate").inc()
        await msg.ack()

    rabbit_queue = (
        RabbitQueue(queue, durable=False, exclusive=True, auto_delete=True)
        if exclusive
        else RabbitQueue(queue, declare=False)
    )
    broker.subscriber(rabbit_queue, ack_policy=AckPolicy.MANUAL, no_reply=True)(handle)
    return QueueSpec(name=queue, bindings=dispatcher.bindings, exclusive=exclusive)


def bindings_of(dispatchers: Sequence[EventDispatcher]) -> tuple[Binding, ...]:
    """The union of the bindings of several dispatchers."""
    return tuple(dict.fromkeys(b for d in dispatchers for b in d.bindings))
