from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mux_sim.testing import free_port


@dataclass
class Receiver:
    """A local webhook endpoint recording what it got; ``fail_next`` answers 500 that often."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    fail_next: int = 0

    def types(self) -> list[str]:
        return [e["type"] for e in self.received]


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def hook(request: Request) -> Response:
        body = await request.body()
        if rec.fail_next > 0:
            rec.fail_next -= 1
            return Response(status_code=500)
        rec.received.append(json.loads(body))
        rec.headers.append(dict(request.headers) | {"raw-body": body.decode()})
        return Response(status_code=200)

    port = free_port()
    rec.url = f"http://127.0.0.1:{port}/hook"
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", hook, methods=["POST"])]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield rec
    server.should_exit = True
    with contextlib.suppress(Exception):
        await task
