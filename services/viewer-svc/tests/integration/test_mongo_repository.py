"""viewer-svc's MongoDB repositories with 20 streams present: presence, count claims, the stream
projection and bans on one stream touch exactly that stream's documents."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from contracts.common import StreamStatus
from servicekit.mongo import ensure_indexes, to_ms
from testkit.neighbours import snapshot, touched
from viewer_svc.adapters.mongo import (
    BANS,
    COUNTS,
    INDEXES,
    PRESENCE,
    VIEWS,
    MongoBoard,
    MongoCounts,
    MongoProjection,
)
from viewer_svc.domain.model import BanView
from viewer_svc.domain.presence import Sheet

pytestmark = pytest.mark.integration

STREAMS = [f"s{i:02d}" for i in range(20)]
T = "s07"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
INTERVAL_S = 60.0


S = "http:tab1"  # the session every seeded presence has
TIMEOUT_MS = 30_000


def key(stream_id: str, account_id: str) -> str:
    return f"{stream_id}\x1f{account_id}"


def sheet(stream_id: str, i: int, instance: str = "i1") -> Sheet:
    """Stream number i's seeded sheet: a and b seen at T0 + i s; odd streams: c left."""
    t = to_ms(T0) + 1000 * i
    ended = {("c", S): t} if i % 2 else {}
    return Sheet(stream_id, instance, {("a", S): t, ("b", S): t}, ended)


def kind(stream_id: str) -> int:
    """0: never counted; 1: changed, due; 2: published, unchanged; 3: published, changed again
    (due after the interval)."""
    return int(stream_id[1:]) % 4


class Repos:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db
        self.board = MongoBoard(db)
        self.counts = MongoCounts(db)
        self.projection = MongoProjection(db)


@pytest_asyncio.fixture
async def repos(mongo_db: AsyncDatabase[dict[str, Any]]) -> Repos:
    await ensure_indexes(mongo_db, INDEXES)
    r = Repos(mongo_db)
    await r.board.write([sheet(s, i) for i, s in enumerate(STREAMS)], TIMEOUT_MS)
    for i, s in enumerate(STREAMS):
        if i % 3:
            await r.projection.describe(s, f"owner-{s}", f"https://stream.example/{s}.m3u8")
        if i % 3 == 1:
            await r.projection.advance(s, StreamStatus.ACTIVE)
        if i % 2:
            await r.projection.set_ban(s, "bad", banned=True, at=T0, expires_at=None)
    await r.counts.mark_changed_many({s for s in STREAMS if kind(s) in (2, 3)})
    claimed = await r.counts.claim_due(T0, INTERVAL_S, 100)
    assert sorted(claimed) == [s for s in STREAMS if kind(s) in (2, 3)]
    for s in claimed:
        await r.counts.published(s, ["a", "b"])
    for s in STREAMS:
        if kind(s) in (1, 3):
            await r.counts.mark_changed(s)
    return r


Write = Callable[[Repos], Awaitable[Any]]
P = T0 + timedelta(seconds=30)

