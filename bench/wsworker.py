"""A benchmark client process: opens many WebSocket connections and counts or times frames.

    python -m bench.wsworker --proto ours|raw|socketio --url URL --connections N --expect M
        [--mode count|latency|stall|hold] [--secret S --account-prefix P]

Prints ``READY`` once every connection is open (and joined), then a JSON line when each
connection received ``expect`` chat frames (``count``/``latency``), or holds connections open
until stdin closes (``stall``: never reads; ``hold``: reads and discards).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def is_chat(proto: str, raw: str | bytes) -> tuple[bool, str]:
    text = raw if isinstance(raw, str) else raw.decode()
    if proto == "ours":
        return '"type":"chat.message"' in text, text
    if proto == "socketio":
        return text.startswith('42["chat"'), text
    return True, text


def sent_at(proto: str, text: str) -> float | None:
    marker = "t="
    at = text.find(marker)
    if at < 0:
        return None
    end = at + 2
    while end < len(text) and (text[end].isdigit() or text[end] == "."):
        end += 1
    return float(text[at + 2 : end])


async def open_one(proto: str, url: str) -> ClientConnection:
    if proto == "socketio":
        ws = await connect(
            url + "/socket.io/?EIO=4&transport=websocket", compression=None, max_size=None
        )
        await ws.recv()  # "0{...}" (engine.io open)
        await ws.send("40")
        while not str(await ws.recv()).startswith("40"):
            pass
        return ws
    ws = await connect(url, compression=None, max_size=None)
    if proto == "ours":
        await ws.recv()  # hello
    return ws


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proto", required=True)
    parser.add_argument("--url", required=True, help="for ours: ws://host:port/ws/live/STREAM")
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--expect", type=int, default=0)
    parser.add_argument("--mode", default="count")
    parser.add_argument("--secret")
    parser.add_argument("--account-prefix", default="v")
    args = parser.parse_args()
    raise_fd_limit()
    latencies: list[float] = []
    last = [0.0]

    async def consume(ws: ClientConnection) -> None:
        got = 0
        async for raw in ws:
            if args.proto == "socketio" and raw == "2":
                await ws.send("3")
                continue
            chat, text = is_chat(args.proto, raw)
            if not chat:
                continue
            now = time.time()
            if args.mode == "latency":
                at = sent_at(args.proto, text)
                if at is not None:
                    latencies.append(now - at)
            got += 1
            last[0] = max(last[0], now)
            if got >= args.expect:
                return

    # every connection is read from the moment it opens (except in "stall" mode): a connection
    # left unread while the others open would miss keepalive pings and be closed by the server
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    for i in range(args.connections):
        url = args.url
        if args.proto == "ours":
            from servicekit.auth import mint_token

            url = f"{url}?token={mint_token(args.secret, f'{args.account_prefix}{i}')}"
        ws = await open_one(args.proto, url)
        sockets.append(ws)
        if args.mode in ("count", "latency"):
            readers.append(asyncio.create_task(consume(ws)))
        elif args.mode == "hold":
            readers.append(asyncio.create_task(_discard(ws)))
    print("READY", flush=True)
    if args.mode in ("stall", "hold"):
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for task in readers:
            task.cancel()
        return
    await asyncio.gather(*readers)
    result: dict[str, Any] = {"last": last[0], "frames": args.expect * len(sockets)}
    if args.mode == "latency":
        result["latencies"] = latencies
    print(json.dumps(result), flush=True)
    for ws in sockets:
        await ws.close()


async def _discard(ws: ClientConnection) -> None:
    async for _ in ws:
        pass


if __name__ == "__main__":
    asyncio.run(main())
