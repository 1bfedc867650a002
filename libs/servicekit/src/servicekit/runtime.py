"""The shared part of every service's composition root: MongoDB, broker, topology, relay.

A service's ``bootstrap.build_deps`` calls :func:`open_infra` with what it owns (indexes, the
collections that stage outbox events, its consumers) and gets an :class:`Infra` back; its
lifespan closes it. Nothing connects at import time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from faststream.rabbit import RabbitBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from contracts.routing import Names
from servicekit import tracing
from servicekit.broker import QueueSpec, RabbitEventPublisher, declare_topology, make_broker
from servicekit.consumer import EventDispatcher, attach_consumer
from servicekit.health import Readiness, broker_check, mongo_check
from servicekit.idempotency import COLLECTION as PROCESSED
from servicekit.idempotency import MongoProcessedEvents, processed_events_indexes
from servicekit.mongo import Doc, FieldDefault, IndexSpec, ensure_indexes, make_mongo_client
from servicekit.outbox import OutboxRelay, outbox_indexes
from servicekit.queues import QueueDepthSampler, Sampled
from servicekit.settings import ServiceSettings

__all__ = ["ConsumerSpec", "Infra", "open_infra"]

log = logging.getLogger(__name__)

#: Longer than the broker's graceful timeout (in-flight handlers finish first).
BROKER_STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """A queue this service consumes, and the dispatcher that handles it.

    ``queue_suffix`` gives the queue a name beyond the service's own (``None``: the service's
    queue). ``exclusive``: a per-instance, auto-deleted queue (chat-gateway fan-out).
    """

    dispatcher: EventDispatcher
    queue_suffix: str | None = None
    exclusive: bool = False
    idempotent: bool = True


@dataclass
class Infra:
    """Connected clients of one service instance."""

    settings: ServiceSettings
    names: Names
    mongo: AsyncMongoClient[Doc]
    db: AsyncDatabase[Doc]
    broker: RabbitBroker
    publisher: RabbitEventPublisher
    processed: MongoProcessedEvents
    relay: OutboxRelay
    queues: list[QueueSpec] = field(default_factory=list)
    sampler: QueueDepthSampler | None = None

    def readiness(self) -> Readiness:
        """``/readyz`` checks: MongoDB and the broker."""
        ready = Readiness()
        ready.add("mongodb", mongo_check(self.mongo))
        ready.add("rabbitmq", broker_check(self.broker))
        return ready

    async def close(self) -> None:
        if self.sampler is not None:
            await self.sampler.stop()
        await self.relay.stop()
        try:
            await asyncio.wait_for(self.broker.stop(), BROKER_STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("the broker did not stop in time; dropping its connection")
        await self.mongo.close()


def _retrying(timeout_s: float) -> AsyncRetrying:
    return AsyncRetrying(
        stop=stop_after_delay(timeout_s),
        wait=wait_exponential(multiplier=0.2, max=5),
        retry=retry_if_exception_type(Exception),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )


async def open_infra(
    settings: ServiceSettings,
    *,
    indexes: Sequence[IndexSpec | FieldDefault] = (),
    outbox_collections: Sequence[str] = (),
    insert_only_outbox: Sequence[str] = (),
    consumers: Sequence[ConsumerSpec] = (),
    instance_id: str | None = None,
    startup_timeout_s: float = 120.0,
    start_consuming: bool = True,
) -> Infra:
    """Connect MongoDB and RabbitMQ, declare indexes and topology, start consumers and relay.

    Waits (with backoff, up to ``startup_timeout_s``) for MongoDB and the broker to be reachable.
    Switches tracing on when the environment asks for it (:mod:`servicekit.tracing`).
    ``insert_only_outbox``: those of ``outbox_collections`` whose documents stage events only
    when inserted (see :class:`~servicekit.outbox.OutboxRelay`).
    """
    tracing.configure_from_env(settings.service_name)
    names = Names(settings.namespace)
    mongo = make_mongo_client(
        settings.mongodb_url,
        app_name=settings.service_name,
        operation_timeout_ms=settings.mongodb_timeout_ms,
    )
    db = mongo[settings.database_name]
    all_indexes: list[IndexSpec | FieldDefault] = [
        *indexes,
        *processed_events_indexes(settings.processed_events_ttl_s),
        *outbox_indexes(outbox_collections),
    ]
    async for attempt in _retrying(startup_timeout_s):
        with attempt:
            await ensure_indexes(db, all_indexes)

    broker = make_broker(
        settings.rabbitmq_url, app_id=settings.service_name, prefetch=settings.amqp_prefetch
    )
    processed = MongoProcessedEvents(db[PROCESSED])
    queues: list[QueueSpec] = []
    sampled: list[Sampled] = []
    for spec in consumers:
        suffix = spec.queue_suffix
        label = names.queue(settings.service_name, suffix).removeprefix(settings.namespace)
        if spec.exclusive:
            suffix = f"{suffix or 'instance'}.{instance_id or 'local'}"
        queue = names.queue(settings.service_name, suffix)
        queues.append(
            attach_consumer(
                broker,
                queue,
                spec.dispatcher,
                consumer=queue.removeprefix(settings.namespace),
                processed=processed if spec.idempotent else None,
                exclusive=spec.exclusive,
                label=label,
                delivery_limit=settings.amqp_delivery_limit,
            )
        )
        if not spec.exclusive:
            sampled.append(Sampled(queue, names.dlq(queue), label))
    async for attempt in _retrying(startup_timeout_s):
        with attempt:
            await broker.connect()
    await declare_topology(broker, names, queues, delivery_limit=settings.amqp_delivery_limit)
    if start_consuming:
        await broker.start()
    publisher = RabbitEventPublisher(broker, names)
    relay = OutboxRelay(
        [db[name] for name in outbox_collections],
        publisher,
        poll_s=settings.outbox_poll_s,
        sample_s=settings.metrics_sample_s,
        insert_only=insert_only_outbox,
        probe=publisher.probe,
    )
    await relay.start()
    sampler = QueueDepthSampler(
        settings.rabbitmq_url, sampled, interval_s=settings.metrics_sample_s
    )
    sampler.start()
    return Infra(
        settings=settings,
        names=names,
        mongo=mongo,
        db=db,
        broker=broker,
        publisher=publisher,
        processed=processed,
        relay=relay,
        queues=queues,
        sampler=sampler,
    )
