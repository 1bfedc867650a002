from __future__ import annotations

import pytest

from contracts.common import StreamStatus
from contracts.viewer import PresenceEntry, PresenceHeartbeat, ViewerCountChanged, ViewerLeft
from viewer_svc import handlers
from viewer_svc.domain.model import Banned, StreamOver, UnknownStream
from viewer_svc.domain.presence import Sheet

from ..helpers import T0, World


async def live_stream(
    world: World, stream_id: str = "s1", status: StreamStatus = StreamStatus.ACTIVE
) -> None:
    await handlers.stream_described(stream_id, "owner", f"https://p/{stream_id}.m3u8", world.deps)
    await handlers.stream_status(stream_id, status, world.deps)


class TestJoin:
    async def test_join_returns_playback_count_and_status(self) -> None:
        world = World()
        await live_stream(world)
        r = await handlers.join("s1", "a", world.deps)
        assert (r.playback_url, r.viewer_count, r.status) == ("https://p/s1.m3u8", 1, "active")
        assert world.types() == []  # announced with the next batch
        await world.settle()
        assert world.presence_types() == ["viewer.joined"]

    async def test_one_account_is_one_viewer_however_often_it_joins(self) -> None:
        world = World()
        await live_stream(world)
        for _ in range(3):
            r = await handlers.join("s1", "a", world.deps)
        r = await handlers.join("s1", "b", world.deps)
        assert r.viewer_count == 2
        await world.settle()
        assert world.presence_types() == ["viewer.joined", "viewer.joined"]

    async def test_idle_streams_can_be_joined_before_they_start(self) -> None:
        world = World()
        await live_stream(world, status=StreamStatus.IDLE)
        assert (await handlers.join("s1", "a", world.deps)).status == "idle"

    @pytest.mark.parametrize("status", [StreamStatus.ENDED, StreamStatus.DELETED])
    async def test_ended_or_deleted_streams_refuse_with_their_status(
        self, status: StreamStatus
    ) -> None:
        world = World()
        await live_stream(world, status=status)
        with pytest.raises(StreamOver) as exc:
            await handlers.join("s1", "a", world.deps)
        assert exc.value.status == status

    async def test_unknown_stream_is_refused(self) -> None:
        world = World()
        await handlers.stream_status("s1", StreamStatus.ACTIVE, world.deps)  # no stream.created yet
        with pytest.raises(UnknownStream):
            await handlers.join("s1", "a", world.deps)

    async def test_banned_accounts_are_refused_until_the_timeout_ends(self) -> None:
        world = World()
        await live_stream(world)
        from datetime import timedelta

        await handlers.ban_changed(
            "s1", "a", banned=True, at=T0, expires_at=T0 + timedelta(seconds=60), deps=world.deps
        )
        with pytest.raises(Banned):
            await handlers.join("s1", "a", world.deps)
        world.clock.advance(61)
        assert (await handlers.join("s1", "a", world.deps)).viewer_count == 1


class TestLeaveAndExpiry:
    async def test_leave_without_join_changes_nothing(self) -> None:
        world = World()
        await live_stream(world)
        await handlers.leave("s1", "a", world.deps)
        assert world.types() == []
        assert world.counts.changed == set()
        assert await world.count("s1") == 0

    async def test_leaving_a_stream_unknown_or_over_records_nothing(self) -> None:
        world = World()
        await live_stream(world, "over", StreamStatus.ENDED)
        await world.settle()  # the end's count (0) published
        await handlers.leave("nope", "a", world.deps)
        await handlers.leave("over", "a", world.deps)
        assert world.live.changed == set()
        world.clock.advance(1)
        assert await world.settle() == 0
        assert world.board.sheets == {}

    async def test_unseen_viewers_are_counted_out_once(self) -> None:
        world = World()
        await live_stream(world)
        await handlers.join("s1", "a", world.deps)
        await handlers.join("s1", "b", world.deps)
        await world.settle()
        world.clock.advance(20)
        await handlers.heartbeat("s1", "b", world.deps)
        world.clock.advance(15)  # a: 35 s unseen, b: 15 s
        assert await world.count("s1") == 1  # the merge already skips a
        assert await handlers.expire(world.deps) == 1
        assert await handlers.expire(world.deps) == 0
        await world.settle()
        await world.settle()
        left = world.publisher.events(ViewerLeft)
        assert [(e.account_id, e.reason) for e in left] == [("a", "timeout")]  # type: ignore[attr-defined]
        assert await world.count("s1") == 1

    async def test_ending_the_stream_drops_its_viewers(self) -> None:
        world = World()
        await live_stream(world)
        await handlers.join("s1", "a", world.deps)
        await world.settle()
        await handlers.stream_status("s1", StreamStatus.ENDED, world.deps)
        assert await world.count("s1") == 0
        world.clock.advance(1)
        await world.settle()
        assert world.publisher.events(ViewerLeft)[0].reason == "stream_ended"  # type: ignore[attr-defined]

    async def test_a_ban_removes_the_viewer(self) -> None:
        world = World()
        await live_stream(world)
        await handlers.join("s1", "a", world.deps)
        await world.settle()
        await handlers.ban_changed("s1", "a", banned=True, at=T0, expires_at=None, deps=world.deps)
        assert await world.count("s1") == 0
        world.clock.advance(1)
        await world.settle()
        assert world.publisher.events(ViewerLeft)[0].reason == "banned"  # type: ignore[attr-defined]


