"""notifier's MongoDB repositories with 20 accounts and streams present: inbox, follows and
go-live campaigns (claims and cursors) touch exactly the documents of their account/stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from notifier.adapters.mongo import (
    CAMPAIGNS,
    FOLLOWS,
    INDEXES,
    NOTIFICATIONS,
    SENT,
    STREAMS,
    MongoCampaigns,
    MongoFollows,
    MongoGoLiveSent,
    MongoInbox,
)
from notifier.deps import Deps
from notifier.domain.model import Notification
from notifier.handlers import announce_follow, announce_unfollow, fan_out_one
from servicekit.memory import RecordingPublisher
from servicekit.mongo import ensure_indexes
from testkit.neighbours import snapshot, touched

pytestmark = pytest.mark.integration

IDS = [f"{i:02d}" for i in range(20)]
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LEASE_S = 30.0


def note(account: str, n: int) -> Notification:
    return Notification(f"n-{account}-{n}", account, "stream_live", "t", "b", T0)


class Repos:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db
        self.inbox = MongoInbox(db)
        self.follows = MongoFollows(db)
        self.campaigns = MongoCampaigns(db)


@pytest_asyncio.fixture
async def repos(mongo_db: AsyncDatabase[dict[str, Any]]) -> Repos:
    """Accounts a00..a19 each with two notifications (one read) and a follow of the next one;
    streams s00..s19: a campaign for even ones (ready for those whose owner is known), the
    owner known for every third."""
    await ensure_indexes(mongo_db, INDEXES)
    r = Repos(mongo_db)
    for i, n in enumerate(IDS):
        account, stream = f"a{n}", f"s{n}"
        assert await r.inbox.deliver([note(account, 1), note(account, 2)]) == 2
        await r.inbox.mark_read(account, [f"n-{account}-1"])
        await r.follows.follow(account, f"a{IDS[(i + 1) % 20]}", T0, announce_follow("x", "y", T0))
        if i % 3 == 0:
            await r.campaigns.describe(stream, f"owner-{n}", f"title {n}")
        if i % 2 == 0:
            await r.campaigns.trigger(stream, T0)
    return r


Write = Callable[[Repos], Awaitable[Any]]

WRITES: dict[str, tuple[Write, Any, set[tuple[str, Any]]]] = {
    "delivered": (lambda r: r.inbox.deliver([note("a07", 3)]), 1, {(NOTIFICATIONS, "n-a07-3")}),
    "delivered again": (lambda r: r.inbox.deliver([note("a07", 2)]), 0, set()),
    "read one": (
        lambda r: r.inbox.mark_read("a07", ["n-a07-2", "n-a08-2"]),
        1,
        {(NOTIFICATIONS, "n-a07-2")},
    ),
    "read all": (lambda r: r.inbox.mark_read("a07", None), 1, {(NOTIFICATIONS, "n-a07-2")}),
    "follow": (
        lambda r: r.follows.follow("a07", "a01", T0, announce_follow("a07", "a01", T0)),
        True,
        {(FOLLOWS, "a07\x1fa01")},
    ),
    "follow twice": (
        lambda r: r.follows.follow("a07", "a08", T0, announce_follow("a07", "a08", T0)),
        False,
        set(),
    ),
    "unfollow": (
        lambda r: r.follows.unfollow("a07", "a08", announce_unfollow("a07", "a08", T0)),
        True,
        {(FOLLOWS, "a07\x1fa08")},
    ),
    "unfollow twice": (
        lambda r: r.follows.unfollow("a07", "a09", announce_unfollow("a07", "a09", T0)),
        False,
        set(),
    ),
    "went live": (lambda r: r.campaigns.trigger("s07", T0), True, {(CAMPAIGNS, "s07")}),
    "went live again": (lambda r: r.campaigns.trigger("s08", T0), False, set()),
    "owner learnt": (
        lambda r: r.campaigns.describe("s08", "o", "t"),
        None,
        {(STREAMS, "s08"), (CAMPAIGNS, "s08")},
    ),
    "cursor advanced": (
        lambda r: r.campaigns.advance("s06", "a05", 5, T0, LEASE_S),
        None,
        {(CAMPAIGNS, "s06")},
    ),
    "finished": (lambda r: r.campaigns.finish("s06"), None, {(CAMPAIGNS, "s06")}),
}


@pytest.mark.parametrize("name", list(WRITES))
async def test_a_write_leaves_every_other_account_and_stream_untouched(
    repos: Repos, name: str
) -> None:
    write, returned, allowed = WRITES[name]
    before = await snapshot(repos.db)
    assert await write(repos) == returned
    assert touched(before, await snapshot(repos.db)) == allowed


async def test_claims_take_each_ready_campaign_once(repos: Repos) -> None:
    ready = sorted(f"s{n}" for i, n in enumerate(IDS) if i % 6 == 0)
    claimed = []
    before = await snapshot(repos.db)
    while (doc := await repos.campaigns.claim(T0, LEASE_S)) is not None:
        claimed.append(doc["_id"])
    assert sorted(claimed) == ready
    assert touched(before, await snapshot(repos.db)) == {(CAMPAIGNS, s) for s in ready}
    later = T0 + timedelta(seconds=LEASE_S + 1)
    assert (await repos.campaigns.claim(later, LEASE_S) or {}).get("_id") in ready


async def test_inbox_counts_per_account(repos: Repos) -> None:
    await repos.inbox.mark_read("a07", None)
    assert [await repos.inbox.unread_count(f"a{n}") for n in IDS] == [
        0 if n == "07" else 1 for n in IDS
    ]
    await repos.inbox.deliver([note("a08", 3)])
    assert await repos.inbox.unread_counts(["a07", "a08", "a09", "nobody"]) == {
        "a07": 0,
        "a08": 2,
        "a09": 1,
        "nobody": 0,
    }


async def test_two_streams_of_one_owner_racing_for_followers_never_both_win(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    """Go-live claims (the window rule) under the race of two campaigns of one streamer on two
    replicas: over many trials each follower is claimed by exactly one stream, a neighbour
    streamer's claims are untouched, and a follower told before the window is due again."""
    sent = MongoGoLiveSent(mongo_db)
    since = T0 - timedelta(minutes=10)
    fans = [f"f{i:02d}" for i in range(20)]
    assert await sent.claim("other", fans, "o-s", T0 - timedelta(hours=1), since=since) == fans
    before = await snapshot(mongo_db)
    for trial in range(30):
        owner = f"owner{trial}"
        await sent.claim(owner, fans[:5], "old", T0 - timedelta(hours=1), since=since)
        a, b = await asyncio.gather(
            sent.claim(owner, fans, "s-a", T0, since=since),
            sent.claim(owner, list(reversed(fans)), "s-b", T0, since=since),
        )
        assert sorted(a + b) == sorted(fans), (trial, a, b)
        assert not set(a) & set(b)
        # a campaign redone after a crash finds its own followers due again, no others
        assert await sent.claim(owner, fans, "s-a", T0, since=since) == a
    changed = touched(before, await snapshot(mongo_db))
    assert changed and all(
        name == SENT and not str(key).startswith("other") for name, key in changed
    )


