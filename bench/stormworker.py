"""A connection-storm client process: opens WebSocket connections at a given rate, reads and
discards what they receive, and holds them until stdin closes.

    python -m bench.stormworker --url URL --connections N --rate R --secret S --prefix P

Prints one JSON line once every connection was attempted: ``opened``, ``refused`` (failed or
closed during the handshake/hello), ``open_s`` (first attempt to last hello), then holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from websockets.asyncio.client import ClientConnection, connect

from bench.wsworker import raise_fd_limit
from servicekit.auth import mint_token


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="ws://host:port/ws/live/STREAM")
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="connects started per second")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--prefix", default="storm")
    args = parser.parse_args()
    raise_fd_limit()
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    refused: list[str] = []

    async def one(i: int) -> None:
        url = f"{args.url}?token={mint_token(args.secret, f'{args.prefix}{i}')}"
        try:
            ws = await connect(url, compression=None, max_size=None, open_timeout=30)
            await asyncio.wait_for(ws.recv(), 30)  # hello
        except Exception as exc:
            refused.append(type(exc).__name__)
            return
        sockets.append(ws)
        readers.append(asyncio.create_task(_discard(ws)))

    started = time.monotonic()
    attempts = []
    for i in range(args.connections):
        attempts.append(asyncio.create_task(one(i)))
        await asyncio.sleep(max(0.0, started + (i + 1) / args.rate - time.monotonic()))
    await asyncio.gather(*attempts)
    result = {
        "opened": len(sockets),
        "refused": len(refused),
        "refusals": sorted(set(refused)),
        "open_s": round(time.monotonic() - started, 2),
    }
    print(json.dumps(result), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for task in readers:
        task.cancel()


async def _discard(ws: ClientConnection) -> None:
    try:
        async for _ in ws:
            pass
    except Exception:  # noqa: S110 (a dropped connection is counted by the server side)
        pass


if __name__ == "__main__":
    asyncio.run(main())
