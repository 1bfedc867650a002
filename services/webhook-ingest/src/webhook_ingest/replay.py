"""Operator command: publish stored Mux events again (same event ids; consumers dedupe).

python -m webhook_ingest replay --id EVENT_ID [--id ...]
python -m webhook_ingest replay --since 2026-11-24T10:00:00Z [--until ...]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

from contracts import parse_envelope
from servicekit.broker import MUX
from servicekit.runtime import open_infra
from webhook_ingest.adapters.mongo import COLLECTION, INDEXES, MongoInbox
from webhook_ingest.settings import Settings


def _when(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone (e.g. 2026-11-24T10:00:00Z)")
    return parsed


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m webhook_ingest replay", description=__doc__)
    parser.add_argument("--id", action="append", dest="ids", default=[])
    parser.add_argument("--since", type=_when)
    parser.add_argument("--until", type=_when)
    args = parser.parse_args(argv)
    if not (args.ids or args.since or args.until):
        parser.error("give --id, or a time range with --since/--until")
    return args


async def replay(settings: Settings, args: argparse.Namespace) -> int:
    infra = await open_infra(settings, indexes=INDEXES)
    try:
        docs = await MongoInbox(infra.db[COLLECTION]).find(
            ids=args.ids or None, since=args.since, until=args.until
        )
        for doc in docs:
            await infra.publisher.publish(
                parse_envelope(doc["envelope"]), exchange=MUX, routing_key=doc["type"]
            )
        return len(docs)
    finally:
        await infra.close()


def main(settings: Settings, argv: list[str]) -> int:
    count = asyncio.run(replay(settings, parse_args(argv)))
    sys.stdout.write(f"replayed {count} event(s)\n")
    return 0
