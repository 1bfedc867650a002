"""The relay's outage probe, attacked: a probe must not get stuck on a document it cannot publish
(an event that cannot be decoded, a document whose staged events are not due yet), and a pass
that published nothing must not pass for a recovered broker (the next pass would be a whole
batch of failing publishes)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope, Event, make_envelope
from contracts.viewer import ViewerJoined
from servicekit.memory import RecordingPublisher
from servicekit.mongo import Doc
from servicekit.outbox import BROKER_OK, OUTBOX_COUNT, OUTBOX_FIELD, OutboxRelay, stage_insert
from testkit.wait import eventually

pytestmark = pytest.mark.integration

Db = AsyncDatabase[dict[str, Any]]


def joined(stream_id: str) -> Envelope[Event]:
    payload = ViewerJoined(stream_id=stream_id, account_id="a", joined_at=datetime.now(UTC))
    return make_envelope(payload, producer="test")


def poison(kind: str) -> Doc:
    """A document whose one staged event the relay cannot decode."""
    if kind == "unknown-event-type":  # e.g. staged by a newer version during a rolling deploy
        doc = stage_insert([joined("p")])
        (item,) = doc[OUTBOX_FIELD].values()
        item["envelope"]["event_type"] = "no.such.event"
        return doc
    doc = stage_insert([joined("p")], keep_envelope=True)
    del doc["envelope"]  # staged by reference to a field the document lacks
    return doc


@pytest.mark.parametrize("kicked", [True, False])
@pytest.mark.parametrize("kind", ["unknown-event-type", "missing-kept-envelope"])
async def test_an_event_that_cannot_be_decoded_does_not_stop_the_relay(
    mongo_db: Db, kind: str, kicked: bool
) -> None:
    col = mongo_db["inbox"]
    broker = RecordingPublisher()
    relay = OutboxRelay(
        [col], broker, insert_only=["inbox"], poll_s=0.1, grace_s=0.0, max_backoff_s=0.4
    )
    await col.insert_one({"_id": "poison", **poison(kind)})
    await relay.start()
    try:
        if kicked:
            relay.kick("inbox", "poison")
        await asyncio.sleep(0.5)  # the relay has tried it
        envelopes = [joined(f"s{i}") for i in range(5)]
        for i, env in enumerate(envelopes):
            await col.insert_one({"_id": f"good{i}", **stage_insert([env], keep_envelope=True)})
            if kicked:
                relay.kick("inbox", f"good{i}")
        await eventually(lambda: len(broker.event_ids()) == 5, within=5)
        assert sorted(broker.event_ids()) == sorted(e.event_id for e in envelopes)
        assert relay.healthy  # the broker never failed
        doc = await col.find_one({"_id": "poison"})  # left staged, not lost
        assert doc is not None and doc[OUTBOX_COUNT] == 1
    finally:
        await relay.stop()


@pytest.mark.parametrize("probes", [False, True])
async def test_a_probe_document_whose_events_are_not_due_does_not_end_the_outage(
    mongo_db: Db, probes: bool
) -> None:
    """The first document the poll finds was staged just now (an old aggregate updated again):
    while the broker is down, the probe must try an event that is due, once per backoff; it
    must neither stop at that document nor report the relay healthy and try a whole batch
    (nor may a probe publish that fails)."""
    col = mongo_db["aggregates"]
    await col.insert_one({"_id": "fresh", **stage_insert([joined("f")])})
    due: list[Doc] = []
    for i in range(60):
        doc = {"_id": f"old{i}", **stage_insert([joined(f"o{i}")])}
        for item in doc[OUTBOX_FIELD].values():
            item["staged_at"] = time.time() - 60
        due.append(doc)
    await col.insert_many(due)
    broker = RecordingPublisher(fail=True)
    relay = OutboxRelay(
        [col],
        broker,
        poll_s=0.1,
        grace_s=30.0,
        max_backoff_s=0.4,
        probe=broker.probe if probes else None,
    )
    await relay.start()
    try:
        await eventually(lambda: not relay.healthy, within=5)
        base = broker.attempts
        loop = asyncio.get_running_loop()
        started = loop.time()
        while loop.time() - started < 2.0:
            assert not relay.healthy, "a pass that published nothing ended the outage"
            await asyncio.sleep(0.01)
        assert 2 <= broker.attempts - base <= 8, (base, broker.attempts)
        broker.fail = False
        await eventually(lambda: len(broker.event_ids()) == 60, within=5)
        assert len(set(broker.event_ids())) == 60
        assert await col.count_documents({OUTBOX_COUNT: {"$gt": 0}}) == 1  # "fresh": not due
    finally:
        await relay.stop()


async def test_an_outage_with_nothing_to_publish_ends_with_a_confirmed_probe(
    mongo_db: Db,
) -> None:
    """The event that failed was published by another instance, and nothing else is staged: no
    event can end this relay's outage, so without a probe its health gauge would read 0 until
    the next event. While this instance cannot publish (its probes fail too) it reads 0 at every
    sample, though the other instance publishes; it reads 1 once a probe is confirmed."""
    col = mongo_db["inbox"]
    await col.insert_one({"_id": "other", "v": 1})  # a neighbour with nothing staged
    broker = RecordingPublisher(fail=True)
    relay = OutboxRelay(
        [col],
        broker,
        insert_only=["inbox"],
        poll_s=0.1,
        grace_s=0.0,
        max_backoff_s=0.2,
        probe=broker.probe,
    )
    doc = {"_id": "e1", **stage_insert([joined("s")])}
    await col.insert_one(dict(doc))
    await relay.start()
    try:
        relay.kick_stored("inbox", [doc])
        await eventually(lambda: not relay.healthy, within=5)
        await col.update_one(  # the other instance's relay published it
            {"_id": "e1"}, {"$unset": {OUTBOX_FIELD: ""}, "$set": {OUTBOX_COUNT: 0}}
        )
        base = broker.probes
        loop = asyncio.get_running_loop()
        started = loop.time()
        while loop.time() - started < 1.5:
            assert not relay.healthy, "healthy while this instance cannot publish"
            assert BROKER_OK._value.get() == 0
            await asyncio.sleep(0.01)
        assert 2 <= broker.probes - base <= 12, (base, broker.probes)  # one per backoff
        broker.fail = False
        await eventually(lambda: relay.healthy, within=5)
        assert BROKER_OK._value.get() == 1
        assert broker.published == []  # healthy again without an event to publish
    finally:
        await relay.stop()


async def test_a_confirmed_probe_ends_the_outage_while_an_event_is_not_due(
    mongo_db: Db,
) -> None:
    """Only an event not due yet is left staged (the failed one was published elsewhere): the
    probe's confirm proves the broker takes this instance's publishes again, so the outage ends
    before that event is due, and the event is published when it is."""
    col = mongo_db["aggregates"]
    due = {"_id": "due", **stage_insert([joined("d")])}
    for item in due[OUTBOX_FIELD].values():
        item["staged_at"] = time.time() - 60
    await col.insert_many([due, {"_id": "fresh", **stage_insert([joined("f")])}])
    broker = RecordingPublisher(fail=True)
    relay = OutboxRelay(
        [col], broker, poll_s=0.1, grace_s=1.5, max_backoff_s=0.2, probe=broker.probe
    )
    await relay.start()
    try:
        await eventually(lambda: not relay.healthy, within=5)
        await col.update_one(  # the other instance's relay published it
            {"_id": "due"}, {"$unset": {OUTBOX_FIELD: ""}, "$set": {OUTBOX_COUNT: 0}}
        )
        broker.fail = False
        await eventually(lambda: relay.healthy, within=5)
        assert broker.published == []  # "fresh" is not due yet: the probe ended the outage
        await eventually(lambda: len(broker.published) == 1, within=5)
    finally:
        await relay.stop()


async def test_a_relay_cut_off_from_the_broker_stays_in_probes_between_bursts(
    mongo_db: Db,
) -> None:
    """Only this instance lost the broker: another instance's relay publishes what it staged
    once the grace has passed. Between bursts of writes the relay finds nothing left to probe
    with; that proves nothing about the broker, so the next burst must cost a probe, not a
    publish per kicked document."""
    col = mongo_db["inbox"]
    broker = RecordingPublisher(fail=True)
    relay = OutboxRelay(
        [col], broker, insert_only=["inbox"], poll_s=0.1, grace_s=0.3, max_backoff_s=0.4
    )

    async def peer() -> None:  # the other instance, publishing what is older than the grace
        while True:
            await col.update_many(
                {OUTBOX_COUNT: {"$gt": 0}, "at": {"$lt": time.time() - 0.3}},
                {"$unset": {OUTBOX_FIELD: ""}, "$set": {OUTBOX_COUNT: 0}},
            )
            await asyncio.sleep(0.05)

    async def published_by_peer() -> bool:
        return await col.count_documents({OUTBOX_COUNT: {"$gt": 0}}) == 0

    await relay.start()
    peer_task = asyncio.create_task(peer())
    try:
        base = None
        for burst in range(3):
            docs = [
                {"_id": f"b{burst}-{i}", "at": time.time(), **stage_insert([joined("s")])}
                for i in range(100)
            ]
            await col.insert_many([dict(d) for d in docs])
            relay.kick_stored("inbox", docs)
            if base is None:  # the first failure is a whole batch: the relay learns of it
                await eventually(lambda: not relay.healthy, within=5)
                base = broker.attempts
            await eventually(published_by_peer, within=5)
            await asyncio.sleep(1.0)  # idle: nothing left to probe with
        assert base is not None
        assert broker.attempts - base <= 12, (base, broker.attempts)
    finally:
        peer_task.cancel()
        await relay.stop()


async def test_stop_during_a_backoff_returns_at_once_and_keeps_the_events(mongo_db: Db) -> None:
    col = mongo_db["aggregates"]
    broker = RecordingPublisher(fail=True)
    relay = OutboxRelay([col], broker, poll_s=0.1, grace_s=0.0, max_backoff_s=30.0)
    await col.insert_one({"_id": "a", **stage_insert([joined("a")])})
    await relay.start()
    relay.kick("aggregates", "a")
    for _ in range(3):  # well into the backoff (0.2, 0.4, 0.8 s ...)
        attempts = broker.attempts
        await eventually(lambda: broker.attempts > attempts, within=5)  # noqa: B023
    loop = asyncio.get_running_loop()
    started = loop.time()
    await relay.stop(timeout=5.0)
    assert loop.time() - started < 0.5
    assert await col.count_documents({OUTBOX_COUNT: 1}) == 1


async def test_undecodable_documents_first_in_line_do_not_starve_the_poll(
    mongo_db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    """More undecodable documents than a poll reads sit before a good one (staged by a newer
    version during a rolling deploy, not kicked here): the poll still reaches the good one,
    and each undecodable one is logged once, not at every poll."""
    col = mongo_db["inbox"]
    await col.insert_many([{"_id": f"p{i:03}", **poison("unknown-event-type")} for i in range(25)])
    good = joined("g")
    await col.insert_one({"_id": "q-good", **stage_insert([good], keep_envelope=True)})
    broker = RecordingPublisher()
    relay = OutboxRelay([col], broker, insert_only=["inbox"], poll_s=0.05, grace_s=0.0, batch=10)
    await relay.start()
    try:
        await eventually(lambda: broker.event_ids() == [good.event_id], within=5)
        await asyncio.sleep(0.5)  # ten more polls
    finally:
        await relay.stop()
    logged = [r for r in caplog.records if "cannot be decoded" in r.getMessage()]
    assert sorted(r.doc_id for r in logged) == [f"p{i:03}" for i in range(25)]  # type: ignore[attr-defined]
    assert await col.count_documents({OUTBOX_COUNT: {"$gt": 0}}) == 25  # left staged
