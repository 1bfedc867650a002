"""A synchronous client on an ASGI app, for hypothesis property tests (``@given`` runs sync
functions; each example here is one request through the app's real middleware and handlers)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

__all__ = ["SyncAsgiClient", "sync_asgi_client"]


class SyncAsgiClient:
    """``request(...)`` runs one httpx request against the app on a private event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> None:
        self._loop = loop
        self._client = client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._loop.run_until_complete(self._client.request(method, url, **kwargs))

    def run(self, coro: Any) -> Any:
        """Run any coroutine on the client's loop (seeding fakes, reading state)."""
        return self._loop.run_until_complete(coro)


@contextlib.contextmanager
def sync_asgi_client(app: Any, base_url: str = "http://test") -> Iterator[SyncAsgiClient]:
    """Enter ``app``'s lifespan and yield a synchronous client on it; the app sees bytes
    exactly as given (header values may be ``bytes``, nothing is re-encoded)."""
    loop = asyncio.new_event_loop()
    stack = contextlib.AsyncExitStack()
    try:
        loop.run_until_complete(stack.enter_async_context(app.router.lifespan_context(app)))
        client = loop.run_until_complete(
            stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)
            )
        )
        yield SyncAsgiClient(loop, client)
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()
