"""The whole stack, started the way ``make run`` starts it (``scripts/stack.py``), on its own
port range and namespace so it does not meet a developer's running stack. End-to-end and
browser tests talk only to the gateway port (public HTTP and WebSocket) and to the Mux
simulator's operator endpoints; the ``stack`` fixture (``testkit.plugin``) shares one stack
between them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from servicekit.auth import mint_token

ROOT = Path(__file__).resolve().parents[4]  # the repository (libs/testkit/src/testkit)
#: Port offset of the tests' stack (gateway on 8080 + offset). Not 2000: Chromium refuses to
#: load pages from port 10080 (ERR_UNSAFE_PORT).
OFFSET = int(os.environ.get("E2E_PORT_OFFSET", "3100"))
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"


@dataclass
class Stack:
    gateway: str
    ws: str
    sim: str
    secret: str
    state: Path

    def token(self, account: str) -> str:
        return mint_token(self.secret, account)

    def auth(self, account: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(account)}"}

    def pid(self, name: str) -> int:
        return int(json.loads((self.state / "ready.json").read_text())["pids"][name])


@contextlib.contextmanager
def running_stack(offset: int = OFFSET, root: Path = ROOT) -> Iterator[Stack]:
    """Start ``scripts/stack.py`` of the checkout at ``root`` on ports shifted by ``offset``;
    stop it on exit."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("AUTH_JWT_SECRET", "AUTH_JWT_SECRET_FILE", "MUX_TOKEN_ID", "MUX_TOKEN_SECRET")
    }
    # Schemathesis and the browser tests create streams as one account far faster than a
    # streamer would; the per-account Mux-call budget is tested on its own (stream-svc tests).
    env.setdefault("STREAM_MUX_CALL_BURST", "100000")
    env.setdefault("STREAM_TERM_CHANGE_BURST", "100000")
    namespace = f"e2e{uuid.uuid4().hex[:8]}."
    proc = subprocess.Popen(  # noqa: S603 (our own script)
        [
            sys.executable,
            str(root / "scripts" / "stack.py"),
            "--port-offset",
            str(offset),
            "--namespace",
            namespace,
            "--reconnect-window",
            "2",
        ],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        for line in proc.stdout or ():
            lines.append(line.rstrip())
            if line.strip() == "stack: ready":
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 240
    while not ready.is_set() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if not ready.is_set():
        with contextlib.suppress(ProcessLookupError):  # it may have exited on its own
            os.killpg(proc.pid, signal.SIGTERM)
        raise RuntimeError("the stack did not come up:\n" + "\n".join(lines[-40:]))
    try:
        yield attach(offset, root)
    finally:
        _stop(proc)
        _clean_up(namespace, env)


def _clean_up(namespace: str, env: dict[str, str]) -> None:
    """Drop the stack's databases, queues and exchanges (a best effort: the run is over)."""
    try:
        asyncio.run(_drop_namespace(namespace, env))
    except Exception as exc:
        sys.stderr.write(f"testkit.stack: could not clean up {namespace}: {exc!r}\n")


async def _drop_namespace(namespace: str, env: dict[str, str]) -> None:
    from pymongo import AsyncMongoClient

    from contracts.routing import Names
    from testkit.rabbit import delete_namespace

    prefix = namespace.replace(".", "_").replace("-", "_")
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        env.get("MONGODB_URL", "mongodb://127.0.0.1:27017"), serverSelectionTimeoutMS=3000
    )
    try:
        for name in await client.list_database_names():
            if name.startswith(prefix):
                await client.drop_database(name)
    finally:
        await client.close()
    await delete_namespace(env.get("RABBITMQ_URL", DEFAULT_AMQP), Names(namespace))


def attach(offset: int, root: Path = ROOT) -> Stack:
    """A stack of the checkout at ``root`` already running on ``offset`` (``make run`` is 0)."""
    secret = (root / ".infra" / "secrets" / "jwt_secret").read_text()
    g = 8080 + offset
    return Stack(
        f"http://127.0.0.1:{g}",
        f"ws://127.0.0.1:{g}",
        f"http://127.0.0.1:{8200 + offset}",
        secret,
        root / ".infra" / (f"stack-{offset}" if offset else "stack"),
    )


def _stop(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
