"""Presence per session (tab, player, chat socket) on the real database: the count is the
number of distinct accounts with at least one live session; ``leave`` ends only its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo.asynchronous.database import AsyncDatabase

from contracts.common import StreamStatus
from contracts.viewer import PresenceEntry, PresenceHeartbeat
from servicekit.memory import RecordingPublisher
from viewer_svc import handlers
from viewer_svc.adapters.memory import MemoryCounts, MemoryProjection
from viewer_svc.adapters.mongo import MongoPresence
from viewer_svc.deps import Deps

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

OPS = st.lists(
    st.tuples(
        st.sampled_from(["touch", "remove", "remove_account"]),
        st.sampled_from(["s1", "s2"]),
        st.sampled_from(["a", "b"]),
        st.sampled_from(["http:default", "http:tab2", "chat:c1"]),
    ),
    max_size=25,
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
async def test_the_count_is_distinct_accounts_with_a_live_session(
    mongo_db: AsyncDatabase[Any], ops: list[tuple[str, str, str, str]]
) -> None:
    await mongo_db["viewers"].delete_many({})
    presence = MongoPresence(mongo_db)
    model: set[tuple[str, str, str]] = set()
    for op, stream, account, session in ops:
        had = any(k[:2] == (stream, account) for k in model)
        if op == "touch":
            joined = await presence.touch(stream, account, session, T0)
            model.add((stream, account, session))
            assert joined == (not had)
        elif op == "remove":
            left = await presence.remove(stream, account, session)
            present = (stream, account, session) in model
            model.discard((stream, account, session))
            assert left == (present and not any(k[:2] == (stream, account) for k in model))
        else:
            assert await presence.remove_account(stream, account) == had
            model = {k for k in model if k[:2] != (stream, account)}
        for s in ("s1", "s2"):
            assert await presence.count(s) == len({k[1] for k in model if k[0] == s})


async def live_stream_s1(
    mongo_db: AsyncDatabase[Any],
) -> tuple[MongoPresence, RecordingPublisher, Deps]:
    """Presence on the real database for an active stream ``s1`` (30 s timeout, clock at T0)."""
    presence = MongoPresence(mongo_db)
    projection = MemoryProjection()
    await projection.describe("s1", "owner", "https://p/s1.m3u8")
    await projection.advance("s1", StreamStatus.ACTIVE)
    publisher = RecordingPublisher()
    deps = Deps(
        presence=presence,
        counts=MemoryCounts(),
        projection=projection,
        publisher=publisher,
        presence_timeout_s=30,
        count_interval_s=1,
        clock=lambda: T0,
    )
    return presence, publisher, deps


async def test_a_second_tab_leaving_keeps_the_account_counted(mongo_db: AsyncDatabase[Any]) -> None:
    """The issue's case: a chat socket open, a second tab calls leave."""
    presence, publisher, deps = await live_stream_s1(mongo_db)
    heartbeat = PresenceHeartbeat(
        instance_id="gw-a",
        seen_at=T0,
        entries=[PresenceEntry(stream_id="s1", account_id="alice", session_id="c_1")],
    )
    assert await handlers.chat_presence(heartbeat, deps) == 1
    assert (await handlers.join("s1", "alice", deps, "tab2")).viewer_count == 1
    await handlers.leave("s1", "alice", deps, "tab2")
    assert await presence.count("s1") == 1
    await handlers.leave("s1", "alice", deps)  # a tab without a session id: its own session
    assert await presence.count("s1") == 1
    assert [p.envelope.event_type for p in publisher.published] == ["viewer.joined"]
    # the chat socket's session ends by timeout; then the account is counted out, once
    later = T0 + timedelta(seconds=31)
    object.__setattr__(deps, "clock", lambda: later)
    assert await handlers.expire(deps) == 1
    assert await presence.count("s1") == 0
    assert [p.envelope.event_type for p in publisher.published] == ["viewer.joined", "viewer.left"]


async def test_a_closed_chat_socket_ends_its_session_at_once(mongo_db: AsyncDatabase[Any]) -> None:
    """A chat socket that closes is announced as an ``ended`` entry: its account stops
    counting at once (not at the presence timeout), unless another session holds it."""
    presence, publisher, deps = await live_stream_s1(mongo_db)

    def beat(account: str, session: str, *, ended: bool = False) -> PresenceHeartbeat:
        entry = PresenceEntry(stream_id="s1", account_id=account, session_id=session, ended=ended)
        return PresenceHeartbeat(instance_id="gw-a", seen_at=T0, entries=[entry])

    assert await handlers.chat_presence(beat("alice", "c_1"), deps) == 1
    assert await handlers.chat_presence(beat("alice", "c_2"), deps) == 1  # a second socket
    assert await handlers.chat_presence(beat("bob", "c_3"), deps) == 1
    assert await presence.count("s1") == 2

    assert await handlers.chat_presence(beat("alice", "c_1", ended=True), deps) == 0
    assert await presence.count("s1") == 2  # alice's other socket keeps her counted
    assert await handlers.chat_presence(beat("alice", "c_2", ended=True), deps) == 0
    assert await presence.count("s1") == 1  # at once, no timeout waited for
    assert await handlers.chat_presence(beat("alice", "c_2", ended=True), deps) == 0  # again
    assert await presence.count("s1") == 1
    left = [
        p.envelope.payload for p in publisher.published if p.envelope.event_type == "viewer.left"
    ]
    assert [(e.account_id, e.reason) for e in left] == [("alice", "left")]
