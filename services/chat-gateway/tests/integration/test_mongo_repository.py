"""chat-gateway's MongoDB repositories with 20 streams present: each write touches exactly the
documents of its own stream (and account), whatever the neighbours hold."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from chat_gateway.adapters.mongo import (
    BANS,
    CONNECTIONS,
    GATE_KEPT_MS,
    GIFTS,
    INDEXES,
    MESSAGES,
    MODS,
    SEQ,
    SLOW,
    VIEW,
    ChatProjection,
    ChatStore,
    ConnectionRegistry,
    GiftLedger,
)
from chat_gateway.domain.room import Ban
from contracts import make_envelope
from contracts.chat import MAX_SLOW_MODE_S, ChatMessageDeleted
from contracts.common import StreamStatus
from servicekit.mongo import ensure_indexes, to_ms
from testkit.neighbours import snapshot, touched

pytestmark = pytest.mark.integration

STREAMS = [f"s{i:02d}" for i in range(20)]
T = "s07"  # the stream every write below targets
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def key(stream_id: str, account_id: str) -> str:
    return f"{stream_id}\x1f{account_id}"


def has_slow_mode(stream_id: str) -> bool:
    return stream_id in ("s03", "s07", "s11", "s19")


def has_count(stream_id: str) -> bool:
    return int(stream_id[1:]) % 5 != 0


class Repos:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db
        self.store = ChatStore(db)
        self.projection = ChatProjection(db)
        self.gifts = GiftLedger(db)
        self.connections = ConnectionRegistry(db)


def deleted(stream_id: str, message_id: str) -> Any:
    payload = ChatMessageDeleted(
        stream_id=stream_id, message_id=message_id, seq=1, deleted_by="mod", deleted_at=T1
    )
    return make_envelope(payload, producer="test")


@pytest_asyncio.fixture
async def repos(mongo_db: AsyncDatabase[dict[str, Any]]) -> Repos:
    """20 streams, each with a moderator, a ban, two messages, a slow-mode gate, a gift and a
    connection; some with owner and status, some with slow mode, some with a viewer count (so
    neighbours lack fields that the target's filters compare)."""
    await ensure_indexes(mongo_db, INDEXES)
    r = Repos(mongo_db)
    p = r.projection
    for i, s in enumerate(STREAMS):
        if i % 3 != 0:  # some streams are known only through slow mode and counts
            await p.describe(s, f"owner-{s}")
            await p.advance(s, StreamStatus.ACTIVE)
        if has_slow_mode(s):  # most streams never turn slow mode on
            await p.set_slow_mode(s, 10, T0)
        if has_count(s):
            await p.set_viewer_count(s, 5, T0)
        await p.set_moderator(s, "mod", True, T0)
        await p.set_ban(s, "bad", Ban(True, T0, None, "spam"))
        for n in (1, 2):
            seq = await r.store.reserve(s, 1)
            await r.store.insert_batch(
                [
                    {
                        "_id": f"m-{s}-{n}",
                        "stream_id": s,
                        "seq": seq,
                        "account_id": "viewer",
                        "text": f"hello {n}",
                        "client_msg_id": f"c{n}",
                        "posted_at": T0,
                        "deleted": False,
                    }
                ]
            )
        assert await r.store.pass_slow_gate(s, "viewer", 10, T0) == 0.0
        await r.gifts.charge(f"viewer:{s}", {"stream_id": s, "amount": 1}, deleted(s, "g"))
        r.connections.add(f"conn-{s}", "gw-1" if i % 2 else "gw-2", s, "viewer", T0)
    await r.connections.flush()  # the registry writes in batches
    return r


Write = Callable[[Repos], Awaitable[Any]]


async def remove_connection(r: Repos, conn_id: str) -> None:
    r.connections.remove(conn_id)
    await r.connections.flush()  # the registry writes in batches


#: (write on stream T, what it returns, the documents it may touch)
WRITES: dict[str, tuple[Write, Any, set[tuple[str, Any]]]] = {
    "slow mode": (lambda r: r.projection.set_slow_mode(T, 30, T1), True, {(VIEW, T)}),
    "slow mode, older": (
        lambda r: r.projection.set_slow_mode(T, 30, T0 - timedelta(1)),
        False,
        set(),
    ),
    "viewer count": (lambda r: r.projection.set_viewer_count(T, 42, T1), True, {(VIEW, T)}),
    "viewer count, same time": (lambda r: r.projection.set_viewer_count(T, 9, T0), False, set()),
    "status": (lambda r: r.projection.advance(T, StreamStatus.ENDED), True, {(VIEW, T)}),
    "status backwards": (lambda r: r.projection.advance(T, StreamStatus.IDLE), False, set()),
    "owner": (lambda r: r.projection.describe(T, "someone"), None, {(VIEW, T)}),
    "ban": (
        lambda r: r.projection.set_ban(T, "troll", Ban(True, T1, T1 + timedelta(1), None)),
        True,
        {(BANS, key(T, "troll"))},
    ),
    "unban": (
        lambda r: r.projection.set_ban(T, "bad", Ban(False, T1)),
        True,
        {(BANS, key(T, "bad"))},
    ),
    "moderator removed": (
        lambda r: r.projection.set_moderator(T, "mod", False, T1),
        True,
        {(MODS, key(T, "mod"))},
    ),
    "sequence number": (lambda r: r.store.reserve(T, 1), 3, {(SEQ, T)}),
    "sequence range reserved": (lambda r: r.store.reserve(T, 5), 7, {(SEQ, T)}),
    "messages stored together": (
        lambda r: r.store.insert_batch(
            [
                {"_id": f"b{n}", "stream_id": T, "seq": n, "account_id": "v", "client_msg_id": n}
                for n in (3, 4)
            ]
        ),
        None,
        {(MESSAGES, "b3"), (MESSAGES, "b4")},
    ),
    "a batch whose numbers are taken": (
        lambda r: r.store.insert_batch(
            [
                {"_id": "b2", "stream_id": T, "seq": 2, "account_id": "v", "client_msg_id": "x"},
                {
                    "_id": "b5",
                    "stream_id": T,
                    "seq": 5,
                    "account_id": "viewer",
                    "client_msg_id": "c1",
                },
            ]
        ),
        0,
        set(),
    ),
    "slow gate passes": (
        lambda r: r.store.pass_slow_gate(T, "viewer", 10, T1),
        0.0,
        {(SLOW, key(T, "viewer"))},
    ),
    "message deleted": (
        lambda r: r.store.delete(T, f"m-{T}-1", "mod", deleted(T, f"m-{T}-1")),
        True,
        {(MESSAGES, f"m-{T}-1")},
    ),
    "delete another stream's message": (
        lambda r: r.store.delete(T, "m-s08-1", "mod", deleted(T, "m-s08-1")),
        False,
        set(),
    ),
    "gap filled": (lambda r: r.store.insert_gap(T, 3), None, {(MESSAGES, f"gap:{T}:3")}),
    "connection removed": (
        lambda r: remove_connection(r, f"conn-{T}"),
        None,
        {(CONNECTIONS, f"conn-{T}")},
    ),
}


@pytest.mark.parametrize("name", list(WRITES))
async def test_a_write_on_one_stream_leaves_the_other_19_untouched(repos: Repos, name: str) -> None:
    write, returned, allowed = WRITES[name]
    before = await snapshot(repos.db)
    assert await write(repos) == returned
    assert touched(before, await snapshot(repos.db)) == allowed


async def test_slow_mode_and_counts_read_back_per_stream(repos: Repos) -> None:
    p = repos.projection
    assert await p.set_slow_mode(T, 30, T1)
    assert await p.set_viewer_count(T, 42, T1)
    for s in STREAMS:
        state = await p.load(s)
        slow = (10, T0) if has_slow_mode(s) else (0, None)
        count = (5, T0) if has_count(s) else (0, None)
        expected = (30, T1, 42, T1) if s == T else (*slow, *count)
        got = (state.slow_mode_s, state.slow_mode_at, state.viewer_count, state.viewer_as_of)
        assert got == expected, s
        assert state.bans["bad"].banned
        assert state.moderators["mod"][0]


async def test_a_stream_first_seen_through_slow_mode_gets_every_clock(repos: Repos) -> None:
    before = await snapshot(repos.db)
    assert await repos.projection.set_slow_mode("new", 5, T1)
    after = await snapshot(repos.db)
    assert touched(before, after) == {(VIEW, "new")}
    assert after[(VIEW, "new")] == {
        "_id": "new",
        "slow_mode_s": 5,
        "slow_at_ms": int(T1.timestamp() * 1000),
        "rank": -1,
        "viewer_as_of_ms": 0,
        "followers_only_at_ms": 0,
    }
    assert await repos.projection.advance("new", StreamStatus.IDLE)  # rank -1 < idle
    assert await repos.projection.set_viewer_count("new", 3, T0)
    state = await repos.projection.load("new")
    assert (state.status, state.slow_mode_s, state.viewer_count) == (StreamStatus.IDLE, 5, 3)


async def test_followers_only_mode_is_last_write_wins_on_its_stream_only(repos: Repos) -> None:
    before = await snapshot(repos.db)
    assert await repos.projection.set_followers_only("new", True, 30, T1)
    after = await snapshot(repos.db)
    assert touched(before, after) == {(VIEW, "new")}
    assert after[(VIEW, "new")]["followers_only_at_ms"] == int(T1.timestamp() * 1000)
    assert (after[(VIEW, "new")]["rank"], after[(VIEW, "new")]["slow_at_ms"]) == (-1, 0)
    assert not await repos.projection.set_followers_only("new", False, 0, T0)  # older
    assert await repos.projection.set_slow_mode("new", 5, T0)  # its own clock
    state = await repos.projection.load("new")
    assert (state.followers_only, state.min_follow_minutes, state.slow_mode_s) == (True, 30, 5)
    assert await repos.projection.set_followers_only("new", False, 0, T1 + timedelta(seconds=1))
    state = await repos.projection.load("new")
    assert (state.followers_only, state.min_follow_minutes) == (False, 0)


async def test_refresh_marks_only_this_instances_connections(repos: Repos) -> None:
    before = await snapshot(repos.db)
    await repos.connections.refresh("gw-1", T0 + timedelta(seconds=5), stale_after_s=60)
    changed = touched(before, await snapshot(repos.db))
    assert changed == {(CONNECTIONS, f"conn-{s}") for i, s in enumerate(STREAMS) if i % 2}


async def test_a_gift_retried_with_its_key_is_charged_once(repos: Repos) -> None:
    before = await snapshot(repos.db)
    gift, charged = await repos.gifts.charge(
        f"viewer:{T}", {"stream_id": T, "amount": 9}, deleted(T, "g")
    )
    assert (charged, gift["amount"]) == (False, 1)
    assert touched(before, await snapshot(repos.db)) == set()
    assert GIFTS in {c for c, _ in before}


async def test_a_gate_sweep_deletes_only_gates_no_interval_can_close(repos: Repos) -> None:
    """Gates whose last post is older than the longest slow-mode interval (an hour) decide as
    gates never written: the sweep deletes those a minute older still (clocks differ), among the
    20 streams' gates."""
    assert GATE_KEPT_MS == (MAX_SLOW_MODE_S + 60) * 1000
    old = T0 - timedelta(milliseconds=GATE_KEPT_MS + 1)
    edge = T0 - timedelta(milliseconds=GATE_KEPT_MS)
    await repos.db[SLOW].insert_many(
        [
            {"_id": key("s03", "left-long-ago"), "last_ms": to_ms(old)},
            {"_id": key("s04", "left-an-hour-ago"), "last_ms": to_ms(edge)},
        ]
    )
    before = await snapshot(repos.db)
    assert await repos.store.sweep_gates(to_ms(T0)) == 1
    assert touched(before, await snapshot(repos.db)) == {(SLOW, key("s03", "left-long-ago"))}
    # both decide as before the sweep: the longest interval no longer closes either
    assert await repos.store.pass_slow_gate("s04", "left-an-hour-ago", 3600, T0) == 0.0
    assert await repos.store.pass_slow_gate("s03", "left-long-ago", 3600, T0) == 0.0
    assert await repos.store.pass_slow_gate("s03", "left-long-ago", 3600, T0) > 0