class TestCoalescedCounts:
    async def test_at_most_one_per_interval_with_the_latest_value_and_the_peak(self) -> None:
        world = World()
        await live_stream(world)
        for account in "abc":
            await handlers.join("s1", account, world.deps)
        assert await world.settle() == 1
        await handlers.leave("s1", "a", world.deps)
        await handlers.leave("s1", "b", world.deps)
        assert await world.settle() == 0  # interval not over
        world.clock.advance(1)
        assert await world.settle() == 1
        assert await world.settle() == 0  # nothing changed since
        counts = [(e.viewer_count, e.peak) for e in world.publisher.events(ViewerCountChanged)]  # type: ignore[attr-defined]
        assert counts == [(3, 3), (1, 3)]

    async def test_a_failed_publication_stays_pending(self) -> None:
        world = World()
        await live_stream(world)
        await handlers.join("s1", "a", world.deps)
        world.publisher.fail = True
        with pytest.raises(ConnectionError):
            await world.settle()
        world.publisher.fail = False
        assert await world.settle() == 1


class TestProjection:
    async def test_status_only_moves_forward(self) -> None:
        world = World()
        await live_stream(world, status=StreamStatus.ENDED)
        await handlers.stream_status("s1", StreamStatus.ACTIVE, world.deps)  # late, ignored
        view = await world.projection.get("s1")
        assert view is not None
        assert view.status == StreamStatus.ENDED

    async def test_reordered_ban_and_unban_converge_by_time(self) -> None:
        from datetime import timedelta

        world = World()
        await live_stream(world)
        await handlers.ban_changed(
            "s1", "a", banned=False, at=T0 + timedelta(seconds=5), expires_at=None, deps=world.deps
        )
        await handlers.ban_changed("s1", "a", banned=True, at=T0, expires_at=None, deps=world.deps)
        assert (await handlers.join("s1", "a", world.deps)).viewer_count == 1

    async def test_chat_connections_count_unless_refused(self) -> None:
        world = World()
        await live_stream(world)
        await handlers.ban_changed(
            "s1", "banned", banned=True, at=T0, expires_at=None, deps=world.deps
        )
        beat = PresenceHeartbeat(
            instance_id="gw1",
            seen_at=T0,
            entries=[
                PresenceEntry(stream_id="s1", account_id="a"),
                PresenceEntry(stream_id="s1", account_id="banned"),
                PresenceEntry(stream_id="nope", account_id="a"),
            ],
        )
        assert await handlers.chat_presence(beat, world.deps) == 1
        assert await world.count("s1") == 1


class TestNoWritePerRequest:
    async def test_joins_heartbeats_and_leaves_write_nothing_until_the_batch(self) -> None:
        from viewer_svc.cache import HotPath

        world = World()
        await live_stream(world)
        deps = world.deps
        object.__setattr__(deps, "hot", HotPath(ttl_s=1.0))
        writes: list[list[str]] = []
        real_write = world.board.write

        async def counting_write(sheets: list[Sheet], timeout_ms: int) -> None:
            writes.append([s.stream_id for s in sheets])
            await real_write(sheets, timeout_ms)

        world.board.write = counting_write  # type: ignore[method-assign]
        for account in "abcab":
            await handlers.join("s1", account, deps)
            await handlers.heartbeat("s1", account, deps, "tab2")
        await handlers.leave("s1", "a", deps)
        assert writes == []
        assert world.counts.changed == set()
        assert await handlers.flush(deps) == 1
        assert writes == [["s1"]]  # one write for the stream, whatever happened in it
        assert await handlers.flush(deps) == 0  # nothing changed since
        assert world.counts.changed == {"s1"}

    async def test_a_failed_batch_stays_pending(self) -> None:
        world = World()
        await live_stream(world)
        await handlers.join("s1", "a", world.deps)

        async def down(sheets: list[Sheet], timeout_ms: int) -> None:
            raise ConnectionError("database down")

        real_write = world.board.write
        world.board.write = down  # type: ignore[method-assign]
        with pytest.raises(ConnectionError):
            await handlers.flush(world.deps)
        world.board.write = real_write  # type: ignore[method-assign]
        assert await handlers.flush(world.deps) == 1
        assert len(await world.board.read("s1")) == 1

    async def test_a_sheet_the_database_refuses_does_not_hold_other_streams_back(self) -> None:
        """On MongoDB a stream with more sessions on one instance than fit in 16 MB is refused
        (``DocumentTooLarge``, raised for the whole bulk write): the other streams are still
        written and counted, the refused one stays pending; a database that is down still
        fails the whole batch."""
        from pymongo.errors import DocumentTooLarge

        world = World()
        for stream in ("s1", "s2", "s3"):
            await live_stream(world, stream)
            await handlers.join(stream, "a", world.deps)
        real_write = world.board.write

        async def refuses_s2(sheets: list[Sheet], timeout_ms: int) -> None:
            if any(s.stream_id == "s2" for s in sheets):
                raise DocumentTooLarge("BSON document too large (17000000 bytes)")
            await real_write(sheets, timeout_ms)

        world.board.write = refuses_s2  # type: ignore[method-assign]
        assert await handlers.flush(world.deps) == 2
        assert world.counts.changed == {"s1", "s3"}
        assert [len(await world.board.read(s)) for s in ("s1", "s2", "s3")] == [1, 0, 1]
        assert world.deps.live.changed == {"s2"}  # pending: written once it fits again
        world.board.write = real_write  # type: ignore[method-assign]
        assert await handlers.flush(world.deps) == 1
        assert len(await world.board.read("s2")) == 1
