"""Operator tool for dead-letter queues: ``python -m servicekit.dlq``.

``list``: every ``*.dlq`` of the namespace with its message count (declared passively).
``peek QUEUE [-n N]``: show up to N dead-lettered messages (left in place).
``requeue QUEUE [-n N]``: move up to N messages back to the queue they died in (``x-death``
headers dropped, so they get a fresh delivery limit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import aio_pika

from contracts.routing import Names

KNOWN_SERVICES = ("stream-svc", "viewer-svc", "chat-gateway", "webhook-ingest", "notifier")


async def _dlq_counts(url: str, names: Names) -> dict[str, int]:
    conn = await aio_pika.connect(url)
    counts: dict[str, int] = {}
    try:
        for service in KNOWN_SERVICES:
            channel = await conn.channel()
            name = names.dlq(names.queue(service))
            try:
                q = await channel.declare_queue(name, passive=True)
                counts[name] = q.declaration_result.message_count or 0
            except aio_pika.exceptions.ChannelClosed:
                continue
    finally:
        await conn.close()
    return counts


async def peek(url: str, queue: str, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` messages of ``queue``, returned to the queue afterwards."""
    conn = await aio_pika.connect(url)
    out: list[dict[str, Any]] = []
    try:
        channel = await conn.channel()
        q = await channel.declare_queue(queue, passive=True)
        held = []
        for _ in range(limit):
            msg = await q.get(no_ack=False, fail=False)
            if msg is None:
                break
            held.append(msg)
            death = (msg.headers or {}).get("x-death") or [{}]
            first: Any = death[0] if isinstance(death, list) and death else {}
            out.append(
                {
                    "message_id": msg.message_id,
                    "type": msg.type,
                    "routing_key": msg.routing_key,
                    "reason": first.get("reason") if isinstance(first, dict) else None,
                    "body": msg.body[:500].decode("utf-8", "replace"),
                }
            )
        for msg in held:
            await msg.nack(requeue=True)
    finally:
        await conn.close()
    return out


async def requeue(url: str, queue: str, limit: int) -> int:
    """Move up to ``limit`` messages from the DLQ ``queue`` back to their source queue."""
    if not queue.endswith(".dlq"):
        raise SystemExit(f"{queue} is not a dead-letter queue (*.dlq)")
    target = queue.removesuffix(".dlq")
    conn = await aio_pika.connect(url)
    moved = 0
    try:
        channel = await conn.channel(publisher_confirms=True)
        q = await channel.declare_queue(queue, passive=True)
        for _ in range(limit):
            msg = await q.get(no_ack=False, fail=False)
            if msg is None:
                break
            headers = {k: v for k, v in (msg.headers or {}).items() if not k.startswith("x-")}
            headers.update(
                {k: v for k, v in (msg.headers or {}).items() if k == "x-correlation-id"}
            )
            await channel.default_exchange.publish(
                aio_pika.Message(
                    msg.body,
                    headers=headers,
                    content_type=msg.content_type,
                    message_id=msg.message_id,
                    correlation_id=msg.correlation_id,
                    type=msg.type,
                    timestamp=msg.timestamp,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=target,
            )
            await msg.ack()
            moved += 1
    finally:
        await conn.close()
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servicekit.dlq", description=__doc__)
    parser.add_argument(
        "--url", default=os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    )
    parser.add_argument("--namespace", default=os.environ.get("LIVECAST_NAMESPACE", ""))
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list")
    for cmd in ("peek", "requeue"):
        p = sub.add_parser(cmd)
        p.add_argument("queue")
        p.add_argument("-n", type=int, default=100)
    args = parser.parse_args(argv)
    if args.cmd == "list":
        result: Any = asyncio.run(_dlq_counts(args.url, Names(args.namespace)))
    elif args.cmd == "peek":
        result = asyncio.run(peek(args.url, args.queue, args.n))
    else:
        result = {"requeued": asyncio.run(requeue(args.url, args.queue, args.n))}
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