WRITES: dict[str, tuple[Write, Any, set[tuple[str, Any]]]] = {
    "batch": (
        lambda r: r.board.write([Sheet(T, "i1", {("a", S): 1}), Sheet(T, "i2", {("d", S): 2})], 1),
        None,
        {(PRESENCE, key(T, "i1")), (PRESENCE, key(T, "i2"))},
    ),
    "batch emptied": (
        lambda r: r.board.write([Sheet(T, "i1")], 1),
        None,
        {(PRESENCE, key(T, "i1"))},
    ),
    "batch of nothing": (lambda r: r.board.write([Sheet(T, "zz")], 1), None, set()),
    "prune left behind": (
        lambda r: prune(r, T, drop=False),
        True,
        {(PRESENCE, key(T, "i1"))},
    ),
    "prune emptied": (lambda r: prune(r, T, drop=True), True, {(PRESENCE, key(T, "i1"))}),
    "prune after a newer write": (lambda r: prune(r, T, drop=False, stale=True), False, set()),
    "count changed": (lambda r: r.counts.mark_changed("s06"), None, {(COUNTS, "s06")}),
    "first count": (lambda r: r.counts.mark_changed("new"), None, {(COUNTS, "new")}),
    "counts changed": (
        lambda r: r.counts.mark_changed_many({"s06", "s04"}),
        None,
        {(COUNTS, "s06"), (COUNTS, "s04")},
    ),
    "published": (
        lambda r: r.counts.published(T, ["a", "z"]),
        (2, ["a", "b"]),
        {(COUNTS, T)},
    ),
    "published more": (
        lambda r: r.counts.published(T, list("abcd")),
        (4, ["a", "b"]),
        {(COUNTS, T)},
    ),
    "publication failed": (lambda r: r.counts.unclaim(T), None, {(COUNTS, T)}),
    "status": (lambda r: r.projection.advance(T, StreamStatus.ENDED), True, {(VIEWS, T)}),
    "status backwards": (lambda r: r.projection.advance(T, StreamStatus.IDLE), False, set()),
    "first status": (
        lambda r: r.projection.advance("s09", StreamStatus.IDLE),
        True,
        {(VIEWS, "s09")},
    ),
    "described": (lambda r: r.projection.describe(T, "x", None), None, {(VIEWS, T)}),
    "projected ban": (
        lambda r: r.projection.set_ban(T, "troll", banned=True, at=T1, expires_at=None),
        True,
        {(BANS, key(T, "troll"))},
    ),
    "unban": (
        lambda r: r.projection.set_ban(T, "bad", banned=False, at=T1, expires_at=None),
        True,
        {(BANS, key(T, "bad"))},
    ),
    "stale unban": (
        lambda r: r.projection.set_ban(T, "bad", banned=False, at=T0, expires_at=None),
        False,
        set(),
    ),
}


async def prune(r: Repos, stream_id: str, *, drop: bool, stale: bool = False) -> bool:
    (read,) = await r.board.read(stream_id)
    if stale:
        read = Sheet(read.stream_id, read.instance_id, read.seen, read.ended, rev="old")
    pruned = Sheet(stream_id, "i1", rev=read.rev) if drop else read.pruned(to_ms(T1), TIMEOUT_MS)
    if not drop:
        pruned.seen[("a", S)] = to_ms(T1)  # so that the write is visible
    return await r.board.replace_if_unchanged(pruned, TIMEOUT_MS)


@pytest.mark.parametrize("name", list(WRITES))
async def test_a_write_on_one_stream_leaves_the_other_19_untouched(repos: Repos, name: str) -> None:
    write, returned, allowed = WRITES[name]
    before = await snapshot(repos.db)
    assert await write(repos) == returned
    assert touched(before, await snapshot(repos.db)) == allowed


async def test_claims_take_exactly_the_due_streams_once(repos: Repos) -> None:
    before = await snapshot(repos.db)
    due_now = [s for s in STREAMS if kind(s) == 1]
    assert sorted(await repos.counts.claim_due(T0 + timedelta(seconds=1), INTERVAL_S, 100)) == (
        due_now
    )
    assert touched(before, await snapshot(repos.db)) == {(COUNTS, s) for s in due_now}
    assert await repos.counts.claim_due(T0 + timedelta(seconds=2), INTERVAL_S, 100) == []
    later = T0 + timedelta(seconds=INTERVAL_S + 1)
    assert sorted(await repos.counts.claim_due(later, INTERVAL_S, 100)) == [
        s for s in STREAMS if kind(s) == 3
    ]


async def test_sheets_read_back_per_stream(repos: Repos) -> None:
    await repos.board.write([sheet(T, 7, "i2")], TIMEOUT_MS)
    for i, s in enumerate(STREAMS):
        got = sorted(await repos.board.read(s), key=lambda x: x.instance_id)
        assert got == ([sheet(s, i), sheet(s, i, "i2")] if s == T else [sheet(s, i)]), s


async def test_bans_read_back_per_stream(repos: Repos) -> None:
    assert await repos.projection.set_ban(T, "troll", banned=True, at=T1, expires_at=T1)
    for i, s in enumerate(STREAMS):
        bans = await repos.projection.bans(s)
        expected = {"bad": BanView(True, None)} if i % 2 else {}
        if s == T:
            expected["troll"] = BanView(True, T1)
        assert bans == expected, s


async def test_overdue_sheets_are_read_across_streams(repos: Repos) -> None:
    before = to_ms(T0) + TIMEOUT_MS + 2500  # streams 0, 1, 2: their entries expired before
    overdue = await repos.board.overdue(before, 100)
    assert sorted(s.stream_id for s in overdue) == ["s00", "s01", "s02"]
    assert await repos.board.overdue(before, 2) != []
    assert len(await repos.board.overdue(before, 2)) == 2
