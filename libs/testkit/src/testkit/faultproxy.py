"""A TCP proxy that injects faults between a client and a server (the broker, the database).

It runs its own event loop in a thread, so it keeps working whatever loop the test uses::

    with FaultProxy("127.0.0.1", 5672) as proxy:
        url = proxy.rewrite("amqp://guest:guest@127.0.0.1:5672/")
        ...
        proxy.cut()        # drop every connection; refuse new ones
        proxy.restore()    # accept and forward again
        proxy.pause()      # keep connections, forward nothing (a hung peer)
        proxy.delay(0.2)   # add latency to every chunk
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType
from urllib.parse import urlparse, urlunparse

__all__ = ["FaultProxy"]


class FaultProxy:
    """Forward ``127.0.0.1:<port>`` to ``target_host:target_port`` with switchable faults."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="faultproxy"
        )
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._refusing = False
        self._flowing = asyncio.Event()
        self._delay = 0.0
        self.connections_total = 0

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = fut.result(5)
        return self

    async def _start(self) -> int:
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        self._drop_all()
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def rewrite(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's."""
        parsed = urlparse(url)
        netloc = parsed.netloc
        auth = ""
        if "@" in netloc:
            auth, _, _ = netloc.rpartition("@")
            auth += "@"
        return urlunparse(parsed._replace(netloc=f"{auth}127.0.0.1:{self.port}"))

    # ---- faults ----------------------------------------------------------------------------

    def cut(self) -> None:
        """Drop every open connection and refuse new ones until :meth:`restore`."""
        self._call(self._cut)

    def pause(self) -> None:
        """Stop forwarding bytes (connections stay open) until :meth:`restore`."""
        self._call(self._flowing.clear)

    def delay(self, seconds: float) -> None:
        """Delay every forwarded chunk by ``seconds``."""

        def set_delay() -> None:
            self._delay = seconds

        self._call(set_delay)

    def restore(self) -> None:
        """Clear every fault."""

        def clear() -> None:
            self._refusing = False
            self._delay = 0.0
            self._flowing.set()

        self._call(clear)

    def _call(self, fn: object) -> None:
        async def run() -> None:
            fn()  # type: ignore[operator]

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(5)

    def _cut(self) -> None:
        self._refusing = True
        self._drop_all()

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    # ---- forwarding ------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections_total += 1
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        for w in (writer, up_writer):
            self._writers.discard(w)
            with contextlib.suppress(Exception):
                w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await self._flowing.wait()
                if self._delay:
                    await asyncio.sleep(self._delay)
                if writer.transport.is_closing():
                    break
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.transport.abort()
