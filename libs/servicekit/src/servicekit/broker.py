"""RabbitMQ through FastStream: broker factory, topology, confirmed persistent publishing.

Topology (see :mod:`contracts.routing`): two durable topic exchanges, one durable quorum queue
per consuming service with its bindings, a delivery limit, and at-least-once dead-lettering to
``<queue>.dlq`` through a direct dead-letter exchange.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)

from contracts.envelope import Envelope, Event
from contracts.routing import Names
from servicekit import tracing
from servicekit.logs import AMQP_CORRELATION_HEADER, correlation_id

__all__ = [
    "Binding",
    "EventPublisher",
    "QueueSpec",
    "RabbitEventPublisher",
    "declare_topology",
    "make_broker",
]

MUX = "mux"
LIVE = "live"


@dataclass(frozen=True, slots=True)
class Binding:
    """Bind a queue to ``exchange`` (``"mux"`` or ``"live"``) with a routing pattern."""

    exchange: str
    key: str


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A durable quorum queue owned by a service, with its bindings.

    ``name`` is the full (namespaced) queue name; ``exclusive`` queues (a chat-gateway replica's
    own fan-out queue) are classic, auto-deleted, and have no dead-letter queue.
    """

    name: str
    bindings: Sequence[Binding] = field(default_factory=tuple)
    exclusive: bool = False


def make_broker(
    url: str,
    *,
    app_id: str,
    prefetch: int = 32,
    graceful_timeout: float = 10.0,
    **kwargs: Any,
) -> RabbitBroker:
    """A FastStream RabbitMQ broker: robust connection (reconnects by itself), publisher confirms
    on, consumer prefetch bounded. ``fail_fast=False`` lets a service start while the broker is
    down; ``/readyz`` reports it until it is back. With tracing on, FastStream's telemetry
    middleware carries the trace context in the message headers."""
    kwargs.setdefault("log_level", logging.DEBUG)  # per-message access logs only at DEBUG
    kwargs["middlewares"] = (*kwargs.get("middlewares", ()), *tracing.broker_middlewares())
    return RabbitBroker(
        url,
        app_id=app_id,
        default_channel=Channel(prefetch_count=prefetch, publisher_confirms=True),
        graceful_timeout=graceful_timeout,
        reconnect_interval=1.0,
        **kwargs,
    )


def exchange_name(names: Names, exchange: str) -> str:
    """The namespaced exchange name for ``"mux"`` or ``"live"``."""
    if exchange == MUX:
        return names.mux_webhooks
    if exchange == LIVE:
        return names.live_events
    raise ValueError(f"unknown exchange {exchange!r}: use 'mux' or 'live'")


def topic_exchange(name: str) -> RabbitExchange:
    return RabbitExchange(name, type=ExchangeType.TOPIC, durable=True)


def quorum_queue(names: Names, queue: str, delivery_limit: int) -> RabbitQueue:
    """The durable quorum queue ``queue`` with its delivery limit and dead-lettering."""
    return RabbitQueue(
        queue,
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments={
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": names.dead_letter,
            "x-dead-letter-routing-key": queue,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )


def exclusive_queue(queue: str) -> RabbitQueue:
    return RabbitQueue(queue, durable=False, exclusive=True, auto_delete=True)


async def declare_topology(
    broker: RabbitBroker, names: Names, queues: Sequence[QueueSpec], *, delivery_limit: int
) -> None:
    """Declare exchanges, queues, dead-letter queues and bindings (idempotent).

    Call after ``broker.connect()`` and before ``broker.start()``.
    """
    exchanges = {
        MUX: await broker.declare_exchange(topic_exchange(names.mux_webhooks)),
        LIVE: await broker.declare_exchange(topic_exchange(names.live_events)),
    }
    dlx = await broker.declare_exchange(RabbitExchange(names.dead_letter, type=ExchangeType.DIRECT))
    for spec in queues:
        if spec.exclusive:
            queue = await broker.declare_queue(exclusive_queue(spec.name))
        else:
            dlq = await broker.declare_queue(
                RabbitQueue(names.dlq(spec.name), queue_type=QueueType.QUORUM, durable=True)
            )
            await dlq.bind(dlx, routing_key=spec.name)
            queue = await broker.declare_queue(quorum_queue(names, spec.name, delivery_limit))
        for binding in spec.bindings:
            await queue.bind(exchanges[binding.exchange], routing_key=binding.key)


class EventPublisher(Protocol):
    """Port: publish an envelope on the broker (at least once, confirmed)."""

    async def publish(
        self, envelope: Envelope[Event], *, exchange: str = LIVE, routing_key: str | None = None
    ) -> None: ...


def envelope_routing_key(envelope: Envelope[Event]) -> str:
    """The routing key an envelope is published with on ``live.events``."""
    return envelope.payload.routing_key()


#: The routing key of :meth:`RabbitEventPublisher.probe` on the default exchange: the name of no
#: queue (queues the application declares are named by :class:`contracts.routing.Names`).
PROBE_ROUTING_KEY = "livecast.publish-probe.unroutable"


class RabbitEventPublisher:
    """Publishes envelopes as persistent JSON messages and waits for the broker's confirm.

    ``message_id`` is the event id (consumers dedupe on it); the correlation id travels both as
    the AMQP ``correlation_id`` and in the ``x-correlation-id`` header.
    """

    def __init__(self, broker: RabbitBroker, names: Names, *, timeout: float = 10.0) -> None:
        self._broker = broker
        self._names = names
        self._timeout = timeout
        self._exchanges = {
            MUX: RabbitExchange(names.mux_webhooks, type=ExchangeType.TOPIC, declare=False),
            LIVE: RabbitExchange(names.live_events, type=ExchangeType.TOPIC, declare=False),
        }

    async def probe(self, timeout: float = 2.0) -> bool:
        """A confirmed publish that reaches no consumer: an empty message to the default exchange
        with a routing key no queue has. RabbitMQ confirms an unroutable message once it has
        handled it (https://www.rabbitmq.com/docs/confirms#when-publishes-are-confirmed), so
        this proves the channel and its confirms, not only the socket (``broker.ping`` only
        checks that the connection is marked open). ``True`` once confirmed within ``timeout``
        seconds; raises what the publish raises (connection lost, ``TimeoutError``)."""
        await self._broker.publish(
            b"", queue=PROBE_ROUTING_KEY, mandatory=False, persist=False, timeout=timeout
        )
        return True

    async def publish(
        self, envelope: Envelope[Event], *, exchange: str = LIVE, routing_key: str | None = None
    ) -> None:
        cid = envelope.correlation_id or correlation_id()
        headers: dict[str, Any] = {"x-event-type": envelope.event_type}
        if cid:
            headers[AMQP_CORRELATION_HEADER] = cid
        await self._broker.publish(
            envelope.model_dump_json().encode(),
            exchange=self._exchanges[exchange],
            routing_key=routing_key or envelope_routing_key(envelope),
            mandatory=False,
            persist=True,
            timeout=self._timeout,
            correlation_id=cid,
            headers=headers,
            content_type="application/json",
            message_id=str(envelope.event_id),
            message_type=envelope.event_type,
            timestamp=envelope.occurred_at,
        )
