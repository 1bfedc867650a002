"""Baseline chat servers for the chat benchmarks (run as separate processes).

* ``raw``: a ``websockets`` server; every text frame a client sends is ``broadcast()`` to every
  connection (compression off) as a chat message frame. The speed limit our gateway is measured
  against.
* ``socketio``: python-socketio (ASGI under uvicorn); every client joins room ``s`` and a
  ``chat`` event carrying the same chat message is emitted to the room; with ``--rabbit`` the
  servers share an ``AsyncAioPikaManager`` (cross-instance).

Both send what a chat server must: the message with its id, sequence number, sender and time,
the fields and size of our ``chat.message`` frame (:func:`chat_message`), so every server writes
the same bytes to every viewer (the raw server used to forward the bare 100-character text, 40%
of the bytes of our frames, which measured frame sizes as much as servers).

    python -m bench.chatapps raw --port 9000
    python -m bench.chatapps socketio --port 9001 [--rabbit amqp://... --channel NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import secrets
from datetime import UTC, datetime
from typing import Any

_seq = itertools.count(1)


def chat_message(text: str) -> dict[str, Any]:
    """A chat message as our ``chat.message`` frame carries it (same fields, same sizes)."""
    return {
        "type": "chat.message",
        "message_id": f"m_{secrets.token_hex(10)}",
        "seq": next(_seq),
        "account_id": "p0",
        "text": text,
        "posted_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


async def raw(port: int) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    clients: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        clients.add(ws)
        try:
            async for message in ws:
                if isinstance(message, str):
                    broadcast(clients, json.dumps(chat_message(message), separators=(",", ":")))
        finally:
            clients.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, max_size=1 << 20):
        await asyncio.Future()


def socketio_app(rabbit: str | None, channel: str) -> Any:
    import socketio

    manager = socketio.AsyncAioPikaManager(rabbit, channel=channel) if rabbit else None
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, cors_allowed_origins=[])

    @sio.event  # type: ignore[untyped-decorator]
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.enter_room(sid, "s")

    @sio.on("chat")  # type: ignore[untyped-decorator]
    async def chat(sid: str, data: Any) -> None:
        text = data.get("text", "") if isinstance(data, dict) else str(data)
        await sio.emit("chat", chat_message(text), room="s")

    @sio.on("warm")  # type: ignore[untyped-decorator]
    async def warm(sid: str, data: Any) -> None:
        # AsyncAioPikaManager opens its publisher lazily and racily: publishes that arrive while
        # it connects fail ("Cannot publish to rabbitmq... giving up") and are lost. One emit
        # before the measurement opens it, as any running server's first message would.
        await sio.emit("warm", data, room="s")

    return socketio.ASGIApp(sio)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["raw", "socketio"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rabbit")
    parser.add_argument("--channel", default="bench-socketio")
    args = parser.parse_args()
    if args.kind == "raw":
        asyncio.run(raw(args.port))
    else:
        import uvicorn

        uvicorn.run(
            socketio_app(args.rabbit, args.channel),
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            ws="websockets",
            lifespan="off",
        )


if __name__ == "__main__":
    main()
