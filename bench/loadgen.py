"""A small closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending its next
request as soon as the previous response arrived. Requests are pre-built bytes, so the client
spends little CPU per request (it shares the machine with the servers it measures).

Like a well-behaved client, a connection answered ``503`` with ``Retry-After`` waits that long
before its next request (:func:`closed_loop`) or before sending the same request again
(:func:`each_once`, as Mux redelivers a webhook that was not accepted)."""

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
    """Every answer's latency and status; ``ok_latencies`` only those of 2xx answers."""

    latencies: list[float] = field(default_factory=list)
    ok_latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    wall: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        """Answers per second, whatever their status."""
        return self.count / self.wall if self.wall else 0.0

    @property
    def ok_rate(self) -> float:
        """2xx answers per second (goodput)."""
        return len(self.ok_latencies) / self.wall if self.wall else 0.0

    @property
    def shed(self) -> int:
        return self.statuses.get(503, 0)

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)

    def ok_p(self, q: float) -> float:
        return percentile(self.ok_latencies, q)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    retry_after_s: float | None


async def read_answer(reader: asyncio.StreamReader, *, keep_body: bool = True) -> Answer:
    """One HTTP/1.1 response (``Content-Length`` framed)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    retry_after: float | None = None
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = int(value.strip())
        elif key == b"retry-after" and value.strip().isdigit():
            retry_after = float(value.strip())
    body = await reader.readexactly(length) if length else b""
    return Answer(status, body if keep_body else b"", retry_after)


def _backoff(answer: Answer) -> float | None:
    """How long to wait before the next request, if the server asked for it."""
    if answer.status in (429, 503) and answer.retry_after_s is not None:
        return answer.retry_after_s
    return None


async def closed_loop(
    host: str,
    port: int,
    next_request: Callable[[int, int], bytes],
    *,
    connections: int,
    duration_s: float,
    warmup_s: float = 0.5,
) -> LoadResult:
    """Run ``connections`` loops for ``duration_s`` (after a warm-up that is not counted); a
    loop answered 503/429 with ``Retry-After`` waits that long before its next request."""
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
                answer = await read_answer(reader, keep_body=False)
                done = time.perf_counter()
                if sent >= measure_from:
                    result.latencies.append(done - sent)
                    result.statuses[answer.status] += 1
                    if 200 <= answer.status < 300:
                        result.ok_latencies.append(done - sent)
                i += 1
                wait = _backoff(answer)
                if wait is not None:
                    await asyncio.sleep(min(wait, max(0.0, stop_at - done)))
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
    attempts: int = 1


async def each_once(
    host: str,
    port: int,
    items: list[bytes],
    *,
    connections: int,
    max_attempts: int = 8,
    answered: Callable[[int], None] | None = None,
) -> tuple[list[ItemResult], float]:
    """Send every request over ``connections`` keep-alive connections (shared work queue);
    results in item order, and the wall time. A request answered 503/429 with ``Retry-After``
    is sent again after that wait (up to ``max_attempts`` times); its result is the last answer,
    its latency the first attempt's send to the last answer. ``answered(n)`` is called with the
    number of requests answered so far, after each one."""
    results: list[ItemResult | None] = [None] * len(items)
    next_index = done = 0
    start = time.perf_counter()

    async def loop() -> None:
        nonlocal next_index, done
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < len(items):
                i = next_index
                next_index += 1
                sent = time.perf_counter()
                for attempt in range(1, max_attempts + 1):
                    writer.write(items[i])
                    answer = await read_answer(reader)
                    results[i] = ItemResult(
                        answer.status, answer.body, time.perf_counter() - sent, attempt
                    )
                    wait = _backoff(answer)
                    if wait is None:
                        break
                    await asyncio.sleep(wait)
                done += 1
                if answered is not None:
                    answered(done)
        finally:
            writer.close()

    await asyncio.gather(*(loop() for _ in range(connections)))
    wall = time.perf_counter() - start
    return [r for r in results if r is not None], wall
