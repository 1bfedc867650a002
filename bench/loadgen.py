"""A small closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending its next
request as soon as the previous response arrived. Requests are pre-built bytes, so the client
spends little CPU per request (it shares the machine with the servers it measures)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.harness import percentile


def build_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    wall: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.wall if self.wall else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)


async def _read_response(reader: asyncio.StreamReader) -> int:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def closed_loop(
    host: str,
    port: int,
    next_request: Callable[[int, int], bytes],
    *,
    connections: int,
    duration_s: float,
    warmup_s: float = 0.5,
) -> LoadResult:
    """Run ``connections`` loops for ``duration_s`` (after a warm-up that is not counted)."""
    result = LoadResult()
    start = time.perf_counter()
    measure_from = start + warmup_s
    stop_at = measure_from + duration_s

    async def loop(conn: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        i = 0
        try:
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                writer.write(next_request(conn, i))
                status = await _read_response(reader)
                done = time.perf_counter()
                if sent >= measure_from:
                    result.latencies.append(done - sent)
                    result.statuses[status] += 1
                i += 1
        finally:
            writer.close()

    await asyncio.gather(*(loop(c) for c in range(connections)))
    result.wall = duration_s
    return result


@dataclass
class ItemResult:
    status: int
    body: bytes
    latency: float


async def _read_full(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def each_once(
    host: str, port: int, items: list[bytes], *, connections: int
) -> tuple[list[ItemResult], float]:
    """Send every request once over ``connections`` keep-alive connections (shared work queue);
    results in item order, and the wall time."""
    results: list[ItemResult | None] = [None] * len(items)
    next_index = 0
    start = time.perf_counter()

    async def loop() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < len(items):
                i = next_index
                next_index += 1
                sent = time.perf_counter()
                writer.write(items[i])
                status, body = await _read_full(reader)
                results[i] = ItemResult(status, body, time.perf_counter() - sent)
        finally:
            writer.close()

    await asyncio.gather(*(loop() for _ in range(connections)))
    wall = time.perf_counter() - start
    return [r for r in results if r is not None], wall
