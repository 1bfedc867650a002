#!/usr/bin/env python3
"""``make demo``: a scripted walk through the product against the running ``make run`` stack.

Create a stream, simulate the encoder going live, two viewers join, chat on both chat-gateway
instances, a gift, a moderator, a ban that disconnects, viewer counts, end, archive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from servicekit.auth import mint_token

ROOT = Path(__file__).resolve().parent.parent
OFFSET = int(os.environ.get("STACK_PORT_OFFSET", "0"))
GATEWAY = f"http://127.0.0.1:{8080 + OFFSET}"
SIM = f"http://127.0.0.1:{8200 + OFFSET}"
CHAT_A, CHAT_B = f"ws://127.0.0.1:{8111 + OFFSET}", f"ws://127.0.0.1:{8121 + OFFSET}"
SECRET = (
    os.environ.get("AUTH_JWT_SECRET") or (ROOT / ".infra" / "secrets" / "jwt_secret").read_text()
)


def step(n: int, text: str) -> None:
    print(f"\n[{n}] {text}", flush=True)


def show(text: str) -> None:
    print(f"    {text}", flush=True)


def auth(account: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, account)}"}


async def until(probe: Any, what: str, within: float = 30) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = await probe()
        if result:
            return result
        await asyncio.sleep(0.3)
    raise SystemExit(f"demo: timed out waiting for {what}")


class Chat:
    def __init__(self, name: str, ws: ClientConnection) -> None:
        self.name, self.ws, self.frames = name, ws, []
        self.task = asyncio.create_task(self.read())

    async def read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                frame = json.loads(raw)
                self.frames.append(frame)
                if frame["type"] in (
                    "chat.message",
                    "gift",
                    "moderation",
                    "stream_status",
                    "viewer_count",
                ):
                    show(
                        f"{self.name:>6} <- {json.dumps({k: v for k, v in frame.items() if k != 'posted_at'})}"
                    )

    def has(self, kind: str) -> bool:
        return any(f["type"] == kind for f in self.frames)


async def main() -> int:
    async with (
        httpx.AsyncClient(base_url=GATEWAY, timeout=20) as api,
        httpx.AsyncClient(base_url=SIM) as sim,
    ):
        if (await api.get("/healthz")).status_code != 200:
            print(
                f"demo: nothing answers on {GATEWAY}: start the stack with `make run` first",
                file=sys.stderr,
            )
            return 1
        step(1, "alice creates a stream; fan follows alice")
        await api.put("/users/alice/follow", headers=auth("fan"))
        created = (
            await api.post("/live", json={"title": "Demo night"}, headers=auth("alice"))
        ).json()
        sid = created["stream_id"]
        show(f"stream_id={sid}")
        show(
            f"OBS: server={created['rtmp_url']} key={created['stream_key'][:6]}… playback={created['playback_url']}"
        )

        step(
            2, "the encoder connects (simulated on the Mux simulator); Mux's webhooks make it live"
        )
        await sim.post(f"/_sim/passthrough/{sid}/connect")

        async def status() -> str:
            return str((await api.get(f"/live/{sid}", headers=auth("bob"))).json()["status"])

        await until(lambda: _eq(status, "active"), "the stream to go active")
        show("status=active")

        step(3, "bob and carol join")
        for viewer in ("bob", "carol"):
            joined = (await api.post(f"/live/{sid}/join", headers=auth(viewer))).json()
            show(f"{viewer}: {joined}")

        step(4, "chat: bob on gateway instance A, carol on instance B")
        bob = Chat(
            "bob", await connect(f"{CHAT_A}/ws/live/{sid}?token={mint_token(SECRET, 'bob')}")
        )
        carol = Chat(
            "carol", await connect(f"{CHAT_B}/ws/live/{sid}?token={mint_token(SECRET, 'carol')}")
        )
        troll = Chat(
            "troll", await connect(f"{CHAT_A}/ws/live/{sid}?token={mint_token(SECRET, 'troll')}")
        )
        await asyncio.sleep(0.5)
        await bob.ws.send(
            json.dumps({"type": "chat.send", "client_msg_id": "b1", "message": "hello from A"})
        )
        await carol.ws.send(
            json.dumps({"type": "chat.send", "client_msg_id": "c1", "message": "hi from B"})
        )
        await asyncio.sleep(1)

        step(5, "carol sends 3 roses")
        gift = (
            await api.post(
                f"/live/{sid}/gift",
                json={"gift_type": "rose", "amount": 3},
                headers={**auth("carol"), "Idempotency-Key": "demo-gift"},
            )
        ).json()
        show(f"receipt: {gift['gift_id']} total={gift['total_price']} coins")
        await asyncio.sleep(1)

        step(6, "alice makes bob a moderator; bob bans troll, who is disconnected")
        await api.post(f"/live/{sid}/moderators", json={"account_id": "bob"}, headers=auth("alice"))

        async def banned() -> bool:
            r = await api.post(
                f"/live/{sid}/bans",
                json={"account_id": "troll", "reason": "demo"},
                headers=auth("bob"),
            )
            return r.status_code == 201

        await until(banned, "bob's moderator rights to arrive")
        await until(lambda: _closed(troll), "troll's socket to close")
        show(f"troll's socket closed with {troll.ws.close_code}")

        step(7, "viewer counts (published by viewer-svc, coalesced per second)")

        async def count() -> Any:
            return (await api.get(f"/live/{sid}", headers=auth("bob"))).json()[
                "viewer_count"
            ] or None

        show(f"viewer_count={await until(count, 'a viewer count')}")

        step(8, "alice ends the stream: chat becomes read-only")
        ended = (await api.put(f"/live/{sid}/end", headers=auth("alice"))).json()
        show(f"status={ended['status']}")
        await asyncio.sleep(1)

        step(9, "Mux finishes the recording: the archive plays")

        async def archive() -> Any:
            return (await api.get(f"/live/{sid}", headers=auth("bob"))).json()[
                "archive_playback_url"
            ]

        show(f"archive_playback_url={await until(archive, 'the archive')}")

        step(10, "notifications")
        for account in ("fan", "alice"):
            items = (await api.get("/notifications", headers=auth(account))).json()["items"]
            for item in items[:3]:
                show(f"{account}: {item['title']} — {item['body']}")
        for chat in (bob, carol):
            await chat.ws.close()
    print("\ndemo: done", flush=True)
    return 0


async def _eq(probe: Any, want: str) -> bool:
    return bool(await probe() == want)


async def _closed(chat: Chat) -> bool:
    return chat.ws.close_code is not None


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
