"""``python -m chat_gateway``: one gateway instance (WebSocket + HTTP) until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal

from chat_gateway.bootstrap import running
from chat_gateway.settings import Settings
from servicekit.limits import freeze_startup_objects, raise_open_files_limit
from servicekit.logs import configure_logging
from servicekit.settings import load_settings


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(settings):
        freeze_startup_objects()  # full GC passes stalled the loop for 0.8 s with 5,000 sockets
        await stop.wait()


def main() -> None:
    settings = load_settings(Settings)
    configure_logging(settings.service_name, settings.log_level, json=settings.log_json)
    raise_open_files_limit()  # >= 20,000 idle sockets per instance (deploy/README.md)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
