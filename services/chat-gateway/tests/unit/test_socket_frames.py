"""A socket's frame pipeline (``entrypoints/ws._frames``) ends when the client is closed for
abuse even while its queue of frames in flight is full (the reader, cancelled, must not wait for
room in a queue nobody drains any more)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from chat_gateway.entrypoints import ws
from chat_gateway.service import Refused


class FakeSocket:
    """Sends ``frames`` at once, then waits until closed."""

    def __init__(self, frames: list[str]) -> None:
        self.frames = frames
        self.sent: list[str] = []
        self.closed = asyncio.Event()
        self.close_code: int | None = None

    def __aiter__(self) -> AsyncIterator[str]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[str]:
        for frame in self.frames:
            yield frame
        await self.closed.wait()

    async def send(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.close_code = code
        self.closed.set()


async def test_an_abusive_client_is_closed_while_its_queue_is_full() -> None:
    first = asyncio.Event()

    async def post(*_: Any, **__: Any) -> Any:
        if not first.is_set():  # the first post is refused as abuse, once the queue is full
            first.set()
            await asyncio.sleep(0.2)
            raise Refused("rate_limited", "slow down", 429, 1.0, abusive=True)
        await asyncio.Event().wait()  # the others never finish (a stalled database)

    deps = SimpleNamespace(
        service=SimpleNamespace(post=post), limiter=SimpleNamespace(refused=lambda _: True)
    )
    frames = [
        json.dumps({"type": "chat.send", "client_msg_id": f"m{i}", "message": "hi"})
        for i in range(ws.IN_FLIGHT + 50)
    ]
    socket = FakeSocket(frames)
    room = SimpleNamespace(stream_id="s1")
    client = SimpleNamespace(account_id="spammer")
    await asyncio.wait_for(ws._frames(socket, room, client, deps), 5)  # type: ignore[arg-type]
    assert socket.close_code == ws.RATE_LIMITED
    assert len(socket.sent) == 1 and '"rate_limited"' in socket.sent[0]
