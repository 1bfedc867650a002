"""Announce every live follow once more (``follow.created``
with its current version), for consumers that started keeping a projection of follows after
those follows were made: chat-gateway's followers-only chat, first of all, whose ``chat_follows``
otherwise knows only follows made since ``follow.*`` was introduced.

Safe to run at any time and more than once: the event id derives from (pair, version), so a
consumer that has it already dedupes it, and a projection keeping the newest version ignores an
equal one. A follow that changes while the backfill runs is skipped (its change announced
itself). Events are staged in the follow documents (outbox) and published by the running
notifier instances' relays.

Every notifier runs it once at start-up until one run has completed (``backfill_once``: a
marker in ``notifier_migrations``), so a deployment needs no manual step;
``python -m notifier.backfill`` runs it again by hand.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from notifier.adapters.mongo import MongoFollows
from notifier.handlers import announce_follow
from notifier.settings import Settings
from servicekit.logs import configure_logging
from servicekit.mongo import Doc, from_ms, make_mongo_client, to_ms
from servicekit.settings import load_settings

log = logging.getLogger(__name__)


async def announce_live_follows(db: AsyncDatabase[Doc], *, page: int = 500) -> int:
    """Stage ``follow.created`` on every live follow; returns how many were staged."""
    follows, after, staged = MongoFollows(db), "", 0
    while docs := await follows.live_after(after, page):
        for doc in docs:
            since = from_ms(doc["since_ms"]) if "since_ms" in doc else doc["since"]
            announce = announce_follow(doc["follower_id"], doc["followee_id"], since)
            staged += await follows.announce_again(doc, announce(int(doc["version"])))
        after = docs[-1]["_id"]
    return staged


#: the collection of notifier's one-time start-up tasks, one document each
MIGRATIONS = "notifier_migrations"
FOLLOW_EVENTS_BACKFILL = "follow_events_backfill"


async def backfill_once(db: AsyncDatabase[Doc]) -> int | None:
    """Run ``announce_live_follows`` unless a run has completed before; ``None`` when one had,
    else how many follows this run announced. Replicas starting together may each run it
    (harmless: the same event ids); a run cut short is run again at the next start."""
    marks = db[MIGRATIONS]
    done = await marks.find_one({"_id": FOLLOW_EVENTS_BACKFILL})
    if done is not None:
        return None
    staged = await announce_live_follows(db)
    await marks.update_one(
        {"_id": FOLLOW_EVENTS_BACKFILL},
        {"$set": {"staged": staged, "at_ms": to_ms(datetime.now(UTC))}},
        upsert=True,
    )
    return staged


async def _main(settings: Settings) -> int:
    client = make_mongo_client(settings.mongodb_url, app_name="notifier-backfill")
    try:
        return await announce_live_follows(client[settings.database_name])
    finally:
        await client.close()


def main() -> None:
    settings = load_settings(Settings)
    configure_logging(settings.service_name, settings.log_level, json=settings.log_json)
    staged = asyncio.run(_main(settings))
    log.info("staged follow.created for %d live follows", staged)


if __name__ == "__main__":
    main()
