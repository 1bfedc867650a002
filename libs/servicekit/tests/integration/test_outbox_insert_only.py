"""The relay on an insert-only collection (an inbox): a group handed over by the group commit is
published without being read back and cleared with one write, neighbours untouched."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope, Event, make_envelope
from contracts.viewer import ViewerJoined
from servicekit.broker import LIVE
from servicekit.memory import RecordingPublisher
from servicekit.mongo import BatchInserter, Doc
from servicekit.outbox import OUTBOX_COUNT, OUTBOX_FIELD, OutboxRelay, stage_insert
from testkit.neighbours import snapshot, touched

pytestmark = pytest.mark.integration

Db = AsyncDatabase[dict[str, Any]]


def joined(stream_id: str) -> Envelope[Event]:
    payload = ViewerJoined(stream_id=stream_id, account_id="a", joined_at=datetime.now(UTC))
    return make_envelope(payload, producer="test")


class Recorder:
    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list[uuid.UUID] = []
        self.fail_after = fail_after

    async def publish(
        self, envelope: Envelope[Event], *, exchange: str = LIVE, routing_key: str | None = None
    ) -> None:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise ConnectionError("broker gone")
        self.sent.append(envelope.event_id)


class CountingFinds:
    """The collection, counting ``find`` calls (the read-back the hand-over avoids)."""

    def __init__(self, col: Any) -> None:
        self._col = col
        self.finds = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._col, name)

    def find(self, *args: Any, **kwargs: Any) -> Any:
        self.finds += 1
        return self._col.find(*args, **kwargs)


async def test_a_handed_over_group_is_published_without_a_read_and_cleared(
    mongo_db: Db,
) -> None:
    col = mongo_db["inbox"]
    await col.insert_many([{"_id": f"old{i}", **stage_insert([joined("x")])} for i in range(5)])
    counting = CountingFinds(col)
    publisher = Recorder()
    relay = OutboxRelay([counting], publisher, insert_only=["inbox"])  # type: ignore[list-item]
    inserter = BatchInserter(col, on_stored=lambda docs: relay.kick_stored("inbox", docs))
    envelopes = {f"new{i}": joined(f"s{i}") for i in range(8)}
    before = await snapshot(mongo_db)
    for doc_id, env in envelopes.items():
        assert await inserter.insert({"_id": doc_id, "v": 1, **stage_insert([env])})
    assert await relay.publish_kicked() == 8
    after = await snapshot(mongo_db)
    assert counting.finds == 0
    assert sorted(map(str, publisher.sent)) == sorted(str(e.event_id) for e in envelopes.values())
    assert touched(before, after) == {("inbox", doc_id) for doc_id in envelopes}
    for doc_id in envelopes:
        assert after[("inbox", doc_id)] == {"_id": doc_id, "v": 1, OUTBOX_COUNT: 0}
    assert all(after[("inbox", f"old{i}")][OUTBOX_COUNT] == 1 for i in range(5))


async def test_a_group_older_than_the_grace_is_read_back_so_nothing_is_published_twice(
    mongo_db: Db,
) -> None:
    col = mongo_db["inbox"]
    publisher = Recorder()
    relay = OutboxRelay([col], publisher, insert_only=["inbox"], grace_s=0.0)
    docs: list[Doc] = [{"_id": f"d{i}", **stage_insert([joined("s")])} for i in range(3)]
    await col.insert_many(docs)
    relay.kick_stored("inbox", docs)
    await col.update_one(  # another instance's relay published d1 meanwhile
        {"_id": "d1"}, {"$unset": {OUTBOX_FIELD: ""}, "$set": {OUTBOX_COUNT: 0}}
    )
    assert await relay.publish_kicked() == 2
    assert len(publisher.sent) == 2
    assert await col.count_documents({OUTBOX_COUNT: {"$gt": 0}}) == 0


async def test_a_broker_failure_keeps_the_unpublished_events_staged(mongo_db: Db) -> None:
    col = mongo_db["inbox"]
    publisher = Recorder(fail_after=2)
    relay = OutboxRelay([col], publisher, insert_only=["inbox"])
    docs: list[Doc] = [{"_id": f"d{i}", **stage_insert([joined("s")])} for i in range(5)]
    await col.insert_many(docs)
    relay.kick_stored("inbox", docs)
    with pytest.raises(ConnectionError):
        await relay.publish_kicked()
    assert await col.count_documents({OUTBOX_COUNT: 0}) == 2  # what went out is cleared
    publisher.fail_after = None
    assert await relay.publish_kicked() == 3
    assert len(set(publisher.sent)) == 5
    assert await col.count_documents({OUTBOX_COUNT: {"$gt": 0}}) == 0


def test_only_insert_only_collections_take_documents(mongo_db: Db) -> None:
    relay = OutboxRelay([mongo_db["aggregates"]], Recorder())
    with pytest.raises(ValueError, match="insert-only"):
        relay.kick_stored("aggregates", [{"_id": "a", OUTBOX_FIELD: {}}])


async def test_an_outage_under_write_load_costs_a_probe_per_backoff_not_a_publish_per_write(
    mongo_db: Db,
) -> None:
    """Every group commit kicks the relay; during an outage those kicks must not restart the
    relay's attempts (each would try every held document again: the ingest spent 44% of its CPU
    on failed publishes in the webhook benchmark's broker cut). Once the broker is back the
    whole backlog goes out, each event once."""
    col = mongo_db["inbox"]
    publisher = RecordingPublisher(fail=True)
    relay = OutboxRelay([col], publisher, insert_only=["inbox"], max_backoff_s=0.4, poll_s=0.2)
    inserter = BatchInserter(col, on_stored=lambda docs: relay.kick_stored("inbox", docs))
    await relay.start()
    try:
        stored = 0
        loop = asyncio.get_running_loop()
        base = 0
        started = loop.time()
        while loop.time() - started < 1.5:  # 1.5 s of writes, broker down
            group = [
                inserter.insert({"_id": f"d{stored + i}", **stage_insert([joined("s")])})
                for i in range(20)
            ]
            assert all(await asyncio.gather(*group))
            stored += len(group)
            if not base:  # the first failure is a whole batch: the relay learns of the outage
                while relay.healthy:
                    await asyncio.sleep(0.01)
                base, started = publisher.attempts, loop.time()
            await asyncio.sleep(0.01)
        assert stored >= 200
        # then one probe per backoff interval (0.2, 0.4, 0.4, ... s), whatever was written
        assert publisher.attempts - base <= 6, (base, publisher.attempts)
        assert not relay.healthy
        publisher.fail = False
        deadline = loop.time() + 10
        while await col.count_documents({OUTBOX_COUNT: {"$gt": 0}}):
            assert loop.time() < deadline, "the backlog was not published"
            await asyncio.sleep(0.05)
        assert len(publisher.event_ids()) == len(set(publisher.event_ids())) == stored
        assert relay.healthy
    finally:
        await relay.stop()


@pytest.mark.parametrize("handed_over", [True, False])
async def test_a_kept_envelope_is_staged_by_reference_and_stays_after_publication(
    mongo_db: Db, handed_over: bool
) -> None:
    """An inbox keeps its event's envelope: the staged entry names that field (no second copy),
    the relay publishes it whether handed over or read back, and clearing leaves it."""
    col = mongo_db["inbox"]
    publisher = Recorder()
    relay = OutboxRelay([col], publisher, insert_only=["inbox"], grace_s=0.0)
    envelopes = [joined(f"s{i}") for i in range(4)]
    docs: list[Doc] = [
        {"_id": f"d{i}", "v": i, **stage_insert([env], keep_envelope=True)}
        for i, env in enumerate(envelopes)
    ]
    await col.insert_many([dict(d) for d in docs])
    stored = await col.find_one({"_id": "d0"})
    assert stored is not None
    assert stored[OUTBOX_FIELD][str(envelopes[0].event_id)].keys() == {
        "envelope_in",
        "exchange",
        "routing_key",
        "staged_at",
    }
    if handed_over:
        relay.kick_stored("inbox", docs)
        assert await relay.publish_kicked() == 4
    else:
        assert await relay.publish_pending() == 4
    assert sorted(map(str, publisher.sent)) == sorted(str(e.event_id) for e in envelopes)
    for i, env in enumerate(envelopes):
        after = await col.find_one({"_id": f"d{i}"})
        assert after == {
            "_id": f"d{i}",
            "v": i,
            "envelope": env.model_dump(mode="json"),
            OUTBOX_COUNT: 0,
        }


def test_keep_envelope_stages_exactly_one_event() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        stage_insert([joined("a"), joined("b")], keep_envelope=True)
    with pytest.raises(ValueError, match="exactly one"):
        stage_insert([], keep_envelope=True)