async def test_two_go_live_campaigns_of_one_streamer_at_once_tell_each_follower_once(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    """The whole fan-out of two streams of one streamer claimed by two replicas at the same
    moment (reads of who was told interleave with both campaigns' inbox writes): every
    follower gets exactly one go-live notification, over many trials."""
    await ensure_indexes(mongo_db, INDEXES)
    follows = MongoFollows(mongo_db)
    deps = Deps(
        follows=follows,
        inbox=MongoInbox(mongo_db),
        campaigns=MongoCampaigns(mongo_db),
        sent=MongoGoLiveSent(mongo_db),
        publisher=RecordingPublisher(),
        kick=lambda *_: None,
        fanout_batch=7,
        clock=lambda: T0,
    )
    fans = [f"fan{i:02d}" for i in range(25)]
    for trial in range(12):
        owner = f"streamer{trial}"
        for fan in fans:
            await follows.follow(fan, owner, T0, announce_follow(fan, owner, T0))
        for sid in (f"{owner}-a", f"{owner}-b"):
            await deps.campaigns.trigger(sid, T0)
            await deps.campaigns.describe(sid, owner, "title")
        replicas = [replace(deps), replace(deps)]
        await asyncio.gather(*(fan_out_one(r) for r in replicas))
        told = [
            d["account_id"]
            async for d in mongo_db[NOTIFICATIONS].find(
                {"kind": "stream_live", "data.owner_id": owner}
            )
        ]
        assert sorted(told) == fans, trial
