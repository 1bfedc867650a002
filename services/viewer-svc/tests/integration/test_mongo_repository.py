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
from servicekit.mongo import ensure_indexes
from testkit.neighbours import snapshot, touched
from viewer_svc.adapters.mongo import (
    BANS,
    COUNTS,
    INDEXES,
    VIEWERS,
    VIEWS,
    MongoCounts,
    MongoPresence,
    MongoProjection,
)
from viewer_svc.domain.model import BanView

pytestmark = pytest.mark.integration

STREAMS = [f"s{i:02d}" for i in range(20)]
T = "s07"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
INTERVAL_S = 60.0


S = "http:tab1"  # the session every seeded presence has


def key(stream_id: str, account_id: str) -> str:
    return f"{stream_id}\x1f{account_id}"


def skey(stream_id: str, account_id: str, session_id: str = S) -> str:
    return f"{stream_id}\x1f{account_id}\x1f{session_id}"


def kind(stream_id: str) -> int:
    """0: never counted; 1: changed, due; 2: published, unchanged; 3: published, changed again
    (due after the interval)."""
    return int(stream_id[1:]) % 4


class Repos:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db
        self.presence = MongoPresence(db)
        self.counts = MongoCounts(db)
        self.projection = MongoProjection(db)


@pytest_asyncio.fixture
async def repos(mongo_db: AsyncDatabase[dict[str, Any]]) -> Repos:
    await ensure_indexes(mongo_db, INDEXES)
    r = Repos(mongo_db)
    for i, s in enumerate(STREAMS):
        for account in ("a", "b"):
            await r.presence.touch(s, account, S, T0 + timedelta(seconds=i))
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
        await r.counts.published(s, 2)
    for s in STREAMS:
        if kind(s) in (1, 3):
            await r.counts.mark_changed(s)
    return r


Write = Callable[[Repos], Awaitable[Any]]
P = T0 + timedelta(seconds=30)

WRITES: dict[str, tuple[Write, Any, set[tuple[str, Any]]]] = {
    "heartbeat": (lambda r: r.presence.touch(T, "a", S, T1), False, {(VIEWERS, skey(T, "a"))}),
    "join": (lambda r: r.presence.touch(T, "c", S, T1), True, {(VIEWERS, skey(T, "c"))}),
    "second session": (
        lambda r: r.presence.touch(T, "a", "chat:c1", T1),
        False,
        {(VIEWERS, skey(T, "a", "chat:c1"))},
    ),
    "leave": (lambda r: r.presence.remove(T, "a", S), True, {(VIEWERS, skey(T, "a"))}),
    "leave another session": (lambda r: r.presence.remove(T, "a", "http:tab2"), False, set()),
    "leave twice": (lambda r: r.presence.remove(T, "zz", S), False, set()),
    "ban": (
        lambda r: r.presence.remove_account(T, "b"),
        True,
        {(VIEWERS, skey(T, "b"))},
    ),
    "timed out": (
        lambda r: r.presence.remove_if_unseen_since(T, "b", S, P),
        True,
        {(VIEWERS, skey(T, "b"))},
    ),
    "seen since": (lambda r: r.presence.remove_if_unseen_since(T, "b", S, T0), False, set()),
    "count changed": (lambda r: r.counts.mark_changed("s06"), None, {(COUNTS, "s06")}),
    "first count": (lambda r: r.counts.mark_changed("new"), None, {(COUNTS, "new")}),
    "counts changed": (
        lambda r: r.counts.mark_changed_many({"s06", "s04"}),
        None,
        {(COUNTS, "s06"), (COUNTS, "s04")},
    ),
    "published": (lambda r: r.counts.published(T, 9), 9, {(COUNTS, T)}),
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


async def test_a_stream_removed_takes_only_its_viewers(repos: Repos) -> None:
    before = await snapshot(repos.db)
    assert sorted(await repos.presence.remove_stream(T)) == ["a", "b"]
    assert touched(before, await snapshot(repos.db)) == {
        (VIEWERS, skey(T, "a")),
        (VIEWERS, skey(T, "b")),
    }
    assert [await repos.presence.count(s) for s in STREAMS] == [0 if s == T else 2 for s in STREAMS]


async def test_bans_read_back_per_stream(repos: Repos) -> None:
    assert await repos.projection.set_ban(T, "troll", banned=True, at=T1, expires_at=T1)
    for i, s in enumerate(STREAMS):
        bans = await repos.projection.bans(s)
        expected = {"bad": BanView(True, None)} if i % 2 else {}
        if s == T:
            expected["troll"] = BanView(True, T1)
        assert bans == expected, s


async def test_expired_presence_is_read_across_streams(repos: Repos) -> None:
    expired = await repos.presence.expired(T0 + timedelta(seconds=3), 100)
    assert sorted(expired) == [(s, a, S) for s in ("s00", "s01", "s02") for a in ("a", "b")]
