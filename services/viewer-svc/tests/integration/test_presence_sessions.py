"""Presence per session (tab, player, chat socket), kept in each instance's memory and merged
from the sheets on the real database: the count is the number of distinct accounts with at
least one live session, whichever instance saw what; ``leave`` ends only its own session; a
crashed instance's sheet counts until its sessions time out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo.asynchronous.database import AsyncDatabase

from contracts.common import StreamStatus
from contracts.viewer import PresenceEntry, PresenceHeartbeat, ViewerCountChanged, ViewerLeft
from servicekit.memory import RecordingPublisher
from servicekit.mongo import ensure_indexes
from viewer_svc import handlers
from viewer_svc.adapters.memory import MemoryProjection
from viewer_svc.adapters.mongo import INDEXES, MongoBoard, MongoCounts
from viewer_svc.deps import Deps
from viewer_svc.domain.presence import MAX_SESSIONS_PER_ACCOUNT, LivePresence, Sheet

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

ACCOUNTS = st.sampled_from(["a", "b.c", "ünï", "x$y", "a" * 64, "o'neil"])
SESSIONS = st.sampled_from(["http:default", "http:tab2", "chat:c_1", "*"])
ENTRIES = st.dictionaries(
    st.tuples(ACCOUNTS, SESSIONS), st.integers(min_value=0, max_value=2**45), max_size=8
)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seen=ENTRIES, ended=ENTRIES)
async def test_a_sheet_reads_back_as_written(
    mongo_db: AsyncDatabase[Any], seen: dict[Any, int], ended: dict[Any, int]
) -> None:
    board = MongoBoard(mongo_db)
    neighbour = Sheet("s1", "i2", {("n", "http:default"): 5})
    await board.write([neighbour, Sheet("s1", "i1", seen, ended)], 30_000)
    back = {s.instance_id: s for s in await board.read("s1")}
    if seen or ended:
        assert back.pop("i1") == Sheet("s1", "i1", seen, ended)
    assert back == {"i2": neighbour}
    await board.write([Sheet("s1", "i1")], 30_000)  # empty: removed
    assert [s.instance_id for s in await board.read("s1")] == ["i2"]


@dataclass
class Cluster:
    """Instances of viewer-svc sharing the real database (the projection in memory)."""

    db: AsyncDatabase[Any]
    now: datetime = T0
    publisher: RecordingPublisher = field(default_factory=RecordingPublisher)
    projection: MemoryProjection = field(default_factory=MemoryProjection)
    instances: dict[str, Deps] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Deps:
        if name not in self.instances:
            self.instances[name] = Deps(
                live=LivePresence(name),
                board=MongoBoard(self.db),
                counts=MongoCounts(self.db),
                projection=self.projection,
                publisher=self.publisher,
                presence_timeout_s=30,
                count_interval_s=1,
                prune_grace_s=11,
                clock=lambda: self.now,
            )
        return self.instances[name]

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    async def settle(self, *names: str) -> None:
        """One batch of each instance named (default: all): sheets written, counts published."""
        for name in names or list(self.instances):
            await handlers.flush(self[name])
        for name in names or list(self.instances):
            await handlers.publish_counts(self[name])

    def counts(self) -> list[int]:
        return [e.viewer_count for e in self.publisher.events(ViewerCountChanged)]  # type: ignore[attr-defined]

    def presence_types(self) -> list[str]:
        types = [p.envelope.event_type for p in self.publisher.published]
        return [t for t in types if t != "viewer.count_changed"]


async def live_s1(mongo_db: AsyncDatabase[Any]) -> Cluster:
    """Instances sharing the real database, an active stream ``s1`` (30 s timeout)."""
    await ensure_indexes(mongo_db, INDEXES)
    cluster = Cluster(mongo_db)
    await cluster.projection.describe("s1", "owner", "https://p/s1.m3u8")
    await cluster.projection.advance("s1", StreamStatus.ACTIVE)
    return cluster


async def test_two_instances_count_each_account_once_and_a_leave_anywhere_ends_its_session(
    mongo_db: AsyncDatabase[Any],
) -> None:
    c = await live_s1(mongo_db)
    a, b = c["a"], c["b"]
    await handlers.join("s1", "alice", a, "tab1")
    await handlers.join("s1", "alice", b, "tab1")  # the same tab's heartbeat reached b
    await handlers.join("s1", "alice", b, "tab2")
    await handlers.join("s1", "bob", a)
    await c.settle()
    assert await handlers.viewer_count("s1", a) == await handlers.viewer_count("s1", b) == 2
    assert c.counts() == [2]

    c.advance(1)
    await handlers.leave("s1", "alice", b, "tab1")  # seen on both, left on b
    await handlers.leave("s1", "bob", b)  # seen on a only, left on b
    await c.settle()
    assert await handlers.viewer_count("s1", a) == await handlers.viewer_count("s1", b) == 1
    c.advance(1)
    await handlers.leave("s1", "alice", a, "tab2")  # seen on b only, left on a
    await c.settle()
    assert await handlers.viewer_count("s1", a) == await handlers.viewer_count("s1", b) == 0
    assert c.counts() == [2, 1, 0]
    left = c.publisher.events(ViewerLeft)
    assert sorted((e.account_id, e.reason) for e in left) == [("alice", "left"), ("bob", "left")]  # type: ignore[attr-defined]


async def test_a_crashed_instances_viewers_count_until_their_timeout_then_are_pruned(
    mongo_db: AsyncDatabase[Any],
) -> None:
    c = await live_s1(mongo_db)
    crashed, alive = c["crashed"], c["alive"]
    await handlers.join("s1", "alice", crashed)
    await handlers.join("s1", "bob", crashed)
    await handlers.join("s1", "bob", alive, "other-tab")
    await c.settle()
    del c.instances["crashed"]  # it stops: no more batches, its sheet stays behind
    c.advance(20)
    await handlers.join("s1", "bob", alive, "other-tab")
    assert await handlers.viewer_count("s1", alive) == 2  # within the timeout: still counted
    c.advance(11)  # alice unseen for 31 s
    assert await handlers.viewer_count("s1", alive) == 1  # the merge skips her at once
    c.advance(11)  # past the grace: the live instance prunes the sheet left behind
    await handlers.expire(alive)
    await c.settle()
    assert [s.instance_id for s in await alive.board.read("s1")] == ["alive"]
    assert c.counts()[-1] == 1
    assert [(e.account_id, e.reason) for e in c.publisher.events(ViewerLeft)] == [  # type: ignore[attr-defined]
        ("alice", "timeout")
    ]


async def test_a_second_tab_leaving_keeps_the_account_counted(mongo_db: AsyncDatabase[Any]) -> None:
    """The issue's case: a chat socket open, a second tab calls leave."""
    c = await live_s1(mongo_db)
    deps = c["i1"]
    heartbeat = PresenceHeartbeat(
        instance_id="gw-a",
        seen_at=T0,
        entries=[PresenceEntry(stream_id="s1", account_id="alice", session_id="c_1")],
    )
    assert await handlers.chat_presence(heartbeat, deps) == 1
    assert (await handlers.join("s1", "alice", deps, "tab2")).viewer_count == 1
    await handlers.leave("s1", "alice", deps, "tab2")
    assert await handlers.viewer_count("s1", deps) == 1
    await handlers.leave("s1", "alice", deps)  # a tab without a session id: its own session
    await c.settle()
    assert await handlers.viewer_count("s1", deps) == 1
    assert c.presence_types() == ["viewer.joined"]
    # the chat socket's session ends by timeout; then the account is counted out, once
    c.advance(31)
    assert await handlers.expire(deps) == 1
    await c.settle()
    assert await handlers.viewer_count("s1", deps) == 0
    assert c.presence_types() == ["viewer.joined", "viewer.left"]


