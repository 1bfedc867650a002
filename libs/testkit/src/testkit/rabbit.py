"""Broker helpers for tests: delete what a test namespace declared."""

from __future__ import annotations

import contextlib

import aio_pika

from contracts.routing import Names

SERVICES = ("stream-svc", "viewer-svc", "chat-gateway", "webhook-ingest", "notifier", "kit-test")


async def delete_namespace(url: str, names: Names, extra_queues: tuple[str, ...] = ()) -> None:
    """Delete the service queues, DLQs and exchanges a test declared under ``names``.

    Quorum queues refuse RabbitMQ's default delete flags, so ``if_unused`` and ``if_empty``
    are passed as ``False``. Deleting a queue or exchange that does not exist is a no-op.
    """
    conn = await aio_pika.connect(url)
    try:
        channel = await conn.channel()
        queues = [names.queue(s) for s in SERVICES] + list(extra_queues)
        for queue in queues:
            for name in (queue, names.dlq(queue)):
                with contextlib.suppress(Exception):
                    await channel.queue_delete(name, if_unused=False, if_empty=False)
        for exchange in (names.mux_webhooks, names.live_events, names.dead_letter):
            with contextlib.suppress(Exception):
                await channel.exchange_delete(exchange)
    finally:
        await conn.close()
