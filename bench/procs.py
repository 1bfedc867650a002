"""Starting and stopping server processes for benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def server(
    args: Sequence[str],
    env: dict[str, str],
    ready_url: str,
    timeout: float = 60,
    any_answer: bool = False,
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """Run ``python <args>`` until the block exits; waits for ``ready_url`` to answer 200 (any
    HTTP answer with ``any_answer``: a WebSocket-only server refuses plain GETs)."""
    log = open(
        ROOT / ".infra" / f"bench-{Path(args[1] if args[0] == '-m' else args[0]).name}.log", "ab"
    )
    proc = subprocess.Popen(
        [sys.executable, *args],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=ROOT,
    )
    try:
        async with httpx.AsyncClient() as client:
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{args} exited with {proc.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    status = (await client.get(ready_url, timeout=2)).status_code
                    if status == 200 or (any_answer and status < 500):
                        break
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"{args} not ready after {timeout}s")
                await asyncio.sleep(0.2)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children so far (Linux /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid, *_children(pid)]
    for p in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            out += [int(child), *_children(int(child))]
    return out
