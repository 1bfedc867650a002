"""stream-svc's MongoDB repositories with 20 streams present: lifecycle saves, creation steps,
usage, moderators, bans (last write wins) and the action log on one stream touch exactly that
stream's documents."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from contracts import make_envelope
from contracts.common import StreamStatus
from contracts.moderation import UserBanned
from servicekit.mongo import ensure_indexes
from stream_svc.adapters.mongo_moderation import ACTIONS, BANS, MODERATORS, MongoModeration
from stream_svc.adapters.mongo_moderation import INDEXES as MODERATION_INDEXES
from stream_svc.adapters.mongo_streams import CREATE_REQUESTS, STREAMS, USAGE, MongoStreams
from stream_svc.adapters.mongo_streams import INDEXES as STREAM_INDEXES
from stream_svc.domain.lifecycle import Facts
from stream_svc.domain.model import LiveStream, ModerationAction, UsagePoint
from testkit.neighbours import snapshot, touched

pytestmark = pytest.mark.integration

IDS = [f"s{i:02d}" for i in range(20)]
T = "s07"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def key(stream_id: str, account_id: str) -> str:
    return f"{stream_id}\x1f{account_id}"


def banned(stream_id: str, account_id: str) -> Any:
    payload = UserBanned(stream_id=stream_id, account_id=account_id, by="owner", at=T1)
    return make_envelope(payload, producer="test")


class Repos:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db
        self.streams = MongoStreams(db)
        self.moderation = MongoModeration(db)


def stream(stream_id: str, *, ready: bool = True) -> LiveStream:
    s = LiveStream(stream_id, f"owner-{stream_id}", f"title {stream_id}", T0)
    if ready:
        s.state, s.mux_live_stream_id, s.playback_id = "ready", f"mux-{stream_id}", "pb"
    return s


@pytest_asyncio.fixture
async def repos(mongo_db: AsyncDatabase[dict[str, Any]]) -> Repos:
    await ensure_indexes(mongo_db, [*STREAM_INDEXES, *MODERATION_INDEXES])
    r = Repos(mongo_db)
    for i, s in enumerate(IDS):
        await r.streams.reserve(stream(s, ready=i % 5 != 0))  # some still being created
        # bound now: the requests' TTL index (24 h) would expire a binding made at T0
        await r.streams.claim_request(f"owner-{s}", "key-1", s, datetime.now(UTC), "fp-1")
        if i % 2:
            await r.moderation.set_moderator(s, "mod", is_moderator=True, by="o", at=T0)
        if i % 3:
            await r.moderation.set_ban(s, "bad", banned=True, by="o", at=T0, reason="spam")
        await r.moderation.log(
            ModerationAction(f"act-{s}", s, "user_banned", "bad", "o", T0), banned(s, "bad")
        )
        if i % 4 == 0:
            point = UsagePoint(s, f"owner-{s}", "active", T0)
            await r.streams.record_usage(f"{s}:active:1", point)
    return r


async def save_started(r: Repos) -> bool:
    current = await r.streams.get(T)
    assert current is not None
    started = replace(current, facts=Facts(owner_started_at=T1))
    started.add_count(int(T1.timestamp() * 1000), 3, 3)
    assert started.status == StreamStatus.ACTIVE
    return await r.streams.save(started, expected_version=current.version, envelopes=[])


async def save_stale(r: Repos) -> bool:
    current = await r.streams.get(T)
    assert current is not None
    return await r.streams.save(current, expected_version=current.version + 1, envelopes=[])


Write = Callable[[Repos], Awaitable[Any]]


async def bound_to(claim: Awaitable[Any]) -> tuple[str, str] | None:
    """(stream id, request fingerprint) of the earlier claim."""
    doc = await claim
    return None if doc is None else (doc["stream_id"], doc["request_fp"])


WRITES: dict[str, tuple[Write, Any, set[tuple[str, Any]]]] = {
    "saved": (save_started, True, {(STREAMS, T)}),
    "stale save": (save_stale, False, set()),
    "creation finished": (
        lambda r: r.streams.finish_create(stream("s05"), [banned("s05", "x")]),
        True,
        {(STREAMS, "s05")},
    ),
    "creation finished twice": (
        lambda r: r.streams.finish_create(stream(T), []),
        False,
        set(),
    ),
    "reservation discarded": (lambda r: r.streams.discard("s10"), None, {(STREAMS, "s10")}),
    "ready stream not discarded": (lambda r: r.streams.discard(T), None, set()),
    "usage": (
        lambda r: r.streams.record_usage(f"{T}:idle:1", UsagePoint(T, "o", "idle", T1)),
        None,
        {(USAGE, f"{T}:idle:1")},
    ),
    "usage repeated": (
        lambda r: r.streams.record_usage("s00:active:1", UsagePoint("s00", "o", "x", T1)),
        None,
        set(),
    ),
    "request released": (
        lambda r: r.streams.release_request(f"owner-{T}", "key-1"),
        None,
        {(CREATE_REQUESTS, f"owner-{T}\x1fkey-1")},
    ),
    "request replayed": (
        lambda r: bound_to(
            r.streams.claim_request(f"owner-{T}", "key-1", "other", datetime.now(UTC), "fp-2")
        ),
        (T, "fp-1"),
        set(),
    ),
    "moderator added": (
        lambda r: r.moderation.set_moderator(T, "new", is_moderator=True, by="o", at=T1),
        True,
        {(MODERATORS, key(T, "new"))},
    ),
    "moderator removed": (
        lambda r: r.moderation.set_moderator(T, "mod", is_moderator=False, by="o", at=T1),
        True,
        {(MODERATORS, key(T, "mod"))},
    ),
    "older moderator change": (
        lambda r: r.moderation.set_moderator(T, "mod", is_moderator=False, by="o", at=T0),
        False,
        set(),
    ),
    "ban": (
        lambda r: r.moderation.set_ban(T, "troll", banned=True, by="o", at=T1),
        True,
        {(BANS, key(T, "troll"))},
    ),
    "unban": (
        lambda r: r.moderation.set_ban(T, "bad", banned=False, by="o", at=T1),
        True,
        {(BANS, key(T, "bad"))},
    ),
    "older unban": (
        lambda r: r.moderation.set_ban(T, "bad", banned=False, by="o", at=T0 - timedelta(1)),
        False,
        set(),
    ),
    "action logged": (
        lambda r: r.moderation.log(
            ModerationAction("act-new", T, "user_banned", "troll", "o", T1), banned(T, "troll")
        ),
        True,
        {(ACTIONS, "act-new")},
    ),
    "action logged twice (a concurrent repeat)": (
        lambda r: r.moderation.log(
            ModerationAction(f"act-{T}", T, "user_banned", "bad", "o", T1), banned(T, "bad")
        ),
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


async def test_bans_and_moderators_read_back_per_stream(repos: Repos) -> None:
    assert await repos.moderation.set_ban(T, "bad", banned=False, by="o", at=T1)
    assert await repos.moderation.set_moderator(T, "new", is_moderator=True, by="o", at=T1)
    for i, s in enumerate(IDS):
        bans = [b.account_id for b in await repos.moderation.bans(s, T1)]
        assert bans == ([] if s == T or i % 3 == 0 else ["bad"]), s
        mods = [m.account_id for m in await repos.moderation.moderators(s)]
        assert mods == (["mod", "new"] if s == T else ["mod"] if i % 2 else []), s