async def test_a_closed_chat_socket_ends_its_session_at_once(mongo_db: AsyncDatabase[Any]) -> None:
    """A chat socket that closes is announced as an ``ended`` entry: its account stops
    counting at once (not at the presence timeout), unless another session holds it; the
    gateway's batches may reach any instance."""
    c = await live_s1(mongo_db)
    a, b = c["a"], c["b"]

    def beat(account: str, session: str, *, ended: bool = False) -> PresenceHeartbeat:
        entry = PresenceEntry(stream_id="s1", account_id=account, session_id=session, ended=ended)
        return PresenceHeartbeat(instance_id="gw-a", seen_at=T0, entries=[entry])

    assert await handlers.chat_presence(beat("alice", "c_1"), a) == 1
    assert await handlers.chat_presence(beat("alice", "c_2"), b) == 1  # a second socket
    assert await handlers.chat_presence(beat("bob", "c_3"), a) == 1
    await c.settle()
    assert await handlers.viewer_count("s1", a) == 2

    c.advance(1)
    assert await handlers.chat_presence(beat("alice", "c_1", ended=True), b) == 0
    await c.settle()
    assert await handlers.viewer_count("s1", a) == 2  # alice's other socket keeps her counted
    assert await handlers.chat_presence(beat("alice", "c_2", ended=True), a) == 0
    await c.settle()
    assert await handlers.viewer_count("s1", b) == 1  # at once, no timeout waited for
    assert await handlers.chat_presence(beat("alice", "c_2", ended=True), b) == 0  # again
    await c.settle()
    assert await handlers.viewer_count("s1", a) == 1
    c.advance(1)
    await c.settle()
    left = c.publisher.events(ViewerLeft)
    assert [(e.account_id, e.reason) for e in left] == [("alice", "left")]  # type: ignore[attr-defined]


async def test_an_account_minting_session_ids_keeps_a_bounded_sheet_and_counts_once(
    mongo_db: AsyncDatabase[Any],
) -> None:
    """Session ids are the client's: one account joining (and leaving) with a new id per
    request must not grow the instance's memory and its sheet (one document, 16 MB at most on
    MongoDB: ~120,000 entries) without bound; it still counts once, others are untouched."""
    c = await live_s1(mongo_db)
    a, b = c["a"], c["b"]
    await handlers.join("s1", "bob", a, "tab")
    await handlers.join("s1", "carol", b, "tab")
    for i in range(3000):
        await handlers.join("s1", "mallory", a, f"j{i}")
        await handlers.leave("s1", "mallory", a, f"l{i}")
    await c.settle()
    (sheet,) = [s for s in await a.board.read("s1") if s.instance_id == "a"]
    assert len([k for k in sheet.seen if k[0] == "mallory"]) == MAX_SESSIONS_PER_ACCOUNT
    assert len([k for k in sheet.ended if k[0] == "mallory"]) == MAX_SESSIONS_PER_ACCOUNT
    assert ("bob", "http:tab") in sheet.seen
    assert await handlers.viewer_count("s1", a) == await handlers.viewer_count("s1", b) == 3
    # the newest sessions are the ones kept: their leave ends the account's presence
    for i in range(3000 - MAX_SESSIONS_PER_ACCOUNT, 3000):
        await handlers.leave("s1", "mallory", b, f"j{i}")
    c.advance(1)
    await c.settle()
    assert await handlers.viewer_count("s1", a) == await handlers.viewer_count("s1", b) == 2
