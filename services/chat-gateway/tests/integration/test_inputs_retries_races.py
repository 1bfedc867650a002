"""Issue 15 over two real instances, the real broker and database: user text, retries as
replays, roles and bans, room loading while a ban arrives, limits across instances, resume."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from contracts.moderation import ModeratorAdded, UserBanned, UserUnbanned

from .conftest import Cluster, Peer

pytestmark = pytest.mark.integration


class TestUserText:
    async def test_invisible_long_looking_and_right_to_left_messages(
        self, cluster: Cluster
    ) -> None:
        await cluster.live_stream("t1")
        peer = await cluster.peer("t1", "writer")
        await peer.send(
            type="chat.send", client_msg_id="zw", message="\u200b\u200c\u200d\u2060\ufeff"
        )
        await peer.wait(lambda p: p.of("chat.error"))
        assert peer.of("chat.error")[0]["reason"] == "empty"
        await peer.send(type="chat.send", client_msg_id="rlo", message="look \u202eereh")
        await peer.wait(lambda p: p.of("chat.message"))
        assert peer.of("chat.message")[0]["text"] == "look \u202eereh\u202c"
        async with cluster.http(on=1, account="writer") as http:
            r = await http.post("/live/t1/chats", json={"message": "e\u0301" * 300})
            assert r.status_code == 201, r.text
            r = await http.post("/live/t1/chats", json={"message": "\u200b \ufeff"})
            assert (r.status_code, r.json()["reason"]) == (422, "empty")
            page = (await http.get("/live/t1/chats")).json()
        assert page["items"][0]["text"] == "\u00e9" * 300


class TestRetriesAreReplays:
    async def test_a_resend_is_replayed_whatever_slow_mode_says_now(self, cluster: Cluster) -> None:
        await cluster.live_stream("r1", owner="owner")
        viewer = await cluster.peer("r1", "viewer", on=1)
        await viewer.send(type="chat.send", client_msg_id="m1", message="hello")
        await viewer.wait(lambda p: p.of("chat.ack"))
        async with cluster.http(on=0, account="viewer") as http:
            first = await http.post(
                "/live/r1/chats", json={"message": "over http"}, headers={"Idempotency-Key": "k1"}
            )
        assert first.status_code == 201
        async with cluster.http(on=0, account="owner") as http:
            r = await http.put("/live/r1/chat/slow-mode", json={"interval_s": 60})
            assert r.status_code == 204
        await viewer.wait(lambda p: p.of("slow_mode"))
        await viewer.send(type="chat.send", client_msg_id="m1", message="hello")
        await viewer.wait(lambda p: len(p.of("chat.ack")) == 2)
        assert viewer.of("chat.ack")[1] == viewer.of("chat.ack")[0]
        assert viewer.of("chat.error") == []
        async with cluster.http(on=1, account="viewer") as http:
            again = await http.post(
                "/live/r1/chats", json={"message": "over http"}, headers={"Idempotency-Key": "k1"}
            )
            passes = await http.post("/live/r1/chats", json={"message": "the one per minute"})
            fresh = await http.post("/live/r1/chats", json={"message": "new one"})
        assert again.status_code == 200
        assert again.headers["Idempotent-Replayed"] == "true"
        assert {k: again.json()[k] for k in ("message_id", "seq")} == {
            k: first.json()[k] for k in ("message_id", "seq")
        }
        assert passes.status_code == 201
        assert (fresh.status_code, fresh.json()["error"]) == (429, "slow_mode")

    async def test_a_resend_is_replayed_when_the_rate_budget_is_spent(
        self, strict_cluster: Cluster
    ) -> None:
        cluster = strict_cluster
        await cluster.live_stream("r2")
        peer = await cluster.peer("r2", "talker")
        for i in range(6):
            await peer.send(type="chat.send", client_msg_id=f"m{i}", message=f"m {i}")
        await peer.wait(lambda p: len(p.of("chat.ack")) == 6)
        await peer.send(type="chat.send", client_msg_id="m7", message="one too many")
        await peer.wait(lambda p: p.of("chat.error"))
        assert peer.of("chat.error")[0]["reason"] == "rate_limited"
        await peer.send(type="chat.send", client_msg_id="m0", message="m 0")
        await peer.wait(lambda p: len(p.of("chat.ack")) == 7)
        assert peer.of("chat.ack")[6] == peer.of("chat.ack")[0]

    async def test_the_same_key_with_another_request_is_refused(self, cluster: Cluster) -> None:
        await cluster.live_stream("r3", owner="streamer")
        peer = await cluster.peer("r3", "fan")
        await peer.send(type="chat.send", client_msg_id="c1", message="first")
        await peer.wait(lambda p: p.of("chat.ack"))
        await peer.send(type="chat.send", client_msg_id="c1", message="something else")
        await peer.wait(lambda p: p.of("chat.error"))
        assert peer.of("chat.error")[0]["reason"] == "idempotency_key_reused"
        assert peer.of("chat.error")[0]["client_msg_id"] == "c1"
        async with cluster.http(on=1, account="fan") as http:
            headers = {"Idempotency-Key": "same"}
            r = await http.post("/live/r3/chats", json={"message": "a"}, headers=headers)
            assert r.status_code == 201
            r = await http.post("/live/r3/chats", json={"message": "b"}, headers=headers)
            assert (r.status_code, r.json()["error"]) == (422, "idempotency_key_reused")
            rose = await http.post(
                "/live/r3/gift", json={"gift_type": "rose", "amount": 1}, headers=headers
            )
            crown = await http.post(
                "/live/r3/gift", json={"gift_type": "crown", "amount": 1000}, headers=headers
            )
            replay = await http.post(
                "/live/r3/gift", json={"gift_type": "rose", "amount": 1}, headers=headers
            )
            texts = [m["text"] for m in (await http.get("/live/r3/chats")).json()["items"]]
        assert rose.status_code == 201
        assert (crown.status_code, crown.json()["error"]) == (422, "idempotency_key_reused")
        assert "Idempotency-Key" in crown.json()["message"]
        assert replay.status_code == 200
        assert replay.content == rose.content  # byte for byte: times cut to ms where made
        assert sorted(texts) == ["a", "first"]

    async def test_a_gift_key_reused_for_another_stream_is_refused(self, cluster: Cluster) -> None:
        """Found by atk1: a rose to stream B with the key of a rose to stream A answered 200
        with A's receipt, and B got nothing. The target is part of the request (IETF
        idempotency-key draft): 422 ``idempotency_key_reused``."""
        await cluster.live_stream("ga", owner="owner-a")
        await cluster.live_stream("gb", owner="owner-b")
        async with cluster.http(on=0, account="fan") as http:
            headers = {"Idempotency-Key": "k"}
            body = {"gift_type": "rose", "amount": 1}
            first = await http.post("/live/ga/gift", json=body, headers=headers)
            other = await http.post("/live/gb/gift", json=body, headers=headers)
            again = await http.post("/live/ga/gift", json=body, headers=headers)
        assert first.status_code == 201
        assert (other.status_code, other.json()["error"]) == (422, "idempotency_key_reused")
        assert (again.status_code, again.content) == (200, first.content)


class TestRolesAndBans:
    async def test_a_banned_moderator_has_no_powers_until_the_ban_is_lifted(
        self, cluster: Cluster
    ) -> None:
        await cluster.live_stream("b1", owner="owner")
        now = datetime.now(UTC)
        await cluster.publish(ModeratorAdded(stream_id="b1", account_id="mod", by="owner", at=now))
        writer = await cluster.peer("b1", "writer")
        await writer.send(type="chat.send", client_msg_id="w", message="hi")
        await writer.wait(lambda p: p.of("chat.message"))
        message_id = writer.of("chat.message")[0]["message_id"]

        async def slow_mode_as_mod(on: int) -> int:
            async with cluster.http(on=on, account="mod") as http:
                r = await http.put("/live/b1/chat/slow-mode", json={"interval_s": 0})
                return r.status_code

        await writer.wait(lambda _: _is(slow_mode_as_mod(0), 204))
        await cluster.publish(
            UserBanned(
                stream_id="b1",
                account_id="mod",
                by="owner",
                at=now + timedelta(seconds=1),
                expires_at=now + timedelta(minutes=5),
            )
        )
        await writer.wait(lambda _: _is(slow_mode_as_mod(1), 403))
        for on in (0, 1):
            assert await slow_mode_as_mod(on) == 403
            async with cluster.http(on=on, account="mod") as http:
                r = await http.delete(f"/live/b1/chats/{message_id}")
                assert (r.status_code, r.json()["error"]) == (403, "forbidden")
        await cluster.publish(
            UserUnbanned(
                stream_id="b1", account_id="mod", by="owner", at=now + timedelta(seconds=2)
            )
        )
        await writer.wait(lambda _: _is(slow_mode_as_mod(1), 204))

    async def test_a_ban_while_the_room_loads_is_never_lost(self, cluster: Cluster) -> None:
        """The issue's race, 30 trials: the banned account connects to both instances while
        the ban is published and the rooms load; every connection must end banned."""
        trials = 30
        streams = [f"race{i}" for i in range(trials)]
        await asyncio.gather(*(cluster.live_stream(s) for s in streams))
        misses = []
        for stream in streams:
            now = datetime.now(UTC)
            ban = UserBanned(stream_id=stream, account_id="troll", by="owner", at=now)
            _, a, b = await asyncio.gather(
                cluster.publish(ban),
                cluster.peer(stream, "troll", on=0),
                cluster.peer(stream, "troll", on=1),
            )
            for peer in (a, b):
                try:
                    await peer.wait(lambda p: p.closed_code is not None, within=3)
                except AssertionError:
                    misses.append(stream)
                    await peer.close()
                    continue
                assert peer.closed_code == 4003
        assert misses == []


class TestLimitsAcrossInstances:
    async def test_one_budget_per_account_and_room_whatever_instance_serves_each_post(
        self, strict_cluster: Cluster
    ) -> None:
        cluster = strict_cluster
        await cluster.live_stream("l1")
        statuses = []
        for i in range(12):
            async with cluster.http(on=i % 2, account="quick") as http:
                r = await http.post("/live/l1/chats", json={"message": f"quick {i}"})
                statuses.append(r.status_code)
        assert statuses.count(201) == 6, statuses
        assert statuses.count(429) == 6
        async with cluster.http(on=0, account="other") as http:  # another account, own budget
            assert (await http.post("/live/l1/chats", json={"message": "hi"})).status_code == 201

    async def test_slow_mode_reaches_the_other_instance_within_a_second(
        self, cluster: Cluster
    ) -> None:
        await cluster.live_stream("l2", owner="owner")
        viewer = await cluster.peer("l2", "viewer", on=1)
        loop = asyncio.get_running_loop()
        async with cluster.http(on=0, account="owner") as http:
            started = loop.time()
            assert (
                await http.put("/live/l2/chat/slow-mode", json={"interval_s": 30})
            ).status_code == 204
        await viewer.wait(lambda p: p.of("slow_mode"), within=5)
        elapsed = loop.time() - started
        assert elapsed < 1.0, elapsed  # the bound, the same as a ban's
        await viewer.send(type="chat.send", client_msg_id="s1", message="one")
        await viewer.send(type="chat.send", client_msg_id="s2", message="two")
        await viewer.wait(lambda p: p.of("chat.error"))
        assert viewer.of("chat.error")[0]["reason"] == "slow_mode"
        assert len(viewer.of("chat.ack")) == 1


class TestResume:
    async def test_a_cursor_beyond_the_rooms_newest_gets_a_reset_and_the_real_cursor(
        self, cluster: Cluster
    ) -> None:
        await cluster.live_stream("c1")
        poster = await cluster.peer("c1", "poster")
        for i in range(3):
            await poster.send(type="chat.send", client_msg_id=f"p{i}", message=f"p {i}")
        await poster.wait(lambda p: len(p.of("chat.ack")) == 3)
        late = await cluster.peer("c1", "late", on=1, query="&last_seq=100000")
        hello = late.of("hello")[0]
        assert hello["reset"] is True
        assert hello["last_seq"] == 3
        assert [m["seq"] for m in hello["messages"]] == [1, 2, 3]
        await poster.send(type="chat.send", client_msg_id="p3", message="after")
        await late.wait(lambda p: p.of("chat.message"))
        assert late.of("chat.message")[0]["seq"] == 4 > hello["last_seq"] - 1
        exact = await cluster.peer("c1", "exact", on=0, query="&last_seq=4")
        assert exact.of("hello")[0]["reset"] is False

    @pytest.mark.parametrize(
        "cursor", ["-1", "99999999999999999999999", "abc", "%D9%A1%D9%A2", "%C2%B2", "1.0", "+1"]
    )
    async def test_a_cursor_that_is_no_sequence_number_gets_a_reset(
        self, cluster: Cluster, cursor: str
    ) -> None:
        """Found by atk1: such a cursor was taken for "no cursor" (``reset: false`` with the
        recent messages), so a resuming web client appended them to what it held."""
        await cluster.live_stream("c2")
        poster = await cluster.peer("c2", "poster")
        await poster.send(type="chat.send", client_msg_id="p0", message="p 0")
        await poster.wait(lambda p: p.of("chat.ack"))
        odd = await cluster.peer("c2", "odd", on=1, query=f"&last_seq={cursor}")
        hello = odd.of("hello")[0]
        assert hello["reset"] is True
        assert hello["last_seq"] == 1
        assert [m["seq"] for m in hello["messages"]] == [1]
        fresh = await cluster.peer("c2", "fresh", on=0, query="&last_seq=")
        assert fresh.of("hello")[0]["reset"] is False


async def _is(status: object, expected: int) -> bool:
    return bool(await status == expected)  # type: ignore[misc]


__all__ = ["Peer"]
