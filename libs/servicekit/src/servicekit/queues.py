"""Consumer lag: how many messages wait in each of this service's queues and dead-letter queues.

RabbitMQ reports a queue's ready messages and consumers to a passive declare; a sampler per
service instance asks for its own durable queues every ``interval_s`` on a connection of its
own (a passive declare of a missing queue closes the channel it ran on, never the service's).
Exclusive per-instance queues are not sampled: another connection may not declare them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from prometheus_client import Gauge

from servicekit.tasks import cancel_and_wait

__all__ = ["DLQ_MESSAGES", "QUEUE_CONSUMERS", "QUEUE_MESSAGES", "QueueDepthSampler", "Sampled"]

log = logging.getLogger(__name__)

QUEUE_MESSAGES = Gauge(
    "livecast_queue_messages",
    "Messages ready in a service's queue, not yet delivered (the consumer lag; sampled)",
    ["queue"],
)
QUEUE_CONSUMERS = Gauge(
    "livecast_queue_consumers", "Consumers attached to a service's queue (sampled)", ["queue"]
)
DLQ_MESSAGES = Gauge(
    "livecast_dead_letter_queue_messages",
    "Messages in a queue's dead-letter queue, waiting for an operator (sampled)",
    ["queue"],
)


@dataclass(frozen=True, slots=True)
class Sampled:
    """One queue to sample: its full name, its dead-letter queue's, and its metric label."""

    name: str
    dlq: str
    label: str


class QueueDepthSampler:
    """Sets :data:`QUEUE_MESSAGES`, :data:`QUEUE_CONSUMERS` and :data:`DLQ_MESSAGES` for
    ``queues`` every ``interval_s`` until stopped."""

    def __init__(self, url: str, queues: Sequence[Sampled], *, interval_s: float = 10.0) -> None:
        self._url = url
        self._queues = list(queues)
        self._interval_s = interval_s
        self._conn: AbstractRobustConnection | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._queues and self._task is None:
            self._task = asyncio.create_task(self._run(), name="queue-depth-sampler")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        self._task = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def _run(self) -> None:
        while True:
            try:
                await self.sample()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("queue depth not sampled: %s", repr(exc)[:200])
            await asyncio.sleep(self._interval_s)

    async def _depth(self, conn: AbstractRobustConnection, name: str) -> tuple[int, int] | None:
        channel = await conn.channel()
        try:
            queue = await channel.declare_queue(name, passive=True)
            result = queue.declaration_result
            return result.message_count or 0, result.consumer_count or 0
        except aio_pika.exceptions.ChannelClosed:
            return None  # not declared (yet)
        finally:
            if not channel.is_closed:
                await channel.close()

    async def sample(self) -> dict[str, tuple[int, int, int]]:
        """Sample once: ``{label: (ready, consumers, dead_lettered)}`` of the queues that exist."""
        if self._conn is None:
            self._conn = await aio_pika.connect_robust(self._url)
        conn = self._conn
        out: dict[str, tuple[int, int, int]] = {}
        for q in self._queues:
            depth = await self._depth(conn, q.name)
            if depth is None:
                continue
            dead = await self._depth(conn, q.dlq)
            out[q.label] = (*depth, dead[0] if dead else 0)
            QUEUE_MESSAGES.labels(q.label).set(depth[0])
            QUEUE_CONSUMERS.labels(q.label).set(depth[1])
            DLQ_MESSAGES.labels(q.label).set(dead[0] if dead else 0)
        return out
