"""The kit's MongoDB writes with neighbours present: consumer claims, outbox clears, batched
inserts and conditional writes touch exactly the documents they name."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope, Event, make_envelope
from contracts.viewer import ViewerJoined
from servicekit.broker import LIVE
from servicekit.idempotency import EventInProgress, MongoProcessedEvents
from servicekit.mongo import BatchInserter, to_ms
from servicekit.outbox import OUTBOX_COUNT, OutboxRelay, stage_insert
from servicekit.writes import write_if_newer
from testkit.neighbours import snapshot, touched

pytestmark = pytest.mark.integration

Db = AsyncDatabase[dict[str, Any]]
CONSUMERS = [f"c{i:02d}" for i in range(20)]


def joined(stream_id: str) -> Envelope[Event]:
    payload = ViewerJoined(stream_id=stream_id, account_id="a", joined_at=datetime.now(UTC))
    return make_envelope(payload, producer="test")


class Recorder:
    def __init__(self) -> None:
        self.sent: list[uuid.UUID] = []

    async def publish(
        self, envelope: Envelope[Event], *, exchange: str = LIVE, routing_key: str | None = None
    ) -> None:
        self.sent.append(envelope.event_id)


async def noop() -> None:
    return None


async def test_claims_of_one_event_leave_other_consumers_and_events_alone(mongo_db: Db) -> None:
    """20 consumers have processed, hold or abandoned the same and other events."""
    col = mongo_db["processed_events"]
    event, other = uuid.uuid4(), uuid.uuid4()
    held = MongoProcessedEvents(col, lease_s=60.0)
    now = datetime.now(UTC)
    for i, consumer in enumerate(CONSUMERS):
        if i % 3 == 0:
            assert await held.run_once(consumer, other, noop)
        lease = now + timedelta(seconds=60 if i % 2 else -60)  # held, or its claimant died
        await col.insert_one(
            {
                "_id": f"{consumer}:{event}",
                "state": "running",
                "lease_until_ms": to_ms(lease),
                "at": now,
            }
        )

    before = await snapshot(mongo_db)
    assert await held.run_once("c00", event, noop)  # c00's claim expired: taken over, done
    with pytest.raises(EventInProgress):
        await held.run_once("c01", event, noop)  # c01's claim is held
    assert not await held.run_once("c03", other, noop)  # done before
    after = await snapshot(mongo_db)
    assert touched(before, after) == {("processed_events", f"c00:{event}")}
    assert after[("processed_events", f"c00:{event}")]["state"] == "done"


async def test_the_relay_clears_only_what_it_published(mongo_db: Db) -> None:
    col = mongo_db["aggregates"]
    staged = {f"s{i:02d}": [joined(f"s{i:02d}") for _ in range(i % 3)] for i in range(20)}
    for doc_id, envelopes in staged.items():
        await col.insert_one({"_id": doc_id, "v": 1, **stage_insert(envelopes)})
    publisher = Recorder()
    relay = OutboxRelay([col], publisher)
    relay.kick("aggregates", "s05")
    before = await snapshot(mongo_db)
    assert await relay.publish_kicked() == 2
    after = await snapshot(mongo_db)
    assert touched(before, after) == {("aggregates", "s05")}
    assert after[("aggregates", "s05")][OUTBOX_COUNT] == 0
    assert publisher.sent == [e.event_id for e in staged["s05"]]
    assert await relay.publish_pending() == sum(len(v) for v in staged.values()) - 2
    assert await col.count_documents({OUTBOX_COUNT: {"$gt": 0}}) == 0
    assert {d["v"] async for d in col.find({})} == {1}


async def test_batched_inserts_keep_existing_documents(mongo_db: Db) -> None:
    col = mongo_db["inbox"]
    await col.insert_many([{"_id": f"e{i:02d}", "v": "old"} for i in range(0, 20, 2)])
    inserter = BatchInserter(col)
    before = await snapshot(mongo_db)
    results = [await inserter.insert({"_id": f"e{i:02d}", "v": "new"}) for i in range(5)]
    assert results == [False, True, False, True, False]
    after = await snapshot(mongo_db)
    assert touched(before, after) == {("inbox", "e01"), ("inbox", "e03")}
    assert after[("inbox", "e02")]["v"] == "old"


async def test_write_if_newer_on_one_key_among_20(mongo_db: Db) -> None:
    col = mongo_db["views"]
    clocks = {"rank": -1, "a_ms": 0, "b_ms": 0}
    for i in range(20):
        await write_if_newer(
            col, f"s{i:02d}", clock="a_ms", stamp=100 + i, values={"x": i}, created_with=clocks
        )
    before = await snapshot(mongo_db)
    assert await write_if_newer(col, "s07", clock="b_ms", stamp=5, values={"y": 1})
    assert not await write_if_newer(col, "s08", clock="a_ms", stamp=108, values={"x": -1})
    assert await write_if_newer(col, "s09", clock="rank", stamp=0, values={"status": "idle"})
    after = await snapshot(mongo_db)
    assert touched(before, after) == {("views", "s07"), ("views", "s09")}
    assert after[("views", "s07")] == {
        "_id": "s07",
        "x": 7,
        "y": 1,
        "a_ms": 107,
        "b_ms": 5,
        "rank": -1,
    }
    assert after[("views", "s09")]["status"] == "idle"
