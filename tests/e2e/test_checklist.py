"""The seed's testing checklist, end to end, through the gateway only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from testkit.stack import Stack
from testkit.wait import eventually

pytestmark = pytest.mark.e2e


class Socket:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                self.frames.append(json.loads(raw))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]


@contextlib.asynccontextmanager
async def socket(stack: Stack, stream_id: str, account: str) -> AsyncIterator[Socket]:
    async with connect(f"{stack.ws}/ws/live/{stream_id}?token={stack.token(account)}") as ws:
        sock = Socket(ws)
        await eventually(lambda: sock.of("hello") or ws.close_code, within=10)
        yield sock


async def status_of(api: httpx.AsyncClient, stack: Stack, sid: str) -> dict[str, Any]:
    r = await api.get(f"/live/{sid}", headers=stack.auth("someone"))
    return r.json() if r.status_code == 200 else {}


async def test_the_whole_checklist(stack: Stack) -> None:
    async with (
        httpx.AsyncClient(base_url=stack.gateway, timeout=20) as api,
        httpx.AsyncClient(base_url=stack.sim, timeout=20) as sim,
    ):
        # a follower, then create: what OBS needs and the playback URL
        assert (
            await api.put("/users/streamer/follow", headers=stack.auth("fan"))
        ).status_code == 200
        r = await api.post("/live", json={"title": "E2E stream"}, headers=stack.auth("streamer"))
        assert r.status_code == 201, r.text
        created = r.json()
        sid = created["stream_id"]
        assert created["stream_key"] and created["rtmp_url"].startswith("rtmp")
        assert r.headers["x-request-id"]

        # encoder connects (simulated): the stream goes active through Mux's webhooks
        assert (await sim.post(f"/_sim/passthrough/{sid}/connect")).status_code == 200
        await eventually(lambda: _status_is(api, stack, sid, "active"), within=20)

        # the playback URL plays real video (the simulator's HLS test pattern)
        playlist = await api.get(httpx.URL(created["playback_url"]).path)
        assert playlist.status_code == 200
        assert playlist.text.startswith("#EXTM3U")

        # two viewers join; the count reaches the stream's details
        for viewer in ("viewer1", "viewer2"):
            j = await api.post(f"/live/{sid}/join", headers=stack.auth(viewer))
            assert j.status_code == 200
            assert j.json()["playback_url"] == created["playback_url"]
        await eventually(lambda: _count_is(api, stack, sid, 2), within=20)

        async with (
            socket(stack, sid, "viewer1") as s1,
            socket(stack, sid, "viewer2") as s2,
            socket(stack, sid, "troll") as troll,
        ):
            # chat: each message reaches everybody once, in order, whichever gateway instance
            for i in range(3):
                await s1.ws.send(
                    json.dumps(
                        {"type": "chat.send", "client_msg_id": f"a{i}", "message": f"hi {i}"}
                    )
                )
                await s2.ws.send(
                    json.dumps(
                        {"type": "chat.send", "client_msg_id": f"b{i}", "message": f"yo {i}"}
                    )
                )
            for sock in (s1, s2, troll):
                await eventually(lambda sock=sock: len(sock.of("chat.message")) == 6, within=15)
            seqs = [f["seq"] for f in s2.of("chat.message")]
            assert seqs == sorted(seqs)
            assert len(set(seqs)) == 6

            # the connection registry is written in batches (every 0.5 s): poll
            async def instances() -> set[str]:
                connections = await api.get(
                    f"/live/{sid}/chat/connections", headers=stack.auth("streamer")
                )
                return {c["instance"] for c in connections.json()["items"]}

            assert len(await eventually(instances, within=5)) >= 1

            # a gift: shown in the room, the streamer is notified
            g = await api.post(
                f"/live/{sid}/gift",
                json={"gift_type": "rose", "amount": 2},
                headers={**stack.auth("viewer2"), "Idempotency-Key": "e2e-gift"},
            )
            assert g.status_code == 201
            for sock in (s1, s2):
                await eventually(lambda sock=sock: sock.of("gift"), within=15)
            await eventually(
                lambda: _has_notification(api, stack, "streamer", "gift_received"), within=20
            )

            # moderation: a moderator bans the troll, who is disconnected and cannot come back
            m = await api.post(
                f"/live/{sid}/moderators",
                json={"account_id": "viewer1"},
                headers=stack.auth("streamer"),
            )
            assert m.status_code == 201
            await eventually(lambda: _can_ban(api, stack, sid), within=20)
            await eventually(lambda: troll.ws.close_code is not None, within=10)
            assert troll.ws.close_code == 4003
            assert (
                await api.post(f"/live/{sid}/join", headers=stack.auth("troll"))
            ).status_code == 403
            log = (
                await api.get(f"/live/{sid}/moderation-log", headers=stack.auth("viewer1"))
            ).json()
            assert [e["action"] for e in log["items"]] == ["user_banned", "moderator_added"]

            # disconnect handling: the encoder drops; after the reconnect window the stream ends
            await sim.post(f"/_sim/passthrough/{sid}/disconnect")
            await eventually(lambda: _status_is(api, stack, sid, "ended"), within=30)
            for sock in (s1, s2):
                await eventually(
                    lambda sock=sock: any(f["status"] == "ended" for f in sock.of("stream_status")),
                    within=15,
                )
            await s1.ws.send(
                json.dumps({"type": "chat.send", "client_msg_id": "late", "message": "still here?"})
            )
            await eventually(
                lambda: any(e["reason"] == "read_only" for e in s1.of("chat.error")), within=10
            )

        # the recording becomes the archive; followers were told the stream went live
        async def archive() -> Any:
            return (await status_of(api, stack, sid)).get("archive_playback_url")

        assert await eventually(archive, within=30)
        await eventually(lambda: _has_notification(api, stack, "fan", "stream_live"), within=20)
        assert (await api.post(f"/live/{sid}/join", headers=stack.auth("late"))).status_code == 409

        # the gateway's own answers are JSON too
        missing = await api.get("/no/such/route")
        assert missing.status_code == 404
        assert missing.json()["error"] == "not_found"
        too_big = await api.post("/live", content=b"x" * (2 << 20), headers=stack.auth("streamer"))
        assert too_big.status_code == 413


async def _status_is(api: httpx.AsyncClient, stack: Stack, sid: str, want: str) -> bool:
    return (await status_of(api, stack, sid)).get("status") == want


async def _count_is(api: httpx.AsyncClient, stack: Stack, sid: str, want: int) -> bool:
    return (await status_of(api, stack, sid)).get("viewer_count") == want


async def _has_notification(api: httpx.AsyncClient, stack: Stack, account: str, kind: str) -> bool:
    r = await api.get("/notifications", headers=stack.auth(account))
    return any(n["kind"] == kind for n in r.json().get("items", []))


async def _can_ban(api: httpx.AsyncClient, stack: Stack, sid: str) -> bool:
    r = await api.post(
        f"/live/{sid}/bans",
        json={"account_id": "troll", "reason": "spam"},
        headers=stack.auth("viewer1"),
    )
    return r.status_code == 201


async def test_restarting_a_service_mid_run_loses_nothing(stack: Stack) -> None:
    async with (
        httpx.AsyncClient(base_url=stack.gateway, timeout=20) as api,
        httpx.AsyncClient(base_url=stack.sim, timeout=20) as sim,
    ):
        sid = (
            await api.post("/live", json={"title": "restart"}, headers=stack.auth("owner2"))
        ).json()["stream_id"]
        await eventually(lambda: _status_is(api, stack, sid, "idle"), within=20)
        os.kill(stack.pid("stream-svc"), signal.SIGKILL)  # the runner restarts it
        # while stream-svc is down, Mux reports the stream active: webhooks are accepted and queued
        assert (await sim.post(f"/_sim/passthrough/{sid}/connect")).status_code == 200
        await eventually(lambda: _status_is(api, stack, sid, "active"), within=60)
        async with socket(stack, sid, "watcher") as watcher:
            os.kill(stack.pid("notifier"), signal.SIGKILL)
            await watcher.ws.send(
                json.dumps({"type": "chat.send", "client_msg_id": "m1", "message": "anyone?"})
            )
            await eventually(lambda: watcher.of("chat.message"), within=15)
        g = await api.post(
            f"/live/{sid}/gift", json={"gift_type": "star", "amount": 1}, headers=stack.auth("fan2")
        )
        assert g.status_code == 201
        await eventually(
            lambda: _has_notification(api, stack, "owner2", "gift_received"), within=60
        )
